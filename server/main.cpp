// switchboard: configuration and wiring only.
#include <malloc.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>

#include "net/auth.hpp"
#include "net/server.hpp"
#include "net/settings.hpp"
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
        auto key = sb::net::load_or_create_key(std::filesystem::path(s.data_dir) / "token.key");
        sb::net::Auth auth(std::move(agents), std::move(key),
                           static_cast<sb::core::TimeMs>(s.token_ttl_s) * 1000);
        if (!s.identity_secret_file.empty()) {
            auth.set_identity_secret(sb::net::load_identity_secret(s.identity_secret_file));
        }
        sb::store::SqliteStore store(
            (std::filesystem::path(s.data_dir) / "switchboard.db").string(),
            s.sqlite_full_sync ? sb::store::Durability::full : sb::store::Durability::normal);
        sb::net::Server server(settings, store, auth);
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
