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
#include <utility>
#include <variant>
#include <vector>

namespace sb::proto {

inline constexpr int kVersion = 1;

// Every length limit the codec enforces. Defaults are documented in PROTOCOL.md.
// Fixed limits of the bot's fields (not configurable).
inline constexpr std::size_t kMaxLocaleBytes = 16;  // start.locale
inline constexpr std::size_t kMaxEntryBytes = 64;   // knowledge-base entry ids
// Visitor context and the console's features (fixed, see PROTOCOL.md §8).
inline constexpr std::size_t kMaxAttributes = 20;            // hello.attributes entries
inline constexpr std::size_t kMaxAttributeKeyBytes = 64;     // [A-Za-z0-9._:-]
inline constexpr std::size_t kMaxAttributeValueBytes = 256;  // any text
inline constexpr std::size_t kMaxPageBytes = 2048;           // hello.page
inline constexpr std::size_t kMaxUserAgentBytes = 512;       // hello.user_agent
inline constexpr std::size_t kSignatureHexBytes = 64;        // hex HMAC-SHA256
inline constexpr std::size_t kMaxTagBytes = 64;              // close.resolution
inline constexpr std::size_t kMaxCommentBytes = 2048;        // rate.comment
inline constexpr std::size_t kMaxShortcutBytes = 32;         // canned reply shortcut

struct Limits {
    std::size_t max_frame_bytes = 64 * 1024;  // whole JSON frame
    std::size_t max_text_bytes = 16 * 1024;   // message text (UTF-8 bytes)
    std::size_t max_id_bytes = 64;            // conv ids and client ids
    std::size_t max_token_bytes = 512;        // resume / agent tokens
    std::size_t max_name_bytes = 128;         // visitor name, email
};

enum class Role { visitor, agent };
enum class Sender { visitor, agent, bot, system };
// bot: the conversation is with the server's canned-answer bot, not queued
// for an agent (appended: the order carries no meaning on the wire).
enum class ConvState { waiting, active, closed, bot };
enum class ReceiptKind { delivered, read };
enum class AgentStatus { online, away, offline };

std::string_view to_string(Role);
std::string_view to_string(Sender);
std::string_view to_string(ConvState);
std::string_view to_string(ReceiptKind);
std::string_view to_string(AgentStatus);
std::optional<ConvState> conv_state_from(std::string_view);
std::optional<Sender> sender_from(std::string_view);
std::optional<Role> role_from(std::string_view);
std::optional<ReceiptKind> receipt_kind_from(std::string_view);
std::optional<AgentStatus> agent_status_from(std::string_view);

// Strict UTF-8 (RFC 3629): rejects overlong forms, surrogates (U+D800..U+DFFF),
// code points above U+10FFFF, stray continuation bytes and truncated sequences.
bool is_valid_utf8(std::string_view) noexcept;
// Conversation ids and client ids: 1..max_bytes characters of [A-Za-z0-9._:-].
bool is_valid_id(std::string_view, std::size_t max_bytes) noexcept;
// A contact address as leave_message accepts it: exactly one '@' with text on
// both sides, no spaces or control characters. Deliberately loose otherwise.
bool is_plausible_email(std::string_view) noexcept;

// ---- client -> server ----------------------------------------------------

// Custom attributes from the host page (order number, plan …): key → value,
// in the order sent (a repeated key keeps its first place and its last value).
using Attributes = std::vector<std::pair<std::string, std::string>>;

// First frame of every connection.
struct Hello {
    int version = kVersion;
    Role role = Role::visitor;
    std::string token;  // agent: sign-in token (required); visitor: resume token (optional)
    std::string name;   // visitor only, optional
    std::string email;  // visitor only, optional
    // Visitor only, all optional. Verified identity: the host's backend signs
    // user_id with the shared secret (hex HMAC-SHA256); both or neither.
    std::string user_id;     // text ≤ max_name_bytes
    std::string signature;   // kSignatureHexBytes of [0-9a-f]
    Attributes attributes;   // ≤ kMaxAttributes
    std::string page;        // URL of the host page, ≤ kMaxPageBytes
    std::string language;    // browser language tag, like start.locale
    std::string user_agent;  // ≤ kMaxUserAgentBytes
};
// Visitor opens a conversation (or gets the open one back).
struct Start {
    std::string client_id;   // optional, echoed in the answer
    std::string text;        // optional first message
    std::string department;  // optional id; empty = any agent
    // optional language hint for the bot: "en", "hi", "tr" or a tag like
    // "tr-TR"; at most kMaxLocaleBytes of [A-Za-z0-9-]; empty = no hint
    std::string locale;
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
    // Agents only, optional: a resolution tag (kMaxTagBytes of [A-Za-z0-9._:-]),
    // stored with the conversation. Ignored from a visitor.
    std::string resolution;
};
// Agent sets its own presence (online at sign-in).
struct SetPresence {
    AgentStatus status = AgentStatus::online;
};
// Offer mode: the agent takes / refuses the conversation offered to it.
struct Accept {
    std::string conv;
};
struct Decline {
    std::string conv;
};
// Hand an assigned conversation to another agent or to a department's queue.
// Exactly one of to_agent / to_department is set; the note is stored as an
// internal message (agents only).
struct Transfer {
    std::string conv;
    std::string to_agent;
    std::string to_department;
    std::string note;
};
// Visitor leaves a message when nobody can take the chat.
struct LeaveMessage {
    std::string client_id;   // optional, echoed in left_message
    std::string name;        // optional
    std::string email;       // required
    std::string text;        // required, not empty
    std::string department;  // optional id
};
// Agent asks for the stored offline messages.
struct OfflineList {};
// Agent marks an offline message handled.
struct OfflineHandled {
    std::string id;
};

// Visitor's answer to "Was this helpful?" on the bot's last answer.
struct Feedback {
    std::string conv;
    bool helpful = true;
};
// Visitor presses "Talk to a person": the bot hands the conversation off.
struct Handoff {
    std::string conv;
};
// Visitor picks one of the bot's suggestions (bot_options); `text` (the
// suggestion's title) is stored as the visitor's message.
struct PickSuggestion {
    std::string conv;
    std::string client_id;
    std::string entry;  // knowledge-base entry id, kMaxEntryBytes of [A-Za-z0-9._:-]
    std::string text;   // not empty, at most max_text_bytes
};

// Agent writes a private note in a conversation: stored as an internal
// message, never sent to the visitor.
struct Note {
    std::string conv;
    std::string client_id;
    std::string text;
};

// Visitor rates a closed conversation (CSAT); a second rating replaces the first.
struct Rate {
    std::string conv;
    int score = 0;        // 1..5
    std::string comment;  // optional, ≤ kMaxCommentBytes
};
// Agent asks for the visitor context of a conversation it may read.
struct VisitorInfoQuery {
    std::string conv;
};
// Agent asks for its canned replies (shared ones and its own).
struct CannedList {};
// Agent creates (no id) or edits (id) a canned reply; shared ones need a supervisor.
struct CannedSave {
    std::string id;        // optional
    std::string shortcut;  // 1..kMaxShortcutBytes of [A-Za-z0-9_-], used as /shortcut
    std::string text;      // not empty, ≤ max_text_bytes; may hold {visitor.name}, {agent.name}
    bool shared = false;
};
struct CannedDelete {
    std::string id;
};

using ClientMessage =
    std::variant<Hello, Start, SendMessage, Typing, Receipt, Resume, Take, Close, SetPresence,
                 Accept, Decline, Transfer, LeaveMessage, OfflineList, OfflineHandled, Feedback,
                 Handoff, PickSuggestion, Note, Rate, VisitorInfoQuery, CannedList, CannedSave,
                 CannedDelete>;

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
    no_room,        // the agent (or the transfer target) has no free capacity
    not_offered,    // accept/decline of a conversation not offered to this agent
    unavailable,    // transfer target offline/away, or department unknown
    bad_signature,  // hello: identity signature wrong, or required and missing (then close 4001)
    conflict,       // canned_save: the shortcut is taken in that scope
    too_many,       // canned_save: over the per-owner limit
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
    std::string department;  // empty = any agent
    std::string agent_id;    // empty while waiting
    std::string resolution;  // set by the closing agent; encoded only when set
};

struct Welcome {
    Role role = Role::visitor;
    std::string id;  // visitor id or agent id
    std::string name;
    // visitor: resume token to keep; agent: empty
    std::string token;
    // open ones the client takes part in
    std::vector<ConvSummary> conversations;
    bool supervisor = false;  // agents; encoded only when true
    bool verified = false;    // visitors: the identity signature checked out; only when true
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
    bool internal = false;  // agents only; never sent to a visitor
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
    std::int64_t since = 0;  // ms since epoch: when it (last) entered the queue
    std::string department;  // empty = any agent
    std::string first_message;
    std::size_t position = 0;  // 1-based, within its department
    int priority = 0;          // higher is served first
    std::string offered_to;    // offer mode: agent id holding the offer, else empty
};
struct QueueEvent {
    std::vector<QueueEntry> waiting;  // in service order
    // Supervisors: waiting conversations per department ("" = no department).
    // Encoded only when non-empty.
    std::vector<std::pair<std::string, std::size_t>> counts;
};
// To a waiting visitor: where it stands in its department's queue.
struct QueuePosition {
    std::string conv;
    std::size_t position = 0;  // 1-based
    std::int64_t estimated_wait_s = 0;
};
// Answer to start when nobody can take the chat; the visitor may leave a message.
struct UnavailableEvent {
    std::string reason;  // "no_agents" | "closed_hours" | "queue_full"
    std::string department;
    std::string client_id;  // echoes Start.client_id; encoded only when set
};
// Offer mode: a conversation offered to this agent until `deadline`.
struct Offer {
    std::string conv;
    std::string visitor_name;
    std::string department;
    std::string first_message;
    std::int64_t deadline = 0;  // ms since epoch
};
struct OfferEnded {
    std::string conv;
    std::string reason;  // "timeout" | "declined" | "withdrawn" | "accepted"
};
// To the agent's sessions: its presence and load (confirmation, auto-away).
struct PresenceEvent {
    AgentStatus status = AgentStatus::online;
    std::size_t load = 0;  // conversations assigned
    int capacity = 0;
    std::string reason;  // e.g. "idle" for auto-away; encoded only when set
};
// Answer to leave_message: it was stored as `id`.
struct LeftMessage {
    std::string id;
    std::string client_id;  // echoes LeaveMessage.client_id; encoded only when set
};
struct OfflineMessageItem {
    std::string id, name, email, department, text;
    std::int64_t created = 0;  // ms since epoch
    std::int64_t handled = 0;  // ms since epoch; 0 = not handled
    std::string handled_by;    // agent id; empty until handled
};
struct OfflineMessages {
    std::vector<OfflineMessageItem> items;
};
// Quick replies attached to the bot message `seq` of `conv`.
struct BotSuggestion {
    std::string entry;  // knowledge-base entry id, echoed in "suggestion"
    std::string title;  // shown on the button; sent back as the suggestion's text
};
struct BotOptions {
    std::string conv;
    std::uint64_t seq = 0;       // the bot message these options belong to
    std::string helpful_prompt;  // e.g. "Was this helpful?"; encoded only when set
    std::vector<BotSuggestion> suggestions;
    bool offer_handoff = false;  // show a "Talk to a person" button
};
// Answer to rate.
struct Rated {
    std::string conv;
    int score = 0;
};
struct VisitorProfile {
    std::string id, name, email;
    bool verified = false;
    std::string user_id;  // the host's user id; only when verified
    Attributes attributes;
    std::string page, language, user_agent;
    std::int64_t created = 0;    // ms since epoch
    std::int64_t last_seen = 0;  // last hello, ms since epoch
};
// One conversation of the visitor's history (the CRM view).
struct HistoryItem {
    std::string conv;
    ConvState state = ConvState::closed;
    std::string department, agent_name, resolution;
    std::int64_t created = 0, closed = 0;
    int csat_score = 0;  // 0 = not rated
    std::string csat_comment;
};
// Answer to visitor_info; also pushed to the agents of an open conversation
// when its visitor says hello again (new page, new attributes).
struct VisitorInfo {
    std::string conv;
    VisitorProfile visitor;
    std::vector<HistoryItem> history;  // newest first, this conversation included
};
struct CannedItem {
    std::string id, shortcut, text;
    bool shared = false;
    std::string owner;  // agent id; empty for shared
};
struct Canned {
    std::vector<CannedItem> items;  // by shortcut
};
// Canned replies changed: list them again.
struct CannedChanged {};
// Supervisors: the live state of the node, pushed on change.
struct DashboardAgent {
    std::string id, name;
    AgentStatus status = AgentStatus::offline;
    std::size_t load = 0;
    int capacity = 0;
};
struct DashboardDepartment {
    std::string department;  // "" = no department
    std::size_t waiting = 0;
    std::int64_t oldest_since = 0;  // ms since epoch; 0 when none waits
};
struct DashboardConversation {
    std::string conv, visitor_name, agent_id, agent_name, department;
    ConvState state = ConvState::waiting;
    std::int64_t since = 0;  // created
};
struct DashboardToday {
    std::int64_t day_start = 0;     // ms since epoch (UTC midnight, or the stats time zone's)
    std::size_t conversations = 0;  // created since day_start
    std::size_t closed = 0;
    std::size_t assigned = 0;      // of those, reached an agent
    std::int64_t avg_wait_ms = 0;  // queued → first assignment
    std::size_t responded = 0;
    std::int64_t avg_first_response_ms = 0;  // assignment → first agent message
    std::size_t csat_count = 0;
    std::int64_t csat_total = 0;  // sum of scores; average = total / count
};
struct Dashboard {
    std::vector<DashboardAgent> agents;
    std::vector<DashboardDepartment> departments;
    std::vector<DashboardConversation> conversations;  // open ones, oldest first, capped
    DashboardToday today;
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
std::string encode(const QueuePosition&);
std::string encode(const UnavailableEvent&);
std::string encode(const Offer&);
std::string encode(const OfferEnded&);
std::string encode(const PresenceEvent&);
std::string encode(const LeftMessage&);
std::string encode(const OfflineMessages&);
std::string encode(const BotOptions&);
std::string encode(const Rated&);
std::string encode(const VisitorInfo&);
std::string encode(const Canned&);
std::string encode(const CannedChanged&);
std::string encode(const Dashboard&);

// The error a server sends for a frame that failed to decode.
ErrorEvent to_error_event(const DecodeError&);

// WebSocket close codes the server uses (see PROTOCOL.md).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;            // orderly close by either side
inline constexpr std::uint16_t going_away = 1001;        // server shutting down
inline constexpr std::uint16_t unsupported_data = 1003;  // binary frame
inline constexpr std::uint16_t invalid_payload = 1007;   // invalid UTF-8 in a text frame

inline constexpr std::uint16_t too_big = 1009;          // frame over max_frame_bytes
inline constexpr std::uint16_t internal_error = 1011;   // storage failed: reconnect and resume
inline constexpr std::uint16_t service_restart = 1012;  // cluster: the router changed; resume
inline constexpr std::uint16_t bad_token = 4001;        // hello with a bad/expired token
inline constexpr std::uint16_t hello_timeout = 4002;    // no hello in time
inline constexpr std::uint16_t slow_consumer = 4008;    // send queue over its limit
}  // namespace close_code

}  // namespace sb::proto
