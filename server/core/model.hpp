// Domain records shared by the core and its ports (store, bus, outbox).
#pragma once

#include <cstdint>
#include <string>

#include <switchboard/protocol.hpp>

namespace sb::core {

using proto::ConvState;
using proto::Sender;

// Milliseconds since the Unix epoch; the core never reads a clock itself.
using TimeMs = std::int64_t;

struct Visitor {
    std::string id;
    std::string token_hash;  // hex SHA-256 of the resume token; the token itself is never stored
    std::string name;
    std::string email;
    TimeMs created = 0;
    // Context from the widget, refreshed at every hello.
    std::string external_id;  // the host's user id, set only from a verified hello
    bool verified = false;    // the last hello carried a valid identity signature
    proto::Attributes attributes;
    std::string page;
    std::string language;
    std::string user_agent;
    TimeMs last_seen = 0;
};

struct Conversation {
    std::string id;
    std::string visitor_id;
    std::string visitor_name;
    std::string agent_id;  // empty until assigned
    std::string agent_name;
    ConvState state = ConvState::waiting;
    std::string department;  // empty = any agent
    int priority = 0;        // higher is served first
    // Timings, the raw material of wait and first-response times. 0 = not yet.
    TimeMs created = 0;
    TimeMs queued = 0;       // last entered the queue (a requeue moves it)
    TimeMs assigned = 0;     // last assigned to an agent
    TimeMs first_reply = 0;  // first message by an agent
    TimeMs closed = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t visitor_read_seq = 0;
    std::uint64_t agent_read_seq = 0;
    std::string resolution;  // tag given by the closing agent
    int csat_score = 0;      // 1..5; 0 = not rated
    std::string csat_comment;
    TimeMs rated = 0;
};

struct NewMessage {
    std::string conv;
    Sender from = Sender::visitor;
    std::string author_id;  // visitor id / agent id / "bot" / "system"
    std::string author_name;
    std::string
        client_id;  // may be empty (system messages); otherwise unique per (conv, author_id)
    std::string text;
    TimeMs ts = 0;
    bool internal = false;  // agents only (notes, transfer notes): never sent to the visitor
};

struct StoredMessage {
    std::string conv;
    std::uint64_t seq = 0;
    Sender from = Sender::visitor;
    std::string author_id;
    std::string author_name;
    std::string client_id;
    std::string text;
    TimeMs ts = 0;
    bool internal = false;
};

struct AppendOutcome {
    StoredMessage message;
    bool duplicate = false;  // client_id seen before: nothing new was stored
};

// Left by a visitor when nobody could take the chat.
struct OfflineMessage {
    std::string id;
    std::string visitor_id;
    std::string name;
    std::string email;
    std::string department;
    std::string text;
    TimeMs created = 0;
    TimeMs handled = 0;      // 0 = not yet
    std::string handled_by;  // agent id
};

// A canned reply: shared (owner empty) or an agent's own.
struct CannedReply {
    std::string id;
    std::string owner;     // agent id; empty = shared
    std::string shortcut;  // unique per owner (shared ones form one scope)
    std::string text;
    TimeMs created = 0;
    TimeMs updated = 0;
};

}  // namespace sb::core
