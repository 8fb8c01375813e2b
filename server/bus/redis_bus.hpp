// RedisBus: the bus between nodes, over Redis pub/sub. One connection
// publishes, another subscribes (a subscribed connection can do nothing
// else); a channel per conversation, visitor and agent, never a pattern.
//
// Pub/sub only wakes nodes up: a frame published while this node's
// connection is down is dropped (counted), and a node whose subscriber
// connection came back has missed what was published meanwhile. The stores
// hold the truth; on_lost tells the owner at once that it is cut off, and
// on_resubscribed that it hears again (and missed what came meanwhile).
//
// unsubscribe() stops delivery at once; the Redis subscription itself lasts
// until the connection ends (suited to a bounded set of channels, such as
// the cluster's per-node ones).
//
// On the wire a publish is one byte for the role that must not receive it
// ('-' none, 'v' visitors, 'a' agents) followed by the frame.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "bus/redis_connection.hpp"
#include "core/ports.hpp"

namespace sb::bus {

struct RedisBusSettings {
    std::string ip = "127.0.0.1";  // an address: hiredis resolves names blocking
    int port = 6379;
    std::uint32_t reconnect_min_ms = 100;    // first retry after a lost connection
    std::uint32_t reconnect_max_ms = 5'000;  // backoff doubles up to this (plus jitter)
};

class RedisBus final : public core::Bus {
  public:
    RedisBus(boost::asio::io_context& ioc, RedisBusSettings settings);

    // Connects both connections; they reconnect by themselves from then on.
    void start();

    void set_handler(Handler h) override { handler_ = std::move(h); }
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, const core::Envelope& e) override;

    // Called once every channel is subscribed again after the subscriber
    // connection was lost: what was published meanwhile never arrived.
    void on_resubscribed(std::function<void()> fn) { on_resubscribed_ = std::move(fn); }
    // Called when the subscriber connection, once up, is lost: from now on
    // nothing published reaches this node until on_resubscribed.
    void on_lost(std::function<void()> fn) { on_lost_ = std::move(fn); }

    bool up() const { return pub_.up() && sub_.up(); }
    std::uint64_t dropped() const { return dropped_; }  // publishes made while down

  private:
    struct Link {
        RedisConnection* conn;
        boost::asio::steady_timer timer;
        std::uint32_t attempt = 0;
        bool ever_up = false;
        bool up = false;  // connected now (on_state's last word)
    };
    void watch(Link& link, bool subscriber);
    void retry(Link& link);
    void send_subscribe(const std::string& channel);
    void on_message(redisReply* r);

    boost::asio::io_context& ioc_;
    RedisBusSettings settings_;
    RedisConnection pub_, sub_;
    Link pub_link_, sub_link_;
    Handler handler_;
    std::set<std::string> channels_;  // followed: delivered to the handler
    std::set<std::string> live_;      // subscribed on the current subscriber connection
    std::function<void()> on_resubscribed_;
    std::function<void()> on_lost_;
    std::uint64_t dropped_ = 0;
    std::uint64_t jitter_ = 0x9e3779b97f4a7c15ull;
};

// The wire form of an envelope, and back (nullopt for a malformed payload).
std::string encode_envelope(const core::Envelope& e);
std::optional<core::Envelope> decode_envelope(std::string_view payload);

}  // namespace sb::bus
