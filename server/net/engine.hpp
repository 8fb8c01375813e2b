// Engine: what the network layer drives with its sessions' events. On one
// node it is the Hub itself (LocalEngine); in a cluster it is ClusterEngine
// (net/cluster.hpp), which runs the Hub only on the node holding the router
// lease and forwards the other nodes' sessions to it.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "core/bot/bot.hpp"
#include "core/hub.hpp"
#include "core/ports.hpp"

namespace sb::net {

class Engine {
  public:
    virtual ~Engine() = default;
    virtual void start(core::TimeMs now) = 0;
    virtual void on_open(core::SessionId sid, core::TimeMs now) = 0;
    virtual void on_frame(core::SessionId sid, std::string_view text, core::TimeMs now) = 0;
    virtual void on_close(core::SessionId sid, core::TimeMs now) = 0;
    virtual void tick(core::TimeMs now) = 0;
    virtual void flush(core::TimeMs now) = 0;
    virtual bool dirty() const = 0;
    virtual void set_bot(std::shared_ptr<const core::bot::Bot> bot) = 0;
    virtual bool has_bot() const = 0;
    // For /healthz: conversations waiting (this node's view; 0 on a node
    // that does not route), and whether this node routes.
    virtual std::size_t waiting_count() const = 0;
    virtual bool routes() const = 0;
};

// The single-node engine: the Hub on a LocalBus.
std::unique_ptr<Engine> make_local_engine(const core::HubSettings& settings, core::Store& store,
                                          core::Outbox& sockets, core::Security& security);

}  // namespace sb::net
