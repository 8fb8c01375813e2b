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
        .str("agent_id", s.agent_id)
        .str_if("resolution", s.resolution);
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
    w.end_array();
    if (m.supervisor) w.flag("supervisor", true);
    if (m.verified) w.flag("verified", true);
    return w.end_object().take();
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

std::string encode(const Rated& m) {
    JsonWriter w;
    return w.begin_object()
        .str("type", "rated")
        .str("conv", m.conv)
        .i64("score", m.score)
        .end_object()
        .take();
}

std::string encode(const VisitorInfo& m) {
    const VisitorProfile& v = m.visitor;
    std::size_t reserve = 320 + v.page.size() + v.user_agent.size() + m.history.size() * 200;
    for (const auto& [key, value] : v.attributes) reserve += 8 + key.size() + value.size();
    for (const auto& h : m.history) reserve += h.csat_comment.size();
    JsonWriter w(reserve);
    w.begin_object()
        .str("type", "visitor_info")
        .str("conv", m.conv)
        .key("visitor")
        .begin_object()
        .str("id", v.id)
        .str("name", v.name)
        .str("email", v.email)
        .flag("verified", v.verified)
        .str("user_id", v.user_id)
        .key("attributes")
        .begin_object();
    for (const auto& [key, value] : v.attributes) w.str(key, value);
    w.end_object()
        .str("page", v.page)
        .str("language", v.language)
        .str("user_agent", v.user_agent)
        .i64("created", v.created)
        .i64("last_seen", v.last_seen)
        .end_object()
        .key("history")
        .begin_array();
    for (const auto& h : m.history) {
        w.begin_object()
            .str("conv", h.conv)
            .str("state", to_string(h.state))
            .str("department", h.department)
            .str("agent_name", h.agent_name)
            .str("resolution", h.resolution)
            .i64("created", h.created)
            .i64("closed", h.closed)
            .i64("csat_score", h.csat_score)
            .str("csat_comment", h.csat_comment)
            .end_object();
    }
    return w.end_array().end_object().take();
}

std::string encode(const Canned& m) {
    std::size_t reserve = 40;
    for (const auto& i : m.items) reserve += 96 + i.shortcut.size() + i.text.size();
    JsonWriter w(reserve);
    w.begin_object().str("type", "canned").key("items").begin_array();
    for (const auto& i : m.items) {
        w.begin_object()
            .str("id", i.id)
            .str("shortcut", i.shortcut)
            .str("text", i.text)
            .flag("shared", i.shared)
            .str("owner", i.owner)
            .end_object();
    }
    return w.end_array().end_object().take();
}

std::string encode(const CannedChanged&) {
    JsonWriter w(32);
    return w.begin_object().str("type", "canned_changed").end_object().take();
}

std::string encode(const Dashboard& m) {
    JsonWriter w(320 + m.agents.size() * 96 + m.departments.size() * 64 +
                 m.conversations.size() * 160);
    w.begin_object().str("type", "dashboard").key("agents").begin_array();
    for (const auto& a : m.agents) {
        w.begin_object()
            .str("id", a.id)
            .str("name", a.name)
            .str("status", to_string(a.status))
            .u64("load", a.load)
            .i64("capacity", a.capacity)
            .end_object();
    }
    w.end_array().key("departments").begin_array();
    for (const auto& d : m.departments) {
        w.begin_object()
            .str("department", d.department)
            .u64("waiting", d.waiting)
            .i64("oldest_since", d.oldest_since)
            .end_object();
    }
    w.end_array().key("conversations").begin_array();
    for (const auto& c : m.conversations) {
        w.begin_object()
            .str("conv", c.conv)
            .str("visitor_name", c.visitor_name)
            .str("agent_id", c.agent_id)
            .str("agent_name", c.agent_name)
            .str("department", c.department)
            .str("state", to_string(c.state))
            .i64("since", c.since)
            .end_object();
    }
    const DashboardToday& t = m.today;
    return w.end_array()
        .key("today")
        .begin_object()
        .i64("day_start", t.day_start)
        .u64("conversations", t.conversations)
        .u64("closed", t.closed)
        .u64("assigned", t.assigned)
        .i64("avg_wait_ms", t.avg_wait_ms)
        .u64("responded", t.responded)
        .i64("avg_first_response_ms", t.avg_first_response_ms)
        .u64("csat_count", t.csat_count)
        .i64("csat_total", t.csat_total)
        .end_object()
        .end_object()
        .take();
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
