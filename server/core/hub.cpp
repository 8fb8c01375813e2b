#include "core/hub.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "core/conversation.hpp"

namespace sb::core {

using proto::ErrorCode;
using proto::Role;

namespace {

std::string conv_channel(std::string_view conv) {
    return "conv:" + std::string(conv);
}
std::string visitor_channel(std::string_view id) {
    return "visitor:" + std::string(id);
}
std::string agent_channel(std::string_view id) {
    return "agent:" + std::string(id);
}
const std::string kAgentsChannel = "agents";
const std::string kSupervisorsChannel = "supervisors";

Sender sender_of(Role r) {
    return r == Role::visitor ? Sender::visitor : Sender::agent;
}

// A wait as visitors are told it: whole seconds, rounded up.
std::int64_t ceil_seconds(TimeMs ms) {
    return (ms + 999) / 1000;
}

proto::AgentStatus status_of(Presence p) {
    return p == Presence::online ? proto::AgentStatus::online
           : p == Presence::away ? proto::AgentStatus::away
                                 : proto::AgentStatus::offline;
}

}  // namespace

Hub::Hub(HubSettings settings, Store& store, Bus& bus, Outbox& outbox, Security& security)
    : settings_(std::move(settings)),
      store_(store),
      bus_(bus),
      outbox_(outbox),
      security_(security),
      router_(settings_.routing) {
    bus_.set_handler([this](const std::string& ch, const Envelope& e) { deliver(ch, e); });
}

namespace {
QueueRequest request_of(const Conversation& c, std::string first_message = {}) {
    QueueRequest r;
    r.conv = c.id;
    r.department = c.department;
    r.priority = c.priority;
    r.visitor_name = c.visitor_name;
    r.first_message = std::move(first_message);
    return r;
}
}  // namespace

// After a restart no agent is connected yet: their active conversations wait
// for them through the drop grace, then go back to the queue.
void Hub::start(TimeMs now) {
    rebuild(now);
    apply_routing(now);
}

// Open conversations and the router's view of them, read again from the
// store. If the store cannot be read, what is in memory stays.
void Hub::rebuild(TimeMs now) {
    std::vector<std::pair<Conversation, std::string>> stored;
    for (auto& c : store_.open_conversations()) {
        std::string first;
        if (auto m = store_.messages_after(c.id, 0, 1); !m.empty()) first = m.front().text;
        stored.emplace_back(std::move(c), std::move(first));
    }
    router_.reset_conversations();
    open_.clear();
    open_by_visitor_.clear();
    told_position_.clear();
    // Held conversations first, so agents' load is right before anything is
    // assigned; waiting ones keep the time they were queued.
    for (auto& [c, first] : stored) {
        if (c.state == ConvState::active && !c.agent_id.empty()) {
            router_.restore(request_of(c, first), c.agent_id, now);
        }
    }
    for (auto& [c, first] : stored) {
        if (c.state == ConvState::waiting) {
            QueueRequest r = request_of(c, first);
            r.since = c.queued > 0 ? c.queued : c.created;
            router_.enqueue(r, now);
        }
        open_by_visitor_[c.visitor_id] = c.id;
        open_.emplace(c.id, std::move(c));
    }
    queue_changed_ = true;
    stats_.reset(day_start(settings_.stats_time_zone, now));
    for (const auto& c : store_.conversations_since(stats_.start())) stats_.note(c);
    dashboard_changed_ = true;
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

void Hub::on_close(SessionId sid, TimeMs now) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) return;
    leave_all(sid, it->second);
    bool agent = it->second.role == Role::agent;
    std::string principal = it->second.principal;
    sessions_.erase(it);
    if (agent) {
        router_.agent_disconnected(principal, now);
        apply_routing(now);
    }
}

void Hub::tick(TimeMs now) {
    while (!hello_deadlines_.empty() && hello_deadlines_.front().first <= now) {
        SessionId sid = hello_deadlines_.front().second;
        hello_deadlines_.pop_front();
        auto it = sessions_.find(sid);
        if (it != sessions_.end() && !it->second.role) {
            outputs_.push_back(close_out(sid, proto::close_code::hello_timeout));
        }
    }
    router_.tick(now);
    apply_routing(now);
    if (TimeMs today = day_start(settings_.stats_time_zone, now); today > stats_.start()) {
        stats_.reset(today);
        try {
            for (const auto& c : store_.conversations_since(today)) stats_.note(c);
        } catch (const StoreError&) {
            // Counted from now on: the day's figures miss what happened before.
        }
        dashboard_changed_ = true;
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
    // Every frame counts against the rate, well-formed or not.
    if (!take_token(s, now)) {
        auto limited = proto::decode_client(text, settings_.limits);
        std::string conv, client_id;
        if (auto* m = std::get_if<proto::ClientMessage>(&limited)) {
            if (auto* sm = std::get_if<proto::SendMessage>(m)) {
                conv = sm->conv;
                client_id = sm->client_id;
            }
        }
        error(sid, ErrorCode::rate_limited, "too many frames; slow down", conv, client_id);
        return;
    }
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
    if (s.role == Role::agent) router_.agent_activity(s.principal, now);
    current_sid_ = sid;
    std::visit([&](auto& m) { handle(sid, s, m, now); }, msg);
    apply_routing(now);
    current_sid_.reset();
}

void Hub::refuse_token(SessionId sid, std::string message) {
    error(sid, ErrorCode::bad_token, std::move(message));
    outputs_.push_back(close_out(sid, proto::close_code::bad_token));
}

void Hub::handle(SessionId sid, Session& s, proto::Hello& m, TimeMs now) {
    if (s.role) {
        error(sid, ErrorCode::already_hello, "hello was already sent on this connection");
        return;
    }
    proto::Welcome w;
    w.role = m.role;
    AgentProfile profile;
    if (m.role == Role::agent) {
        auto who = security_.verify_agent_token(m.token, now);
        if (!who) return refuse_token(sid, "sign-in token is invalid or expired");
        s.principal = who->id;
        s.name = who->name;
        s.supervisor = who->supervisor;
        profile = AgentProfile{who->id, who->name, who->departments, who->capacity};
    } else if (!hello_visitor(sid, s, m, w, now)) {
        return;
    }
    s.role = m.role;
    w.id = s.principal;
    w.name = s.name;
    w.conversations = open_of(m.role, s.principal);
    w.supervisor = s.supervisor;
    w.verified = s.verified;
    send(sid, proto::encode(w));
    if (m.role == Role::agent) {
        join(sid, s, agent_channel(s.principal));
        join(sid, s, kAgentsChannel);
        if (s.supervisor) {
            join(sid, s, kSupervisorsChannel);
            send(sid, proto::encode(dashboard(now)));
        }
        // Only this session needs the queue now: a broadcast per sign-in
        // would cost every agent a frame (K² frames when K agents connect).
        send(sid, proto::encode(queue_event(router_.queue(now))));
        router_.agent_connected(profile, now);
        // This session hears its presence now; the agent's other sessions
        // only if it changed (K sessions of one account signing in would
        // otherwise cost K² frames).
        tell_presence(sid, s.principal);
        // Offers still open for this agent (a reconnecting console).
        for (const auto& v : router_.queue(now)) {
            if (v.offered_to != s.principal) continue;
            send(sid, proto::encode(proto::Offer{v.conv, v.visitor_name, v.department,
                                                 v.first_message, v.offer_deadline}));
        }
    } else {
        join(sid, s, visitor_channel(s.principal));
        // A waiting visitor who reconnects learns where they stand at once;
        // the agents of an open conversation see where the visitor is now.
        if (auto it = open_by_visitor_.find(s.principal); it != open_by_visitor_.end()) {
            if (auto info = visitor_info(open_.at(it->second))) {
                publish(conv_channel(it->second), proto::encode(*info), Role::visitor);
            }
            if (auto v = router_.position(it->second, now)) {
                send(sid, proto::encode(proto::QueuePosition{v->conv, v->position,
                                                             ceil_seconds(v->estimated_wait_ms)}));
            }
        }
    }
}

void Hub::handle(SessionId sid, Session& s, proto::Start& m, TimeMs now) {
    if (*s.role != Role::visitor) {
        error(sid, ErrorCode::forbidden, "only visitors start conversations");
        return;
    }
    // A visitor has at most one open conversation: start returns it.
    Conversation* c = nullptr;
    if (auto it = open_by_visitor_.find(s.principal); it != open_by_visitor_.end()) {
        c = &open_.at(it->second);
    }
    if (!c) {
        // Nobody to take it: the visitor is offered to leave a message instead.
        // (With the bot on, that question waits for the hand-off.)
        auto why = bot_ ? Unavailable::none : router_.availability(m.department, now);
        if (why != Unavailable::none) {
            send(sid, proto::encode(proto::UnavailableEvent{std::string(to_string(why)),
                                                            m.department, m.client_id}));
            return;
        }
        Conversation fresh;
        fresh.id = "c_" + security_.random_id();
        fresh.visitor_id = s.principal;
        fresh.visitor_name = s.name;
        fresh.state = bot_ ? ConvState::bot : ConvState::waiting;
        fresh.department = m.department;
        fresh.priority =
            router_.priority_of(m.department) + (s.verified ? settings_.verified_priority : 0);
        fresh.created = now;
        fresh.queued = now;
        std::string previous_agent;
        try {
            ensure_batch();
            store_.create_conversation(fresh);
            if (settings_.routing.prefer_last_agent) {
                for (const auto& past : store_.conversations_of_visitor(s.principal)) {
                    if (!past.agent_id.empty()) {
                        previous_agent = past.agent_id;
                        break;
                    }
                }
            }
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not open the conversation; retry", {},
                  m.client_id);
            return;
        }
        c = &open_.emplace(fresh.id, fresh).first->second;
        open_by_visitor_[c->visitor_id] = c->id;
        note_stats(*c);
        created_this_turn_.push_back(c->id);
        // A new conversation has nothing to replay: follow it at once.
        join(sid, s, conv_channel(c->id));
        publish_state(*c, m.client_id, {});
        if (c->state == ConvState::bot) {
            auto& bc = bot_convs_[c->id];
            bc.locale = m.locale;
            bc.first_visitor_text = m.text;
            if (!m.text.empty()) {
                std::string client_id = m.client_id.empty() ? "start-" + c->id : m.client_id;
                if (append(sid, s, *c, client_id, m.text, now)) {
                    apply_bot(*c, bot_->on_message(bc.state, m.text, bc.locale), now);
                }
            }
            return;
        }
        if (!m.text.empty()) {
            std::string client_id = m.client_id.empty() ? "start-" + c->id : m.client_id;
            append(sid, s, *c, client_id, m.text, now);
        }
        QueueRequest request = request_of(*c, m.text);
        request.preferred_agent = previous_agent;
        router_.enqueue(request, now);
        return;
    }
    publish_state(*c, m.client_id, {});
    if (!m.text.empty()) {
        std::string client_id = m.client_id.empty() ? "start-" + c->id : m.client_id;
        bool fresh = append(sid, s, *c, client_id, m.text, now);
        if (fresh && bot_ && c->state == ConvState::bot) {
            auto& bc = bot_convs_[c->id];
            if (!m.locale.empty()) bc.locale = m.locale;
            apply_bot(*c, bot_->on_message(bc.state, m.text, bc.locale), now);
        }
    }
}

Conversation* Hub::writable(SessionId sid, const Session& s, const std::string& conv,
                            bool allow_closed, std::optional<Conversation>& closed_copy,
                            const std::string& client_id) {
    auto it = open_.find(conv);
    if (it != open_.end()) {
        if (!is_participant(it->second, *s.role, s.principal)) {
            error(sid, ErrorCode::forbidden, "not a participant of this conversation", conv,
                  client_id);
            return nullptr;
        }
        return &it->second;
    }
    try {
        closed_copy = store_.conversation(conv);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not read the conversation; retry", conv,
              client_id);
        return nullptr;
    }
    if (!closed_copy) {
        error(sid, ErrorCode::not_found, "no such conversation", conv, client_id);
        return nullptr;
    }
    if (!is_participant(*closed_copy, *s.role, s.principal)) {
        error(sid, ErrorCode::forbidden, "not a participant of this conversation", conv, client_id);
        return nullptr;
    }
    if (!allow_closed) {
        error(sid, ErrorCode::conv_closed, "the conversation is closed", conv, client_id);
        return nullptr;
    }
    return &*closed_copy;
}

void Hub::ensure_batch() {
    if (current_sid_) writers_.insert(*current_sid_);
    if (!store_.in_batch()) store_.begin_batch();
}

bool Hub::append(SessionId sid, const Session& s, Conversation& c, const std::string& client_id,
                 const std::string& text, TimeMs now, bool internal) {
    NewMessage nm;
    nm.conv = c.id;
    nm.from = sender_of(*s.role);
    nm.author_id = s.principal;
    nm.author_name = s.name;
    nm.client_id = client_id;
    nm.text = text;
    nm.ts = now;
    nm.internal = internal;
    AppendOutcome out;
    try {
        ensure_batch();
        out = store_.append(nm);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "the message was not stored; retry", c.id,
              client_id);
        return false;
    }
    const StoredMessage& sm = out.message;
    send(sid, proto::encode(proto::Ack{c.id, client_id, sm.seq, sm.ts, out.duplicate}));
    if (out.duplicate) return false;
    pending_acks_.push_back({sid, c.id, client_id});
    c.last_seq = std::max(c.last_seq, sm.seq);
    if (*s.role == Role::agent && !internal && c.first_reply == 0) {
        c.first_reply = now;
        store_update(c);
    }
    publish(conv_channel(c.id),
            proto::encode(proto::MessageEvent{c.id, sm.seq, sm.from, sm.author_name, sm.client_id,
                                              sm.text, sm.ts, sm.internal}),
            sm.internal ? std::optional<Role>(Role::visitor) : std::nullopt);
    return true;
}

void Hub::handle(SessionId sid, Session& s, proto::SendMessage& m, TimeMs now) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed, m.client_id);
    if (!c) return;
    bool fresh = append(sid, s, *c, m.client_id, m.text, now);
    // The bot speaks only while the conversation is with it: after a hand-off
    // it stays silent whatever a client sends.
    if (fresh && bot_ && c->state == ConvState::bot && *s.role == Role::visitor) {
        auto& bc = bot_convs_[c->id];
        if (bc.first_visitor_text.empty()) bc.first_visitor_text = m.text;
        apply_bot(*c, bot_->on_message(bc.state, m.text, bc.locale), now);
    }
}

void Hub::handle(SessionId sid, Session& s, proto::Typing& m, TimeMs) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    publish(conv_channel(c->id), proto::encode(proto::TypingEvent{c->id, sender_of(*s.role), m.on}),
            *s.role);
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
            proto::encode(proto::ReceiptEvent{c->id, m.kind, m.seq, sender_of(*s.role)}), *s.role);
}

void Hub::handle(SessionId sid, Session& s, proto::Resume& m, TimeMs) {
    std::optional<Conversation> closed;
    // Supervisors may follow any conversation, read-only (their writes go
    // through writable() like everyone's).
    const Conversation* c = nullptr;
    if (s.supervisor && open_.count(m.conv)) {
        c = &open_.at(m.conv);
    } else if (s.supervisor) {
        try {
            closed = store_.conversation(m.conv);
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not read the conversation; retry",
                  m.conv);
            return;
        }
        if (!closed) return error(sid, ErrorCode::not_found, "no such conversation", m.conv);
        c = &*closed;
    } else {
        c = writable(sid, s, m.conv, true, closed);
    }
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
    std::string conv;
    route_error(sid, router_.claim(s.principal, now, &conv), conv);
}

void Hub::handle(SessionId sid, Session& s, proto::Close& m, TimeMs now) {
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    Conversation updated = *c;
    close(updated, now);
    if (*s.role == Role::agent) updated.resolution = m.resolution;
    try {
        ensure_batch();
        store_.update_conversation(updated);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not close; retry", c->id);
        return;
    }
    if (!router_.remove(updated.id, now)) router_.release(updated.id, now);
    told_position_.erase(updated.id);
    bot_convs_.erase(updated.id);
    open_by_visitor_.erase(updated.visitor_id);
    open_.erase(updated.id);
    note_stats(updated);
    publish_state(updated, {}, *s.role == Role::agent ? "closed_by_agent" : "closed_by_visitor");
}

// ---- output ------------------------------------------------------------------

void Hub::send(SessionId sid, std::string frame) {
    outputs_.push_back(direct_out(sid, std::make_shared<const std::string>(std::move(frame))));
}

void Hub::error(SessionId sid, ErrorCode code, std::string message, std::string conv,
                std::string client_id) {
    send(sid, proto::encode(proto::ErrorEvent{code, std::move(message), std::move(conv),
                                              std::move(client_id)}));
}

void Hub::publish(std::string channel, std::string frame, std::optional<Role> skip) {
    outputs_.push_back(publish_out(
        std::move(channel), Envelope{std::make_shared<const std::string>(std::move(frame)), skip}));
}

void Hub::publish_state(const Conversation& c, std::string client_id, std::string reason) {
    std::string frame = proto::encode(
        proto::ConversationEvent{summary(c), std::move(client_id), std::move(reason)});
    auto shared = std::make_shared<const std::string>(std::move(frame));
    outputs_.push_back(publish_out(visitor_channel(c.visitor_id), Envelope{shared, std::nullopt}));
    if (!c.agent_id.empty()) {
        outputs_.push_back(publish_out(agent_channel(c.agent_id), Envelope{shared, std::nullopt}));
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
    return !outputs_.empty() || !pending_resumes_.empty() || queue_changed_ ||
           !agents_changed_.empty() || offline_changed_ || store_.in_batch() ||
           (dashboard_changed_ && members_.count(kSupervisorsChannel));
}

void Hub::flush(TimeMs now) {
    if (store_.in_batch()) {
        try {
            store_.commit_batch();
        } catch (const StoreError&) {
            // Nothing of this turn is durable, so nothing of it may leave:
            // no ack, no delivery. Every session that was owed an answer is
            // told and closed (1011); clients reconnect, resume and resend
            // with the same client_ids. Memory is rebuilt from the store.
            try {
                store_.rollback_batch();
            } catch (const StoreError&) {
            }
            std::set<SessionId> owed;
            for (auto& o : outputs_) {
                if (o.kind != Output::Kind::publish) owed.insert(o.sid);
            }
            owed.insert(writers_.begin(), writers_.end());
            for (auto& a : pending_acks_) owed.insert(a.sid);
            outputs_.clear();
            for (SessionId sid : owed) {
                error(sid, ErrorCode::store_unavailable,
                      "storage failed; reconnect, resume and resend");
                outputs_.push_back(close_out(sid, proto::close_code::internal_error));
            }
            left_messages_.clear();  // some of them were never stored
            left_order_.clear();
            try {
                rebuild(now);
            } catch (const StoreError&) {
                // Memory stays, less what this turn created and never stored.
                for (const auto& id : created_this_turn_) {
                    auto it = open_.find(id);
                    if (it == open_.end()) continue;
                    open_by_visitor_.erase(it->second.visitor_id);
                    router_.remove(id, now);
                    open_.erase(it);
                }
                router_.take_events();
            }
            agents_changed_.clear();
        }
    }
    pending_acks_.clear();
    created_this_turn_.clear();
    writers_.clear();

    auto outputs = std::move(outputs_);
    outputs_.clear();
    for (auto& o : outputs) {
        switch (o.kind) {
            case Output::Kind::direct:
                if (sessions_.count(o.sid)) outbox_.send(o.sid, o.envelope.frame);
                break;
            case Output::Kind::close:
                if (sessions_.count(o.sid)) outbox_.close(o.sid, o.code);
                break;
            case Output::Kind::publish:
                bus_.publish(o.channel, o.envelope);
                break;
        }
    }
    if (queue_changed_) {
        queue_changed_ = false;
        publish_queue(now);
    }
    if (!agents_changed_.empty()) {
        auto changed = std::move(agents_changed_);
        agents_changed_.clear();
        for (const auto& id : changed) {
            std::string frame = presence_frame(id);
            auto& told = told_presence_[id];
            if (frame.empty() || frame == told) continue;
            told = frame;
            bus_.publish(agent_channel(id),
                         Envelope{std::make_shared<const std::string>(std::move(frame)), {}});
        }
    }
    if (offline_changed_) {
        offline_changed_ = false;
        publish_offline();
    }
    auto resumes = std::move(pending_resumes_);
    pending_resumes_.clear();
    for (auto& r : resumes) replay(r);
    push_dashboard(now);
}

void Hub::replay(const PendingResume& r) {
    auto it = sessions_.find(r.sid);
    if (it == sessions_.end()) return;
    std::uint64_t after = r.after;
    try {
        for (;;) {
            auto page = store_.messages_after(r.conv, after,
                                              std::max<std::size_t>(settings_.replay_page, 1));
            for (auto& m : page) {
                after = m.seq;
                // Notes are for agents: a visitor never sees them, live or replayed.
                if (m.internal && it->second.role != Role::agent) continue;
                outbox_.send(r.sid,
                             std::make_shared<const std::string>(proto::encode(
                                 proto::MessageEvent{m.conv, m.seq, m.from, m.author_name,
                                                     m.client_id, m.text, m.ts, m.internal})));
            }
            if (page.size() < std::max<std::size_t>(settings_.replay_page, 1)) break;
        }
    } catch (const StoreError&) {
        outbox_.send(
            r.sid, std::make_shared<const std::string>(proto::encode(proto::ErrorEvent{
                       ErrorCode::store_unavailable, "replay failed; resume again", r.conv, {}})));
        return;
    }
    outbox_.send(
        r.sid, std::make_shared<const std::string>(proto::encode(proto::Replayed{r.conv, after})));
    if (it->second.role == Role::visitor) {
        auto bc = bot_convs_.find(r.conv);
        auto open = open_.find(r.conv);
        if (bc != bot_convs_.end() && bc->second.options && open != open_.end() &&
            open->second.state == ConvState::bot) {
            outbox_.send(r.sid,
                         std::make_shared<const std::string>(proto::encode(*bc->second.options)));
        }
    }
    if (open_.count(r.conv)) join(r.sid, it->second, conv_channel(r.conv));
}

// ---- views ---------------------------------------------------------------------

proto::ConvSummary Hub::summary(const Conversation& c) const {
    return proto::ConvSummary{c.id,           c.state,      c.last_seq, c.agent_name,
                              c.visitor_name, c.department, c.agent_id, c.resolution};
}

std::vector<proto::ConvSummary> Hub::open_of(Role role, const std::string& principal) const {
    std::vector<proto::ConvSummary> out;
    auto add = [&](const std::string& conv) {
        auto it = open_.find(conv);
        if (it != open_.end() && is_participant(it->second, role, principal)) {
            out.push_back(summary(it->second));
        }
    };
    if (role == Role::visitor) {
        if (auto it = open_by_visitor_.find(principal); it != open_by_visitor_.end())
            add(it->second);
    } else if (auto a = router_.agent(principal)) {
        for (const auto& conv : a->conversations) add(conv);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.conv < b.conv; });
    return out;
}

// ---- routing ---------------------------------------------------------------------

bool Hub::agent_only(SessionId sid, const Session& s) {
    if (*s.role == Role::agent) return true;
    error(sid, ErrorCode::forbidden, "agents only");
    return false;
}

void Hub::route_error(SessionId sid, RouteError e, const std::string& conv) {
    switch (e) {
        case RouteError::none:
            return;
        case RouteError::nothing_waiting:
            return error(sid, ErrorCode::nothing_waiting, "no conversation is waiting for you");
        case RouteError::no_room:
            return error(sid, ErrorCode::no_room, "no free capacity", conv);
        case RouteError::not_offered:
            return error(sid, ErrorCode::not_offered, "not offered to you", conv);
        case RouteError::not_yours:
            return error(sid, ErrorCode::forbidden, "not your conversation", conv);
        case RouteError::unknown_conversation:
            return error(sid, ErrorCode::not_found, "no such active conversation", conv);
        case RouteError::unknown_agent:
        case RouteError::not_eligible:
            return error(sid, ErrorCode::unavailable, "that agent is not available", conv);
        case RouteError::same_agent:
            return error(sid, ErrorCode::bad_field, "to_agent: already yours", conv);
    }
}

// A private note: stored and sequenced like a message, for agents only.
void Hub::handle(SessionId sid, Session& s, proto::Note& m, TimeMs now) {
    if (*s.role != Role::agent) {
        error(sid, ErrorCode::forbidden, "agents only", m.conv, m.client_id);
        return;
    }
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed, m.client_id);
    if (!c) return;
    append(sid, s, *c, m.client_id, m.text, now, true);
}

void Hub::handle(SessionId sid, Session& s, proto::SetPresence& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    Presence p = m.status == proto::AgentStatus::online ? Presence::online
                 : m.status == proto::AgentStatus::away ? Presence::away
                                                        : Presence::offline;
    route_error(sid, router_.set_presence(s.principal, p, now), {});
    tell_presence(sid, s.principal);  // the answer, changed or not
}

void Hub::handle(SessionId sid, Session& s, proto::Accept& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    route_error(sid, router_.accept(s.principal, m.conv, now), m.conv);
}

void Hub::handle(SessionId sid, Session& s, proto::Decline& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    route_error(sid, router_.decline(s.principal, m.conv, now), m.conv);
}

void Hub::handle(SessionId sid, Session& s, proto::Transfer& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, false, closed);
    if (!c) return;
    if (c->state != ConvState::active) {
        error(sid, ErrorCode::forbidden, "only an active conversation can be transferred", c->id);
        return;
    }
    RouteError e = m.to_agent.empty()
                       ? router_.transfer_to_department(c->id, s.principal, m.to_department, now)
                       : router_.transfer_to_agent(c->id, s.principal, m.to_agent, now);
    if (e != RouteError::none) return route_error(sid, e, c->id);
    // The note travels with the conversation, for agents only.
    std::string note = "Transferred by " + s.name +
                       (m.to_agent.empty() ? " to department " + m.to_department : "") +
                       (m.note.empty() ? std::string() : ": " + m.note);
    append(sid, s, *c, "transfer-" + security_.random_id(), note, now, true);
}

void Hub::handle(SessionId sid, Session& s, proto::LeaveMessage& m, TimeMs now) {
    if (*s.role != Role::visitor) {
        error(sid, ErrorCode::forbidden, "visitors only");
        return;
    }
    // A resend (same client_id) gets the first answer back, stores nothing.
    std::string key = s.principal + "\n" + m.client_id;
    if (!m.client_id.empty()) {
        if (auto it = left_messages_.find(key); it != left_messages_.end()) {
            send(sid, proto::encode(proto::LeftMessage{it->second, m.client_id}));
            return;
        }
    }
    OfflineMessage om;
    om.id = "m_" + security_.random_id();
    om.visitor_id = s.principal;
    om.name = m.name.empty() ? s.name : m.name;
    om.email = m.email;
    om.department = m.department;
    om.text = m.text;
    om.created = now;
    try {
        ensure_batch();
        store_.create_offline_message(om);
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "the message was not stored; retry", {},
              m.client_id);
        return;
    }
    pending_acks_.push_back({sid, {}, m.client_id});
    send(sid, proto::encode(proto::LeftMessage{om.id, m.client_id}));
    if (!m.client_id.empty()) {
        left_messages_.emplace(key, om.id);
        left_order_.push_back(key);
        if (left_order_.size() > settings_.left_message_memory) {
            left_messages_.erase(left_order_.front());
            left_order_.pop_front();
        }
    }
    offline_changed_ = true;
}

void Hub::handle(SessionId sid, Session& s, proto::OfflineList&, TimeMs) {
    if (!agent_only(sid, s)) return;
    auto list = offline_list();
    if (!list) {
        error(sid, ErrorCode::store_unavailable, "could not read offline messages; retry");
        return;
    }
    send(sid, std::move(*list));
}

void Hub::handle(SessionId sid, Session& s, proto::OfflineHandled& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    try {
        ensure_batch();
        if (!store_.mark_offline_handled(m.id, s.principal, now)) {
            error(sid, ErrorCode::not_found, "no such unhandled offline message");
            return;
        }
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "not marked; retry");
        return;
    }
    offline_changed_ = true;
}

void Hub::store_update(const Conversation& c) {
    note_stats(c);
    try {
        ensure_batch();
        store_.update_conversation(c);
    } catch (const StoreError&) {
        // The in-memory record stays ahead; its next update writes it whole.
    }
}

void Hub::detach_agent(const std::string& conv, const std::string& agent) {
    auto it = members_.find(conv_channel(conv));
    if (it == members_.end()) return;
    std::vector<SessionId> leaving;
    for (SessionId sid : it->second) {
        auto s = sessions_.find(sid);
        if (s != sessions_.end() && s->second.role == Role::agent && s->second.principal == agent) {
            leaving.push_back(sid);
        }
    }
    for (SessionId sid : leaving) {
        auto& s = sessions_.at(sid);
        s.channels.erase(conv_channel(conv));
        it->second.erase(sid);
    }
    if (it->second.empty()) {
        members_.erase(it);
        bus_.unsubscribe(conv_channel(conv));
    }
}

void Hub::apply_routing(TimeMs now) {
    namespace re = route_event;
    for (auto& ev : router_.take_events()) {
        if (auto* a = std::get_if<re::Assigned>(&ev)) {
            auto it = open_.find(a->conv);
            if (it == open_.end()) continue;
            Conversation& c = it->second;
            auto agent = router_.agent(a->agent);
            c.state = ConvState::active;
            c.agent_id = a->agent;
            c.agent_name = agent ? agent->name : a->agent;
            c.assigned = now;
            told_position_.erase(c.id);
            store_update(c);
            if (!a->previous_agent.empty()) {
                detach_agent(c.id, a->previous_agent);
                publish(agent_channel(a->previous_agent),
                        proto::encode(proto::ConversationEvent{summary(c), {}, "transferred"}));
            }
            publish_state(c, {}, a->previous_agent.empty() ? "assigned" : "transferred");
        } else if (auto* r = std::get_if<re::Requeued>(&ev)) {
            auto it = open_.find(r->conv);
            if (it == open_.end()) continue;
            Conversation& c = it->second;
            c.state = ConvState::waiting;
            c.agent_id.clear();
            c.agent_name.clear();
            c.queued = now;
            c.department = r->department;
            store_update(c);
            detach_agent(c.id, r->previous_agent);
            std::string reason = r->reason == "transfer" ? "transferred" : "requeued";
            publish(agent_channel(r->previous_agent),
                    proto::encode(proto::ConversationEvent{summary(c), {}, reason}));
            publish_state(c, {}, reason);
        } else if (auto* o = std::get_if<re::Offered>(&ev)) {
            auto view = router_.position(o->conv, now);
            proto::Offer offer{o->conv, {}, {}, {}, o->deadline};
            if (view) {
                offer.visitor_name = view->visitor_name;
                offer.department = view->department;
                offer.first_message = view->first_message;
            }
            publish(agent_channel(o->agent), proto::encode(offer));
        } else if (auto* e = std::get_if<re::OfferEnded>(&ev)) {
            publish(agent_channel(e->agent), proto::encode(proto::OfferEnded{e->conv, e->reason}));
        } else if (std::holds_alternative<re::QueueChanged>(ev)) {
            queue_changed_ = true;
            dashboard_changed_ = true;
        } else if (auto* ch = std::get_if<re::AgentChanged>(&ev)) {
            agents_changed_.insert(ch->agent);
            dashboard_changed_ = true;
        }
    }
}

// Agents get the whole queue in service order (with per-department counts);
// each waiting visitor gets their own position and estimated wait when it moves.
proto::QueueEvent Hub::queue_event(const std::vector<QueueView>& views) const {
    proto::QueueEvent q;
    std::map<std::string, std::size_t> counts;
    for (const auto& v : views) {
        q.waiting.push_back(proto::QueueEntry{v.conv, v.visitor_name, v.since, v.department,
                                              v.first_message, v.position, v.priority,
                                              v.offered_to});
        ++counts[v.department];
    }
    q.counts.assign(counts.begin(), counts.end());
    return q;
}

void Hub::publish_queue(TimeMs now) {
    auto views = router_.queue(now);
    // Agents hear about the queue only when what they see of it changed
    // (an agent signing in, for one, changes nothing they see).
    std::string frame = proto::encode(queue_event(views));
    if (frame != last_queue_frame_) {
        last_queue_frame_ = frame;
        bus_.publish(kAgentsChannel,
                     Envelope{std::make_shared<const std::string>(std::move(frame)), {}});
    }
    for (const auto& v : views) {
        auto c = open_.find(v.conv);
        if (c == open_.end()) continue;
        std::int64_t wait_s = ceil_seconds(v.estimated_wait_ms);
        auto& told = told_position_[v.conv];
        if (told.first == v.position && told.second == wait_s) continue;
        told = {v.position, wait_s};
        bus_.publish(visitor_channel(c->second.visitor_id),
                     Envelope{std::make_shared<const std::string>(
                                  proto::encode(proto::QueuePosition{v.conv, v.position, wait_s})),
                              {}});
    }
}

// The offline messages as agents see them (handled ones too), encoded; empty
// when the store cannot be read.
std::optional<std::string> Hub::offline_list() {
    proto::OfflineMessages list;
    try {
        for (auto& m : store_.offline_messages(true, settings_.offline_list_limit)) {
            list.items.push_back(
                {m.id, m.name, m.email, m.department, m.text, m.created, m.handled, m.handled_by});
        }
    } catch (const StoreError&) {
        return std::nullopt;
    }
    return proto::encode(list);
}

void Hub::publish_offline() {
    auto list = offline_list();
    if (!list) return;
    bus_.publish(kAgentsChannel,
                 Envelope{std::make_shared<const std::string>(std::move(*list)), {}});
}

// ---- bot -------------------------------------------------------------------------

Conversation* Hub::with_bot(SessionId sid, const Session& s, const std::string& conv,
                            const std::string& client_id) {
    if (*s.role != Role::visitor) {
        error(sid, ErrorCode::forbidden, "visitors only", conv, client_id);
        return nullptr;
    }
    std::optional<Conversation> closed;
    return writable(sid, s, conv, false, closed, client_id);
}

void Hub::handle(SessionId sid, Session& s, proto::Feedback& m, TimeMs now) {
    Conversation* c = with_bot(sid, s, m.conv);
    if (!c || !bot_ || c->state != ConvState::bot) return;  // nothing to rate: ignored
    apply_bot(*c, bot_->on_feedback(bot_convs_[c->id].state, m.helpful), now);
}

void Hub::handle(SessionId sid, Session& s, proto::Handoff& m, TimeMs now) {
    Conversation* c = with_bot(sid, s, m.conv);
    if (!c || !bot_ || c->state != ConvState::bot) return;  // already with a person
    apply_bot(*c, bot_->on_handoff_request(bot_convs_[c->id].state), now);
}

void Hub::handle(SessionId sid, Session& s, proto::PickSuggestion& m, TimeMs now) {
    Conversation* c = with_bot(sid, s, m.conv, m.client_id);
    if (!c) return;
    bool fresh = append(sid, s, *c, m.client_id, m.text, now);
    if (!fresh || !bot_ || c->state != ConvState::bot) return;
    auto& bc = bot_convs_[c->id];
    if (bc.first_visitor_text.empty()) bc.first_visitor_text = m.text;
    apply_bot(*c, bot_->on_suggestion(bc.state, m.entry, bc.state.last_language), now);
}

std::uint64_t Hub::append_bot(Conversation& c, const std::string& text, TimeMs now, bool internal) {
    NewMessage nm;
    nm.conv = c.id;
    nm.from = Sender::bot;
    nm.author_id = "bot";
    nm.author_name = settings_.bot_name;
    // No client_id: the server never resends its own messages.
    nm.text = text;
    nm.ts = now;
    nm.internal = internal;
    try {
        ensure_batch();
        auto out = store_.append(nm);
        const StoredMessage& sm = out.message;
        c.last_seq = std::max(c.last_seq, sm.seq);
        publish(conv_channel(c.id),
                proto::encode(proto::MessageEvent{c.id, sm.seq, sm.from, sm.author_name,
                                                  sm.client_id, sm.text, sm.ts, sm.internal}),
                internal ? std::optional<Role>(Role::visitor) : std::nullopt);
        return sm.seq;
    } catch (const StoreError&) {
        return 0;  // the bot's reply is lost; the visitor can ask again
    }
}

void Hub::apply_bot(Conversation& c, const bot::BotDecision& d, TimeMs now) {
    auto& bc = bot_convs_[c.id];
    bc.state = d.state;
    if (d.kind == bot::DecisionKind::silent) return;
    if (d.kind == bot::DecisionKind::handoff) return hand_off(c, d, now);
    std::uint64_t seq = d.text.empty() ? c.last_seq : append_bot(c, d.text, now);
    proto::BotOptions options;
    options.conv = c.id;
    options.seq = seq;
    if (d.ask_helpful) options.helpful_prompt = d.helpful_prompt;
    for (const auto& sug : d.suggestions) options.suggestions.push_back({sug.entry_id, sug.title});
    options.offer_handoff = true;  // "Talk to a person" is always one tap away
    bc.options = options;
    publish(conv_channel(c.id), proto::encode(options), Role::agent);
}

void Hub::hand_off(Conversation& c, const bot::BotDecision& d, TimeMs now) {
    auto& bc = bot_convs_[c.id];
    if (auto why = router_.availability(d.department, now); why != Unavailable::none) {
        // Nobody to hand off to: the visitor may leave a message, or keep
        // asking the bot.
        bc.state.handed_off = false;
        bc.state.misses_in_row = 0;
        bc.state.not_helpful_count = 0;
        publish(visitor_channel(c.visitor_id), proto::encode(proto::UnavailableEvent{
                                                   std::string(to_string(why)), d.department, {}}));
        return;
    }
    bc.options.reset();
    if (!d.text.empty()) append_bot(c, d.text, now);  // "Connecting you with a person…"
    // The agent sees why the bot let go; the visitor does not.
    static const std::map<bot::HandoffReason, std::string> kWhy = {
        {bot::HandoffReason::visitor_asked, "the visitor asked for a person"},
        {bot::HandoffReason::repeated_misses, "the bot could not answer several times in a row"},
        {bot::HandoffReason::not_helpful, "the visitor found two answers not helpful"},
    };
    auto why = kWhy.find(d.reason);
    append_bot(c,
               "Handed off by the bot: " +
                   (why != kWhy.end() ? why->second : std::string(bot::to_string(d.reason))) +
                   " (" + std::string(bot::to_string(d.reason)) + ")" +
                   (d.department.empty() ? "" : "; department " + d.department + "."),
               now, true);
    c.state = ConvState::waiting;
    c.department = d.department;
    c.priority = router_.priority_of(d.department);
    c.queued = now;
    store_update(c);
    publish_state(c, {}, "handoff");
    QueueRequest request = request_of(c, bc.first_visitor_text);
    bot_convs_.erase(c.id);
    router_.enqueue(request, now);
}

// ---- visitor context ----------------------------------------------------------

bool Hub::hello_visitor(SessionId sid, Session& s, proto::Hello& m, proto::Welcome& w, TimeMs now) {
    if (!m.user_id.empty() && !security_.verify_identity(m.user_id, m.signature)) {
        error(sid, ErrorCode::bad_signature, "the identity signature does not verify");
        outputs_.push_back(close_out(sid, proto::close_code::bad_token));
        return false;
    }
    if (m.user_id.empty() && settings_.require_identity) {
        error(sid, ErrorCode::bad_signature, "this site requires a signed identity");
        outputs_.push_back(close_out(sid, proto::close_code::bad_token));
        return false;
    }
    s.verified = !m.user_id.empty();
    std::optional<Visitor> v;
    if (!m.token.empty()) {
        try {
            v = store_.visitor_by_token_hash(security_.hash_token(m.token));
        } catch (const StoreError&) {
            error(sid, ErrorCode::store_unavailable, "could not read the visitor; retry");
            return false;
        }
        if (!v) {
            refuse_token(sid, "unknown resume token; hello again without one");
            return false;
        }
        // Another signed-in user on the same browser starts afresh: one
        // user's history never shows up under another's identity.
        if (s.verified && !v->external_id.empty() && v->external_id != m.user_id) v.reset();
    }
    const bool fresh = !v;
    if (fresh) {
        v.emplace();
        v->id = "v_" + security_.random_id();
        w.token = security_.random_token();
        v->token_hash = security_.hash_token(w.token);
        v->created = now;
    }
    if (!m.name.empty() || fresh) v->name = m.name;
    if (!m.email.empty() || fresh) v->email = m.email;
    if (!m.attributes.empty()) v->attributes = m.attributes;
    if (!m.page.empty()) v->page = m.page;
    if (!m.language.empty()) v->language = m.language;
    if (!m.user_agent.empty()) v->user_agent = m.user_agent;
    if (s.verified) v->external_id = m.user_id;
    v->verified = s.verified;
    v->last_seen = now;
    try {
        ensure_batch();
        if (fresh) {
            store_.create_visitor(*v);
        } else {
            store_.update_visitor(*v);
        }
    } catch (const StoreError&) {
        error(sid, ErrorCode::store_unavailable, "could not store the visitor; retry");
        return false;
    }
    s.principal = v->id;
    s.name = v->name;
    return true;
}

std::optional<proto::VisitorInfo> Hub::visitor_info(const Conversation& c) {
    proto::VisitorInfo info;
    info.conv = c.id;
    try {
        auto v = store_.visitor(c.visitor_id);
        if (!v) return std::nullopt;
        info.visitor = proto::VisitorProfile{v->id,
                                             v->name,
                                             v->email,
                                             v->verified,
                                             v->verified ? v->external_id : std::string(),
                                             v->attributes,
                                             v->page,
                                             v->language,
                                             v->user_agent,
                                             v->created,
                                             v->last_seen};
        for (const auto& h : store_.history_of_visitor(c.visitor_id, settings_.history_limit)) {
            // The open conversation as memory has it (the store may lag a turn).
            const Conversation& cur = h.id == c.id ? c : h;
            info.history.push_back(proto::HistoryItem{
                cur.id, cur.state, cur.department, cur.agent_name, cur.resolution, cur.created,
                cur.closed, cur.csat_score, cur.csat_comment});
        }
    } catch (const StoreError&) {
        return std::nullopt;
    }
    return info;
}

void Hub::handle(SessionId sid, Session& s, proto::VisitorInfoQuery& m, TimeMs) {
    if (!agent_only(sid, s)) return;
    std::optional<Conversation> closed;
    const Conversation* c = nullptr;
    if (auto it = open_.find(m.conv); it != open_.end()) {
        c = &it->second;
    } else {
        try {
            closed = store_.conversation(m.conv);
        } catch (const StoreError&) {
            return error(sid, ErrorCode::store_unavailable, "could not read the conversation",
                         m.conv);
        }
        if (!closed) return error(sid, ErrorCode::not_found, "no such conversation", m.conv);
        c = &*closed;
    }
    if (!s.supervisor && !is_participant(*c, Role::agent, s.principal)) {
        return error(sid, ErrorCode::forbidden, "not a participant of this conversation", m.conv);
    }
    auto info = visitor_info(*c);
    if (!info) {
        return error(sid, ErrorCode::store_unavailable, "could not read the visitor", m.conv);
    }
    send(sid, proto::encode(*info));
}

void Hub::handle(SessionId sid, Session& s, proto::Rate& m, TimeMs now) {
    if (*s.role != Role::visitor) {
        return error(sid, ErrorCode::forbidden, "only the visitor rates a conversation", m.conv);
    }
    std::optional<Conversation> closed;
    Conversation* c = writable(sid, s, m.conv, true, closed);
    if (!c) return;
    if (c->state != ConvState::closed) {
        return error(sid, ErrorCode::bad_field, "the conversation is still open", m.conv);
    }
    Conversation updated = *c;
    updated.csat_score = m.score;
    updated.csat_comment = m.comment;
    updated.rated = now;
    try {
        ensure_batch();
        store_.update_conversation(updated);
    } catch (const StoreError&) {
        return error(sid, ErrorCode::store_unavailable, "the rating was not stored; retry", m.conv);
    }
    note_stats(updated);
    send(sid, proto::encode(proto::Rated{updated.id, updated.csat_score}));
}

// ---- canned replies -------------------------------------------------------------

std::optional<std::string> Hub::canned_list(const std::string& agent_id) {
    proto::Canned list;
    try {
        for (auto& r : store_.canned_replies(agent_id)) {
            list.items.push_back(
                proto::CannedItem{r.id, r.shortcut, r.text, r.owner.empty(), r.owner});
        }
    } catch (const StoreError&) {
        return std::nullopt;
    }
    return proto::encode(list);
}

void Hub::canned_changed(const Session& s, bool shared) {
    publish(shared ? kAgentsChannel : agent_channel(s.principal),
            proto::encode(proto::CannedChanged{}));
}

void Hub::handle(SessionId sid, Session& s, proto::CannedList&, TimeMs) {
    if (!agent_only(sid, s)) return;
    auto list = canned_list(s.principal);
    if (!list) return error(sid, ErrorCode::store_unavailable, "could not read canned replies");
    send(sid, std::move(*list));
}

void Hub::handle(SessionId sid, Session& s, proto::CannedSave& m, TimeMs now) {
    if (!agent_only(sid, s)) return;
    if (m.shared && !s.supervisor) {
        return error(sid, ErrorCode::forbidden, "only supervisors edit shared canned replies");
    }
    CannedReply r;
    try {
        if (!m.id.empty()) {
            auto old = store_.canned_reply(m.id);
            if (!old) return error(sid, ErrorCode::not_found, "no such canned reply");
            // Who may edit it: the owner, or a supervisor for shared ones.
            if (old->owner.empty() ? !s.supervisor : old->owner != s.principal) {
                return error(sid, ErrorCode::forbidden, "not your canned reply");
            }
            r = *old;
        } else {
            r.id = "cr_" + security_.random_id();
            r.created = now;
        }
        const std::string owner = m.shared ? std::string() : s.principal;
        if ((m.id.empty() || owner != r.owner) &&
            store_.canned_count(owner) >= settings_.canned_limit) {
            return error(
                sid, ErrorCode::too_many,
                "at most " + std::to_string(settings_.canned_limit) + " canned replies per owner");
        }
        const bool was_shared = !m.id.empty() && r.owner.empty();
        r.owner = owner;
        r.shortcut = m.shortcut;
        r.text = m.text;
        r.updated = now;
        ensure_batch();
        if (!store_.save_canned(r)) {
            return error(sid, ErrorCode::conflict, "the shortcut /" + m.shortcut + " is taken");
        }
        canned_changed(s, m.shared || was_shared);
    } catch (const StoreError&) {
        return error(sid, ErrorCode::store_unavailable, "the canned reply was not stored; retry");
    }
    if (auto list = canned_list(s.principal)) send(sid, std::move(*list));
}

void Hub::handle(SessionId sid, Session& s, proto::CannedDelete& m, TimeMs) {
    if (!agent_only(sid, s)) return;
    try {
        auto old = store_.canned_reply(m.id);
        if (!old) return error(sid, ErrorCode::not_found, "no such canned reply");
        if (old->owner.empty() ? !s.supervisor : old->owner != s.principal) {
            return error(sid, ErrorCode::forbidden, "not your canned reply");
        }
        ensure_batch();
        store_.delete_canned(m.id);
        canned_changed(s, old->owner.empty());
    } catch (const StoreError&) {
        return error(sid, ErrorCode::store_unavailable, "the canned reply was not deleted; retry");
    }
    if (auto list = canned_list(s.principal)) send(sid, std::move(*list));
}

// ---- supervisors' dashboard -----------------------------------------------------

std::string Hub::presence_frame(const std::string& agent_id) const {
    auto a = router_.agent(agent_id);
    if (!a) return {};
    return proto::encode(
        proto::PresenceEvent{status_of(a->presence), a->load, a->capacity, a->idle ? "idle" : ""});
}

// A session that must hear the agent's presence: the flush broadcasts it to
// all the agent's sessions if it changed; if not, this one is told directly.
void Hub::tell_presence(SessionId sid, const std::string& agent_id) {
    std::string frame = presence_frame(agent_id);
    if (frame.empty()) return;
    if (frame == told_presence_[agent_id]) {
        send(sid, std::move(frame));
    } else {
        agents_changed_.insert(agent_id);
    }
}

void Hub::note_stats(const Conversation& c) {
    stats_.note(c);
    dashboard_changed_ = true;
}

proto::Dashboard Hub::dashboard(TimeMs now) const {
    proto::Dashboard d;
    for (const auto& a : router_.agents()) {
        d.agents.push_back(
            proto::DashboardAgent{a.id, a.name, status_of(a.presence), a.load, a.capacity});
    }
    std::map<std::string, proto::DashboardDepartment> departments;
    for (const auto& v : router_.queue(now)) {
        auto& dep = departments[v.department];
        dep.department = v.department;
        ++dep.waiting;
        if (dep.oldest_since == 0 || v.since < dep.oldest_since) dep.oldest_since = v.since;
    }
    for (auto& [name, dep] : departments) d.departments.push_back(std::move(dep));
    std::vector<const Conversation*> open;
    open.reserve(open_.size());
    for (const auto& [id, c] : open_) open.push_back(&c);
    std::sort(open.begin(), open.end(), [](const Conversation* a, const Conversation* b) {
        return a->created != b->created ? a->created < b->created : a->id < b->id;
    });
    if (open.size() > settings_.dashboard_conversations) {
        open.resize(settings_.dashboard_conversations);
    }
    for (const Conversation* c : open) {
        d.conversations.push_back(proto::DashboardConversation{c->id, c->visitor_name, c->agent_id,
                                                               c->agent_name, c->department,
                                                               c->state, c->created});
    }
    d.today = stats_.today();
    return d;
}

void Hub::push_dashboard(TimeMs now) {
    if (!dashboard_changed_ || !members_.count(kSupervisorsChannel)) return;
    if (now - dashboard_sent_ < settings_.dashboard_interval_ms) return;
    dashboard_changed_ = false;
    dashboard_sent_ = now;
    bus_.publish(kSupervisorsChannel,
                 Envelope{std::make_shared<const std::string>(proto::encode(dashboard(now))), {}});
}

}  // namespace sb::core
