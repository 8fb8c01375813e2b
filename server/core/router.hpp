// Router: presence, capacity, departments and fair assignment of waiting
// conversations to agents. I/O-free and clock-free: every call takes `now`,
// and what the hub must do about a decision comes out of take_events().
//
// Rules (docs/ROUTING.md is the long form):
// - An agent is eligible for a conversation when online (not away, not
//   offline, not dropped), serving its department (an agent without
//   departments serves all; a conversation without one goes to anyone), with
//   room (assigned + offered < capacity), and has not declined it.
// - Waiting conversations are served in order: priority (higher first), then
//   requeued-at-front, then time queued, then id. Positions are per department.
// - The agent chosen is the least busy (load / capacity), ties to the one idle
//   longest since their last assignment, then by id. A returning visitor's
//   previous agent is preferred when eligible (setting).
// - Assignment re-runs after every change that can free room or add work, so
//   in auto mode nobody waits while an eligible agent has room.
// - Offer mode: a conversation is offered to one agent at a time; no answer
//   within the timeout or a decline moves it to the next; declines are
//   remembered for that conversation, and an agent who let it time out gets
//   it again only when no other agent is eligible.
// - A dropped agent keeps their conversations for the grace period; after it
//   they are requeued at the front, exactly once. Back in time: kept.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/model.hpp"

namespace sb::core {

enum class Presence { offline, away, online };
// auto_assign: the router assigns at once. offer: the chosen agent must accept.
// manual: nothing is pushed; agents claim from the queue ("take").
enum class AssignMode { auto_assign, offer, manual };

std::string_view to_string(Presence);
std::optional<Presence> presence_from(std::string_view);

// Opening hours of one department, in its own time zone.
struct WeeklyHours {
    std::string time_zone = "UTC";  // IANA name, e.g. "Europe/Istanbul"
    // Per weekday (0 = Monday … 6 = Sunday): [open, close) in minutes since
    // local midnight. An empty day is closed.
    std::array<std::vector<std::pair<int, int>>, 7> days;
};
// Is `now` inside the hours? (ICU computes the local time; unknown zones are UTC.)
bool is_open(const WeeklyHours& hours, TimeMs now);
// The zone's offset from UTC at `now`, daylight saving included (ICU; an
// unknown zone is UTC).
TimeMs utc_offset_ms(std::string_view time_zone, TimeMs now);

struct RoutingSettings {
    AssignMode mode = AssignMode::auto_assign;
    int default_capacity = 3;           // per agent, unless the account says otherwise
    TimeMs offer_timeout_ms = 30'000;   // offer mode: time to accept
    TimeMs drop_grace_ms = 60'000;      // a dropped agent keeps their chats this long
    TimeMs auto_away_ms = 15 * 60'000;  // idle online agent turns away; 0 = never
    bool prefer_last_agent = true;      // returning visitor → their previous agent
    std::size_t max_queue = 50;         // per department; longer → leave a message
    bool queue_without_agents = false;  // queue even when no agent is online
    // Queue priority of a conversation by its department (higher is served
    // first); departments not listed get 0.
    std::map<std::string, int> department_priority;
    TimeMs default_handle_ms = 5 * 60'000;  // seeds the wait estimate
    // Opening hours by department; the entry "" applies to departments without
    // their own. No entry at all = always open.
    std::map<std::string, WeeklyHours> hours;
};

struct AgentProfile {
    std::string id;
    std::string name;
    std::vector<std::string> departments;  // empty = serves every department
    int capacity = 0;                      // 0 = settings.default_capacity
};

struct QueueRequest {
    std::string conv;
    std::string department;  // empty = any agent
    int priority = 0;        // higher is served first (e.g. verified visitors)
    std::string visitor_name;
    std::string first_message;
    std::string preferred_agent;  // e.g. the agent who served this visitor last
    TimeMs since = 0;             // already waiting since (a restart); 0 = now
};

// Why a visitor cannot be queued now.
enum class Unavailable { none, no_agents, closed_hours, queue_full };
std::string_view to_string(Unavailable);

enum class RouteError {
    none,
    unknown_agent,
    unknown_conversation,
    not_yours,
    no_room,
    not_offered,
    nothing_waiting,
    not_eligible,
    same_agent
};
std::string_view to_string(RouteError);

namespace route_event {
struct Assigned {
    std::string conv;
    std::string agent;
    std::string previous_agent;  // set for a transfer
};
struct Offered {
    std::string conv;
    std::string agent;
    TimeMs deadline = 0;
};
struct OfferEnded {
    std::string conv;
    std::string agent;
    std::string reason;  // "timeout" | "declined" | "withdrawn"
};
// An assigned conversation went back to the queue.
struct Requeued {
    std::string conv;
    std::string previous_agent;
    std::string reason;      // "agent_dropped" | "transfer"
    std::string department;  // where it waits now
};
// Positions, waits or the queue view changed.
struct QueueChanged {};
// An agent's presence or load changed.
struct AgentChanged {
    std::string agent;
};
}  // namespace route_event

using RouteEvent =
    std::variant<route_event::Assigned, route_event::Offered, route_event::OfferEnded,
                 route_event::Requeued, route_event::QueueChanged, route_event::AgentChanged>;

struct QueueView {
    std::string conv;
    std::string department;
    std::string visitor_name;
    std::string first_message;
    int priority = 0;
    TimeMs since = 0;          // queued at
    std::size_t position = 0;  // 1-based within its department
    TimeMs estimated_wait_ms = 0;
    std::string offered_to;  // offer mode: the agent holding the offer
    TimeMs offer_deadline = 0;
};

struct AgentView {
    std::string id;
    std::string name;
    Presence presence = Presence::offline;
    bool connected = false;
    bool idle = false;      // away because of auto-away, not by choice
    TimeMs dropped_at = 0;  // 0 = not dropped
    int capacity = 0;
    std::size_t load = 0;     // assigned conversations
    std::size_t offered = 0;  // outstanding offers
    TimeMs last_assigned = 0;
    std::vector<std::string> departments;
    std::vector<std::string> conversations;
};

class Router {
  public:
    explicit Router(RoutingSettings settings = {});

    // ---- agents ----
    // A connection of this agent opened (first one: the agent appears online).
    void agent_connected(const AgentProfile& profile, TimeMs now);
    // The agent's last connection closed: the grace period starts.
    void agent_disconnected(std::string_view agent, TimeMs now);
    RouteError set_presence(std::string_view agent, Presence p, TimeMs now);
    // Any action by the agent: keeps auto-away from firing.
    void agent_activity(std::string_view agent, TimeMs now);

    // ---- conversations ----
    int priority_of(std::string_view department) const;
    // Can a new conversation for this department be queued now?
    Unavailable availability(std::string_view department, TimeMs now) const;
    void enqueue(const QueueRequest& request, TimeMs now);
    // On start-up: an active conversation already held by an agent. Until that
    // agent connects they count as dropped from `now` (the grace applies).
    void restore(const QueueRequest& conversation, std::string_view agent, TimeMs now);
    // A waiting conversation ended (closed by the visitor): leaves the queue.
    bool remove(std::string_view conv, TimeMs now);
    // An assigned conversation closed: its agent's room frees.
    void release(std::string_view conv, TimeMs now);
    // Manual claim ("take"): the first waiting conversation of a department
    // this agent serves, assigned at once if they have room (any mode, any
    // presence: taking is an explicit choice, so declines do not apply).
    RouteError claim(std::string_view agent, TimeMs now, std::string* conv_out = nullptr);
    RouteError accept(std::string_view agent, std::string_view conv, TimeMs now);
    RouteError decline(std::string_view agent, std::string_view conv, TimeMs now);
    // Straight to another agent, who must be online with room.
    RouteError transfer_to_agent(std::string_view conv, std::string_view from, std::string_view to,
                                 TimeMs now);
    // Back to the queue of a department, at the front.
    RouteError transfer_to_department(std::string_view conv, std::string_view from,
                                      std::string_view department, TimeMs now);
    // Offer timeouts, drop grace, auto-away.
    void tick(TimeMs now);
    // Forgets every conversation (queue and assignments) but keeps the agents,
    // so the caller can rebuild from the store after a failed write.
    void reset_conversations();

    std::vector<RouteEvent> take_events();

    // ---- views ----
    std::vector<QueueView> queue(TimeMs now) const;  // every waiting conversation, in service order
    std::optional<QueueView> position(std::string_view conv, TimeMs now) const;
    std::vector<AgentView> agents() const;
    std::optional<AgentView> agent(std::string_view id) const;
    std::optional<std::string> owner(std::string_view conv) const;
    bool is_waiting(std::string_view conv) const;
    std::size_t waiting_count() const { return waiting_.size(); }
    const RoutingSettings& settings() const { return settings_; }

  private:
    struct AgentState {
        AgentProfile profile;
        Presence presence = Presence::offline;
        bool idle = false;  // set by auto-away
        int connections = 0;
        TimeMs dropped_at = 0;  // 0 = connected (or never dropped)
        TimeMs last_activity = 0;
        TimeMs last_assigned = 0;
        std::set<std::string> conversations;  // assigned
        std::set<std::string> offers;         // outstanding offers
    };
    struct Waiting {
        QueueRequest request;
        TimeMs since = 0;
        bool front = false;               // requeued after a drop or a transfer
        std::set<std::string> declined;   // never offered to these again
        std::set<std::string> timed_out;  // offered again only when nobody else can
        std::string offered_to;
        TimeMs offer_deadline = 0;
    };
    // (−priority, front ? 0 : 1, since, conv): service order; ids are unique.
    using Key = std::tuple<int, int, TimeMs, std::string>;

    void run(TimeMs now);
    AgentState* find_agent(std::string_view id);
    const AgentState* find_agent(std::string_view id) const;
    bool available(const AgentState& a) const;
    bool eligible(const AgentState& a, const Waiting& w) const;
    int capacity_of(const AgentState& a) const;
    const AgentState* best_for(const Waiting& w) const;
    const AgentState* best_for(const Waiting& w, bool allow_timed_out) const;
    void assign(const QueueRequest& request, AgentState& a, TimeMs now, std::string previous = {});
    void push_waiting(Waiting w);
    void end_offer(Waiting& w, const std::string& reason, bool remember_decline);
    void requeue_front(const std::string& conv, std::string reason, TimeMs now,
                       const std::string* department = nullptr);
    void withdraw_offers(AgentState& a);
    bool serves(const AgentState& a, std::string_view department) const;
    std::size_t busy(const AgentState& a) const { return a.conversations.size() + a.offers.size(); }
    TimeMs estimated_wait(std::size_t position, std::string_view department) const;

    RoutingSettings settings_;
    std::map<std::string, AgentState, std::less<>> agents_;
    std::map<Key, Waiting> queue_;
    std::unordered_map<std::string, Key> waiting_;  // conv → key
    struct Assignment {
        std::string agent;
        QueueRequest request;  // kept to requeue it as it was
        TimeMs assigned_at = 0;
    };
    std::unordered_map<std::string, Assignment> assigned_;  // conv → who holds it
    double avg_handle_ms_;
    std::vector<RouteEvent> events_;
};

}  // namespace sb::core
