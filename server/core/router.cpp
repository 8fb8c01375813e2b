#include "core/router.hpp"

#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace sb::core {

namespace re = route_event;

std::string_view to_string(Presence p) {
    switch (p) {
        case Presence::online:
            return "online";
        case Presence::away:
            return "away";
        case Presence::offline:
            return "offline";
    }
    return "offline";
}

std::optional<Presence> presence_from(std::string_view s) {
    if (s == "online") return Presence::online;
    if (s == "away") return Presence::away;
    if (s == "offline") return Presence::offline;
    return std::nullopt;
}

std::string_view to_string(Unavailable u) {
    switch (u) {
        case Unavailable::none:
            return "none";
        case Unavailable::no_agents:
            return "no_agents";
        case Unavailable::closed_hours:
            return "closed_hours";
        case Unavailable::queue_full:
            return "queue_full";
    }
    return "none";
}

std::string_view to_string(RouteError e) {
    switch (e) {
        case RouteError::none:
            return "none";
        case RouteError::unknown_agent:
            return "unknown_agent";
        case RouteError::unknown_conversation:
            return "unknown_conversation";
        case RouteError::not_yours:
            return "not_yours";
        case RouteError::no_room:
            return "no_room";
        case RouteError::not_offered:
            return "not_offered";
        case RouteError::nothing_waiting:
            return "nothing_waiting";
        case RouteError::not_eligible:
            return "not_eligible";
        case RouteError::same_agent:
            return "same_agent";
    }
    return "none";
}

TimeMs utc_offset_ms(std::string_view time_zone, TimeMs now) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(
        icu::StringPiece(time_zone.data(), static_cast<int32_t>(time_zone.size())))));
    int32_t raw = 0, dst = 0;
    tz->getOffset(static_cast<UDate>(now), false, raw, dst, status);
    if (U_FAILURE(status)) return 0;
    return static_cast<TimeMs>(raw) + dst;
}

bool is_open(const WeeklyHours& hours, TimeMs now) {
    constexpr TimeMs kDay = 86'400'000;
    TimeMs local = now + utc_offset_ms(hours.time_zone, now);
    TimeMs days = local / kDay - (local % kDay < 0 ? 1 : 0);   // floor
    int weekday = static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    int minute = static_cast<int>((local - days * kDay) / 60'000);
    for (const auto& [open, close] : hours.days[static_cast<std::size_t>(weekday)]) {
        if (minute >= open && minute < close) return true;
    }
    return false;
}

Router::Router(RoutingSettings settings)
    : settings_(std::move(settings)),
      avg_handle_ms_(static_cast<double>(std::max<TimeMs>(1, settings_.default_handle_ms))) {}

// ---- helpers ------------------------------------------------------------------

Router::AgentState* Router::find_agent(std::string_view id) {
    auto it = agents_.find(id);
    return it == agents_.end() ? nullptr : &it->second;
}

const Router::AgentState* Router::find_agent(std::string_view id) const {
    auto it = agents_.find(id);
    return it == agents_.end() ? nullptr : &it->second;
}

int Router::capacity_of(const AgentState& a) const {
    return a.profile.capacity > 0 ? a.profile.capacity : settings_.default_capacity;
}

bool Router::available(const AgentState& a) const {
    return a.presence == Presence::online && a.connections > 0 && a.dropped_at == 0;
}

bool Router::serves(const AgentState& a, std::string_view department) const {
    if (department.empty() || a.profile.departments.empty()) return true;
    return std::find(a.profile.departments.begin(), a.profile.departments.end(), department) !=
           a.profile.departments.end();
}

bool Router::eligible(const AgentState& a, const Waiting& w) const {
    return available(a) && serves(a, w.request.department) &&
           busy(a) < static_cast<std::size_t>(capacity_of(a)) && !w.declined.count(a.profile.id);
}

const Router::AgentState* Router::best_for(const Waiting& w) const {
    const AgentState* fresh = best_for(w, false);
    if (settings_.prefer_last_agent && !w.request.preferred_agent.empty()) {
        const AgentState* p = find_agent(w.request.preferred_agent);
        if (p && eligible(*p, w) && (!fresh || !w.timed_out.count(p->profile.id))) return p;
    }
    if (fresh || w.timed_out.empty()) return fresh;
    return best_for(w, true);
}

const Router::AgentState* Router::best_for(const Waiting& w, bool allow_timed_out) const {
    const AgentState* best = nullptr;
    for (const auto& [id, a] : agents_) {
        if (!eligible(a, w)) continue;
        if (!allow_timed_out && w.timed_out.count(id)) continue;
        if (!best) {
            best = &a;
            continue;
        }
        // Least busy relative to capacity: busy(a)/cap(a) < busy(b)/cap(b).
        auto lhs = static_cast<long long>(busy(a)) * capacity_of(*best);
        auto rhs = static_cast<long long>(busy(*best)) * capacity_of(a);
        if (lhs != rhs) {
            if (lhs < rhs) best = &a;
            continue;
        }
        if (a.last_assigned != best->last_assigned) {
            if (a.last_assigned < best->last_assigned) best = &a;
            continue;
        }
        // Equal on both: agents_ is ordered by id, so the first one stays.
    }
    return best;
}

void Router::push_waiting(Waiting w) {
    Key key{-w.request.priority, w.front ? 0 : 1, w.since, w.request.conv};
    waiting_[w.request.conv] = key;
    queue_.emplace(std::move(key), std::move(w));
}

void Router::assign(const QueueRequest& request, AgentState& a, TimeMs now, std::string previous) {
    a.conversations.insert(request.conv);
    a.last_assigned = now;
    assigned_[request.conv] = Assignment{a.profile.id, request, now};
    events_.push_back(re::Assigned{request.conv, a.profile.id, std::move(previous)});
    events_.push_back(re::AgentChanged{a.profile.id});
    events_.push_back(re::QueueChanged{});
}

void Router::end_offer(Waiting& w, const std::string& reason, bool remember_decline) {
    if (w.offered_to.empty()) return;
    if (AgentState* a = find_agent(w.offered_to)) {
        a->offers.erase(w.request.conv);
        events_.push_back(re::AgentChanged{a->profile.id});
    }
    if (remember_decline) w.declined.insert(w.offered_to);
    if (reason == "timeout") w.timed_out.insert(w.offered_to);
    events_.push_back(re::OfferEnded{w.request.conv, w.offered_to, reason});
    w.offered_to.clear();
    w.offer_deadline = 0;
    events_.push_back(re::QueueChanged{});
}

void Router::withdraw_offers(AgentState& a) {
    auto offers = a.offers;
    for (const auto& conv : offers) {
        auto it = waiting_.find(conv);
        if (it == waiting_.end()) continue;
        end_offer(queue_.at(it->second), "withdrawn", false);
    }
}

void Router::requeue_front(const std::string& conv, std::string reason, TimeMs now,
                           const std::string* department) {
    auto it = assigned_.find(conv);
    if (it == assigned_.end()) return;
    Assignment held = std::move(it->second);
    assigned_.erase(it);
    if (AgentState* a = find_agent(held.agent)) {
        a->conversations.erase(conv);
        events_.push_back(re::AgentChanged{a->profile.id});
    }
    Waiting w;
    w.request = std::move(held.request);
    w.request.preferred_agent.clear();
    if (department) {
        w.request.department = *department;
        w.declined.insert(held.agent);  // a transfer does not come straight back
    }
    w.since = now;
    w.front = true;
    std::string dept = w.request.department;
    push_waiting(std::move(w));
    events_.push_back(re::Requeued{conv, held.agent, std::move(reason), std::move(dept)});
    events_.push_back(re::QueueChanged{});
}

// Serves the queue in order; one pass is enough because room only shrinks
// while it runs.
void Router::run(TimeMs now) {
    if (settings_.mode == AssignMode::manual) return;
    for (auto it = queue_.begin(); it != queue_.end();) {
        Waiting& w = it->second;
        if (!w.offered_to.empty()) {
            ++it;
            continue;
        }
        const AgentState* best = best_for(w);
        if (!best) {
            ++it;
            continue;
        }
        AgentState& a = *find_agent(best->profile.id);
        if (settings_.mode == AssignMode::auto_assign) {
            QueueRequest request = std::move(w.request);
            waiting_.erase(request.conv);
            it = queue_.erase(it);
            assign(request, a, now);
        } else {
            w.offered_to = a.profile.id;
            w.offer_deadline = now + settings_.offer_timeout_ms;
            a.offers.insert(w.request.conv);
            events_.push_back(re::Offered{w.request.conv, a.profile.id, w.offer_deadline});
            events_.push_back(re::AgentChanged{a.profile.id});
            events_.push_back(re::QueueChanged{});
            ++it;
        }
    }
}

// ---- agents ---------------------------------------------------------------------

void Router::agent_connected(const AgentProfile& profile, TimeMs now) {
    auto [it, fresh] = agents_.try_emplace(profile.id);
    AgentState& a = it->second;
    a.profile = profile;
    // A new profile may shrink what the agent can hold: offers it no longer
    // qualifies for go to someone else.
    for (const auto& conv : std::set<std::string>(a.offers)) {
        auto w = waiting_.find(conv);
        if (w == waiting_.end()) continue;
        Waiting& waiting = queue_.at(w->second);
        if (!serves(a, waiting.request.department) ||
            busy(a) > static_cast<std::size_t>(capacity_of(a))) {
            end_offer(waiting, "withdrawn", false);
        }
    }
    if (a.connections++ == 0) {
        a.dropped_at = 0;  // back within the grace: keeps their conversations
        if (fresh || a.presence == Presence::offline) a.presence = Presence::online;
    }
    a.last_activity = now;
    events_.push_back(re::AgentChanged{a.profile.id});
    run(now);
    events_.push_back(re::QueueChanged{});
}

void Router::agent_disconnected(std::string_view agent, TimeMs now) {
    AgentState* a = find_agent(agent);
    if (!a || a->connections == 0) return;
    if (--a->connections > 0) return;
    a->dropped_at = now;
    withdraw_offers(*a);
    events_.push_back(re::AgentChanged{a->profile.id});
    run(now);
}

RouteError Router::set_presence(std::string_view agent, Presence p, TimeMs now) {
    AgentState* a = find_agent(agent);
    if (!a) return RouteError::unknown_agent;
    a->presence = p;
    a->idle = false;
    a->last_activity = now;
    if (p != Presence::online) withdraw_offers(*a);
    events_.push_back(re::AgentChanged{a->profile.id});
    run(now);
    events_.push_back(re::QueueChanged{});
    return RouteError::none;
}

void Router::agent_activity(std::string_view agent, TimeMs now) {
    if (AgentState* a = find_agent(agent)) a->last_activity = now;
}

// ---- conversations ------------------------------------------------------------------

int Router::priority_of(std::string_view department) const {
    auto it = settings_.department_priority.find(std::string(department));
    return it == settings_.department_priority.end() ? 0 : it->second;
}

Unavailable Router::availability(std::string_view department, TimeMs now) const {
    auto hours = settings_.hours.find(std::string(department));
    if (hours == settings_.hours.end()) hours = settings_.hours.find("");
    if (hours != settings_.hours.end() && !is_open(hours->second, now)) {
        return Unavailable::closed_hours;
    }
    bool someone = std::any_of(agents_.begin(), agents_.end(), [&](const auto& kv) {
        return available(kv.second) && serves(kv.second, department);
    });
    if (!someone && !settings_.queue_without_agents) return Unavailable::no_agents;
    std::size_t waiting = std::count_if(queue_.begin(), queue_.end(), [&](const auto& kv) {
        return kv.second.request.department == department;
    });
    if (waiting >= settings_.max_queue) return Unavailable::queue_full;
    return Unavailable::none;
}

void Router::enqueue(const QueueRequest& request, TimeMs now) {
    if (waiting_.count(request.conv) || assigned_.count(request.conv)) return;
    Waiting w;
    w.request = request;
    w.since = request.since > 0 ? request.since : now;
    push_waiting(std::move(w));
    events_.push_back(re::QueueChanged{});
    run(now);
}

void Router::restore(const QueueRequest& conversation, std::string_view agent, TimeMs now) {
    auto [it, fresh] = agents_.try_emplace(std::string(agent));
    AgentState& a = it->second;
    if (fresh) {
        a.profile.id = std::string(agent);
        a.dropped_at = now;  // not connected yet: the grace runs from now
    }
    a.conversations.insert(conversation.conv);
    assigned_[conversation.conv] = Assignment{a.profile.id, conversation, now};
}

bool Router::remove(std::string_view conv, TimeMs now) {
    auto it = waiting_.find(std::string(conv));
    if (it == waiting_.end()) return false;
    auto q = queue_.find(it->second);
    end_offer(q->second, "withdrawn", false);
    queue_.erase(q);
    waiting_.erase(it);
    events_.push_back(re::QueueChanged{});
    run(now);
    return true;
}

void Router::release(std::string_view conv, TimeMs now) {
    auto it = assigned_.find(std::string(conv));
    if (it == assigned_.end()) return;
    double sample = static_cast<double>(std::max<TimeMs>(1, now - it->second.assigned_at));
    avg_handle_ms_ = 0.8 * avg_handle_ms_ + 0.2 * sample;
    if (AgentState* a = find_agent(it->second.agent)) {
        a->conversations.erase(it->first);
        events_.push_back(re::AgentChanged{a->profile.id});
    }
    assigned_.erase(it);
    run(now);
    events_.push_back(re::QueueChanged{});
}

RouteError Router::claim(std::string_view agent, TimeMs now, std::string* conv_out) {
    AgentState* a = find_agent(agent);
    if (!a) return RouteError::unknown_agent;
    // An offer already held counts toward room; claiming it is accepting it.
    for (auto& [key, w] : queue_) {
        if (w.offered_to == a->profile.id) {
            std::string conv = w.request.conv;
            if (conv_out) *conv_out = conv;
            return accept(agent, conv, now);
        }
    }
    if (busy(*a) >= static_cast<std::size_t>(capacity_of(*a))) return RouteError::no_room;
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        Waiting& w = it->second;
        if (!w.offered_to.empty() || !serves(*a, w.request.department)) continue;
        QueueRequest request = std::move(w.request);
        waiting_.erase(request.conv);
        queue_.erase(it);
        if (conv_out) *conv_out = request.conv;
        assign(request, *a, now);
        return RouteError::none;
    }
    return RouteError::nothing_waiting;
}

RouteError Router::accept(std::string_view agent, std::string_view conv, TimeMs now) {
    AgentState* a = find_agent(agent);
    if (!a) return RouteError::unknown_agent;
    auto it = waiting_.find(std::string(conv));
    if (it == waiting_.end()) return RouteError::not_offered;
    auto q = queue_.find(it->second);
    if (q->second.offered_to != a->profile.id) return RouteError::not_offered;
    a->offers.erase(q->second.request.conv);
    QueueRequest request = std::move(q->second.request);
    queue_.erase(q);
    waiting_.erase(it);
    events_.push_back(re::OfferEnded{request.conv, a->profile.id, "accepted"});
    assign(request, *a, now);
    return RouteError::none;
}

RouteError Router::decline(std::string_view agent, std::string_view conv, TimeMs now) {
    AgentState* a = find_agent(agent);
    if (!a) return RouteError::unknown_agent;
    auto it = waiting_.find(std::string(conv));
    if (it == waiting_.end()) return RouteError::not_offered;
    Waiting& w = queue_.at(it->second);
    if (w.offered_to != a->profile.id) return RouteError::not_offered;
    end_offer(w, "declined", true);
    run(now);
    return RouteError::none;
}

RouteError Router::transfer_to_agent(std::string_view conv, std::string_view from,
                                     std::string_view to, TimeMs now) {
    auto it = assigned_.find(std::string(conv));
    if (it == assigned_.end()) return RouteError::unknown_conversation;
    if (it->second.agent != from) return RouteError::not_yours;
    if (from == to) return RouteError::same_agent;
    AgentState* target = find_agent(to);
    if (!target) return RouteError::unknown_agent;
    if (!available(*target)) return RouteError::not_eligible;
    if (busy(*target) >= static_cast<std::size_t>(capacity_of(*target))) return RouteError::no_room;
    if (AgentState* source = find_agent(from)) {
        source->conversations.erase(it->first);
        events_.push_back(re::AgentChanged{source->profile.id});
    }
    QueueRequest request = it->second.request;
    assign(request, *target, now, std::string(from));
    run(now);
    return RouteError::none;
}

RouteError Router::transfer_to_department(std::string_view conv, std::string_view from,
                                          std::string_view department, TimeMs now) {
    auto it = assigned_.find(std::string(conv));
    if (it == assigned_.end()) return RouteError::unknown_conversation;
    if (it->second.agent != from) return RouteError::not_yours;
    std::string dept(department);
    // A department nobody serves would strand the visitor in a queue.
    bool served = std::any_of(agents_.begin(), agents_.end(), [&](const auto& kv) {
        return kv.first != from && serves(kv.second, dept);
    });
    if (!served) return RouteError::not_eligible;
    std::string id = it->first;  // requeue_front erases the entry `it` points at
    requeue_front(id, "transfer", now, &dept);
    run(now);
    return RouteError::none;
}

void Router::tick(TimeMs now) {
    bool changed = false;
    for (auto& [key, w] : queue_) {
        if (!w.offered_to.empty() && w.offer_deadline <= now) {
            end_offer(w, "timeout", false);
            changed = true;
        }
    }
    for (auto& [id, a] : agents_) {
        if (a.dropped_at != 0 && now - a.dropped_at >= settings_.drop_grace_ms) {
            if (!a.conversations.empty()) {
                // Requeued exactly once: the set is empty afterwards.
                auto held = a.conversations;
                for (const auto& conv : held) requeue_front(conv, "agent_dropped", now);
                changed = true;
            }
            if (a.presence != Presence::offline) {
                a.presence = Presence::offline;
                events_.push_back(re::AgentChanged{id});
                changed = true;
            }
        }
        if (settings_.auto_away_ms > 0 && a.presence == Presence::online && a.connections > 0 &&
            now - a.last_activity >= settings_.auto_away_ms) {
            a.presence = Presence::away;
            a.idle = true;
            withdraw_offers(a);
            events_.push_back(re::AgentChanged{id});
            changed = true;
        }
    }
    if (changed) run(now);
}

void Router::reset_conversations() {
    queue_.clear();
    waiting_.clear();
    assigned_.clear();
    for (auto& [id, a] : agents_) {
        a.conversations.clear();
        a.offers.clear();
    }
    events_.clear();
}

std::vector<RouteEvent> Router::take_events() {
    std::vector<RouteEvent> out;
    out.reserve(events_.size());
    bool queue_changed = false;
    for (auto& e : events_) {
        if (std::holds_alternative<re::QueueChanged>(e)) {
            queue_changed = true;
            continue;
        }
        out.push_back(std::move(e));
    }
    if (queue_changed) out.push_back(re::QueueChanged{});
    events_.clear();
    return out;
}

// ---- views ------------------------------------------------------------------------

TimeMs Router::estimated_wait(std::size_t position, std::string_view department) const {
    std::size_t serving = std::count_if(agents_.begin(), agents_.end(), [&](const auto& kv) {
        return available(kv.second) && serves(kv.second, department);
    });
    serving = std::max<std::size_t>(serving, 1);
    double wait = avg_handle_ms_ * static_cast<double>(position) / static_cast<double>(serving);
    return std::max<TimeMs>(1, static_cast<TimeMs>(std::ceil(wait)));
}

std::vector<QueueView> Router::queue(TimeMs) const {
    std::vector<QueueView> out;
    out.reserve(queue_.size());
    std::unordered_map<std::string, std::size_t> positions;
    for (const auto& [key, w] : queue_) {
        QueueView v;
        v.conv = w.request.conv;
        v.department = w.request.department;
        v.visitor_name = w.request.visitor_name;
        v.first_message = w.request.first_message;
        v.priority = w.request.priority;
        v.since = w.since;
        v.position = ++positions[w.request.department];
        v.estimated_wait_ms = estimated_wait(v.position, v.department);
        v.offered_to = w.offered_to;
        v.offer_deadline = w.offer_deadline;
        out.push_back(std::move(v));
    }
    return out;
}

std::optional<QueueView> Router::position(std::string_view conv, TimeMs now) const {
    if (!waiting_.count(std::string(conv))) return std::nullopt;
    for (auto& v : queue(now)) {
        if (v.conv == conv) return v;
    }
    return std::nullopt;
}

std::vector<AgentView> Router::agents() const {
    std::vector<AgentView> out;
    for (const auto& [id, a] : agents_) out.push_back(*agent(id));
    return out;
}

std::optional<AgentView> Router::agent(std::string_view id) const {
    const AgentState* a = find_agent(id);
    if (!a) return std::nullopt;
    AgentView v;
    v.id = a->profile.id;
    v.name = a->profile.name;
    v.presence = a->presence;
    v.connected = a->connections > 0;
    v.idle = a->idle;
    v.dropped_at = a->dropped_at;
    v.capacity = capacity_of(*a);
    v.load = a->conversations.size();
    v.offered = a->offers.size();
    v.last_assigned = a->last_assigned;
    v.departments = a->profile.departments;
    v.conversations.assign(a->conversations.begin(), a->conversations.end());
    return v;
}

std::optional<std::string> Router::owner(std::string_view conv) const {
    auto it = assigned_.find(std::string(conv));
    if (it == assigned_.end()) return std::nullopt;
    return it->second.agent;
}

bool Router::is_waiting(std::string_view conv) const {
    return waiting_.count(std::string(conv)) > 0;
}

}  // namespace sb::core
