// idle: open N visitor connections (TCP, upgrade, hello -> welcome) with a
// bounded number in flight, hold them, and weigh them in the server's RSS.
#include <algorithm>
#include <atomic>
#include <map>

#include "frame_scan.hpp"
#include "harness.hpp"

namespace sb::loadtest {

namespace {

// Source addresses: Linux gives each (source, destination) ~28k ephemeral
// ports; past that, spread over 127.0.0.2, .3, ...
constexpr int kPerSourceAddress = 25'000;

struct IdleWorker;

struct IdleConn final : WsHandler {
    IdleConn(IdleWorker& w, std::string source)
        : worker(w), client(loop_of(w), *this), source_ip(std::move(source)) {}
    static EventLoop& loop_of(IdleWorker& w);

    void start();
    void on_open() override;
    void on_frame(std::string_view text) override;
    void on_end(const WsEnd& end) override;

    IdleWorker& worker;
    WsClient client;
    std::string source_ip;
    std::int64_t started = 0;
    bool welcomed = false;
};

struct IdleWorker {
    IdleWorker(EventLoop& l, Counters& c, const Options& o) : loop(l), counters(c), options(o) {}

    void launch() {
        while (inflight < window && next < conns.size()) {
            ++inflight;
            conns[next++]->start();
        }
    }
    void finished_attempt() {
        --inflight;
        if (!teardown) launch();
    }
    void error(const std::string& kind) {
        ++errors[kind];
        Counters::add(counters.errors);
    }

    EventLoop& loop;
    Counters& counters;
    const Options& options;
    std::vector<std::unique_ptr<IdleConn>> conns;
    std::size_t next = 0;
    int inflight = 0;
    int window = 1;
    bool teardown = false;
    std::atomic<std::uint64_t> failed{0};
    std::int64_t first_start = 0;
    std::int64_t last_welcome = 0;
    Histogram connect;
    std::map<std::string, std::uint64_t> errors;
};

EventLoop& IdleConn::loop_of(IdleWorker& w) {
    return w.loop;
}

void IdleConn::start() {
    started = now_ns();
    if (!worker.first_start) worker.first_start = started;
    client.connect(worker.options.nodes[0], worker.options.path, source_ip);
}

void IdleConn::on_open() {
    client.send(hello_visitor("idle"));
}

void IdleConn::on_frame(std::string_view text) {
    ServerFrame f;
    if (!scan_frame(text, f)) return worker.error("unparsed_frame");
    if (f.type == "welcome" && !welcomed) {
        welcomed = true;
        auto now = now_ns();
        worker.last_welcome = now;
        worker.connect.record(static_cast<std::uint64_t>(now - started));
        worker.counters.latency(static_cast<std::uint64_t>(now - started));
        Counters::add(worker.counters.connected);
        Counters::add(worker.counters.ready);
        Counters::add(worker.counters.live_conns);
        worker.finished_attempt();
    } else if (f.type == "error") {
        worker.error("error:" + std::string(f.code));
    }
}

void IdleConn::on_end(const WsEnd& end) {
    if (welcomed) {
        worker.counters.live_conns.fetch_sub(1, std::memory_order_relaxed);
        if (!worker.teardown) {
            worker.error(end.close_code ? "closed:" + std::to_string(end.close_code)
                                        : "dropped: " + end.error);
        }
        return;
    }
    ++worker.failed;
    worker.error(end.error.empty() ? std::string("closed before welcome") : end.error);
    worker.finished_attempt();
}

}  // namespace

Results run_idle(const Options& o) {
    Results r;
    Counters counters;
    Controller ctl(o, counters);
    const int n = o.connections;
    int addrs =
        o.source_addrs > 0 ? o.source_addrs : (n + kPerSourceAddress - 1) / kPerSourceAddress;
    addrs = std::clamp(addrs, 1, 250);
    const int per_addr = (n + addrs - 1) / addrs;
    if (addrs > 1) r.notes.push_back("source addresses 127.0.0.1.." + std::to_string(addrs));

    Workers workers(o.threads);
    std::vector<std::unique_ptr<IdleWorker>> ws;
    for (int i = 0; i < workers.size(); ++i) {
        ws.push_back(std::make_unique<IdleWorker>(workers.loop(i), counters, o));
        ws.back()->window = std::max(1, o.concurrency / workers.size());
    }
    for (int i = 0; i < n; ++i) {
        auto& w = *ws[i % ws.size()];
        std::string source = addrs > 1 ? "127.0.0." + std::to_string(1 + i / per_addr) : "";
        w.conns.push_back(std::make_unique<IdleConn>(w, source));
    }
    workers.start();

    auto before = ProcSample::of(o.server_pid);
    auto self_before = ProcSample::self();
    auto failed = [&] {
        std::uint64_t f = 0;
        for (auto& w : ws) f += w->failed;  // read racily: only a stop condition
        return f;
    };
    ctl.phase("connect");
    workers.on_each([&](int i) { ws[i]->launch(); });
    bool all = ctl.wait(o.setup_timeout_s, [&] {
        return counters.connected.load() + failed() >= static_cast<std::uint64_t>(n);
    });
    auto mid = ProcSample::of(o.server_pid);
    ctl.phase("hold");
    ctl.sleep(std::max(1.0, o.hold_s));
    auto after = ProcSample::of(o.server_pid);

    ctl.phase("close");
    workers.on_each([&](int i) {
        ws[i]->teardown = true;
        for (auto& c : ws[i]->conns) c->client.close();
    });
    ctl.wait(10, [&] { return counters.live_conns.load() == 0; });
    workers.stop();

    Histogram connect;
    std::int64_t first = 0, last = 0;
    std::uint64_t fails = 0;
    for (auto& w : ws) {
        connect.merge(w->connect);
        for (auto& [k, v] : w->errors) r.errors[k] += v;
        if (w->first_start && (!first || w->first_start < first)) first = w->first_start;
        last = std::max(last, w->last_welcome);
        fails += w->failed;
    }
    auto connected = connect.count();
    double span = last > first ? (last - first) / 1e9 : 0;
    r.measured_s = span;
    r.rate("connects_per_s", span > 0 ? connected / span : 0);
    r.figure("connections_requested", n);
    r.figure("connections_held", static_cast<double>(connected));
    r.figure("connections_failed", static_cast<double>(fails));
    r.figure("concurrency", o.concurrency);
    r.latency("connect+upgrade+hello", connect);
    if (!all) r.notes.push_back("setup timeout: not every connection was answered");
    if (before.ok && after.ok) {
        r.server_rss_before_kb = before.rss_kb;
        r.server_rss_after_kb = after.rss_kb;
        r.server_cpu_s = mid.cpu_s - before.cpu_s;  // over the connect phase
        r.server_wait_s = mid.wait_s - before.wait_s;
        if (connected > 0) {
            r.figure("server_rss_per_conn_bytes",
                     (after.rss_kb - before.rss_kb) * 1024.0 / static_cast<double>(connected));
        }
    } else if (o.server_pid) {
        r.notes.push_back("could not read /proc/" + std::to_string(o.server_pid));
    }
    if (r.server_cpu_s && connected > 0) {
        r.figure("server_cpu_us_per_connect",
                 *r.server_cpu_s * 1e6 / static_cast<double>(connected));
    }
    r.harness_cpu_s = ProcSample::self().cpu_s - self_before.cpu_s;
    r.figure("harness_rss_kb", static_cast<double>(ProcSample::self().rss_kb));
    if (connected < static_cast<std::uint64_t>(n)) {
        r.failure = std::to_string(n - connected) + " of " + std::to_string(n) +
                    " connections were not established";
    }
    return r;
}

}  // namespace sb::loadtest
