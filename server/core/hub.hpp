// Hub: the single-threaded heart of a node. Frames from sessions come in, the
// hub checks them against the conversation state and the sender's rights,
// writes through the Store, and sends frames out through the Outbox and Bus.
//
// Nothing leaves the hub before the store has committed what it depends on:
// every output of a loop turn is queued and released by flush(), which first
// commits the turn's batch. So an ack always follows a durable append, and the
// appends of one turn share one transaction.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "core/bot/bot.hpp"
#include "core/model.hpp"
#include "core/ports.hpp"
#include "core/router.hpp"
#include "core/stats.hpp"
#include "core/store.hpp"

namespace sb::core {

struct HubSettings {
    proto::Limits limits;
    TimeMs hello_timeout_ms = 5'000;           // a connection must say hello within this
    double rate_per_s = 20;                    // frames per second per connection, sustained
    double rate_burst = 40;                    // frames allowed in a burst
    std::size_t replay_page = 500;             // messages read from the store per page on resume
    std::size_t offline_list_limit = 200;      // offline messages sent per list
    std::size_t left_message_memory = 10'000;  // leave_message client_ids remembered for resends
    RoutingSettings routing;
    std::string bot_name = "Assistant";  // author shown on the bot's messages
    // Visitors must present a signed identity (hello.user_id + signature).
    bool require_identity = false;
    int verified_priority = 0;                  // queue priority added for verified visitors
    std::size_t history_limit = 20;             // conversations in a visitor_info history
    std::size_t canned_limit = 500;             // canned replies per owner (shared = one owner)
    TimeMs dashboard_interval_ms = 500;         // at most one dashboard push per this
    std::size_t dashboard_conversations = 500;  // open conversations listed on the dashboard
    std::string stats_time_zone = "UTC";        // where the dashboard's "today" starts
};

class Hub {
  public:
    Hub(HubSettings settings, Store& store, Bus& bus, Outbox& outbox, Security& security);

    // Rebuilds the open conversations and the queue from the store.
    void start(TimeMs now);

    void on_open(SessionId sid, TimeMs now);
    void on_frame(SessionId sid, std::string_view text, TimeMs now);
    void on_close(SessionId sid, TimeMs now);
    // Hello timeouts, and the router's timers (offers, drop grace, auto-away).
    void tick(TimeMs now);
    // End of a loop turn: commit, then release every queued output in order.
    void flush(TimeMs now);
    // True when flush() has work to do.
    bool dirty() const;

    // The canned-answer bot; null turns it off (new conversations go straight
    // to the router). Replacing it is how the knowledge base reloads: open
    // conversations keep their state and use the new one from then on.
    void set_bot(std::shared_ptr<const bot::Bot> b) { bot_ = std::move(b); }
    const bot::Bot* bot() const { return bot_.get(); }

    std::size_t session_count() const { return sessions_.size(); }
    std::size_t waiting_count() const { return router_.waiting_count(); }
    const Router& router() const { return router_; }

  private:
    struct Session {
        std::optional<proto::Role> role;  // empty until hello
        std::string principal;            // visitor id or agent id
        std::string name;
        bool supervisor = false;
        bool verified = false;  // visitor: the hello's identity signature checked out
        TimeMs opened = 0;
        double tokens = 0;  // rate limiter bucket
        TimeMs refilled = 0;
        std::set<std::string> channels;
    };
    // One queued output of a turn: a frame to a session, a close, or a publish.
    struct Output {
        enum class Kind { direct, close, publish } kind = Kind::direct;
        SessionId sid = 0;       // direct, close
        std::uint16_t code = 0;  // close
        std::string channel;     // publish
        Envelope envelope;       // direct (frame only), publish
    };
    static Output direct_out(SessionId sid, Frame f) {
        return {Output::Kind::direct, sid, 0, {}, Envelope{std::move(f), std::nullopt}};
    }
    static Output close_out(SessionId sid, std::uint16_t code) {
        return {Output::Kind::close, sid, code, {}, {}};
    }
    static Output publish_out(std::string channel, Envelope e) {
        return {Output::Kind::publish, 0, 0, std::move(channel), std::move(e)};
    }
    struct PendingAck {
        SessionId sid;
        std::string conv;
        std::string client_id;
    };
    struct PendingResume {
        SessionId sid;
        std::string conv;
        std::uint64_t after;
    };

    void handle(SessionId sid, Session& s, proto::Hello& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Start& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::SendMessage& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Typing& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Receipt& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Resume& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Take& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Close& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::SetPresence& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Accept& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Decline& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Transfer& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::LeaveMessage& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::OfflineList& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::OfflineHandled& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Feedback& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Handoff& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::PickSuggestion& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Note& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::Rate& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::VisitorInfoQuery& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::CannedList& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::CannedSave& m, TimeMs now);
    void handle(SessionId sid, Session& s, proto::CannedDelete& m, TimeMs now);
    // The visitor for a hello: found by resume token or created, its context
    // refreshed. False when an answer (error, close) was queued instead.
    bool hello_visitor(SessionId sid, Session& s, proto::Hello& m, proto::Welcome& w, TimeMs now);
    // The visitor context of a conversation, as agents see it.
    std::optional<proto::VisitorInfo> visitor_info(const Conversation& c);
    // The canned replies of an agent, encoded.
    std::optional<std::string> canned_list(const std::string& agent_id);
    void canned_changed(const Session& s, bool shared);
    // Supervisors' dashboard: built from memory, pushed when due.
    proto::Dashboard dashboard(TimeMs now) const;
    void push_dashboard(TimeMs now);
    void note_stats(const Conversation& c);
    // An agent's presence and load as its sessions hear it; empty if unknown.
    std::string presence_frame(const std::string& agent_id) const;
    void tell_presence(SessionId sid, const std::string& agent_id);
    // The conversation if the visitor may talk to the bot in it now.
    Conversation* with_bot(SessionId sid, const Session& s, const std::string& conv,
                           const std::string& client_id = {});
    void apply_bot(Conversation& c, const bot::BotDecision& d, TimeMs now);
    void hand_off(Conversation& c, const bot::BotDecision& d, TimeMs now);
    std::uint64_t append_bot(Conversation& c, const std::string& text, TimeMs now,
                             bool internal = false);
    bool agent_only(SessionId sid, const Session& s);
    // bad_token, then close 4001.
    void refuse_token(SessionId sid, std::string message);
    void route_error(SessionId sid, RouteError e, const std::string& conv);
    // Applies what the router decided: store updates and notifications.
    void apply_routing(TimeMs now);
    void store_update(const Conversation& c);
    void detach_agent(const std::string& conv, const std::string& agent);
    void publish_queue(TimeMs now);
    proto::QueueEvent queue_event(const std::vector<QueueView>& views) const;
    void publish_offline();
    std::optional<std::string> offline_list();

    // Finds a conversation the session may act on, or queues the right error.
    Conversation* writable(SessionId sid, const Session& s, const std::string& conv,
                           bool allow_closed, std::optional<Conversation>& closed_copy,
                           const std::string& client_id = {});
    // True when the message was new (not a resend).
    bool append(SessionId sid, const Session& s, Conversation& c, const std::string& client_id,
                const std::string& text, TimeMs now, bool internal = false);
    void ensure_batch();
    bool take_token(Session& s, TimeMs now);

    void send(SessionId sid, std::string frame);
    void error(SessionId sid, proto::ErrorCode code, std::string message, std::string conv = {},
               std::string client_id = {});
    void publish(std::string channel, std::string frame,
                 std::optional<proto::Role> skip = std::nullopt);
    void publish_state(const Conversation& c, std::string client_id, std::string reason);
    void join(SessionId sid, Session& s, const std::string& channel);
    void leave_all(SessionId sid, Session& s);
    void deliver(const std::string& channel, const Envelope& e);
    void replay(const PendingResume& r);
    void rebuild(TimeMs now);

    proto::ConvSummary summary(const Conversation& c) const;
    std::vector<proto::ConvSummary> open_of(proto::Role role, const std::string& principal) const;

    HubSettings settings_;
    Store& store_;
    Bus& bus_;
    Outbox& outbox_;
    Security& security_;
    Router router_;

    std::unordered_map<SessionId, Session> sessions_;
    std::deque<std::pair<TimeMs, SessionId>> hello_deadlines_;
    // Local sessions per bus channel.
    std::unordered_map<std::string, std::unordered_set<SessionId>> members_;
    // Conversations not closed, by id: the hot path never reads the store.
    std::unordered_map<std::string, Conversation> open_;
    std::unordered_map<std::string, std::string> open_by_visitor_;  // visitor id → open conv

    std::vector<Output> outputs_;
    std::vector<PendingAck> pending_acks_;
    std::vector<PendingResume> pending_resumes_;
    std::vector<std::string> created_this_turn_;  // conversations not yet committed
    // Sessions whose frames wrote to the store this turn: owed an answer if
    // the commit fails.
    std::set<SessionId> writers_;
    std::optional<SessionId> current_sid_;
    std::shared_ptr<const bot::Bot> bot_;
    struct BotConversation {
        bot::BotState state;
        std::string locale;
        std::string first_visitor_text;            // shown in the queue after a hand-off
        std::optional<proto::BotOptions> options;  // quick replies of the last bot message
    };
    std::unordered_map<std::string, BotConversation> bot_convs_;
    DayStats stats_;
    bool dashboard_changed_ = false;
    TimeMs dashboard_sent_ = 0;
    bool queue_changed_ = false;
    std::string last_queue_frame_;  // the queue as agents last heard it
    bool offline_changed_ = false;
    std::set<std::string> agents_changed_;
    std::unordered_map<std::string, std::string> told_presence_;  // agent → last presence frame
    // Last position/wait told to each waiting visitor: only changes are sent.
    std::unordered_map<std::string, std::pair<std::size_t, std::int64_t>> told_position_;
    // (visitor, client_id) → offline message id, newest last; bounded.
    std::unordered_map<std::string, std::string> left_messages_;
    std::deque<std::string> left_order_;
};

}  // namespace sb::core
