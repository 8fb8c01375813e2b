#include "harness.hpp"

#include <cstdio>
#include <latch>

namespace sb::loadtest {

Workers::Workers(int n) {
    for (int i = 0; i < n; ++i) loops_.push_back(std::make_unique<EventLoop>());
}

Workers::~Workers() {
    stop();
}

void Workers::start() {
    for (auto& l : loops_) threads_.emplace_back([loop = l.get()] { loop->run(); });
}

void Workers::on_each(const std::function<void(int)>& fn) {
    std::latch done(size());
    for (int i = 0; i < size(); ++i) {
        loops_[i]->post([&fn, &done, i] {
            fn(i);
            done.count_down();
        });
    }
    done.wait();
}

void Workers::stop() {
    for (auto& l : loops_) l->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

bool Controller::wait(double timeout_s, const std::function<bool()>& done) {
    auto deadline = now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
    for (;;) {
        if (done()) return true;
        auto now = now_ns();
        if (now >= deadline) return false;
        if (now - last_line_ >= 1'000'000'000) progress();
        auto step = std::min<std::int64_t>(5'000'000, deadline - now);
        std::this_thread::sleep_for(std::chrono::nanoseconds(step));
    }
}

void Controller::progress() {
    auto now = now_ns();
    double dt = last_line_ ? (now - last_line_) / 1e9 : 1.0;
    last_line_ = now;
    auto sent = counters_.sent.load(std::memory_order_relaxed);
    auto delivered = counters_.delivered.load(std::memory_order_relaxed);
    auto churned = counters_.churned.load(std::memory_order_relaxed);
    auto worst = counters_.second_max_ns.exchange(0, std::memory_order_relaxed);
    if (!options_.progress) {
        last_sent_ = sent, last_delivered_ = delivered, last_churned_ = churned;
        return;
    }
    char line[256];
    int n = std::snprintf(line, sizeof line, "[%6.1fs] %-8s conns %6llu ready %6llu",
                          (now - started_) / 1e9, phase_.c_str(),
                          static_cast<unsigned long long>(counters_.live_conns.load()),
                          static_cast<unsigned long long>(counters_.ready.load()));
    if (sent || delivered) {
        n += std::snprintf(line + n, sizeof line - n, " | sent %8.0f/s delivered %8.0f/s",
                           (sent - last_sent_) / dt, (delivered - last_delivered_) / dt);
    }
    if (churned) {
        n += std::snprintf(line + n, sizeof line - n, " | churn %6.0f/s",
                           (churned - last_churned_) / dt);
    }
    n += std::snprintf(line + n, sizeof line - n, " | errors %llu | worst %.2f ms",
                       static_cast<unsigned long long>(counters_.errors.load()), worst / 1e6);
    std::fprintf(stderr, "%s\n", line);
    last_sent_ = sent, last_delivered_ = delivered, last_churned_ = churned;
}

std::vector<std::string> sign_in_all(const Options& o, Results& r) {
    std::vector<std::string> tokens;
    for (const auto& node : o.nodes) {
        // Nodes given twice (a cluster run against one node) share a token.
        std::string found;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (o.nodes[i].label() == node.label()) found = tokens[i];
        }
        if (found.empty()) {
            std::string error;
            auto token = sign_in(node, o.agent_email, o.agent_password, error);
            if (!token) {
                r.failure = error;
                return {};
            }
            found = *token;
        }
        tokens.push_back(found);
    }
    return tokens;
}

namespace {
// The harness's names and tokens hold no characters that need escaping;
// anything else is dropped rather than escaped.
std::string plain(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out;
}
}  // namespace

std::string hello_visitor(std::string_view name) {
    return R"({"type":"hello","version":1,"role":"visitor","name":")" + plain(name) + "\"}";
}

std::string hello_agent(std::string_view token) {
    return R"({"type":"hello","version":1,"role":"agent","token":")" + plain(token) + "\"}";
}

}  // namespace sb::loadtest
