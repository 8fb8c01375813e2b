// ClusterEngine: several nodes behind one Redis (`--redis`).
//
// One node at a time holds the router lease (a key in Redis with a fencing
// token, renewed every renew_ms, lost after lease_ms without renewal). That
// node runs the Hub — the same server/core code as a single node — on the
// shared RedisStore, whose every write checks the token (a deposed router
// can write nothing). Every other node keeps its sockets and forwards its
// sessions' events to the router over Redis pub/sub; the router answers
// through each node's channel. When the lease changes hands (a router died,
// Redis came back), every node closes its sockets with 1012: clients
// reconnect to any node and resume from the store, which holds the truth.
//
// Transport (RedisBus, channels under the key prefix):
//   <prefix>leader        "O <node> <sid>" | "F <node> <sid> <frame>" |
//                         "C <node> <sid>" | "B <node>" (node started)
//   <prefix>node:<node>   "S <sid> <frame>" | "X <sid> <close code>"
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "bus/local_bus.hpp"
#include "bus/redis_bus.hpp"
#include "bus/redis_connection.hpp"
#include "net/engine.hpp"
#include "net/settings.hpp"

namespace sb::net {

// What a node learns from Redis before it serves: its number (session ids
// are (node << 40) | local id) and the sign-in token key every node shares.
struct ClusterIdentity {
    std::uint32_t node = 0;
    std::string token_key;  // 32 raw bytes
    // This start's first local session id: every start of a node numbers its
    // sessions in a range of its own, so frames the router sent to a session
    // of the previous start never reach one of this start.
    std::uint64_t first_session = 1;
};
// Blocking, once at start. Throws std::runtime_error naming Redis's answer.
ClusterIdentity join_cluster(const ClusterSettings& settings);

struct ClusterHooks {
    std::function<void()> wake;                      // the router has output: flush soon
    std::function<void(std::uint16_t)> close_local;  // close every socket of this node
    std::function<void(const std::string&)> fence;   // the store's writes carry this token
};

class ClusterEngine final : public Engine {
  public:
    ClusterEngine(boost::asio::io_context& ioc, ClusterSettings settings, ClusterIdentity id,
                  const core::HubSettings& hub_settings, core::Store& store, core::Outbox& sockets,
                  core::Security& security, ClusterHooks hooks);
    ~ClusterEngine() override;

    void start(core::TimeMs now) override;
    void on_open(core::SessionId sid, core::TimeMs now) override;
    void on_frame(core::SessionId sid, std::string_view text, core::TimeMs now) override;
    void on_close(core::SessionId sid, core::TimeMs now) override;
    void tick(core::TimeMs now) override;
    void flush(core::TimeMs now) override;
    bool dirty() const override;
    void set_bot(std::shared_ptr<const core::bot::Bot> bot) override;
    bool has_bot() const override { return bot_ != nullptr; }
    std::size_t waiting_count() const override;
    bool routes() const override { return term_ != nullptr; }

  private:
    // The router's outbox: this node's sockets directly, the others'
    // through their node's channel.
    struct RouterOutbox final : core::Outbox {
        ClusterEngine* engine = nullptr;
        void send(core::SessionId gsid, const core::Frame& frame) override;
        void close(core::SessionId gsid, std::uint16_t code) override;
    };
    // One term as router: a hub on its own local bus, gone when the lease is.
    struct Term;

    void renew();
    void on_lease(redisReply* r, core::TimeMs sent);
    // A forward was lost: this node's sessions and the router's view of them
    // may differ, so they start over (and the router forgets them all).
    void resync();
    void become_router(const std::string& token, core::TimeMs now);
    void step_down();
    void on_transport(const std::string& channel, const core::Envelope& e);
    // To the router; false (and a resync, unless announcing) when it cannot go.
    bool forward(std::string payload, bool announce = false);
    void refuse(core::SessionId sid);
    core::SessionId global(std::uint32_t node, core::SessionId sid) const {
        return (static_cast<core::SessionId>(node) << 40) | sid;
    }
    void forget_node(std::uint32_t node, core::TimeMs now);

    boost::asio::io_context& ioc_;
    ClusterSettings settings_;
    ClusterIdentity id_;
    core::HubSettings hub_settings_;
    core::Store& store_;
    core::Outbox& sockets_;
    core::Security& security_;
    ClusterHooks hooks_;
    bus::RedisBus transport_;
    bus::RedisConnection control_;
    boost::asio::steady_timer renew_timer_;
    std::string leader_channel_, my_channel_;
    std::shared_ptr<const core::bot::Bot> bot_;
    std::unique_ptr<Term> term_;
    RouterOutbox outbox_;
    std::string token_;   // the lease value while this node routes
    std::string leader_;  // the lease value as last seen
    core::TimeMs renewed_ = 0;
    bool announced_ = false;  // "B <node>" reached the transport since the last resync
    // The router's view of the other nodes' sessions (to drop them when a
    // node dies or restarts).
    std::unordered_map<std::uint32_t, std::unordered_set<core::SessionId>> remote_;
};

}  // namespace sb::net
