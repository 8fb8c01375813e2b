// Command line of switchboard-loadtest: a scenario name (a preset of
// defaults) and --name value options. Parsing is plain C++ so it is
// unit-tested without sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb::loadtest {

enum class Scenario { idle, conversations, fanout, churn, cluster };
const char* to_string(Scenario);

struct Node {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string label() const { return host + ":" + std::to_string(port); }
};

struct Options {
    Scenario scenario = Scenario::conversations;
    std::vector<Node> nodes{Node{}};  // --url / --host / --port, or --nodes
    std::string path = "/ws";
    std::string agent_email = "demo@switchboard.local";
    std::string agent_password = "switchboard-demo";
    std::string label;       // free text copied to the report (e.g. "switchboard", "node-ref")
    int server_pid = 0;      // 0: no /proc readings
    int threads = 1;         // io_context threads (connections are split between them)
    std::string json_file;   // --json
    bool progress = true;    // live line on stderr once a second
    double duration_s = 10;  // measured phase
    double setup_timeout_s = 60;
    double drain_s = 3;  // after the last send: wait for what is still in flight

    // idle
    int connections = 1000;
    int concurrency = 64;  // connection attempts in flight (idle, setup)
    double hold_s = 3;     // idle: held this long after the last one connected
    int source_addrs = 0;  // 127.0.0.1..N as source addresses; 0: automatic

    // conversations / churn / cluster
    int pairs = 100;
    double rate = 10;     // messages per second per side; 0: closed loop (--window)
    int window = 1;       // closed loop: messages in flight per side
    int size = 20;        // message text bytes
    int agent_conns = 0;  // agent connections; 0: one per 4 pairs
    bool close_at_end = true;

    // fanout
    int agents = 1000;
    double start_rate = 50;  // new waiting conversations per second
    int visitors = 50;

    // churn
    double churn_rate = 200;  // connect + hello + close per second

    std::vector<std::string> argv;  // as given, for the report
};

struct ParseResult {
    std::optional<Options> options;
    std::string error;
    bool help = false;
};

ParseResult parse_options(int argc, const char* const* argv);
std::string usage();

}  // namespace sb::loadtest
