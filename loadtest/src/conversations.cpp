// conversations (and churn, cluster): M visitor-agent pairs exchange
// messages on a fixed open-loop schedule; every message is checked off at the
// other side by its client_id, latency counted from the time it was meant to
// be sent (so a stalled server cannot hide its stall: no coordinated omission).
//
// Set-up per pair: the visitor says hello (name "<prefix><pair>") and starts a
// conversation (handing it off if the server's bot answers first); an agent
// connection sends take; every connection of the agent account sees the
// assignment, and the one serving that pair (pair % agent_conns) resumes it. Churn adds short-lived
// visitors (connect, hello, close) at a fixed rate during the run.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <list>
#include <map>
#include <numeric>
#include <unordered_map>

#include <unistd.h>

#include "frame_scan.hpp"
#include "harness.hpp"

namespace sb::loadtest {

namespace {

enum SideIndex { kVisitor = 0, kAgent = 1 };

// One direction of a pair: what its sender sent, and what the other side got.
struct Side {
    std::vector<std::int64_t> sent_at;   // by message number: intended (or actual) send time
    std::vector<std::uint8_t> got;       // by message number: times the other side received it
    std::vector<std::uint8_t> ack_seen;  // by message number: the sender got its ack
    std::uint64_t acked = 0;
    std::uint64_t last_seq_seen = 0;  // this side as a receiver: highest seq so far
    int in_flight = 0;                // closed loop only
};

struct ConvWorker;
struct AgentConn;
struct Pair;

struct VisitorConn final : WsHandler {
    VisitorConn(ConvWorker& w, Pair& p);
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;

    std::string start_id() const {
        std::string id(1, 's');  // (appended: GCC 12 warns falsely on "s" + to_string)
        return id += std::to_string(pair_id());
    }
    std::uint32_t pair_id() const;
    // A server that assigns by itself does so in the turn the conversation
    // starts waiting; otherwise an agent takes it. A take assigns the oldest
    // waiting conversation, which may be another pair's, so ask again until
    // this one is active.
    void ask_take(std::chrono::milliseconds delay);

    ConvWorker& worker;
    Pair& pair;
    WsClient client;
    bool welcomed = false;
    bool handoff_sent = false;
    bool take_asked = false;
};

struct Pair {
    std::uint32_t id = 0;  // global pair number
    std::string conv;
    std::unique_ptr<VisitorConn> visitor;
    AgentConn* agent = nullptr;
    Side side[2];
    bool visitor_active = false;
    bool agent_following = false;
    bool ready = false;
    bool closed = false;
    bool failed = false;
};

struct AgentConn final : WsHandler {
    AgentConn(ConvWorker& w, std::uint32_t index, std::string token, Node node);
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;
    void take() { client.send(R"({"type":"take"})"); }

    ConvWorker& worker;
    std::uint32_t index;
    std::string token;
    Node node;
    WsClient client;
    bool welcomed = false;
};

struct ChurnConn final : WsHandler {
    ChurnConn(ConvWorker& w, std::int64_t intended);
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;

    ConvWorker& worker;
    WsClient client;
    std::int64_t intended;
    bool welcomed = false;
    std::list<std::unique_ptr<ChurnConn>>::iterator self;
};

struct ConvWorker {
    ConvWorker(int index, EventLoop& l, Counters& c, const Options& o)
        : index(index), loop(l), counters(c), options(o) {}

    Pair* pair_by_id(std::uint32_t id) {
        if (id % workers != static_cast<std::uint32_t>(index)) return nullptr;
        std::size_t local = id / workers;
        return local < pairs.size() ? pairs[local].get() : nullptr;
    }
    void error(const std::string& kind) {
        ++errors[kind];
        Counters::add(counters.errors);
    }

    // ---- set-up ----
    void launch_visitors() {
        while (visitors_in_setup < window && next_visitor < pairs.size()) {
            ++visitors_in_setup;
            auto& p = *pairs[next_visitor++];
            p.visitor->client.connect(options.nodes[p.id % options.nodes.size()], options.path);
        }
    }
    void visitor_setup_done() {
        --visitors_in_setup;
        launch_visitors();
    }
    void check_ready(Pair& p) {
        if (p.ready || !p.visitor_active || !p.agent_following) return;
        p.ready = true;
        ++ready;
        Counters::add(counters.ready);
        visitor_setup_done();
    }

    // ---- the run ----
    std::string frame(const Pair& p, int side, std::size_t n) const {
        std::string f;
        f.reserve(96 + filler.size() + p.conv.size());
        f += R"({"type":"message","conv":")";
        f += p.conv;
        f += R"(","client_id":")";
        f += side == kVisitor ? 'v' : 'a';
        f += std::to_string(p.id);
        f += '.';
        f += std::to_string(n);
        f += R"(","text":")";
        f += filler;
        f += "\"}";
        return f;
    }
    void send(Pair& p, int side, std::int64_t intended) {
        if (!p.ready || p.failed) {
            ++skipped;
            return;
        }
        Side& s = p.side[side];
        auto n = s.sent_at.size();
        s.sent_at.push_back(intended);
        s.got.push_back(0);
        s.ack_seen.push_back(0);
        ++s.in_flight;
        auto text = frame(p, side, n);
        if (side == kVisitor)
            p.visitor->client.send(std::move(text));
        else
            p.agent->client.send(std::move(text));
        ++sent;
        Counters::add(counters.sent);
    }
    // Open loop: event k of a schedule at `rate` per second is due at t0 + k / rate.
    std::int64_t due_at(std::uint64_t k, double rate) const {
        return t0 + static_cast<std::int64_t>(static_cast<double>(k) * 1e9 / rate);
    }
    // Sends every event whose intended time has come, in schedule order, then
    // sets the alarm for the next one.
    void pace() {
        auto now = now_ns();
        std::int64_t next = INT64_MAX;
        if (options.rate > 0) {
            for (; next_event < total_events; ++next_event) {
                auto at = due_at(next_event, global_rate);
                if (at > now) {
                    next = std::min(next, at);
                    break;
                }
                auto s = next_event % senders;
                send(*pairs[s / 2], static_cast<int>(s % 2), at);
            }
        }
        if (churn_rate > 0) {
            for (; next_churn < churn_total; ++next_churn) {
                auto at = due_at(next_churn, churn_rate);
                if (at > now) {
                    next = std::min(next, at);
                    break;
                }
                start_churn(at);
            }
        }
        if (next != INT64_MAX) alarm->at(next);
    }
    void start_closed_loop() {
        for (auto& p : pairs) {
            for (int side = 0; side < 2; ++side) {
                for (int i = 0; i < options.window; ++i) send(*p, side, t0);
            }
        }
    }
    void start_churn(std::int64_t intended) {
        if (churn_conns.size() >= 2000) {
            ++churn_skipped;
            return;
        }
        churn_conns.push_back(std::make_unique<ChurnConn>(*this, intended));
        auto it = std::prev(churn_conns.end());
        (*it)->self = it;
        (*it)->client.connect(options.nodes[0], options.path);
    }

    // ---- what arrives ----
    void on_ack(int side, const ServerFrame& f) {
        auto id = parse_message_id(f.client_id);
        Pair* p = id ? pair_by_id(id->pair) : nullptr;
        if (!p || (id->side == 'v') != (side == kVisitor)) return error("ack_for_unknown_message");
        Side& s = p->side[side];
        if (id->n >= s.sent_at.size()) return error("ack_for_unknown_message");
        if (f.duplicate) ++duplicate_acks;
        s.ack_seen[id->n] = 1;
        ++s.acked;
        --s.in_flight;
        auto now = now_ns();
        ack.record(static_cast<std::uint64_t>(now - s.sent_at[id->n]));
        Counters::add(counters.acked);
        if (options.rate <= 0 && now < t_end && running) send(*p, side, now);
    }
    void on_message(int receiver, const ServerFrame& f) {
        auto now = now_ns();
        auto id = parse_message_id(f.client_id);
        if (!id) {
            ++other_messages;  // bot or system
            return;
        }
        Pair* p = pair_by_id(id->pair);
        if (!p || p->conv != f.conv) return error("message_for_unknown_conversation");
        Side& r = p->side[receiver];
        if (f.seq) {
            if (*f.seq <= r.last_seq_seen)
                ++seq_regressions;
            else
                r.last_seq_seen = *f.seq;
        }
        int sender = id->side == 'v' ? kVisitor : kAgent;
        if (sender == receiver) {
            ++echoes;
            return;
        }
        Side& s = p->side[sender];
        if (id->n >= s.sent_at.size()) return error("message_never_sent");
        if (s.got[id->n]++) {
            ++duplicated;
            return;
        }
        auto lat = static_cast<std::uint64_t>(now - s.sent_at[id->n]);
        latency[sender].record(lat);
        counters.latency(lat);
        ++delivered;
        if (now <= t_end) ++delivered_in_window;
        Counters::add(counters.delivered);
    }

    int index;
    EventLoop& loop;
    Counters& counters;
    const Options& options;
    std::uint32_t workers = 1;
    std::string prefix;  // visitor names: "<prefix><pair>"
    std::string filler;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::vector<std::unique_ptr<AgentConn>> agents;
    std::size_t next_visitor = 0;
    int visitors_in_setup = 0;
    int window = 1;
    std::atomic<std::uint64_t> ready{0};
    std::atomic<std::uint64_t> closed{0};
    std::atomic<std::uint64_t> failed_pairs{0};
    bool teardown = false;

    // schedule
    bool running = false;
    std::int64_t t0 = 0, t_end = 0;
    std::uint64_t senders = 0, total_events = 0, next_event = 0;
    double global_rate = 0;  // events per second, this worker
    double churn_rate = 0;
    std::uint64_t churn_total = 0, next_churn = 0, churn_skipped = 0;
    std::list<std::unique_ptr<ChurnConn>> churn_conns;
    std::unique_ptr<Alarm> alarm;

    // results
    std::uint64_t setup_nothing_waiting = 0, setup_unavailable = 0;
    std::vector<std::string> stuck;  // set-up failure: what some unready pairs lack
    std::atomic<std::uint64_t> setup_no_room{0};
    std::uint64_t sent = 0, delivered = 0, delivered_in_window = 0, echoes = 0, duplicated = 0,
                  seq_regressions = 0, duplicate_acks = 0, other_messages = 0, skipped = 0,
                  churned = 0;
    Histogram latency[2];
    Histogram ack;
    Histogram churn_connect;
    std::map<std::string, std::uint64_t> errors;
};

// ---- visitor ----------------------------------------------------------------------------

std::uint32_t VisitorConn::pair_id() const {
    return pair.id;
}

void VisitorConn::ask_take(std::chrono::milliseconds delay) {
    worker.loop.after(delay, [this] {
        if (pair.visitor_active || pair.failed || worker.teardown || worker.t0 != 0) return;
        pair.agent->take();
        ask_take(std::chrono::milliseconds(250));
    });
}

VisitorConn::VisitorConn(ConvWorker& w, Pair& p) : worker(w), pair(p), client(w.loop, *this) {}

void VisitorConn::on_open() {
    client.send(hello_visitor(worker.prefix + std::to_string(pair.id)));
}

void VisitorConn::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f)) return worker.error("unparsed_frame");
    if (f.type == "ack") return worker.on_ack(kVisitor, f);
    if (f.type == "message") return worker.on_message(kVisitor, f);
    if (f.type == "welcome") {
        welcomed = true;
        Counters::add(worker.counters.connected);
        Counters::add(worker.counters.live_conns);
        client.send(R"({"type":"start","client_id":")" + start_id() + "\"}");
    } else if (f.type == "conversation") {
        if (pair.conv.empty() && f.client_id == start_id()) pair.conv = std::string(f.conv);
        if (f.conv != pair.conv) return;
        if (f.state == "bot" && !handoff_sent) {
            // The server's bot answers first: ask for a person, as the
            // widget's "Talk to a person" does; the conversation then waits.
            handoff_sent = true;
            client.send(R"({"type":"handoff","conv":")" + pair.conv + "\"}");
        } else if (f.state == "waiting" && !take_asked) {
            take_asked = true;
            ask_take(std::chrono::milliseconds(20));
        } else if (f.state == "active" && !pair.visitor_active) {
            pair.visitor_active = true;
            worker.check_ready(pair);
        } else if (f.state == "closed" && !pair.closed) {
            pair.closed = true;
            ++worker.closed;
        }
    } else if (f.type == "unavailable" && !pair.ready) {
        // No agent online, or the queue is full: ask again shortly.
        ++worker.setup_unavailable;
        worker.loop.after(std::chrono::milliseconds(200), [this] {
            if (!pair.failed) {
                client.send(R"({"type":"start","client_id":")" + start_id() + "\"}");
            }
        });
    } else if (f.type == "error") {
        worker.error("visitor:" + std::string(f.code));
    }
}

void VisitorConn::on_end(const WsEnd& end) {
    if (welcomed) worker.counters.live_conns.fetch_sub(1, std::memory_order_relaxed);
    if (worker.teardown) return;
    worker.error("visitor_" + (end.close_code ? "closed:" + std::to_string(end.close_code)
                                              : "dropped: " + end.error));
    if (!pair.ready && !pair.failed) {
        pair.failed = true;
        ++worker.failed_pairs;
        worker.visitor_setup_done();
    }
    pair.failed = true;
}

// ---- agent ------------------------------------------------------------------------------

AgentConn::AgentConn(ConvWorker& w, std::uint32_t i, std::string t, Node n)
    : worker(w), index(i), token(std::move(t)), node(std::move(n)), client(w.loop, *this) {}

void AgentConn::on_open() {
    client.send(hello_agent(token));
}

void AgentConn::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f)) return worker.error("unparsed_frame");
    if (f.type == "message") return worker.on_message(kAgent, f);
    if (f.type == "ack") return worker.on_ack(kAgent, f);
    if (f.type == "conversation") {
        if (f.state != "active") return;
        auto p_id = parse_indexed(f.visitor_name, worker.prefix);
        if (!p_id) {
            // Someone else's conversation was older in the queue: take again.
            if (index == 0) take();
            return;
        }
        if (*p_id % static_cast<std::uint32_t>(worker.options.agent_conns) != index) return;
        Pair* p = worker.pair_by_id(*p_id);
        if (!p || p->agent_following) return;
        if (p->conv.empty()) p->conv = std::string(f.conv);
        client.send(R"({"type":"resume","conv":")" + p->conv + R"(","after":0})");
    } else if (f.type == "replayed") {
        for (auto& p : worker.pairs) {  // set-up only: a linear search is fine
            if (p->conv == f.conv && p->agent == this && !p->agent_following) {
                p->agent_following = true;
                worker.check_ready(*p);
                break;
            }
        }
    } else if (f.type == "welcome") {
        welcomed = true;
        Counters::add(worker.counters.connected);
        Counters::add(worker.counters.live_conns);
    } else if (f.type == "error") {
        if (!worker.running && worker.t0 == 0) {
            // Set-up: take after an automatic assignment finds nothing; at
            // capacity the run cannot start (see failure_hint).
            if (f.code == "nothing_waiting") return void(++worker.setup_nothing_waiting);
            if (f.code == "no_room" || f.code == "forbidden") ++worker.setup_no_room;
        }
        worker.error("agent:" + std::string(f.code));
    }
}

void AgentConn::on_end(const WsEnd& end) {
    if (welcomed) worker.counters.live_conns.fetch_sub(1, std::memory_order_relaxed);
    if (worker.teardown) return;
    worker.error("agent_" + (end.close_code ? "closed:" + std::to_string(end.close_code)
                                            : "dropped: " + end.error));
    for (auto& p : worker.pairs) {
        if (p->agent == this) p->failed = true;
    }
}

// ---- churn ------------------------------------------------------------------------------

ChurnConn::ChurnConn(ConvWorker& w, std::int64_t t)
    : worker(w), client(w.loop, *this), intended(t) {}

void ChurnConn::on_open() {
    client.send(hello_visitor("churn"));
}

void ChurnConn::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f) || f.type != "welcome" || welcomed) return;
    welcomed = true;
    worker.churn_connect.record(static_cast<std::uint64_t>(now_ns() - intended));
    ++worker.churned;
    Counters::add(worker.counters.churned);
    client.close();
}

void ChurnConn::on_end(const WsEnd& end) {
    if (!welcomed && !worker.teardown)
        worker.error("churn: " + (end.error.empty() ? "closed" : end.error));
    auto& w = worker;
    auto it = self;
    w.loop.post([&w, it] { w.churn_conns.erase(it); });
}

}  // namespace

Results run_conversations(const Options& opts) {
    Options o = opts;
    Results r;
    Counters counters;
    Controller ctl(o, counters);
    const auto nodes = static_cast<int>(o.nodes.size());
    // Pair p and its agent connection (p % A) must share a worker (p % T) and,
    // in a cluster, sit on different nodes: make A a multiple of T and of n.
    int step = std::lcm(o.threads, nodes);
    o.agent_conns = std::max(step, (o.agent_conns + step - 1) / step * step);

    auto tokens = sign_in_all(o, r);
    if (tokens.empty()) return r;

    Workers workers(o.threads);
    std::vector<std::unique_ptr<ConvWorker>> ws;
    std::string prefix = "lt" + std::to_string(getpid() % 100000) + "p";
    for (int i = 0; i < workers.size(); ++i) {
        auto w = std::make_unique<ConvWorker>(i, workers.loop(i), counters, o);
        w->workers = static_cast<std::uint32_t>(o.threads);
        w->prefix = prefix;
        w->filler.assign(static_cast<std::size_t>(o.size), 'x');
        // Conversations waiting for an agent at once: below the server's
        // default queue limit (50), so visitors are not turned away.
        w->window = std::max(1, std::min(o.concurrency, 32) / o.threads);
        ws.push_back(std::move(w));
    }
    for (int j = 0; j < o.agent_conns; ++j) {
        auto& w = *ws[j % o.threads];
        int node = (j + 1) % nodes;
        w.agents.push_back(std::make_unique<AgentConn>(w, j, tokens[node], o.nodes[node]));
    }
    for (int p = 0; p < o.pairs; ++p) {
        auto& w = *ws[p % o.threads];
        auto pair = std::make_unique<Pair>();
        pair->id = static_cast<std::uint32_t>(p);
        for (auto& a : w.agents) {
            if (a->index == static_cast<std::uint32_t>(p % o.agent_conns)) pair->agent = a.get();
        }
        pair->visitor = std::make_unique<VisitorConn>(w, *pair);
        w.pairs.push_back(std::move(pair));
    }
    workers.start();

    auto stop = [&] {
        workers.on_each([&](int i) {
            ws[i]->teardown = true;
            for (auto& p : ws[i]->pairs) p->visitor->client.close();
            for (auto& a : ws[i]->agents) a->client.close();
            for (auto& c : ws[i]->churn_conns) c->client.close();
        });
        ctl.wait(5, [&] { return counters.live_conns.load() == 0; });
        workers.stop();
    };

    // Agents first, then visitors (a bounded number setting up at once).
    ctl.phase("agents");
    workers.on_each([&](int i) {
        for (auto& a : ws[i]->agents) a->client.connect(a->node, o.path);
    });
    auto agents = static_cast<std::uint64_t>(o.agent_conns);
    auto deadline_s = o.setup_timeout_s;
    auto t_setup = now_ns();
    if (!ctl.wait(deadline_s, [&] { return counters.connected.load() >= agents; })) {
        r.failure = "agents did not all connect: " + std::to_string(counters.connected.load()) +
                    " of " + std::to_string(agents);
    }
    auto failed_pairs = [&] {
        std::uint64_t n = 0;
        for (auto& w : ws) n += w->failed_pairs.load();
        return n;
    };
    if (r.failure.empty()) {
        ctl.phase("pairs");
        workers.on_each([&](int i) { ws[i]->launch_visitors(); });
        auto left = deadline_s - (now_ns() - t_setup) / 1e9;
        if (!ctl.wait(left,
                      [&] {
                          return counters.ready.load() + failed_pairs() >=
                                 static_cast<std::uint64_t>(o.pairs);
                      }) ||
            counters.ready.load() < static_cast<std::uint64_t>(o.pairs)) {
            r.failure = "set-up incomplete: " + std::to_string(counters.ready.load()) + " of " +
                        std::to_string(o.pairs) + " pairs ready";
            std::uint64_t no_room = 0;
            for (auto& w : ws) no_room += w->setup_no_room.load();
            // Name a few pairs that are stuck, and where (read after the
            // workers stop below; racy reads here would be harmless too).
            workers.on_each([&](int i) {
                for (auto& p : ws[i]->pairs) {
                    if (p->ready || ws[i]->stuck.size() >= 3) continue;
                    ws[i]->stuck.push_back("pair " + std::to_string(p->id) + " conv '" + p->conv +
                                           "'" + (p->visitor->welcomed ? "" : " no welcome") +
                                           (p->visitor->take_asked ? " waiting" : "") +
                                           (p->visitor_active ? " visitor-active" : "") +
                                           (p->agent_following ? " agent-following" : ""));
                }
            });
            for (auto& w : ws) {
                for (auto& line : w->stuck) r.notes.push_back("not ready: " + line);
            }
            if (no_room) {
                r.failure +=
                    "; the agent is at its capacity: sign in as an agent whose capacity "
                    "is at least --pairs (see BENCHMARKS.md)";
            }
        }
    }
    r.figure("setup_s", (now_ns() - t_setup) / 1e9);
    {
        std::uint64_t nothing = 0, unavailable = 0;
        for (auto& w : ws) nothing += w->setup_nothing_waiting, unavailable += w->setup_unavailable;
        if (nothing) r.figure("setup_take_nothing_waiting", static_cast<double>(nothing));
        if (unavailable) r.figure("setup_start_unavailable", static_cast<double>(unavailable));
    }
    if (!r.failure.empty()) {
        stop();
        for (auto& w : ws) {
            for (auto& [k, v] : w->errors) r.errors[k] += v;
        }
        return r;
    }

    // The run: each worker follows its own schedule over its pairs.
    ctl.phase(o.scenario == Scenario::churn ? "churn" : "run");
    const auto t0 = now_ns() + 20'000'000;
    const auto t_end = t0 + static_cast<std::int64_t>(o.duration_s * 1e9);
    auto per_sender = static_cast<std::uint64_t>(std::floor(o.duration_s * o.rate));
    workers.on_each([&](int i) {
        auto& w = *ws[i];
        w.t0 = t0;
        w.t_end = t_end;
        w.senders = 2 * w.pairs.size();
        w.global_rate = static_cast<double>(w.senders) * o.rate;
        w.total_events = w.senders * per_sender;
        if (o.scenario == Scenario::churn) {
            w.churn_rate = o.churn_rate / o.threads;
            w.churn_total = static_cast<std::uint64_t>(std::floor(o.duration_s * w.churn_rate));
        }
        w.running = true;
        if (o.rate <= 0) {
            w.loop.after(std::chrono::nanoseconds(t0 - now_ns()), [&w] { w.start_closed_loop(); });
            w.total_events = 0;
        }
        w.alarm = std::make_unique<Alarm>(w.loop, [&w] { w.pace(); });
        w.alarm->at(t0);
    });
    auto server_before = ProcSample::of(o.server_pid);
    auto self_before = ProcSample::self();
    ctl.wait((t_end - now_ns()) / 1e9, [] { return false; });
    auto server_after = ProcSample::of(o.server_pid);
    auto self_after = ProcSample::self();

    workers.on_each([&](int i) { ws[i]->running = false; });
    // Drain: until everything sent is acknowledged and delivered. A server
    // behind its load gets time while it makes progress; --drain s without
    // progress (or 120 s in all) ends the wait, and what is missing then is lost.
    ctl.phase("drain");
    std::uint64_t progress = 0;
    std::int64_t progressed = now_ns();
    ctl.wait(120, [&] {
        auto d = counters.delivered.load(), a = counters.acked.load(), s = counters.sent.load();
        if (d >= s && a >= s) return true;
        if (d + a != progress) progress = d + a, progressed = now_ns();
        return now_ns() - progressed > static_cast<std::int64_t>(o.drain_s * 1e9);
    });
    r.figure("drain_s", (now_ns() - t_end) / 1e9);

    if (o.close_at_end) {
        ctl.phase("close");
        workers.on_each([&](int i) {
            for (auto& p : ws[i]->pairs) {
                if (!p->conv.empty() && !p->failed) {
                    p->visitor->client.send(R"({"type":"close","conv":")" + p->conv + "\"}");
                }
            }
        });
        ctl.wait(5, [&] {
            std::uint64_t n = 0;
            for (auto& w : ws) n += w->closed.load();
            return n >= static_cast<std::uint64_t>(o.pairs);
        });
    }
    stop();

    // Tally.
    Histogram v2a, a2v, ack, churn;
    std::uint64_t sent = 0, delivered = 0, in_window = 0, echoes = 0, acked = 0, unacked = 0,
                  lost = 0, lost_stored = 0, dup = 0, regress = 0, dup_acks = 0, skipped = 0,
                  churned = 0, churn_skipped = 0;
    for (auto& w : ws) {
        v2a.merge(w->latency[kVisitor]);
        a2v.merge(w->latency[kAgent]);
        ack.merge(w->ack);
        churn.merge(w->churn_connect);
        sent += w->sent;
        delivered += w->delivered;
        in_window += w->delivered_in_window;
        echoes += w->echoes;
        dup += w->duplicated;
        regress += w->seq_regressions;
        dup_acks += w->duplicate_acks;
        skipped += w->skipped;
        churned += w->churned;
        churn_skipped += w->churn_skipped;
        for (auto& [k, v] : w->errors) r.errors[k] += v;
        for (auto& p : w->pairs) {
            for (auto& s : p->side) {
                acked += s.acked;
                unacked += s.sent_at.size() - std::min<std::uint64_t>(s.acked, s.sent_at.size());
                for (std::size_t n = 0; n < s.got.size(); ++n) {
                    if (s.got[n] != 0) continue;
                    ++lost;
                    lost_stored += s.ack_seen[n];
                }
            }
        }
    }
    const double d = o.duration_s;
    r.measured_s = d;
    r.rate("sent_per_s", sent / d);
    r.rate("delivered_per_s", in_window / d);
    r.rate("frames_received_per_s", (in_window + echoes + acked) / d);
    r.figure("pairs", o.pairs);
    r.figure("agent_conns", o.agent_conns);
    r.figure("offered_per_s", o.rate > 0 ? 2.0 * o.pairs * o.rate : 0);
    r.figure("sent", static_cast<double>(sent));
    r.figure("delivered", static_cast<double>(delivered));
    r.figure("delivered_after_window", static_cast<double>(delivered - in_window));
    r.figure("acked", static_cast<double>(acked));
    r.figure("unacked", static_cast<double>(unacked));
    r.figure("echoes", static_cast<double>(echoes));
    if (skipped) r.figure("sends_skipped", static_cast<double>(skipped));
    r.latency("visitor->agent", v2a);
    r.latency("agent->visitor", a2v);
    r.latency("send->ack", ack);
    if (o.scenario == Scenario::churn) {
        r.rate("churn_per_s", churned / d);
        r.figure("churn_offered_per_s", o.churn_rate);
        r.figure("churn_skipped", static_cast<double>(churn_skipped));
        r.latency("churn connect+hello", churn);
    }
    r.lost = lost;
    // Lost after the server acknowledged (stored) it: a broken delivery
    // promise. The rest were never acknowledged: the server had not got to
    // them when the drain gave up (overload), or refused them (see errors).
    r.figure("lost_after_ack", static_cast<double>(lost_stored));
    r.figure("lost_never_acked", static_cast<double>(lost - lost_stored));
    r.duplicated = dup;
    if (regress) r.errors["seq_not_increasing"] += regress;
    if (dup_acks) r.errors["duplicate_ack"] += dup_acks;
    if (unacked) r.errors["unacked"] += unacked;
    if (server_before.ok && server_after.ok) {
        r.server_cpu_s = server_after.cpu_s - server_before.cpu_s;
        r.server_wait_s = server_after.wait_s - server_before.wait_s;
        r.server_rss_before_kb = server_before.rss_kb;
        r.server_rss_after_kb = server_after.rss_kb;
    }
    if (r.server_cpu_s && sent > 0) {
        // Load-independent cost: server CPU per message stored and delivered.
        r.figure("server_cpu_us_per_message", *r.server_cpu_s * 1e6 / static_cast<double>(sent));
    }
    r.harness_cpu_s = self_after.cpu_s - self_before.cpu_s;
    if (o.nodes.size() > 1) {
        r.notes.push_back("pair i: visitor on node i%" + std::to_string(nodes) +
                          ", agent on node (i+1)%" + std::to_string(nodes));
    }
    if (opts.agent_conns != o.agent_conns) {
        r.notes.push_back("agent connections rounded up to " + std::to_string(o.agent_conns));
    }
    return r;
}

}  // namespace sb::loadtest
