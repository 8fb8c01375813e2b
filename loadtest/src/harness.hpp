// What every scenario shares: worker threads (one event loop each), the
// live counters read by the progress line, and the controller's waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"
#include "options.hpp"
#include "report.hpp"

namespace sb::loadtest {

// Live totals, written by the workers and read once a second by the
// controller (relaxed atomics: they are for the progress line and the
// controller's "are we done" checks, not for the final figures).
struct Counters {
    std::atomic<std::uint64_t> connected{0};  // hello answered
    std::atomic<std::uint64_t> ready{0};      // scenario-specific: set up
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> acked{0};
    std::atomic<std::uint64_t> delivered{0};  // to the other side (or queue views)
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> churned{0};
    std::atomic<std::uint64_t> live_conns{0};
    std::atomic<std::uint64_t> second_max_ns{0};  // worst latency since the last line

    void latency(std::uint64_t ns) {
        auto cur = second_max_ns.load(std::memory_order_relaxed);
        while (ns > cur &&
               !second_max_ns.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
        }
    }
    static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
        c.fetch_add(n, std::memory_order_relaxed);
    }
};

// N event loops, each run by its own thread.
class Workers {
  public:
    explicit Workers(int n);
    ~Workers();
    int size() const { return static_cast<int>(loops_.size()); }
    EventLoop& loop(int i) { return *loops_[i]; }
    void start();
    // Runs fn(i) on every worker's own thread and waits until all are done.
    void on_each(const std::function<void(int)>& fn);
    void stop();

  private:
    std::vector<std::unique_ptr<EventLoop>> loops_;
    std::vector<std::thread> threads_;
};

// The progress line and the controller's waits (main thread).
class Controller {
  public:
    Controller(const Options& o, Counters& c) : options_(o), counters_(c), started_(now_ns()) {}
    void phase(std::string name) { phase_ = std::move(name); }
    // Sleeps in short steps until done() or timeout_s; prints progress each
    // second. True when done() held.
    bool wait(double timeout_s, const std::function<bool()>& done);
    // Sleeps for `seconds`, printing progress.
    void sleep(double seconds) {
        wait(seconds, [] { return false; });
    }

  private:
    void progress();

    const Options& options_;
    Counters& counters_;
    std::int64_t started_;
    std::int64_t last_line_ = 0;
    std::string phase_ = "setup";
    std::uint64_t last_sent_ = 0, last_delivered_ = 0, last_churned_ = 0;
};

// Entry points of the scenarios (each in its own file).
Results run_idle(const Options& o);
Results run_conversations(const Options& o);  // also churn and cluster
Results run_fanout(const Options& o);

// Agent sign-in for every distinct node; empty (and failure set) on error.
std::vector<std::string> sign_in_all(const Options& o, Results& r);

// Frames the harness sends.
std::string hello_visitor(std::string_view name);
std::string hello_agent(std::string_view token);

}  // namespace sb::loadtest
