// fanout: K agent connections watch the queue view while a few visitors
// start conversations at a fixed rate and close each one as soon as it is
// answered. Every change of the waiting list is one "queue" frame to every
// agent; for each new conversation we time when the first and the last
// agent saw it, from the start's intended send time. One worker thread:
// the bookkeeping is shared by all agents.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <unordered_map>

#include "frame_scan.hpp"
#include "harness.hpp"

namespace sb::loadtest {

namespace {

struct FanWorker;

// One new conversation, as the agents saw it.
struct Track {
    std::int64_t intended = -1;  // -1 until its visitor learns the conv id
    std::uint32_t seen = 0;      // agents that saw it
    std::int64_t first = 0, last = 0;
    std::vector<std::int64_t> pending;  // sightings before `intended` was known
};

struct FanAgent final : WsHandler {
    explicit FanAgent(FanWorker& w);
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;

    FanWorker& worker;
    WsClient client;
    bool welcomed = false;
    bool has_queue = false;
    std::vector<std::string> last;  // convs in the previous queue frame
};

struct FanVisitor final : WsHandler {
    FanVisitor(FanWorker& w, int index);
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;
    void start(std::uint64_t k, std::int64_t intended);

    FanWorker& worker;
    int index;
    WsClient client;
    bool welcomed = false;
    bool busy = false;
    std::string client_id;
    std::string conv;
    std::int64_t intended = 0;
    bool handed_off = false;
    bool answered = false;
};

struct FanWorker {
    FanWorker(EventLoop& l, Counters& c, const Options& o) : loop(l), counters(c), options(o) {}

    void error(const std::string& kind) {
        ++errors[kind];
        Counters::add(counters.errors);
    }
    void launch_agents() {
        while (agents_connecting < options.concurrency && next_agent < agents.size()) {
            ++agents_connecting;
            agents[next_agent++]->client.connect(options.nodes[0], options.path);
        }
    }
    void agent_setup_done() {
        --agents_connecting;
        launch_agents();
    }
    void sighting(const std::string& conv, std::int64_t now) {
        if (now >= t0 && now <= t_end) ++sightings_in_window;
        auto& t = tracks[conv];
        if (t.seen == 0) t.first = now;
        t.last = now;
        ++t.seen;
        if (t.intended >= 0) {
            each.record(static_cast<std::uint64_t>(now - t.intended));
            counters.latency(static_cast<std::uint64_t>(now - t.intended));
            if (t.seen == agents.size()) ++complete;
        } else {
            t.pending.push_back(now);
        }
    }
    void answered(const std::string& conv, std::int64_t intended) {
        auto& t = tracks[conv];
        t.intended = intended;
        for (auto at : t.pending) each.record(static_cast<std::uint64_t>(at - intended));
        t.pending.clear();
        if (t.seen == agents.size()) ++complete;
    }
    // Starts every conversation whose intended time has come, then sets the
    // alarm for the next one.
    void pace() {
        auto now = now_ns();
        for (; next < total; ++next) {
            auto at = t0 + static_cast<std::int64_t>(static_cast<double>(next) * 1e9 /
                                                     options.start_rate);
            if (at > now) return alarm->at(at);
            auto& v = *visitors[next % visitors.size()];
            if (v.busy || !v.welcomed) {
                ++skipped;
                continue;
            }
            v.start(next, at);
        }
    }

    EventLoop& loop;
    Counters& counters;
    const Options& options;
    std::string token;
    std::vector<std::unique_ptr<FanAgent>> agents;
    std::vector<std::unique_ptr<FanVisitor>> visitors;
    std::size_t next_agent = 0;
    int agents_connecting = 0;
    bool teardown = false;
    std::int64_t t0 = 0, t_end = 0;
    std::uint64_t total = 0, next = 0, skipped = 0;
    std::atomic<std::uint64_t> started{0}, closed{0}, complete{0};
    std::uint64_t frames = 0, frames_in_window = 0, other_frames = 0, auto_assigned = 0;
    std::uint64_t sightings_in_window = 0;  // (new conversation, agent) pairs seen
    std::unordered_map<std::string, Track> tracks;
    std::unique_ptr<Alarm> alarm;
    Histogram each;
    std::map<std::string, std::uint64_t> errors;
};

FanAgent::FanAgent(FanWorker& w) : worker(w), client(w.loop, *this) {}

void FanAgent::on_open() {
    client.send(hello_agent(worker.token));
}

void FanAgent::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f)) return worker.error("unparsed_frame");
    if (f.type == "queue") {
        auto now = now_ns();
        std::vector<std::string> convs;
        for_each_waiting(
            f.waiting, [&](std::string_view conv, std::string_view) { convs.emplace_back(conv); });
        if (!has_queue) {  // the view sent after welcome: the baseline
            has_queue = true;
            last = std::move(convs);
            Counters::add(worker.counters.ready);
            worker.agent_setup_done();
            return;
        }
        ++worker.frames;
        if (now >= worker.t0 && now <= worker.t_end) ++worker.frames_in_window;
        Counters::add(worker.counters.delivered);
        for (const auto& c : convs) {
            if (std::find(last.begin(), last.end(), c) == last.end()) worker.sighting(c, now);
        }
        last = std::move(convs);
    } else if (f.type == "welcome") {
        welcomed = true;
        Counters::add(worker.counters.connected);
        Counters::add(worker.counters.live_conns);
    } else if (f.type == "error") {
        worker.error("agent:" + std::string(f.code));
    } else {
        ++worker.other_frames;
    }
}

void FanAgent::on_end(const WsEnd& end) {
    if (welcomed) worker.counters.live_conns.fetch_sub(1, std::memory_order_relaxed);
    if (worker.teardown) return;
    worker.error("agent_" + (end.close_code ? "closed:" + std::to_string(end.close_code)
                                            : "dropped: " + end.error));
    if (!has_queue) worker.agent_setup_done();
}

FanVisitor::FanVisitor(FanWorker& w, int i) : worker(w), index(i), client(w.loop, *this) {}

void FanVisitor::on_open() {
    client.send(hello_visitor("fan" + std::to_string(index)));
}

void FanVisitor::start(std::uint64_t k, std::int64_t when) {
    busy = true;
    intended = when;
    // (appended, not "f" + to_string(k): GCC 12 warns falsely on that; -Wrestrict)
    client_id.assign(1, 'f');
    client_id += std::to_string(k);
    conv.clear();
    handed_off = answered = false;
    client.send(R"({"type":"start","client_id":")" + client_id + "\"}");
    ++worker.started;
    Counters::add(worker.counters.sent);
}

void FanVisitor::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f)) return worker.error("unparsed_frame");
    if (f.type == "conversation") {
        if (busy && conv.empty() && f.client_id == client_id) conv = std::string(f.conv);
        if (busy && f.conv == conv && f.state == "bot" && !handed_off) {
            // The server's bot answers first: hand off so the conversation
            // enters the queue (the latency then includes this round trip).
            handed_off = true;
            client.send(R"({"type":"handoff","conv":")" + conv + "\"}");
        } else if (busy && f.conv == conv && f.state == "waiting" && !answered) {
            answered = true;
            worker.answered(conv, intended);
            client.send(R"({"type":"close","conv":")" + conv + "\"}");
        } else if (busy && f.conv == conv && f.state == "active") {
            ++worker.auto_assigned;  // it never waited: nothing for the queue view to show
        } else if (busy && f.conv == conv && f.state == "closed") {
            busy = false;
            ++worker.closed;
            Counters::add(worker.counters.acked);
        }
    } else if (f.type == "welcome") {
        welcomed = true;
        Counters::add(worker.counters.live_conns);
    } else if (f.type == "unavailable" && busy) {
        busy = false;  // no agent online or the queue is full: counted, not retried
        worker.error("visitor:unavailable");
    } else if (f.type == "error") {
        worker.error("visitor:" + std::string(f.code));
    }
}

void FanVisitor::on_end(const WsEnd& end) {
    if (welcomed) worker.counters.live_conns.fetch_sub(1, std::memory_order_relaxed);
    if (worker.teardown) return;
    worker.error("visitor_" + (end.close_code ? "closed:" + std::to_string(end.close_code)
                                              : "dropped: " + end.error));
}

}  // namespace

Results run_fanout(const Options& opts) {
    Options o = opts;
    Results r;
    if (o.threads != 1) {
        r.notes.push_back("fanout runs on one worker thread (--threads ignored)");
        o.threads = 1;
    }
    Counters counters;
    Controller ctl(o, counters);
    auto tokens = sign_in_all(o, r);
    if (tokens.empty()) return r;

    Workers workers(1);
    FanWorker w(workers.loop(0), counters, o);
    w.token = tokens[0];
    for (int i = 0; i < o.agents; ++i) w.agents.push_back(std::make_unique<FanAgent>(w));
    for (int i = 0; i < o.visitors; ++i) w.visitors.push_back(std::make_unique<FanVisitor>(w, i));
    workers.start();
    auto stop = [&] {
        workers.on_each([&](int) {
            w.teardown = true;
            for (auto& a : w.agents) a->client.close();
            for (auto& v : w.visitors) v->client.close();
        });
        ctl.wait(5, [&] { return counters.live_conns.load() == 0; });
        workers.stop();
    };

    ctl.phase("agents");
    auto t_setup = now_ns();
    workers.on_each([&](int) {
        w.launch_agents();
        for (auto& v : w.visitors) v->client.connect(o.nodes[0], o.path);
    });
    auto need = static_cast<std::uint64_t>(o.agents);
    if (!ctl.wait(o.setup_timeout_s, [&] {
            return counters.ready.load() >= need &&
                   counters.live_conns.load() >= need + static_cast<std::uint64_t>(o.visitors);
        })) {
        r.failure = "set-up incomplete: " + std::to_string(counters.ready.load()) + " of " +
                    std::to_string(o.agents) + " agents have their queue view";
        stop();
        for (auto& [k, v] : w.errors) r.errors[k] += v;
        return r;
    }
    // Each agent's hello may make the server send the queue view to every
    // agent: let that storm pass (no queue frame for 300 ms) before measuring.
    ctl.phase("settle");
    std::uint64_t seen = counters.delivered.load();
    std::int64_t quiet_since = now_ns();
    ctl.wait(o.setup_timeout_s, [&] {
        auto d = counters.delivered.load();
        if (d != seen) seen = d, quiet_since = now_ns();
        return now_ns() - quiet_since > 300'000'000;
    });
    workers.on_each([&](int) { w.frames = 0; });
    r.figure("setup_s", (now_ns() - t_setup) / 1e9);
    r.figure("setup_queue_frames", static_cast<double>(seen));

    ctl.phase("run");
    const auto t0 = now_ns() + 20'000'000;
    const auto t_end = t0 + static_cast<std::int64_t>(o.duration_s * 1e9);
    workers.on_each([&](int) {
        w.t0 = t0;
        w.t_end = t_end;
        w.total = static_cast<std::uint64_t>(std::floor(o.duration_s * o.start_rate));
        w.alarm = std::make_unique<Alarm>(w.loop, [&w] { w.pace(); });
        w.alarm->at(t0);
    });
    auto server_before = ProcSample::of(o.server_pid);
    auto self_before = ProcSample::self();
    ctl.wait((t_end - now_ns()) / 1e9, [] { return false; });
    auto server_after = ProcSample::of(o.server_pid);
    auto self_after = ProcSample::self();
    // Drain: until every start reached every agent; progress buys time (see
    // conversations), --drain s without any ends it.
    ctl.phase("drain");
    std::uint64_t progress = 0;
    std::int64_t progressed = now_ns();
    ctl.wait(120, [&] {
        if (w.complete.load() >= w.started.load() && w.closed.load() >= w.started.load()) {
            return true;
        }
        auto p = counters.delivered.load() + w.closed.load();
        if (p != progress) progress = p, progressed = now_ns();
        return now_ns() - progressed > static_cast<std::int64_t>(o.drain_s * 1e9);
    });
    r.figure("drain_s", (now_ns() - t_end) / 1e9);
    stop();

    Histogram first, last;
    std::uint64_t missing = 0, tracked = 0;
    for (auto& [conv, t] : w.tracks) {
        if (t.intended < 0) continue;  // not one of ours
        ++tracked;
        if (t.seen < w.agents.size()) {
            missing += w.agents.size() - t.seen;
            continue;
        }
        first.record(static_cast<std::uint64_t>(t.first - t.intended));
        last.record(static_cast<std::uint64_t>(t.last - t.intended));
    }
    const double d = o.duration_s;
    r.measured_s = d;
    r.rate("queue_deliveries_per_s", w.frames_in_window / d);
    // Frames depend on how many changes one server turn folds together; the
    // news itself is a new conversation reaching an agent.
    r.rate("new_conversation_views_per_s", w.sightings_in_window / d);
    r.rate("conversations_started_per_s", w.started.load() / d);
    r.figure("agents", o.agents);
    r.figure("visitors", o.visitors);
    r.figure("conversations_started", static_cast<double>(w.started.load()));
    r.figure("conversations_closed", static_cast<double>(w.closed.load()));
    r.figure("queue_frames", static_cast<double>(w.frames));
    r.figure(
        "queue_frames_per_start",
        w.started.load() ? static_cast<double>(w.frames) / w.agents.size() / w.started.load() : 0);
    r.figure("starts_skipped_busy_visitor", static_cast<double>(w.skipped));
    r.latency("start->last agent", last);
    r.latency("start->first agent", first);
    r.latency("start->each agent", w.each);
    r.lost = missing;  // queue views that never reached an agent
    if (w.auto_assigned) {
        r.figure("assigned_at_once", static_cast<double>(w.auto_assigned));
        r.notes.push_back(
            "the server assigned conversations at once, so they never waited: start "
            "it with --assign-mode manual for this scenario");
    }
    for (auto& [k, v] : w.errors) r.errors[k] += v;
    if (tracked < w.started.load()) {
        r.errors["start_unanswered"] += w.started.load() - tracked;
    }
    if (server_before.ok && server_after.ok) {
        r.server_cpu_s = server_after.cpu_s - server_before.cpu_s;
        r.server_wait_s = server_after.wait_s - server_before.wait_s;
        r.server_rss_before_kb = server_before.rss_kb;
        r.server_rss_after_kb = server_after.rss_kb;
    }
    if (r.server_cpu_s && w.frames_in_window > 0) {
        r.figure("server_cpu_us_per_delivery",
                 *r.server_cpu_s * 1e6 / static_cast<double>(w.frames_in_window));
    }
    r.harness_cpu_s = self_after.cpu_s - self_before.cpu_s;
    return r;
}

}  // namespace sb::loadtest
