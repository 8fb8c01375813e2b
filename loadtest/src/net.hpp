// The harness's view of the network: an event loop with timers, WebSocket
// client connections that call back a handler, and a blocking HTTP sign-in.
// Asio and Beast stay inside net.cpp (the one slow-to-compile file); the
// scenarios are plain C++ on top of this.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "options.hpp"

namespace sb::loadtest {

using Clock = std::chrono::steady_clock;
inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// One io_context, run by one thread.
class EventLoop {
  public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    void post(std::function<void()> fn);
    void after(std::chrono::nanoseconds delay, std::function<void()> fn);
    // Runs handlers until stop(); returns when stopped.
    void run();
    void stop();

    struct Impl;
    Impl& impl() { return *impl_; }

  private:
    std::unique_ptr<Impl> impl_;
};

// A re-armable one-shot timer on a loop: the send schedules arm it for the
// intended time of their next event, so a message leaves when it is due, not
// at the next tick of a coarse clock.
class Alarm {
  public:
    Alarm(EventLoop& loop, std::function<void()> fn);
    ~Alarm();
    Alarm(const Alarm&) = delete;
    Alarm& operator=(const Alarm&) = delete;
    // Fires once at when_ns (a now_ns() time); replaces an earlier arming.
    void at(std::int64_t when_ns);

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

// How a connection ended.
struct WsEnd {
    bool connected = false;        // the handshake had succeeded
    std::uint16_t close_code = 0;  // the server's close code, 0 when none
    std::string error;             // empty for an orderly close we asked for
};

class WsHandler {
  public:
    virtual ~WsHandler() = default;
    virtual void on_open() = 0;
    virtual void on_frame(std::string_view text) = 0;
    virtual void on_end(const WsEnd& end) = 0;
};

// A client WebSocket. The handler must outlive it (or the client is
// destroyed first, which detaches the handler and drops the socket).
class WsClient {
  public:
    WsClient(EventLoop& loop, WsHandler& handler);
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    // TCP connect (from source_ip when set), then the upgrade to path.
    void connect(const Node& node, const std::string& path, const std::string& source_ip = {});
    // Queued behind the write in flight; frames go out in order, everything
    // queued meanwhile in one write.
    void send(std::string_view text);
    // Close handshake with 1000; on_end follows.
    void close();
    std::size_t queued() const;  // frames waiting behind the write in flight

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

// POST /api/login (blocking, before the run). Returns the token, or sets error.
std::optional<std::string> sign_in(const Node& node, const std::string& email,
                                   const std::string& password, std::string& error);

}  // namespace sb::loadtest
