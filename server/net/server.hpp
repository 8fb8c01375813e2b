// The network front of a node: one port for HTTP (static files, health,
// sign-in) and WebSocket (/ws). Beast and Asio stay inside server.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/store.hpp"
#include "net/auth.hpp"
#include "net/settings.hpp"

namespace sb::net {

struct ClusterIdentity;  // net/cluster.hpp

class Server {
  public:
    // Single node, or (with `cluster`) one node of a cluster whose store's
    // writes carry the fencing token `fence` is given.
    Server(const Settings& settings, core::Store& store, Auth& auth,
           const ClusterIdentity* cluster = nullptr,
           std::function<void(const std::string&)> fence = {});
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
