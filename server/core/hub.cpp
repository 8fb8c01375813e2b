#include "core/hub.hpp"

#include <algorithm>
#include <utility>

#include "core/conversation.hpp"

namespace sb::core {

using proto::ErrorCode;
using proto::Role;

namespace {

std::string conv_channel(std::string_view conv) { return "conv:" + std::string(conv); }
std::string visitor_channel(std::string_view id) { return "visitor:" + std::string(id); }
std::string agent_channel(std::string_view id) { return "agent:" + std::string(id); }
const std::string kAgentsChannel = "agents";

Sender sender_of(Role r) { return r == Role::visitor ? Sender::visitor : Sender::agent; }

}  // namespace

Hub::Hub(HubSettings settings, Store& store, Bus& bus, Outbox& outbox, Security& security)
    : settings_(std::move(settings)),
      store_(store),
      bus_(bus),
      outbox_(outbox),
      security_(security) {
    bus_.set_handler([this](const std::string& ch, const Envelope& e) { deliver(ch, e); });
}

void Hub::start(TimeMs) { reload(); }

void Hub::reload() {
    open_.clear();
    router_.clear();
    for (auto& c : store_.open_conversations()) {
        if (c.state == ConvState::waiting) router_.enqueue({c.id, c.visitor_name, c.created});
        open_.emplace(c.id, std::move(c));
    }
    queue_changed_ = true;
}

// ---- sessions ----------------------------------------------------------------

void Hub::on_open(SessionId sid, TimeMs now) {
    Session s;
    s.opened = now;
    s.tokens = settings_.rate_burst;
    s.refilled = now;
    sessions_.emplace(sid, std::move(s));
    hello_deadlines_.emplace_back(now + settings_.hello_timeout_ms, sid);
}

void Hub::on_close(SessionId sid) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) return;
    leave_all(sid, it->second);
    sessions_.erase(it);
}

void Hub::tick(TimeMs now) {
    while (!hello_deadlines_.empty() && hello_deadlines_.front().first <= now) {
        SessionId sid = hello_deadlines_.front().second;
        hello_deadlines_.pop_front();
        auto it = sessions_.find(sid);
        if (it != sessions_.end() && !it->second.role) {
            outputs_.push_back(CloseSocket{sid, proto::close_code::hello_timeout});
        }
    }
}

bool Hub::take_token(Session& s, TimeMs now) {
    double elapsed = static_cast<double>(now - s.refilled) / 1000.0;
    if (elapsed > 0) {
        s.tokens = std::min(settings_.rate_burst, s.tokens + elapsed * settings_.rate_per_s);
        s.refilled = now;
    }
    if (s.tokens < 1.0) return false;
    s.tokens -= 1.0;
    return true;
}

void Hub::on_frame(SessionId sid, std::string_view text, TimeMs now) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) return;
    Session& s = it->second;
    auto decoded = proto::decode_client(text, settings_.limits);
    if (auto* err = std::get_if<proto::DecodeError>(&decoded)) {
        send(sid, proto::encode(proto::to_error_event(*err)));
        return;
    }
    auto& msg = std::get<proto::ClientMessage>(decoded);
    if (!s.role && !std::holds_alternative<proto::Hello>(msg)) {
        error(sid, ErrorCode::hello_required, "send hello first");
        return;
    }
    if (s.role && !take_token(s, now)) {
        std::string conv, client_id;
        if (auto* m = std::get_if<proto::SendMessage>(&msg)) {
            conv = m->conv;
            client_id = m->client_id;
        }
        error(sid, ErrorCode::rate_limited, "too many frames; slow down", conv, client_id);
        return;
    }
    std::visit([&](auto& m) { handle(sid, s, m, now); }, msg);
}

void Hub::handle(SessionId sid, Session& s, proto::Hello& m, TimeMs now) {
    if (s.role) {
        error(sid, ErrorCode::already_hello, "hello was already sent on this connection");
        return;
    }
    proto::Welcome w;
    w.role = m.role;
    if (m.role == Role::agent) {
        auto who = security_.verify_agent_token(m.token, now);
        if (!who) {
            error(sid, ErrorCode::bad_token, "sign-in token is invalid or expired");
            outputs_.push_back(CloseSocket{sid, proto::close_code::bad_token});
            return;
        }
        s.principal = who->id;
        s.name = who->name;
    } else if (!m.token.empty()) {
        std::optional<Visitor> v;
        try {
            v = store_.visitor_by_token_hash(security_.hash_token(m.token));
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not read the visitor; retry");
            return;
        }
        if (!v) {
            error(sid, ErrorCode::bad_token, "unknown resume token; hello again without one");
            outputs_.push_back(CloseSocket{sid, proto::close_code::bad_token});
            return;
        }
        s.principal = v->id;
        s.name = v->name;
    } else {
        Visitor v;
        v.id = "v_" + security_.random_id();
        w.token = security_.random_token();
        v.token_hash = security_.hash_token(w.token);
        v.name = m.name;
        v.email = m.email;
        v.created = now;
        try {
            ensure_batch();
            store_.create_visitor(v);
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not create the visitor; retry");
            return;
        }
        s.principal = v.id;
        s.name = v.name;
    }
    s.role = m.role;
    w.id = s.principal;
    w.name = s.name;
    w.conversations = open_of(m.role, s.principal);
    send(sid, proto::encode(w));
    if (m.role == Role::agent) {
        join(sid, s, agent_channel(s.principal));
        join(sid, s, kAgentsChannel);
        proto::QueueEvent q;
        for (auto& e : router_.waiting()) q.waiting.push_back({e.conv, e.visitor_name, e.since});
        send(sid, proto::encode(q));
    } else {
        join(sid, s, visitor_channel(s.principal));
    }
}

void Hub::handle(SessionId sid, Session& s, proto::Start& m, TimeMs now) {
    if (*s.role != Role::visitor) {
        error(sid, ErrorCode::forbidden, "only visitors start conversations");
        return;
    }
    // A visitor has at most one open conversation: start returns it.
    Conversation* c = nullptr;
    for (auto& [id, conv] : open_) {
        if (conv.visitor_id == s.principal) c = &conv;
    }
    if (!c) {
        Conversation fresh;
        fresh.id = "c_" + security_.random_id();
        fresh.visitor_id = s.principal;
        fresh.visitor_name = s.name;
        fresh.state = ConvState::waiting;
        fresh.created = now;
        try {
            ensure_batch();
            store_.create_conversation(fresh);
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not open the conversation; retry",
                  {}, m.client_id);
            return;
        }
        c = &open_.emplace(fresh.id, fresh).first->second;
        router_.enqueue({c->id, c->visitor_name, c->created});
        queue_changed_ = true;
        // A new conversation has nothing to replay: follow it at once.
        join(sid, s, conv_channel(c->id));
    }
    publish_state(*c, m.client_id, {});
    if (!m.text.empty()) {
        std::string client_id = m.client_id.empty() ? "start-" + c->id : m.client_id;
        append(sid, s, *c, client_id, m.text, now);
    }
}

Conversation* Hub::writable(SessionId sid, const Session& s, const std::string& conv,
                            bool allow_closed, std::optional<Conversation>& closed_copy) {
    auto it = open_.find(conv);
    if (it != open_.end()) {
        if (!is_participant(it->second, *s.role, s.principal)) {
            error(sid, ErrorCode::forbidden, "not a participant of this conversation", conv);
            return nullptr;
        }
        return &it->second;
    }
    try {
        closed_copy = store_.conversation(conv);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not read the conversation; retry", conv);
        return nullptr;
    }
    if (!closed_copy) {
        error(sid, ErrorCode::not_found, "no such conversation", conv);
        return nullptr;
    }
    if (!is_participant(*closed_copy, *s.role, s.principal)) {
        error(sid, ErrorCode::forbidden, "not a participant of this conversation", conv);
        return nullptr;
    }
    if (!allow_closed) {
        error(sid, ErrorCode::conv_closed, "the conversation is closed", conv);
        return nullptr;
    }
    return &*closed_copy;
}

void Hub::ensure_batch() {
    if (!store_.in_batch()) store_.begin_batch();
}

void Hub::append(SessionId sid, const Session& s, Conversation& c, const std::string& client_id,
                 const std::string& text, TimeMs now) {
    NewMessage nm;
    nm.conv = c.id;
    nm.from = sender_of(*s.role);
    nm.author_id = s.principal;
    nm.author_name = s.name;
    nm.client_id = client_id;
    nm.text = text;
    nm.ts = now;
    AppendOutcome out;
    try {
        ensure_batch();
        out = store_.append(nm);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "the message was not stored; retry", c.id,
              client_id);
        return;
    }
    const StoredMessage& sm = out.message;
    send(sid, proto::encode(proto::Ack{c.id, client_id, sm.seq, sm.ts, out.duplicate}));
    if (out.duplicate) return;
    pending_acks_.push_back({sid, c.id, client_id});
    c.last_seq = std::max(c.last_seq, sm.seq);
    publish(conv_channel(c.id), proto::encode(proto::MessageEvent{c.id, sm.seq, sm.from,
                                                                  sm.author_name, sm.client_id,
                                                                  sm.text, sm.ts}));
}

void Hub::handle(SessionId sid, Session& s, proto::SendMessage& m, TimeMs now) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    append(sid, s, *c, m.client_id, m.text, now);
}

void Hub::handle(SessionId sid, Session& s, proto::Typing& m, TimeMs) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    publish(conv_channel(c->id),
            proto::encode(proto::TypingEvent{c->id, sender_of(*s.role), m.on}), *s.role);
}

void Hub::handle(SessionId sid, Session& s, proto::Receipt& m, TimeMs) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    if (m.seq > c->last_seq) {
        error(sid, ErrorCode::bad_field, "seq: beyond the last message", c->id);
        return;
    }
    if (m.kind == proto::ReceiptKind::read) {
        Conversation updated = *c;
        mark_read(updated, *s.role, m.seq);
        bool moved = updated.visitor_read_seq != c->visitor_read_seq ||
                     updated.agent_read_seq != c->agent_read_seq;
        if (moved) {
            try {
                ensure_batch();
                store_.update_conversation(updated);
            } catch (const StoreError&) {
                error(sid, ErrorCode::store_unavailable, "receipt not stored; retry", c->id);
                return;
            }
            *c = updated;
        }
    }
    publish(conv_channel(c->id),
            proto::encode(proto::ReceiptEvent{c->id, m.kind, m.seq, sender_of(*s.role)}),
            *s.role);
}

void Hub::handle(SessionId sid, Session& s, proto::Resume& m, TimeMs) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, true, closed);
    if (!c) return;
    // Replayed in flush(), after this turn's commit and publishes, so what is
    // replayed is durable and nothing is delivered both live and replayed.
    pending_resumes_.push_back({sid, c->id, m.after});
}

void Hub::handle(SessionId sid, Session& s, proto::Take&, TimeMs now) {
    if (*s.role != Role::agent) {
        error(sid, ErrorCode::forbidden, "only agents take conversations");
        return;
    }
    auto next = router_.next_for(s.principal, now);
    if (!next) {
        error(sid, ErrorCode::nothing_waiting, "no conversation is waiting");
        return;
    }
    Conversation& c = open_.at(*next);
    Conversation updated = c;
    if (assign(updated, s.principal, s.name, now) != Transition::ok) {
        error(sid, ErrorCode::internal, "conversation is not waiting", c.id);
        return;
    }
    try {
        ensure_batch();
        store_.update_conversation(updated);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not assign; retry", c.id);
        return;
    }
    c = updated;
    router_.dequeue(c.id);
    queue_changed_ = true;
    publish_state(c, {}, "assigned");
}

void Hub::handle(SessionId sid, Session& s, proto::Close& m, TimeMs now) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    Conversation updated = *c;
    close(updated, now);
    try {
        ensure_batch();
        store_.update_conversation(updated);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not close; retry", c->id);
        return;
    }
    if (router_.dequeue(updated.id)) queue_changed_ = true;
    open_.erase(updated.id);
    publish_state(updated, {},
                  *s.role == Role::agent ? "closed_by_agent" : "closed_by_visitor");
}

// ---- output ------------------------------------------------------------------

void Hub::send(SessionId sid, std::string frame) {
    outputs_.push_back(Direct{sid, std::make_shared<const std::string>(std::move(frame))});
}

void Hub::error(SessionId sid, ErrorCode code, std::string message, std::string conv,
                std::string client_id) {
    send(sid, proto::encode(proto::ErrorEvent{code, std::move(message), std::move(conv),
                                              std::move(client_id)}));
}

void Hub::publish(std::string channel, std::string frame, std::optional<Role> skip) {
    outputs_.push_back(
        Publish{std::move(channel),
                Envelope{std::make_shared<const std::string>(std::move(frame)), skip}});
}

void Hub::publish_state(const Conversation& c, std::string client_id, std::string reason) {
    std::string frame =
        proto::encode(proto::ConversationEvent{summary(c), std::move(client_id), std::move(reason)});
    auto shared = std::make_shared<const std::string>(std::move(frame));
    outputs_.push_back(Publish{visitor_channel(c.visitor_id), Envelope{shared, std::nullopt}});
    if (!c.agent_id.empty()) {
        outputs_.push_back(Publish{agent_channel(c.agent_id), Envelope{shared, std::nullopt}});
    }
}

void Hub::join(SessionId sid, Session& s, const std::string& channel) {
    if (!s.channels.insert(channel).second) return;
    auto& set = members_[channel];
    if (set.empty()) bus_.subscribe(channel);
    set.insert(sid);
}

void Hub::leave_all(SessionId sid, Session& s) {
    for (const auto& ch : s.channels) {
        auto it = members_.find(ch);
        if (it == members_.end()) continue;
        it->second.erase(sid);
        if (it->second.empty()) {
            members_.erase(it);
            bus_.unsubscribe(ch);
        }
    }
    s.channels.clear();
}

void Hub::deliver(const std::string& channel, const Envelope& e) {
    auto it = members_.find(channel);
    if (it == members_.end()) return;
    for (SessionId sid : it->second) {
        if (e.skip_role) {
            auto s = sessions_.find(sid);
            if (s == sessions_.end() || s->second.role == e.skip_role) continue;
        }
        outbox_.send(sid, e.frame);
    }
}

bool Hub::dirty() const {
    return !outputs_.empty() || !pending_resumes_.empty() || queue_changed_ || store_.in_batch();
}

void Hub::flush(TimeMs) {
    if (store_.in_batch()) {
        try {
            store_.commit_batch();
        } catch (const StoreError&) {
            // Nothing of this turn is durable: no ack, no delivery. Every
            // sender is told to retry with the same client_id.
            try {
                store_.rollback_batch();
            } catch (const StoreError&) {
            }
            std::vector<Output> kept;
            for (auto& o : outputs_) {
                if (auto* c = std::get_if<CloseSocket>(&o)) kept.push_back(*c);
            }
            outputs_ = std::move(kept);
            for (auto& a : pending_acks_) {
                error(a.sid, ErrorCode::store_unavailable, "the message was not stored; retry",
                      a.conv, a.client_id);
            }
            try {
                reload();
            } catch (const StoreError&) {
            }
        }
    }
    pending_acks_.clear();

    auto outputs = std::move(outputs_);
    outputs_.clear();
    for (auto& o : outputs) {
        if (auto* d = std::get_if<Direct>(&o)) {
            if (sessions_.count(d->sid)) outbox_.send(d->sid, d->frame);
        } else if (auto* c = std::get_if<CloseSocket>(&o)) {
            if (sessions_.count(c->sid)) outbox_.close(c->sid, c->code);
        } else {
            auto& p = std::get<Publish>(o);
            bus_.publish(p.channel, p.envelope);
        }
    }
    if (queue_changed_) {
        queue_changed_ = false;
        proto::QueueEvent q;
        for (auto& e : router_.waiting()) q.waiting.push_back({e.conv, e.visitor_name, e.since});
        bus_.publish(kAgentsChannel,
                     Envelope{std::make_shared<const std::string>(proto::encode(q)), {}});
    }
    auto resumes = std::move(pending_resumes_);
    pending_resumes_.clear();
    for (auto& r : resumes) replay(r);
}

void Hub::replay(const PendingResume& r) {
    auto it = sessions_.find(r.sid);
    if (it == sessions_.end()) return;
    std::uint64_t after = r.after;
    try {
        for (;;) {
            auto page = store_.messages_after(r.conv, after, settings_.replay_page);
            for (auto& m : page) {
                outbox_.send(r.sid, std::make_shared<const std::string>(proto::encode(
                                        proto::MessageEvent{m.conv, m.seq, m.from, m.author_name,
                                                            m.client_id, m.text, m.ts})));
                after = m.seq;
            }
            if (page.size() < settings_.replay_page) break;
        }
    } catch (const StoreError&) {
        outbox_.send(r.sid, std::make_shared<const std::string>(proto::encode(
                                proto::ErrorEvent{ErrorCode::store_unavailable,
                                                  "replay failed; resume again", r.conv, {}})));
        return;
    }
    outbox_.send(r.sid,
                 std::make_shared<const std::string>(proto::encode(proto::Replayed{r.conv, after})));
    if (open_.count(r.conv)) join(r.sid, it->second, conv_channel(r.conv));
}

// ---- views ---------------------------------------------------------------------

proto::ConvSummary Hub::summary(const Conversation& c) const {
    return proto::ConvSummary{c.id, c.state, c.last_seq, c.agent_name, c.visitor_name};
}

std::vector<proto::ConvSummary> Hub::open_of(Role role, const std::string& principal) const {
    std::vector<proto::ConvSummary> out;
    for (const auto& [id, c] : open_) {
        if (is_participant(c, role, principal)) out.push_back(summary(c));
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.conv < b.conv; });
    return out;
}

}  // namespace sb::core
