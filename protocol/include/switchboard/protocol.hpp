// Switchboard wire protocol: JSON text frames over WebSocket.
// protocol/PROTOCOL.md is the authority on every field, limit and code; this
// header is its C++ shape. Decoding never throws: a frame becomes either a
// typed ClientMessage or a DecodeError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sb::proto {

inline constexpr int kVersion = 1;

// Every length limit the codec enforces. Defaults are documented in PROTOCOL.md.
struct Limits {
    std::size_t max_frame_bytes = 64 * 1024;  // whole JSON frame
    std::size_t max_text_bytes = 16 * 1024;   // message text (UTF-8 bytes)
    std::size_t max_id_bytes = 64;            // conv ids and client ids
    std::size_t max_token_bytes = 512;        // resume / agent tokens
    std::size_t max_name_bytes = 128;         // visitor name, email
};

enum class Role { visitor, agent };
enum class Sender { visitor, agent, bot, system };
enum class ConvState { waiting, active, closed };
enum class ReceiptKind { delivered, read };

std::string_view to_string(Role);
std::string_view to_string(Sender);
std::string_view to_string(ConvState);
std::string_view to_string(ReceiptKind);
std::optional<ConvState> conv_state_from(std::string_view);
std::optional<Sender> sender_from(std::string_view);
std::optional<Role> role_from(std::string_view);
std::optional<ReceiptKind> receipt_kind_from(std::string_view);

// Strict UTF-8 (RFC 3629): rejects overlong forms, surrogates (U+D800..U+DFFF),
// code points above U+10FFFF, stray continuation bytes and truncated sequences.
bool is_valid_utf8(std::string_view) noexcept;
// Conversation ids and client ids: 1..max_bytes characters of [A-Za-z0-9._:-].
bool is_valid_id(std::string_view, std::size_t max_bytes) noexcept;

// ---- client -> server ----------------------------------------------------

// First frame of every connection.
struct Hello {
    int version = kVersion;
    Role role = Role::visitor;
    std::string token;  // agent: sign-in token (required); visitor: resume token (optional)
    std::string name;   // visitor only, optional
    std::string email;  // visitor only, optional
};
// Visitor opens a conversation (or gets the open one back).
struct Start {
    std::string client_id;  // optional, echoed in the answer
    std::string text;       // optional first message
};
struct SendMessage {
    std::string conv;
    std::string client_id;
    std::string text;
};
struct Typing {
    std::string conv;
    bool on = true;
};
struct Receipt {
    std::string conv;
    ReceiptKind kind = ReceiptKind::delivered;
    std::uint64_t seq = 0;
};
// Replay every message of `conv` with seq > after, then follow it live.
struct Resume {
    std::string conv;
    std::uint64_t after = 0;
};
// Agent asks for the next waiting conversation (the router decides which).
struct Take {};
struct Close {
    std::string conv;
};

using ClientMessage = std::variant<Hello, Start, SendMessage, Typing, Receipt, Resume, Take, Close>;

// ---- errors ----------------------------------------------------------------

enum class ErrorCode {
    bad_json,             // not parseable JSON, or not an object
    unknown_type,         // "type" missing from the known set
    missing_field,        // a required field is absent
    bad_field,            // a field has the wrong type or an invalid value
    too_long,             // a field or the frame is over its limit
    bad_utf8,             // a string is not valid UTF-8
    unsupported_version,  // hello.version is not kVersion
    hello_required,       // anything before hello
    already_hello,        // a second hello on one connection
    bad_token,            // token unknown, forged or expired
    forbidden,            // not a participant of that conversation / wrong role
    not_found,            // no such conversation
    conv_closed,          // conversation is closed
    nothing_waiting,      // take with an empty queue
    rate_limited,         // over the per-connection message rate
    store_unavailable,    // the message could not be stored; retry with the same client_id
    internal,
};
std::string_view to_string(ErrorCode);
std::optional<ErrorCode> error_code_from(std::string_view);

struct DecodeError {
    ErrorCode code = ErrorCode::bad_json;
    std::string field;   // offending field, empty when not about one
    std::string detail;  // human-readable, names the field
    // Best-effort echoes so a client can tell which of its frames failed: set
    // only when the frame was an object and these fields held valid ids.
    std::string conv;
    std::string client_id;
};

using DecodeResult = std::variant<ClientMessage, DecodeError>;

// Never throws. Checks JSON, types, required fields, limits and UTF-8.
DecodeResult decode_client(std::string_view frame, const Limits& limits = {});

// ---- server -> client ------------------------------------------------------

struct ConvSummary {
    std::string conv;
    ConvState state = ConvState::waiting;
    std::uint64_t last_seq = 0;
    std::string agent_name;  // empty while waiting
    std::string visitor_name;
};

struct Welcome {
    Role role = Role::visitor;
    std::string id;  // visitor id or agent id
    std::string name;
    // visitor: resume token to keep; agent: empty
    std::string token;
    // open ones the client takes part in
    std::vector<ConvSummary> conversations;
};
struct Ack {
    std::string conv;
    std::string client_id;
    std::uint64_t seq = 0;
    std::int64_t ts = 0;  // ms since epoch
    bool duplicate = false;
};
struct MessageEvent {
    std::string conv;
    std::uint64_t seq = 0;
    Sender from = Sender::visitor;
    std::string author;  // display name
    std::string client_id;
    std::string text;
    std::int64_t ts = 0;
};
struct TypingEvent {
    std::string conv;
    Sender from = Sender::visitor;
    bool on = true;
};
struct ReceiptEvent {
    std::string conv;
    ReceiptKind kind = ReceiptKind::delivered;
    std::uint64_t seq = 0;
    Sender by = Sender::visitor;
};
struct ConversationEvent {
    ConvSummary summary;
    std::string client_id;  // echoes Start.client_id when answering it
    std::string reason;     // why the state changed, e.g. "closed_by_agent"
};
struct Replayed {
    std::string conv;
    std::uint64_t last_seq = 0;  // highest seq sent in the replay (or the resume point)
};
struct QueueEntry {
    std::string conv;
    std::string visitor_name;
    std::int64_t since = 0;  // ms since epoch
};
struct QueueEvent {
    std::vector<QueueEntry> waiting;  // oldest first
};
struct ErrorEvent {
    ErrorCode code = ErrorCode::internal;
    std::string message;
    std::string conv;       // when the error is about a conversation
    std::string client_id;  // when it answers a message
};

std::string encode(const Welcome&);
std::string encode(const Ack&);
std::string encode(const MessageEvent&);
std::string encode(const TypingEvent&);
std::string encode(const ReceiptEvent&);
std::string encode(const ConversationEvent&);
std::string encode(const Replayed&);
std::string encode(const QueueEvent&);
std::string encode(const ErrorEvent&);

// The error a server sends for a frame that failed to decode.
ErrorEvent to_error_event(const DecodeError&);

// WebSocket close codes the server uses (see PROTOCOL.md).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;            // orderly close by either side
inline constexpr std::uint16_t going_away = 1001;        // server shutting down
inline constexpr std::uint16_t unsupported_data = 1003;  // binary frame
inline constexpr std::uint16_t invalid_payload = 1007;   // invalid UTF-8 in a text frame

inline constexpr std::uint16_t too_big = 1009;           // frame over max_frame_bytes
inline constexpr std::uint16_t bad_token = 4001;         // hello with a bad/expired token
inline constexpr std::uint16_t hello_timeout = 4002;     // no hello in time
inline constexpr std::uint16_t slow_consumer = 4008;     // send queue over its limit
}  // namespace close_code

}  // namespace sb::proto
