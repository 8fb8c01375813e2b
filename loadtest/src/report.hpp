// What a run found, the machine it ran on, and the two ways it is told: a
// human summary on stdout and a JSON file (--json).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"

namespace sb::loadtest {

struct Machine {
    int nproc = 0;
    std::string cpu_model;
    std::string kernel;
    double loadavg_1m = 0;  // at the start of the run
    static Machine read();
};

// Readings of /proc/PID (another process, e.g. the server) or of ourselves.
struct ProcSample {
    double cpu_s = 0;   // utime + stime
    double wait_s = 0;  // runnable but not running (schedstat): other processes had the CPU
    long rss_kb = 0;    // VmRSS
    bool ok = false;
    static ProcSample of(int pid);  // 0: nothing
    static ProcSample self();
};

struct Results {
    // Ordered, as printed: rates per second, then plain counts.
    std::vector<std::pair<std::string, double>> throughput;
    std::vector<std::pair<std::string, double>> figures;
    std::vector<std::pair<std::string, Histogram>> latencies;
    std::map<std::string, std::uint64_t> errors;  // kind → count
    std::uint64_t lost = 0;
    std::uint64_t duplicated = 0;
    double measured_s = 0;
    // Server readings over the measured window (when --server-pid is given).
    std::optional<double> server_cpu_s;
    std::optional<double> server_wait_s;  // time the server was ready to run but had no CPU
    std::optional<long> server_rss_before_kb;
    std::optional<long> server_rss_after_kb;
    double harness_cpu_s = 0;
    std::vector<std::string> notes;
    std::string failure;  // setup could not complete: the run measured nothing

    void rate(std::string name, double v) { throughput.emplace_back(std::move(name), v); }
    void figure(std::string name, double v) { figures.emplace_back(std::move(name), v); }
    void latency(std::string name, const Histogram& h) {
        latencies.emplace_back(std::move(name), h);
    }
    std::uint64_t error_total() const;
    bool ok() const { return failure.empty() && lost == 0; }
};

void print_summary(const Options& o, const Machine& m, const Results& r);
// Writes the report; false (and a message on stderr) when the file cannot be written.
bool write_json(const std::string& file, const Options& o, const Machine& m, const Results& r);

}  // namespace sb::loadtest
