// Every setting of the server, with its default. The README's settings table
// documents the same list; `switchboard --help` prints it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/hub.hpp"

namespace sb::net {

// Cluster mode (`--redis`): see net/cluster.hpp.
struct ClusterSettings {
    std::string redis_host;  // empty = single node on the embedded store
    std::string redis_ip;    // redis_host resolved at start
    int redis_port = 6379;
    std::string node_id;                // unique per node, stable across restarts
    std::string prefix = "sb:";         // every key and channel
    std::uint32_t lease_ms = 3'000;     // the router lease lapses this long after its last renewal
    std::uint32_t renew_ms = 1'000;     // renewal (and node heartbeat) period
    std::uint32_t node_ttl_ms = 3'000;  // a node silent this long is dead to the router
    std::uint32_t redis_timeout_ms = 2'000;  // one store command
};

struct Settings {
    std::string bind = "0.0.0.0";
    std::uint16_t port = 8080;                 // 0 = any free port (printed at start)
    std::string data_dir = "data";             // SQLite file and token key live here
    std::string web_dir = "web-widget";        // static files served at /
    std::string agents_file;                   // default: <data_dir>/agents.json
    bool demo_agent = false;                   // create a demo agent if the agents file is missing
    std::vector<std::string> allowed_origins;  // besides the server's own origin
    std::uint32_t max_connections = 10'000;    // WebSocket sessions; more get HTTP 503
    std::uint32_t max_http_body_bytes = 64 * 1024;
    std::uint32_t handshake_timeout_ms = 10'000;   // HTTP request / WebSocket upgrade
    std::uint32_t idle_timeout_ms = 60'000;        // no traffic: ping at half, close at full
    std::uint32_t http_timeout_ms = 30'000;        // one HTTP request/response
    std::uint32_t send_queue_bytes = 1024 * 1024;  // per connection; over it: close 4008
    std::uint32_t shutdown_grace_ms = 3'000;       // SIGTERM: time given to close handshakes
    std::uint32_t token_ttl_s = 12 * 3600;         // agent sign-in token lifetime
    std::uint32_t tick_ms = 250;                   // timer resolution for hello timeouts
    bool sqlite_full_sync = false;                 // fsync every commit (power-loss durability)
    std::uint32_t sqlite_checkpoint_pages = 1000;  // WAL pages before a background checkpoint
    std::uint32_t sqlite_restart_pages = 10000;    // WAL pages before the log is made to restart
    std::uint32_t sqlite_cache_mb = 64;            // the writer's SQLite page cache
    std::string business_hours_file;      // opening hours per department; empty = always open
    std::string identity_secret_file;     // host sites' signing secret; empty = none
    bool bot = true;                      // the canned-answer bot answers first
    std::string kb_dir = "kb";            // knowledge base folder (*.json)
    std::uint32_t kb_poll_ms = 2'000;     // check the folder for changes; 0 = never
    core::bot::BotSettings bot_settings;  // thresholds and hand-off rules
    core::HubSettings hub;                // hello timeout, rate limit, protocol limits
    ClusterSettings cluster;
};

struct ParseResult {
    std::optional<Settings> settings;
    std::string error;  // when settings is empty
    bool help = false;
};

ParseResult parse_settings(int argc, char** argv);

// Reads opening hours: {"<department or \"\" for the default>": {"time_zone":
// "Europe/Istanbul", "days": {"mon": ["09:00-18:00"], ...}}}. Throws
// std::runtime_error naming the file, the department and the field.
std::map<std::string, core::WeeklyHours> load_business_hours(const std::string& file);
std::string settings_help();

}  // namespace sb::net
