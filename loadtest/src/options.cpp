#include "options.hpp"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <string_view>

namespace sb::loadtest {

const char* to_string(Scenario s) {
    switch (s) {
        case Scenario::idle:
            return "idle";
        case Scenario::conversations:
            return "conversations";
        case Scenario::fanout:
            return "fanout";
        case Scenario::churn:
            return "churn";
        case Scenario::cluster:
            return "cluster";
    }
    return "?";
}

namespace {

bool parse_node(std::string_view text, Node& node) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    node.host = std::string(text.substr(0, colon));
    auto p = text.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc{} || end != p.data() + p.size() || port == 0 || port > 65535) return false;
    node.port = static_cast<std::uint16_t>(port);
    return true;
}

// ws://host:port/path
bool parse_url(std::string_view url, Node& node, std::string& path) {
    constexpr std::string_view scheme = "ws://";
    if (url.substr(0, scheme.size()) != scheme) return false;
    url.remove_prefix(scheme.size());
    auto slash = url.find('/');
    path = slash == std::string_view::npos ? "/ws" : std::string(url.substr(slash));
    auto hostport = url.substr(0, slash);
    if (hostport.find(':') == std::string_view::npos) {
        node.host = std::string(hostport);
        node.port = 80;
        return !node.host.empty();
    }
    return parse_node(hostport, node);
}

template <class T>
bool number(std::string_view s, T& out) {
    if constexpr (std::is_floating_point_v<T>) {
        std::string copy(s);
        char* end = nullptr;
        out = std::strtod(copy.c_str(), &end);
        return end && *end == '\0' && !copy.empty() && out >= 0;
    } else {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc{} && p == s.data() + s.size() && out >= 0;
    }
}

}  // namespace

std::string usage() {
    return R"(usage: switchboard-loadtest SCENARIO [options]

Scenarios (each a preset of the defaults below):
  idle           hold --connections visitor connections (helloed); connect rate,
                 server memory per connection (--server-pid)
  conversations  --pairs visitor-agent pairs, each side sending --rate messages/s
                 on an open-loop schedule for --duration s; latency from the
                 intended send time; lost/duplicated by seq and client_id
  fanout         --agents agent connections receive "queue" updates while
                 --visitors start (and close) --start-rate conversations/s
  churn          conversations load plus --churn-rate connect+hello+close per s
  cluster        conversations with visitors and agents on different --nodes

Server:
  --url ws://HOST:PORT/ws       or --host HOST (127.0.0.1) --port PORT (8080)
  --nodes H:P,H:P               cluster nodes; pair i: visitor on node i%n,
                                agent on node (i+1)%n
  --agent-email E --agent-password P   (demo@switchboard.local / switchboard-demo)
  --server-pid PID              read the server's CPU time and RSS from /proc

Run:
  --duration S (10)  --setup-timeout S (60)  --threads N (1)
  --drain S (3)      after the run, wait for what is in flight while it
                     progresses; S s without progress (120 s in all) ends it
  --json FILE        machine-readable report     --label TEXT   copied to it
  --quiet            no progress line

idle:           --connections N (1000) --concurrency C (64) --hold S (3)
                --source-addrs K (0: automatic, one 127.0.0.x per 25,000)
conversations:  --pairs M (100) --rate R (10 per side; 0 = closed loop)
                --window W (1, closed loop) --size B (20) --agent-conns A (M/4)
                --no-close (leave the conversations open at the end)
fanout:         --agents K (1000) --start-rate F (50) --visitors V (50)
churn:          conversations options + --churn-rate C (200)
)";
}

ParseResult parse_options(int argc, const char* const* argv) {
    ParseResult r;
    Options o;
    for (int i = 0; i < argc; ++i) o.argv.emplace_back(argv[i]);
    if (argc < 2) {
        r.error = "give a scenario";
        return r;
    }
    std::string_view sc = argv[1];
    if (sc == "-h" || sc == "--help") {
        r.help = true;
        return r;
    }
    if (sc == "idle")
        o.scenario = Scenario::idle;
    else if (sc == "conversations")
        o.scenario = Scenario::conversations;
    else if (sc == "fanout")
        o.scenario = Scenario::fanout;
    else if (sc == "churn")
        o.scenario = Scenario::churn;
    else if (sc == "cluster")
        o.scenario = Scenario::cluster;
    else {
        r.error = "unknown scenario '" + std::string(sc) + "'";
        return r;
    }

    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    using Setter = std::function<bool(std::string_view)>;
    auto num = [](auto& field) {
        return Setter([&field](std::string_view v) { return number(v, field); });
    };
    auto str = [](std::string& field) {
        return Setter([&field](std::string_view v) {
            field = std::string(v);
            return true;
        });
    };
    std::map<std::string_view, Setter> with_value = {
        {"--url",
         [&](std::string_view v) { return o.nodes.resize(1), parse_url(v, o.nodes[0], o.path); }},
        {"--host", [&](std::string_view v) { return host = std::string(v), !v.empty(); }},
        {"--port",
         [&](std::string_view v) {
             unsigned p = 0;
             if (!number(v, p) || p == 0 || p > 65535) return false;
             port = static_cast<std::uint16_t>(p);
             return true;
         }},
        {"--nodes",
         [&](std::string_view v) {
             o.nodes.clear();
             while (!v.empty()) {
                 auto comma = v.find(',');
                 Node n;
                 if (!parse_node(v.substr(0, comma), n)) return false;
                 o.nodes.push_back(n);
                 if (comma == std::string_view::npos) break;
                 v.remove_prefix(comma + 1);
             }
             return !o.nodes.empty();
         }},
        {"--agent-email", str(o.agent_email)},
        {"--agent-password", str(o.agent_password)},
        {"--label", str(o.label)},
        {"--json", str(o.json_file)},
        {"--server-pid", num(o.server_pid)},
        {"--threads", num(o.threads)},
        {"--duration", num(o.duration_s)},
        {"--setup-timeout", num(o.setup_timeout_s)},
        {"--drain", num(o.drain_s)},
        {"--connections", num(o.connections)},
        {"--concurrency", num(o.concurrency)},
        {"--hold", num(o.hold_s)},
        {"--source-addrs", num(o.source_addrs)},
        {"--pairs", num(o.pairs)},
        {"--rate", num(o.rate)},
        {"--window", num(o.window)},
        {"--size", num(o.size)},
        {"--agent-conns", num(o.agent_conns)},
        {"--agents", num(o.agents)},
        {"--start-rate", num(o.start_rate)},
        {"--visitors", num(o.visitors)},
        {"--churn-rate", num(o.churn_rate)},
    };
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            r.help = true;
            return r;
        }
        if (a == "--quiet") {
            o.progress = false;
            continue;
        }
        if (a == "--no-close") {
            o.close_at_end = false;
            continue;
        }
        std::string_view value;
        std::string_view name = a;
        bool inline_value = false;
        if (auto eq = a.find('='); eq != std::string_view::npos && a.substr(0, 2) == "--") {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            inline_value = true;
        }
        auto it = with_value.find(name);
        if (it == with_value.end()) {
            r.error = "unknown option '" + std::string(a) + "'";
            return r;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                r.error = std::string(name) + " needs a value";
                return r;
            }
            value = argv[++i];
        }
        if (!it->second(value)) {
            r.error = "bad value for " + std::string(name) + ": '" + std::string(value) + "'";
            return r;
        }
    }
    if (host) o.nodes[0].host = *host;
    if (port) o.nodes[0].port = *port;
    if (o.scenario == Scenario::cluster && o.nodes.size() == 1) o.nodes.push_back(o.nodes[0]);
    if (o.threads < 1 || o.threads > 64) {
        r.error = "--threads must be 1..64";
        return r;
    }
    if (o.pairs < 1 || o.connections < 1 || o.agents < 1 || o.visitors < 1 || o.concurrency < 1 ||
        o.window < 1) {
        r.error = "counts must be at least 1";
        return r;
    }
    if (o.size < 1 || o.size > 16384) {
        r.error = "--size must be 1..16384";
        return r;
    }
    if (o.agent_conns == 0) o.agent_conns = (o.pairs + 3) / 4;
    if (o.agent_conns > o.pairs) o.agent_conns = o.pairs;
    r.options = std::move(o);
    return r;
}

}  // namespace sb::loadtest
