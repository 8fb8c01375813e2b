// switchboard: configuration and wiring only.
#include <malloc.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <netdb.h>

#include "net/auth.hpp"
#include "net/cluster.hpp"
#include "net/server.hpp"
#include "net/settings.hpp"
#include "store/redis_store.hpp"
#include "store/sqlite_store.hpp"

namespace {

constexpr const char* kDemoEmail = "demo@switchboard.local";
constexpr const char* kDemoPassword = "switchboard-demo";

int hash_password_command() {
    std::string password;
    if (!std::getline(std::cin, password) || password.empty()) {
        std::cerr << "switchboard hash-password: give the password on stdin\n";
        return 2;
    }
    std::cout << sb::net::hash_password(password) << "\n";
    return 0;
}

void ensure_demo_agent(const std::filesystem::path& file) {
    if (std::filesystem::exists(file)) return;
    sb::net::AgentAccount demo;
    demo.id = "demo";
    demo.name = "Demo Agent";
    demo.email = kDemoEmail;
    demo.password_hash = sb::net::hash_password(kDemoPassword);
    demo.role = "supervisor";
    demo.capacity = 5;
    sb::net::save_agents(file, {demo});
    std::cout << "switchboard: created " << file.string() << " with a demo agent\n";
}

// Redis's address: hiredis resolves names blocking, so it is done once here.
std::string resolve(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) {
        throw std::runtime_error("cannot resolve the Redis host " + host);
    }
    char ip[INET_ADDRSTRLEN] = {};
    getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof ip, nullptr, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return ip;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::string(argv[1]) == "hash-password") return hash_password_command();

    auto parsed = sb::net::parse_settings(argc, argv);
    if (parsed.help) {
        std::cout << sb::net::settings_help();
        return 0;
    }
    if (!parsed.settings) {
        std::cerr << "switchboard: " << parsed.error << "\n";
        return 2;
    }
    const auto& s = *parsed.settings;
    std::signal(SIGPIPE, SIG_IGN);
    // SQLite frees its statement journal at the top of the heap every
    // transaction; without these glibc returns and re-asks that memory from
    // the kernel twice per message (measured: BENCHMARKS.md).
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 16 << 20);

    try {
        std::filesystem::create_directories(s.data_dir);
        if (s.demo_agent) ensure_demo_agent(s.agents_file);
        auto agents = sb::net::load_agents(s.agents_file);
        auto settings = s;
        if (!s.business_hours_file.empty()) {
            settings.hub.routing.hours = sb::net::load_business_hours(s.business_hours_file);
        }
        // A cluster node learns its number and the shared sign-in key from
        // Redis; a single node keeps its key in the data folder.
        std::optional<sb::net::ClusterIdentity> cluster;
        std::string key;
        if (!s.cluster.redis_host.empty()) {
            settings.cluster.redis_ip = resolve(s.cluster.redis_host);
            cluster = sb::net::join_cluster(settings.cluster);
            key = cluster->token_key;
        } else {
            key = sb::net::load_or_create_key(std::filesystem::path(s.data_dir) / "token.key");
        }
        sb::net::Auth auth(std::move(agents), std::move(key),
                           static_cast<sb::core::TimeMs>(s.token_ttl_s) * 1000);
        if (!s.identity_secret_file.empty()) {
            auth.set_identity_secret(sb::net::load_identity_secret(s.identity_secret_file));
        }
        std::unique_ptr<sb::core::Store> store;
        sb::store::RedisStore* redis = nullptr;
        if (cluster) {
            sb::store::RedisStoreSettings rs;
            rs.ip = settings.cluster.redis_ip;
            rs.port = s.cluster.redis_port;
            rs.prefix = s.cluster.prefix;
            rs.timeout_ms = static_cast<int>(s.cluster.redis_timeout_ms);
            // Nothing is written until this node holds the router lease.
            rs.fence = sb::store::RedisFence{s.cluster.prefix + "lease", "-"};
            auto r = std::make_unique<sb::store::RedisStore>(rs);
            redis = r.get();
            store = std::move(r);
        } else {
            store = std::make_unique<sb::store::SqliteStore>(
                (std::filesystem::path(s.data_dir) / "switchboard.db").string(),
                sb::store::SqliteOptions{s.sqlite_full_sync ? sb::store::Durability::full
                                                            : sb::store::Durability::normal,
                                         s.sqlite_checkpoint_pages, s.sqlite_restart_pages,
                                         s.sqlite_cache_mb});
        }
        sb::net::Server server(settings, *store, auth, cluster ? &*cluster : nullptr,
                               [redis](const std::string& token) {
                                   if (redis) redis->set_fence_token(token);
                               });
        auto port = server.listen();
        std::string host = s.bind == "0.0.0.0" ? "127.0.0.1" : s.bind;
        std::cout << "switchboard listening on http://" << host << ":" << port << std::endl;
        if (s.demo_agent) {
            std::cout << "  demo shop with the widget: http://" << host << ":" << port << "/demo/\n"
                      << "  agent console:             http://" << host << ":" << port
                      << "/console/\n"
                      << "  demo agent sign-in:        " << kDemoEmail << " / " << kDemoPassword
                      << std::endl;
        }
        server.run();
        std::cout << "switchboard: stopped" << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "switchboard: " << e.what() << "\n";
        return 1;
    }
}
