// Server -> client encoders. Field order follows PROTOCOL.md.
#include "json_writer.hpp"
#include "switchboard/protocol.hpp"

namespace sb::proto {
namespace {

using detail::JsonWriter;

// The ConvSummary members, shared by "welcome" entries and "conversation".
void summary_fields(JsonWriter& w, const ConvSummary& s) {
    w.str("conv", s.conv)
        .str("state", to_string(s.state))
        .u64("last_seq", s.last_seq)
        .str("agent_name", s.agent_name)
        .str("visitor_name", s.visitor_name)
        .str("department", s.department)
        .str("agent_id", s.agent_id);
}

}  // namespace

std::string encode(const Welcome& m) {
    JsonWriter w(160 + m.conversations.size() * 128);
    w.begin_object()
        .str("type", "welcome")
        .key("version")
        .sint(kVersion)
        .str("role", to_string(m.role))
        .str("id", m.id)
        .str("name", m.name)
        .str("token", m.token)
        .key("conversations")
        .begin_array();
    for (const auto& c : m.conversations) {
        w.begin_object();
        summary_fields(w, c);
        w.end_object();
    }
    return w.end_array().end_object().take();
}

std::string encode(const Ack& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "ack")
        .str("conv", m.conv)
        .str("client_id", m.client_id)
        .u64("seq", m.seq)
        .i64("ts", m.ts)
        .flag("duplicate", m.duplicate)
        .end_object()
        .take();
}

std::string encode(const MessageEvent& m) {
    JsonWriter w(176 + m.text.size() + m.author.size());
    w.begin_object()
        .str("type", "message")
        .str("conv", m.conv)
        .u64("seq", m.seq)
        .str("from", to_string(m.from))
        .str("author", m.author)
        .str("client_id", m.client_id)
        .str("text", m.text)
        .i64("ts", m.ts);
    if (m.internal) w.flag("internal", true);
    return w.end_object().take();
}

std::string encode(const TypingEvent& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "typing")
        .str("conv", m.conv)
        .str("from", to_string(m.from))
        .flag("on", m.on)
        .end_object()
        .take();
}

std::string encode(const ReceiptEvent& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "receipt")
        .str("conv", m.conv)
        .str("kind", to_string(m.kind))
        .u64("seq", m.seq)
        .str("by", to_string(m.by))
        .end_object()
        .take();
}

std::string encode(const ConversationEvent& m) {
    JsonWriter w(200);
    w.begin_object().str("type", "conversation");
    summary_fields(w, m.summary);
    return w.str_if("client_id", m.client_id).str_if("reason", m.reason).end_object().take();
}

std::string encode(const Replayed& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "replayed")
        .str("conv", m.conv)
        .u64("last_seq", m.last_seq)
        .end_object()
        .take();
}

std::string encode(const QueueEvent& m) {
    JsonWriter w(48 + m.waiting.size() * 200 + m.counts.size() * 32);
    w.begin_object().str("type", "queue").key("waiting").begin_array();
    for (const auto& e : m.waiting) {
        w.begin_object()
            .str("conv", e.conv)
            .str("visitor_name", e.visitor_name)
            .i64("since", e.since)
            .str("department", e.department)
            .str("first_message", e.first_message)
            .u64("position", e.position)
            .i64("priority", e.priority)
            .str("offered_to", e.offered_to)
            .end_object();
    }
    w.end_array();
    if (!m.counts.empty()) {
        w.key("counts").begin_object();
        for (const auto& [department, n] : m.counts) w.u64(department, n);
        w.end_object();
    }
    return w.end_object().take();
}

std::string encode(const QueuePosition& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "queue_position")
        .str("conv", m.conv)
        .u64("position", m.position)
        .i64("estimated_wait_s", m.estimated_wait_s)
        .end_object()
        .take();
}

std::string encode(const UnavailableEvent& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "unavailable")
        .str("reason", m.reason)
        .str("department", m.department)
        .str_if("client_id", m.client_id)
        .end_object()
        .take();
}

std::string encode(const Offer& m) {
    JsonWriter w(160 + m.first_message.size());
    return w.begin_object()
        .str("type", "offer")
        .str("conv", m.conv)
        .str("visitor_name", m.visitor_name)
        .str("department", m.department)
        .str("first_message", m.first_message)
        .i64("deadline", m.deadline)
        .end_object()
        .take();
}

std::string encode(const OfferEnded& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "offer_ended")
        .str("conv", m.conv)
        .str("reason", m.reason)
        .end_object()
        .take();
}

std::string encode(const PresenceEvent& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "presence")
        .str("status", to_string(m.status))
        .u64("load", m.load)
        .i64("capacity", m.capacity)
        .str_if("reason", m.reason)
        .end_object()
        .take();
}

std::string encode(const LeftMessage& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "left_message")
        .str("id", m.id)
        .str_if("client_id", m.client_id)
        .end_object()
        .take();
}

std::string encode(const OfflineMessages& m) {
    std::size_t reserve = 48;
    for (const auto& i : m.items) reserve += 160 + i.text.size();
    JsonWriter w(reserve);
    w.begin_object().str("type", "offline_messages").key("items").begin_array();
    for (const auto& i : m.items) {
        w.begin_object()
            .str("id", i.id)
            .str("name", i.name)
            .str("email", i.email)
            .str("department", i.department)
            .str("text", i.text)
            .i64("created", i.created)
            .i64("handled", i.handled)
            .str("handled_by", i.handled_by)
            .end_object();
    }
    return w.end_array().end_object().take();
}

std::string encode(const BotOptions& m) {
    std::size_t reserve = 128 + m.helpful_prompt.size();
    for (const auto& s : m.suggestions) reserve += 32 + s.entry.size() + s.title.size();
    JsonWriter w(reserve);
    w.begin_object()
        .str("type", "bot_options")
        .str("conv", m.conv)
        .u64("seq", m.seq)
        .str_if("helpful_prompt", m.helpful_prompt)
        .key("suggestions")
        .begin_array();
    for (const auto& s : m.suggestions)
        w.begin_object().str("entry", s.entry).str("title", s.title).end_object();
    return w.end_array().flag("offer_handoff", m.offer_handoff).end_object().take();
}

std::string encode(const ErrorEvent& m) {
    JsonWriter w(96 + m.message.size());
    return w.begin_object()
        .str("type", "error")
        .str("code", to_string(m.code))
        .str("message", m.message)
        .str_if("conv", m.conv)
        .str_if("client_id", m.client_id)
        .end_object()
        .take();
}

ErrorEvent to_error_event(const DecodeError& e) {
    ErrorEvent ev;
    ev.code = e.code;
    ev.message = e.detail;
    ev.conv = e.conv;
    ev.client_id = e.client_id;
    return ev;
}

}  // namespace sb::proto
