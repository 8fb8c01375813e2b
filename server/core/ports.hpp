// The core's ports: what it needs from the outside world, as interfaces.
// net/ implements Outbox, bus/ implements Bus, net/auth implements Security,
// store/ implements Store (core/store.hpp). Unit tests use fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"

namespace sb::core {

using SessionId = std::uint64_t;
// An encoded frame, shared by every socket it goes to.
using Frame = std::shared_ptr<const std::string>;

// Sockets of this process, by session id.
class Outbox {
  public:
    virtual ~Outbox() = default;
    virtual void send(SessionId sid, const Frame& frame) = 0;
    // Sends a WebSocket close with this code once queued frames are written.
    virtual void close(SessionId sid, std::uint16_t code) = 0;
};

// What travels on a bus channel: a frame, and optionally the role that must
// not receive it (typing and receipts are not echoed to the sender's side).
struct Envelope {
    Frame frame;
    std::optional<proto::Role> skip_role;
};

// Pub/sub between nodes. Channels: "conv:<id>", "visitor:<id>", "agent:<id>",
// "agents". A node subscribes to the channels its local sessions need.
class Bus {
  public:
    using Handler = std::function<void(const std::string& channel, const Envelope&)>;
    virtual ~Bus() = default;
    virtual void set_handler(Handler h) = 0;
    virtual void subscribe(const std::string& channel) = 0;
    virtual void unsubscribe(const std::string& channel) = 0;
    virtual void publish(const std::string& channel, const Envelope& e) = 0;
};

struct AgentIdentity {
    std::string id;
    std::string name;
    bool supervisor = false;
    std::vector<std::string> departments;  // empty = every department
    int capacity = 0;                      // 0 = the routing default
};

// Tokens, randomness and hashing: crypto stays outside the core.
class Security {
  public:
    virtual ~Security() = default;
    virtual std::optional<AgentIdentity> verify_agent_token(std::string_view token, TimeMs now) = 0;
    virtual std::string random_id() = 0;                         // 128 bits, hex
    virtual std::string random_token() = 0;                      // 256 bits, URL-safe
    virtual std::string hash_token(std::string_view token) = 0;  // hex SHA-256
    // Verified visitor identity: is `signature` the lowercase hex
    // HMAC-SHA256 of user_id under the host's shared secret? False when no
    // secret is configured.
    virtual bool verify_identity(std::string_view user_id, std::string_view signature) = 0;
};

}  // namespace sb::core
