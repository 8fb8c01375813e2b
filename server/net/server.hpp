// The network front of a node: one port for HTTP (static files, health,
// sign-in) and WebSocket (/ws). Beast and Asio stay inside server.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "core/store.hpp"
#include "net/auth.hpp"
#include "net/settings.hpp"

namespace sb::net {

class Server {
  public:
    Server(const Settings& settings, core::Store& store, Auth& auth);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts accepting; returns the port (useful with port 0).
    std::uint16_t listen();
    // Runs until SIGTERM/SIGINT, then closes every socket with 1001, flushes
    // the store and returns.
    void run();

    struct Impl;  // public so the sessions in server.cpp can name it

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::net
