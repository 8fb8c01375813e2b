// RedisConnection: one hiredis async connection driven by an Asio
// io_context (hiredis has no Asio adapter: this is ours). Single-threaded:
// everything runs on the io_context's thread.
//
// The socket hiredis owns is wrapped in a posix::stream_descriptor only to
// wait for readiness; hiredis does the reads and writes. The descriptor is
// released (never closed) when hiredis frees the context: hiredis closes the
// fd itself.
#pragma once

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb::bus {

class RedisConnection {
  public:
    // The reply, or nullptr when the connection went away before it came.
    using ReplyFn = std::function<void(redisReply*)>;
    using StateFn = std::function<void(bool up)>;

    RedisConnection(boost::asio::io_context& ioc, std::string ip, int port);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Called with true once connected, with false when the connection is
    // lost or a connect failed (then connect() again, e.g. after a backoff).
    void on_state(StateFn fn) { on_state_ = std::move(fn); }
    // Starts connecting; `ip` must be an address (hiredis resolves names
    // blocking). Does nothing while connecting or connected.
    void connect();
    bool up() const { return up_; }

    // Queues a command; hiredis writes everything queued in one loop turn in
    // one write. False (and `fn` is never called) when not connected. For a
    // SUBSCRIBE, `fn` is called for every message of the channel, and with
    // nullptr when the connection goes away. Do not UNSUBSCRIBE through it:
    // hiredis 0.14 can hand that reply to a newer SUBSCRIBE's callback.
    bool command(const std::vector<std::string_view>& argv, ReplyFn fn = {});

  private:
    struct Watch;  // the descriptor and its pending waits; outlives handlers
    static void on_connect(const redisAsyncContext* ac, int status);
    static void on_disconnect(const redisAsyncContext* ac, int status);
    static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
    void lost();

    boost::asio::io_context& ioc_;
    std::string ip_;
    int port_;
    redisAsyncContext* ac_ = nullptr;
    std::shared_ptr<Watch> watch_;
    bool up_ = false;
    StateFn on_state_;
};

}  // namespace sb::bus
