#include "report.hpp"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace sb::loadtest {

Machine Machine::read() {
    Machine m;
    m.nproc = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    std::ifstream cpu("/proc/cpuinfo");
    for (std::string line; std::getline(cpu, line);) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) m.cpu_model = line.substr(colon + 2);
            break;
        }
    }
    utsname u{};
    if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release;
    std::ifstream load("/proc/loadavg");
    load >> m.loadavg_1m;
    return m;
}

ProcSample ProcSample::of(int pid) {
    ProcSample s;
    if (pid <= 0) return s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // The command name (field 2) may hold spaces: count fields after its ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) {
            stime = std::stoul(field);
            break;
        }
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::ifstream sched("/proc/" + std::to_string(pid) + "/schedstat");
    double run_ns = 0, wait_ns = 0;
    if (sched >> run_ns >> wait_ns) s.wait_s = wait_ns / 1e9;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
    }
    s.ok = true;
    return s;
}

ProcSample ProcSample::self() {
    ProcSample s;
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    s.cpu_s = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
              static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    s.rss_kb = u.ru_maxrss;
    s.ok = true;
    return s;
}

std::uint64_t Results::error_total() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
}

namespace {

double us(std::uint64_t ns) {
    return static_cast<double>(ns) / 1000.0;
}

std::string fmt_us(std::uint64_t ns) {
    char buf[32];
    if (ns >= 10'000'000)
        std::snprintf(buf, sizeof buf, "%.0f ms", ns / 1e6);
    else if (ns >= 1'000'000)
        std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.0f us", ns / 1e3);
    return buf;
}

std::string fmt_num(double v) {
    char buf[48];
    if (v == static_cast<double>(static_cast<long long>(v)) && v < 1e15) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else {
        std::snprintf(buf, sizeof buf, "%.2f", v);
    }
    return buf;
}

nlohmann::json parameters(const Options& o) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : o.nodes) nodes.push_back(n.label());
    nlohmann::json p{{"nodes", nodes},
                     {"path", o.path},
                     {"threads", o.threads},
                     {"duration_s", o.duration_s},
                     {"drain_s", o.drain_s},
                     {"setup_timeout_s", o.setup_timeout_s},
                     {"server_pid", o.server_pid}};
    switch (o.scenario) {
        case Scenario::idle:
            p["connections"] = o.connections;
            p["concurrency"] = o.concurrency;
            p["hold_s"] = o.hold_s;
            p["source_addrs"] = o.source_addrs;
            break;
        case Scenario::fanout:
            p["agents"] = o.agents;
            p["visitors"] = o.visitors;
            p["start_rate"] = o.start_rate;
            break;
        case Scenario::churn:
            p["churn_rate"] = o.churn_rate;
            [[fallthrough]];
        case Scenario::conversations:
        case Scenario::cluster:
            p["pairs"] = o.pairs;
            p["rate_per_side"] = o.rate;
            p["open_loop"] = o.rate > 0;
            p["window"] = o.window;
            p["size"] = o.size;
            p["agent_conns"] = o.agent_conns;
            p["concurrency"] = o.concurrency;
            break;
    }
    return p;
}

}  // namespace

void print_summary(const Options& o, const Machine& m, const Results& r) {
    std::ostream& out = std::cout;
    out << "\n== switchboard-loadtest " << to_string(o.scenario);
    if (!o.label.empty()) out << " (" << o.label << ")";
    out << " ==\n";
    out << "machine: " << m.nproc << " cpu, " << m.cpu_model << ", " << m.kernel << ", load "
        << m.loadavg_1m << "\n";
    out << "target:";
    for (const auto& n : o.nodes) out << " " << n.label();
    out << "\n";
    if (!r.failure.empty()) out << "FAILED: " << r.failure << "\n";
    if (r.measured_s > 0) out << "measured: " << fmt_num(r.measured_s) << " s\n";
    for (const auto& [k, v] : r.throughput) out << "  " << k << ": " << fmt_num(v) << " /s\n";
    for (const auto& [k, v] : r.figures) out << "  " << k << ": " << fmt_num(v) << "\n";
    if (!r.latencies.empty()) {
        out << "latency (from the intended time)   count      p50      p90      p99    p99.9      "
               "max\n";
        for (const auto& [name, h] : r.latencies) {
            char line[256];
            std::snprintf(line, sizeof line, "  %-32s %7llu %8s %8s %8s %8s %8s\n", name.c_str(),
                          static_cast<unsigned long long>(h.count()),
                          fmt_us(h.percentile(0.5)).c_str(), fmt_us(h.percentile(0.9)).c_str(),
                          fmt_us(h.percentile(0.99)).c_str(), fmt_us(h.percentile(0.999)).c_str(),
                          fmt_us(h.max()).c_str());
            out << line;
        }
    }
    if (r.server_cpu_s) {
        out << "server cpu: " << fmt_num(*r.server_cpu_s) << " s";
        if (r.measured_s > 0)
            out << " (" << fmt_num(100 * *r.server_cpu_s / r.measured_s) << " % of one core)";
        if (r.server_wait_s) out << ", waited " << fmt_num(*r.server_wait_s) << " s for a CPU";
        out << "\n";
    }
    if (r.server_rss_before_kb && r.server_rss_after_kb) {
        out << "server rss: " << *r.server_rss_before_kb << " kB -> " << *r.server_rss_after_kb
            << " kB\n";
    }
    out << "harness cpu: " << fmt_num(r.harness_cpu_s) << " s\n";
    out << "errors: " << r.error_total();
    for (const auto& [k, v] : r.errors) out << "  " << k << "=" << v;
    out << "\nlost: " << r.lost << "  duplicated: " << r.duplicated << "\n";
    for (const auto& n : r.notes) out << "note: " << n << "\n";
    out << (r.ok() ? "OK" : "NOT OK") << std::endl;
}

bool write_json(const std::string& file, const Options& o, const Machine& m, const Results& r) {
    nlohmann::json j;
    j["tool"] = "switchboard-loadtest";
    j["report_version"] = 1;
    j["scenario"] = to_string(o.scenario);
    j["label"] = o.label;
    j["argv"] = o.argv;
    std::time_t t = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    j["finished_at"] = when;
    j["parameters"] = parameters(o);
    j["machine"] = {{"nproc", m.nproc},
                    {"cpu_model", m.cpu_model},
                    {"kernel", m.kernel},
                    {"loadavg_1m", m.loadavg_1m}};
    j["measured_s"] = r.measured_s;
    j["throughput"] = nlohmann::json::object();
    for (const auto& [k, v] : r.throughput) j["throughput"][k] = v;
    j["figures"] = nlohmann::json::object();
    for (const auto& [k, v] : r.figures) j["figures"][k] = v;
    j["latency_us"] = nlohmann::json::object();
    for (const auto& [name, h] : r.latencies) {
        j["latency_us"][name] = {{"count", h.count()},
                                 {"min", us(h.min())},
                                 {"mean", h.mean() / 1000.0},
                                 {"p50", us(h.percentile(0.5))},
                                 {"p90", us(h.percentile(0.9))},
                                 {"p99", us(h.percentile(0.99))},
                                 {"p99_9", us(h.percentile(0.999))},
                                 {"max", us(h.max())}};
    }
    j["errors"] = {{"total", r.error_total()}, {"by_kind", r.errors}};
    j["lost"] = r.lost;
    j["duplicated"] = r.duplicated;
    nlohmann::json server{{"pid", o.server_pid}};
    if (r.server_cpu_s) {
        server["cpu_s"] = *r.server_cpu_s;
        if (r.measured_s > 0) server["cpu_utilization"] = *r.server_cpu_s / r.measured_s;
    }
    if (r.server_wait_s) server["runqueue_wait_s"] = *r.server_wait_s;
    if (r.server_rss_before_kb) server["rss_before_kb"] = *r.server_rss_before_kb;
    if (r.server_rss_after_kb) server["rss_after_kb"] = *r.server_rss_after_kb;
    j["server"] = server;
    j["harness"] = {{"cpu_s", r.harness_cpu_s}};
    j["notes"] = r.notes;
    j["failure"] = r.failure;
    j["ok"] = r.ok();
    std::ofstream f(file);
    f << j.dump(2) << "\n";
    if (!f) {
        std::cerr << "switchboard-loadtest: cannot write " << file << "\n";
        return false;
    }
    return true;
}

}  // namespace sb::loadtest
