#include "net/settings.hpp"

#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sb::net {

namespace {

struct Option {
    std::string help;
    std::function<bool(Settings&, const std::string&)> set;  // false = bad value
    bool flag = false;                                       // takes no value
};

template <class T>
bool parse_uint(const std::string& v, T& out, std::uint64_t max) {
    std::uint64_t x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || p != v.data() + v.size() || x > max) return false;
    out = static_cast<T>(x);
    return true;
}

// A number in [0, 1].
bool parse_unit(const std::string& v, double& out) {
    try {
        std::size_t used = 0;
        double x = std::stod(v, &used);
        if (used != v.size() || !(x >= 0.0 && x <= 1.0)) return false;
        out = x;
        return true;
    } catch (...) {
        return false;
    }
}

template <class T>
std::function<bool(Settings&, const std::string&)> uint_field(T Settings::*field,
                                                              std::uint64_t max = 1'000'000'000) {
    return [=](Settings& s, const std::string& v) { return parse_uint(v, s.*field, max); };
}

const std::map<std::string, Option>& options() {
    static const std::map<std::string, Option> opts = {
        {"--bind",
         {"address to listen on (default 0.0.0.0)",
          [](Settings& s, const std::string& v) {
              s.bind = v;
              return !v.empty();
          }}},
        {"--port", {"port (default 8080; 0 picks a free one)", uint_field(&Settings::port, 65535)}},
        {"--data",
         {"data folder: SQLite database, token key (default ./data)",
          [](Settings& s, const std::string& v) {
              s.data_dir = v;
              return !v.empty();
          }}},
        {"--web",
         {"folder of static files served at / (default ./web-widget)",
          [](Settings& s, const std::string& v) {
              s.web_dir = v;
              return !v.empty();
          }}},
        {"--agents",
         {"agent accounts file (default <data>/agents.json)",
          [](Settings& s, const std::string& v) {
              s.agents_file = v;
              return !v.empty();
          }}},
        {"--demo-agent",
         {"create a demo agent account if the agents file is missing",
          [](Settings& s, const std::string&) {
              s.demo_agent = true;
              return true;
          },
          true}},
        {"--allowed-origins",
         {"comma-separated Origins allowed to open WebSockets besides the "
          "server's own (default none)",
          [](Settings& s, const std::string& v) {
              std::stringstream ss(v);
              std::string item;
              while (std::getline(ss, item, ',')) {
                  if (!item.empty()) s.allowed_origins.push_back(item);
              }
              return true;
          }}},
        {"--max-connections",
         {"WebSocket connections held at once (default 10000)",
          uint_field(&Settings::max_connections)}},
        {"--max-http-body-bytes",
         {"largest HTTP request body (default 65536)", uint_field(&Settings::max_http_body_bytes)}},
        {"--handshake-timeout-ms",
         {"HTTP request and WebSocket upgrade timeout (default 10000)",
          uint_field(&Settings::handshake_timeout_ms)}},
        {"--idle-timeout-ms",
         {"close a silent connection after this; ping at half (default 60000)",
          uint_field(&Settings::idle_timeout_ms)}},
        {"--http-timeout-ms",
         {"one HTTP request/response (default 30000)", uint_field(&Settings::http_timeout_ms)}},
        {"--send-queue-bytes",
         {"bytes queued for one slow reader before it is closed with 4008 "
          "(default 1048576)",
          uint_field(&Settings::send_queue_bytes)}},
        {"--shutdown-grace-ms",
         {"time given to close handshakes on SIGTERM (default 3000)",
          uint_field(&Settings::shutdown_grace_ms)}},
        {"--token-ttl-s",
         {"agent sign-in token lifetime in seconds (default 43200)",
          uint_field(&Settings::token_ttl_s)}},
        {"--sqlite-full-sync",
         {"fsync every commit, for power-loss durability (default off: "
          "WAL survives process crashes without it)",
          [](Settings& s, const std::string&) {
              s.sqlite_full_sync = true;
              return true;
          },
          true}},
        {"--wal-checkpoint-pages",
         {"checkpoint the SQLite log on a thread of its own once it holds this many pages; "
          "0 = inside the commit, on the event loop (default 1000)",
          uint_field(&Settings::sqlite_checkpoint_pages)}},
        {"--wal-restart-pages",
         {"past this many pages the commit that crosses it makes the log start over "
          "(copies what the background passes left, and syncs; default 10000, at "
          "least --wal-checkpoint-pages)",
          uint_field(&Settings::sqlite_restart_pages)}},
        {"--sqlite-cache-mb",
         {"SQLite page cache of the writing connection, in MiB; 0 = SQLite's "
          "default of 2 (default 64)",
          uint_field(&Settings::sqlite_cache_mb)}},
        {"--hello-timeout-ms",
         {"a connection must send hello within this (default 5000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.hello_timeout_ms, 1'000'000'000);
          }}},
        {"--rate-per-s",
         {"frames per second per connection, sustained (default 20)",
          [](Settings& s, const std::string& v) {
              std::uint32_t x = 0;
              if (!parse_uint(v, x, 1'000'000) || x == 0) return false;
              s.hub.rate_per_s = x;
              return true;
          }}},
        {"--rate-burst",
         {"frames per connection allowed in a burst (default 40)",
          [](Settings& s, const std::string& v) {
              std::uint32_t x = 0;
              if (!parse_uint(v, x, 1'000'000) || x == 0) return false;
              s.hub.rate_burst = x;
              return true;
          }}},
        {"--max-frame-bytes",
         {"largest WebSocket message accepted; over it: close 1009 "
          "(default 65536)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.limits.max_frame_bytes, 16u << 20);
          }}},
        {"--assign-mode",
         {"auto (assign at once), offer (the agent accepts within the offer "
          "timeout) or manual (agents take from the queue) (default auto)",
          [](Settings& s, const std::string& v) {
              if (v == "auto")
                  s.hub.routing.mode = core::AssignMode::auto_assign;
              else if (v == "offer")
                  s.hub.routing.mode = core::AssignMode::offer;
              else if (v == "manual")
                  s.hub.routing.mode = core::AssignMode::manual;
              else
                  return false;
              return true;
          }}},
        {"--default-capacity",
         {"conversations an agent holds at once unless their account says "
          "otherwise (default 3)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.routing.default_capacity, 1000) &&
                     s.hub.routing.default_capacity > 0;
          }}},
        {"--offer-timeout-ms",
         {"offer mode: time an agent has to accept (default 30000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.routing.offer_timeout_ms, 86'400'000);
          }}},
        {"--drop-grace-ms",
         {"a disconnected agent keeps their conversations this long (default "
          "60000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.routing.drop_grace_ms, 86'400'000);
          }}},
        {"--auto-away-ms",
         {"an online agent idle this long turns away; 0 = never (default 900000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.routing.auto_away_ms, 86'400'000);
          }}},
        {"--prefer-last-agent",
         {"on|off: a returning visitor goes to their previous agent when "
          "that agent has room (default on)",
          [](Settings& s, const std::string& v) {
              if (v != "on" && v != "off") return false;
              s.hub.routing.prefer_last_agent = v == "on";
              return true;
          }}},
        {"--max-queue",
         {"waiting conversations per department before visitors are asked to "
          "leave a message (default 50)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.routing.max_queue, 1'000'000);
          }}},
        {"--queue-without-agents",
         {"on|off: queue visitors even when no agent is online, instead "
          "of offering the leave-a-message form (default off)",
          [](Settings& s, const std::string& v) {
              if (v != "on" && v != "off") return false;
              s.hub.routing.queue_without_agents = v == "on";
              return true;
          }}},
        {"--bot",
         {"on|off: the canned-answer bot answers new conversations first (default on)",
          [](Settings& s, const std::string& v) {
              if (v != "on" && v != "off") return false;
              s.bot = v == "on";
              return true;
          }}},
        {"--kb",
         {"knowledge base folder of *.json files (default ./kb; see docs/BOT.md)",
          [](Settings& s, const std::string& v) {
              s.kb_dir = v;
              return !v.empty();
          }}},
        {"--kb-poll-ms",
         {"reload the knowledge base when its files change, checked this often; "
          "0 = only on POST /api/kb/reload (default 2000)",
          uint_field(&Settings::kb_poll_ms)}},
        {"--bot-name",
         {"author name on the bot's messages (default Assistant)",
          [](Settings& s, const std::string& v) {
              s.hub.bot_name = v;
              return !v.empty() && v.size() <= 64;
          }}},
        {"--bot-answer-threshold",
         {"answer at or above this confidence, 0..1 (default 0.55)",
          [](Settings& s, const std::string& v) {
              return parse_unit(v, s.bot_settings.answer_threshold);
          }}},
        {"--bot-suggest-floor",
         {"offer suggestions between this and the threshold (default 0.35)",
          [](Settings& s, const std::string& v) {
              return parse_unit(v, s.bot_settings.suggest_floor);
          }}},
        {"--bot-max-misses",
         {"misses in a row before handing off to a person; 0 = never (default 2)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.bot_settings.max_misses, 100);
          }}},
        {"--bot-max-not-helpful",
         {"'not helpful' answers before handing off; 0 = never (default 2)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.bot_settings.max_not_helpful, 100);
          }}},
        {"--department-priority",
         {"queue priority by department, e.g. vip=5,billing=1 (higher is "
          "served first; others 0)",
          [](Settings& s, const std::string& v) {
              std::stringstream ss(v);
              std::string item;
              while (std::getline(ss, item, ',')) {
                  auto eq = item.find('=');
                  if (eq == std::string::npos || eq == 0) return false;
                  int p = 0;
                  const std::string num = item.substr(eq + 1);
                  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), p);
                  if (ec != std::errc{} || end != num.data() + num.size() || p < -1000 ||
                      p > 1000) {
                      return false;
                  }
                  s.hub.routing.department_priority[item.substr(0, eq)] = p;
              }
              return true;
          }}},
        {"--business-hours",
         {"JSON file of opening hours per department (default: always open; "
          "see docs/ROUTING.md)",
          [](Settings& s, const std::string& v) {
              s.business_hours_file = v;
              return !v.empty();
          }}},
        {"--max-text-bytes",
         {"largest chat message text in UTF-8 bytes (default 16384)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.limits.max_text_bytes, 16u << 20);
          }}},
        {"--identity-secret-file",
         {"file holding the secret host sites sign visitor ids with "
          "(HMAC-SHA256, at least 16 bytes; default: none, no verified visitors)",
          [](Settings& s, const std::string& v) {
              s.identity_secret_file = v;
              return !v.empty();
          }}},
        {"--require-identity",
         {"on|off: refuse visitors without a signed identity (default off)",
          [](Settings& s, const std::string& v) {
              if (v != "on" && v != "off") return false;
              s.hub.require_identity = v == "on";
              return true;
          }}},
        {"--verified-priority",
         {"queue priority added for visitors with a verified identity, 0..1000 (default 0)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.verified_priority, 1000);
          }}},
        {"--history-limit",
         {"past conversations shown with a visitor's context (default 20)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.history_limit, 1000);
          }}},
        {"--canned-limit",
         {"canned replies per agent, and shared ones (default 500)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.canned_limit, 100'000);
          }}},
        {"--dashboard-interval-ms",
         {"supervisors' dashboard: at most one push per this (default 500)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.dashboard_interval_ms, 3'600'000);
          }}},
        {"--dashboard-conversations",
         {"open conversations listed on the dashboard (default 500)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.hub.dashboard_conversations, 100'000);
          }}},
        {"--redis",
         {"HOST:PORT of Redis: run as one node of a cluster sharing it (default: "
          "none, a single node on the embedded store)",
          [](Settings& s, const std::string& v) {
              const auto colon = v.rfind(':');
              if (colon == std::string::npos || colon == 0) return false;
              s.cluster.redis_host = v.substr(0, colon);
              return parse_uint(v.substr(colon + 1), s.cluster.redis_port, 65535) &&
                     s.cluster.redis_port > 0;
          }}},
        {"--node-id",
         {"this node's id in the cluster, [A-Za-z0-9._-] (required with --redis)",
          [](Settings& s, const std::string& v) {
              if (v.empty() || v.size() > 64) return false;
              for (char c : v) {
                  if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
                      c != '-') {
                      return false;
                  }
              }
              s.cluster.node_id = v;
              return true;
          }}},
        {"--redis-prefix",
         {"prefix of every Redis key and channel (default sb:)",
          [](Settings& s, const std::string& v) {
              s.cluster.prefix = v;
              return !v.empty() && v.size() <= 64;
          }}},
        {"--lease-ms",
         {"cluster: the router lease lapses this long after its last renewal (default 3000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.cluster.lease_ms, 600'000) && s.cluster.lease_ms >= 100;
          }}},
        {"--renew-ms",
         {"cluster: lease renewal and node heartbeat period (default 1000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.cluster.renew_ms, 600'000) && s.cluster.renew_ms >= 10;
          }}},
        {"--node-ttl-ms",
         {"cluster: a node silent this long is dead to the router (default 3000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.cluster.node_ttl_ms, 600'000) && s.cluster.node_ttl_ms >= 100;
          }}},
        {"--redis-timeout-ms",
         {"cluster: longest wait for one Redis store command (default 2000)",
          [](Settings& s, const std::string& v) {
              return parse_uint(v, s.cluster.redis_timeout_ms, 60'000) &&
                     s.cluster.redis_timeout_ms > 0;
          }}},
        {"--stats-time-zone",
         {"IANA time zone whose midnight starts the dashboard's day (default UTC)",
          [](Settings& s, const std::string& v) {
              s.hub.stats_time_zone = v;
              return !v.empty();
          }}},
    };
    return opts;
}

}  // namespace

std::string settings_help() {
    std::ostringstream out;
    out << "usage: switchboard [options]\n"
           "       switchboard hash-password   (reads a password on stdin, prints its Argon2id "
           "hash)\n\noptions:\n";
    for (const auto& [name, opt] : options()) {
        out << "  " << name << (opt.flag ? "" : " VALUE") << "\n      " << opt.help << "\n";
    }
    return out.str();
}

ParseResult parse_settings(int argc, char** argv) {
    ParseResult r;
    Settings s;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            r.help = true;
            return r;
        }
        std::string value;
        bool has_value = false;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto it = options().find(arg);
        if (it == options().end()) {
            r.error = "unknown option " + arg + " (see --help)";
            return r;
        }
        if (!it->second.flag && !has_value) {
            if (i + 1 >= argc) {
                r.error = arg + " needs a value";
                return r;
            }
            value = argv[++i];
        }
        if (!it->second.set(s, value)) {
            r.error = "bad value for " + arg + ": '" + value + "'";
            return r;
        }
    }
    if (s.hub.limits.max_text_bytes > s.hub.limits.max_frame_bytes) {
        r.error = "--max-text-bytes must not exceed --max-frame-bytes";
        return r;
    }
    if (s.bot_settings.suggest_floor > s.bot_settings.answer_threshold) {
        r.error = "--bot-suggest-floor must not exceed --bot-answer-threshold";
        return r;
    }
    if (s.cluster.redis_host.empty() != s.cluster.node_id.empty()) {
        r.error = "--redis and --node-id go together";
        return r;
    }
    if (!s.cluster.redis_host.empty() && s.cluster.renew_ms * 2 > s.cluster.lease_ms) {
        r.error = "--renew-ms must be at most half of --lease-ms";
        return r;
    }
    if (s.agents_file.empty()) s.agents_file = s.data_dir + "/agents.json";
    r.settings = std::move(s);
    return r;
}

}  // namespace sb::net

namespace sb::net {

namespace {

// "HH:MM" → minutes since midnight; "24:00" allowed as an end.
std::optional<int> parse_clock(const std::string& t) {
    if (t.size() != 5 || t[2] != ':') return std::nullopt;
    int h = 0, m = 0;
    for (int i : {0, 1, 3, 4}) {
        if (t[static_cast<std::size_t>(i)] < '0' || t[static_cast<std::size_t>(i)] > '9') {
            return std::nullopt;
        }
    }
    h = (t[0] - '0') * 10 + (t[1] - '0');
    m = (t[3] - '0') * 10 + (t[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
    return h * 60 + m;
}

}  // namespace

std::map<std::string, core::WeeklyHours> load_business_hours(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file + ": cannot open business hours file");
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        throw std::runtime_error(file + ": expected a JSON object of departments");
    }
    static const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    std::map<std::string, core::WeeklyHours> out;
    for (const auto& [dept, spec] : doc.items()) {
        const std::string where = file + ": department \"" + dept + "\"";
        if (!spec.is_object()) throw std::runtime_error(where + ": expected an object");
        core::WeeklyHours h;
        if (spec.contains("time_zone")) {
            if (!spec["time_zone"].is_string()) {
                throw std::runtime_error(where + ": field \"time_zone\" must be a string");
            }
            h.time_zone = spec["time_zone"].get<std::string>();
            std::unique_ptr<icu::TimeZone> tz(
                icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(h.time_zone)));
            if (*tz == icu::TimeZone::getUnknown()) {
                throw std::runtime_error(where + ": field \"time_zone\": unknown zone \"" +
                                         h.time_zone + "\"");
            }
        }
        if (!spec.contains("days") || !spec["days"].is_object()) {
            throw std::runtime_error(where +
                                     ": field \"days\" must be an object like "
                                     "{\"mon\": [\"09:00-18:00\"]}");
        }
        for (const auto& [day, ranges] : spec["days"].items()) {
            auto d = std::find(std::begin(kDays), std::end(kDays), day);
            if (d == std::end(kDays)) {
                throw std::runtime_error(where + ": field \"days\": unknown day \"" + day +
                                         "\" (use mon … sun)");
            }
            if (!ranges.is_array()) {
                throw std::runtime_error(where + ": days." + day + " must be an array");
            }
            for (const auto& r : ranges) {
                std::string text = r.is_string() ? r.get<std::string>() : "";
                auto dash = text.find('-');
                auto open =
                    dash == std::string::npos ? std::nullopt : parse_clock(text.substr(0, dash));
                auto close =
                    dash == std::string::npos ? std::nullopt : parse_clock(text.substr(dash + 1));
                if (!open || !close || *open >= *close) {
                    throw std::runtime_error(where + ": days." + day + ": \"" + text +
                                             "\" is not a range like \"09:00-18:00\"");
                }
                h.days[static_cast<std::size_t>(d - std::begin(kDays))].emplace_back(*open, *close);
            }
        }
        out.emplace(dept, std::move(h));
    }
    return out;
}

}  // namespace sb::net
