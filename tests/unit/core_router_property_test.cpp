// Property test for the Router (core/router.hpp): seeded random sequences of
// agent, visitor and timer events, in auto and offer mode. After every event
// the rules are checked from the public views and the events alone.
//
// A failure names the mode, the seed, the step and the steps before it.
// Replay one seed, printing every step:
//   SB_ROUTER_SEED=<seed> ./core_tests -tc='router property*'
// More sequences per mode: SB_ROUTER_SEQUENCES=<n>.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "core/router.hpp"

namespace {

using namespace sb::core;
namespace re = route_event;

constexpr std::uint32_t kSequences = 150;  // per mode; SB_ROUTER_SEQUENCES for a soak
constexpr int kSteps = 200;
constexpr std::size_t kMaxWaiting = 16;  // past this, arrivals turn into departures
constexpr std::size_t kTraceLines = 30;
constexpr TimeMs kStart = 1'700'000'000'000;

const std::vector<std::string> kAgentIds = {"a0", "a1", "a2", "a3", "a4"};
const std::vector<std::string> kDepartments = {"", "sales", "support", "billing"};

bool serves(const std::vector<std::string>& departments, const std::string& department) {
    return department.empty() || departments.empty() ||
           std::find(departments.begin(), departments.end(), department) != departments.end();
}

bool available(const AgentView& a) {
    return a.presence == Presence::online && a.connected && a.dropped_at == 0;
}

long busy(const AgentView& a) {
    return static_cast<long>(a.load + a.offered);
}

// Where the replayed events and the views part.
std::string diff(const std::map<std::string, std::string>& events,
                 const std::map<std::string, std::string>& views) {
    for (const auto* m : {&events, &views}) {
        for (const auto& [conv, x] : *m) {
            auto e = events.find(conv);
            auto v = views.find(conv);
            std::string se = e == events.end() ? "-" : e->second;
            std::string sv = v == views.end() ? "-" : v->second;
            if (se != sv) return " " + conv + ": events say " + se + ", views say " + sv;
        }
    }
    return "";
}

std::string diff(const std::set<std::string>& events, const std::set<std::string>& views) {
    for (const auto& c : events) {
        if (!views.count(c)) return " " + c + " waits by the events, not by the views";
    }
    for (const auto& c : views) {
        if (!events.count(c)) return " " + c + " waits by the views, not by the events";
    }
    return "";
}

std::string show(const RouteEvent& e) {
    if (const auto* a = std::get_if<re::Assigned>(&e)) {
        return "Assigned(" + a->conv + "," + a->agent +
               (a->previous_agent.empty() ? "" : ",from " + a->previous_agent) + ")";
    }
    if (const auto* o = std::get_if<re::Offered>(&e))
        return "Offered(" + o->conv + "," + o->agent + ")";
    if (const auto* x = std::get_if<re::OfferEnded>(&e)) {
        return "OfferEnded(" + x->conv + "," + x->agent + "," + x->reason + ")";
    }
    if (const auto* q = std::get_if<re::Requeued>(&e)) {
        return "Requeued(" + q->conv + "," + q->previous_agent + "," + q->reason + ")";
    }
    if (const auto* c = std::get_if<re::AgentChanged>(&e)) return "AgentChanged(" + c->agent + ")";
    return "QueueChanged";
}

// What the test knows about a conversation, from its own calls and the events.
struct ConvInfo {
    std::string department;
    int priority = 0;
    std::string preferred;
    bool assigned_once = false;
    bool front = false;  // requeued (drop, transfer) and not assigned since
    // About the current stay in the queue:
    std::set<std::string> declined;
    std::set<std::string> timed_out;
    std::set<std::string> transferred_from;  // the agent who sent it back to a department
    TimeMs offer_deadline = 0;

    void new_stay() {
        declined.clear();
        timed_out.clear();
        transferred_from.clear();
        offer_deadline = 0;
    }
    // Never offered or assigned to this agent during this stay. (An agent who
    // let it time out is still a fallback when nobody else is eligible.)
    bool excludes(const std::string& agent) const {
        return declined.count(agent) || transferred_from.count(agent);
    }
};

struct Snapshot {
    std::map<std::string, AgentView> agents;
    std::vector<QueueView> queue;
    std::map<std::string, std::string> owner;  // from the agents' conversation lists
    std::map<std::string, std::string> offer;  // waiting conv → agent holding the offer
    std::set<std::string> waiting;
};

enum class Kind {
    connect,
    disconnect,
    presence,
    activity,
    enqueue,
    remove,
    release,
    transfer_agent,
    transfer_department,
    claim,
    accept,
    decline,
    tick,
};

struct Call {
    Kind kind = Kind::tick;
    std::string agent;   // who acts (transfer: from)
    std::string conv;    // claim: the conversation claimed
    std::string target;  // transfer: the agent or the department
    RouteError result = RouteError::none;
    bool removed = false;
    std::string text;
};

using Key = std::tuple<int, int, TimeMs, std::string_view>;  // service order

class Sequence {
  public:
    Sequence(AssignMode mode, std::uint32_t seed, bool verbose)
        : rng_(seed), verbose_(verbose), settings_(settings_for(mode, seed)), router_(settings_) {}

    // "" when every step kept every rule; otherwise what broke, where.
    std::string run() {
        Snapshot before = snapshot();
        for (step_ = 0; step_ < kSteps; ++step_) {
            Call call = act(before);
            auto events = router_.take_events();
            Snapshot after = snapshot();
            std::string err = check_call(before, call, after);
            if (err.empty()) err = check_events(before, call, events, after);
            if (err.empty()) err = check_state(before, call, after);
            if (err.empty()) err = check_presence(before, call, after);
            if (err.empty()) err = check_availability(after);
            record(call, events);
            if (!err.empty()) return report(err);
            note_activity(call);
            before = std::move(after);
        }
        return "";
    }

    // Rule breaks that do not stop the sequence (first of each, with context).
    const std::map<std::string, std::string>& soft() const { return soft_; }

  private:
    static RoutingSettings settings_for(AssignMode mode, std::uint32_t seed) {
        std::mt19937 rng(seed ^ 0x5bd1e995u);
        RoutingSettings s;
        s.mode = mode;
        s.default_capacity = 1 + static_cast<int>(rng() % 3);
        s.offer_timeout_ms = 30'000;
        s.drop_grace_ms = 60'000;
        s.auto_away_ms = rng() % 2 ? 15 * 60'000 : 0;
        s.prefer_last_agent = rng() % 2;
        s.max_queue = 3 + rng() % 6;
        s.queue_without_agents = rng() % 4 == 0;
        s.default_handle_ms = rng() % 2 ? 5 * 60'000 : 1'000;
        return s;
    }

    // ---- randomness (portable: only mt19937's output is used) ----
    int uniform(int lo, int hi) {
        return lo + static_cast<int>(rng_() % static_cast<std::uint32_t>(hi - lo + 1));
    }
    bool chance(int percent) { return uniform(1, 100) <= percent; }
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[static_cast<std::size_t>(uniform(0, static_cast<int>(v.size()) - 1))];
    }

    Snapshot snapshot() const {
        Snapshot s;
        for (auto& a : router_.agents()) {
            for (const auto& c : a.conversations) s.owner.emplace(c, a.id);
            s.agents.emplace(a.id, a);
        }
        s.queue = router_.queue(now_);
        for (const auto& q : s.queue) {
            s.waiting.insert(q.conv);
            if (!q.offered_to.empty()) s.offer.emplace(q.conv, q.offered_to);
        }
        return s;
    }

    // ---- the random event ----
    Call act(const Snapshot& before) {
        now_ += chance(25) ? 0 : uniform(1, 3'000);
        const bool offer = settings_.mode == AssignMode::offer;
        const std::vector<std::pair<Kind, int>> weights = {
            {Kind::connect, 8},
            {Kind::disconnect, 6},
            {Kind::presence, 7},
            {Kind::activity, 3},
            {Kind::enqueue, 16},
            {Kind::remove, 4},
            {Kind::release, 9},
            {Kind::transfer_agent, 6},
            {Kind::transfer_department, 5},
            {Kind::claim, 4},
            {Kind::accept, offer ? 10 : 1},
            {Kind::decline, offer ? 6 : 1},
            {Kind::tick, 10},
        };
        int total = 0;
        for (const auto& w : weights) total += w.second;
        int r = uniform(1, total);
        Kind kind = Kind::tick;
        for (const auto& w : weights) {
            if ((r -= w.second) <= 0) {
                kind = w.first;
                break;
            }
        }

        std::vector<std::string> owned;
        for (const auto& [c, a] : before.owner) owned.push_back(c);
        std::vector<std::string> waiting(before.waiting.begin(), before.waiting.end());
        std::vector<std::string> connected;
        for (const auto& [a, n] : conns_) {
            if (n > 0) connected.push_back(a);
        }
        if (kind == Kind::enqueue && waiting.size() >= kMaxWaiting) kind = Kind::remove;
        if (kind == Kind::disconnect && connected.empty()) kind = Kind::connect;
        if ((kind == Kind::release || kind == Kind::transfer_agent ||
             kind == Kind::transfer_department) &&
            owned.empty()) {
            kind = Kind::tick;
        }

        Call c;
        c.kind = kind;
        switch (kind) {
            case Kind::connect: {
                c.agent = pick(kAgentIds);
                auto known = profiles_.find(c.agent);
                AgentProfile p = known != profiles_.end() && chance(70) ? known->second
                                                                        : random_profile(c.agent);
                router_.agent_connected(p, now_);
                profiles_[c.agent] = p;
                ++conns_[c.agent];
                dropped_since_.erase(c.agent);
                c.text = "connect " + c.agent + " cap=" + std::to_string(p.capacity) + " deps=";
                for (const auto& d : p.departments) c.text += d + "/";
                break;
            }
            case Kind::disconnect: {
                c.agent = pick(connected);
                if (--conns_[c.agent] == 0) dropped_since_[c.agent] = now_;
                router_.agent_disconnected(c.agent, now_);
                c.text = "disconnect " + c.agent;
                break;
            }
            case Kind::presence: {
                c.agent = pick(kAgentIds);
                int p = uniform(0, 9);
                Presence to = p < 6 ? Presence::online : p < 8 ? Presence::away : Presence::offline;
                c.result = router_.set_presence(c.agent, to, now_);
                c.text = "presence " + c.agent + " " + std::string(to_string(to));
                break;
            }
            case Kind::activity: {
                c.agent = pick(kAgentIds);
                router_.agent_activity(c.agent, now_);
                c.text = "activity " + c.agent;
                break;
            }
            case Kind::enqueue: {
                char id[16];
                std::snprintf(id, sizeof id, "c%04d", next_conv_++);
                QueueRequest q;
                q.conv = id;
                q.department = pick(kDepartments);
                const int prio[] = {0, 0, 0, 1, 2};
                q.priority = prio[uniform(0, 4)];
                q.preferred_agent = chance(30) ? pick(kAgentIds) : "";
                q.visitor_name = "v" + q.conv;
                q.first_message = "hi";
                ConvInfo info;
                info.department = q.department;
                info.priority = q.priority;
                info.preferred = q.preferred_agent;
                convs_[q.conv] = info;
                router_.enqueue(q, now_);
                c.conv = q.conv;
                c.text = "enqueue " + q.conv + " dep=" + q.department +
                         " prio=" + std::to_string(q.priority) + " pref=" + q.preferred_agent;
                break;
            }
            case Kind::remove: {
                if (!waiting.empty() && chance(85)) {
                    c.conv = pick(waiting);
                } else {
                    c.conv = !owned.empty() && chance(50) ? pick(owned) : "zz-unknown";
                }
                c.removed = router_.remove(c.conv, now_);
                c.text = "remove " + c.conv + (c.removed ? " -> true" : " -> false");
                break;
            }
            case Kind::release: {
                c.conv = pick(owned);
                c.agent = before.owner.at(c.conv);
                router_.release(c.conv, now_);
                c.text = "release " + c.conv + " (of " + c.agent + ")";
                break;
            }
            case Kind::transfer_agent: {
                c.conv = pick(owned);
                c.agent = chance(85) ? before.owner.at(c.conv) : pick(kAgentIds);
                c.target = pick(kAgentIds);
                c.result = router_.transfer_to_agent(c.conv, c.agent, c.target, now_);
                c.text = "transfer " + c.conv + " " + c.agent + " -> " + c.target;
                break;
            }
            case Kind::transfer_department: {
                c.conv = pick(owned);
                c.agent = chance(85) ? before.owner.at(c.conv) : pick(kAgentIds);
                c.target = pick(kDepartments);
                c.result = router_.transfer_to_department(c.conv, c.agent, c.target, now_);
                c.text = "transfer " + c.conv + " " + c.agent + " -> dep '" + c.target + "'";
                break;
            }
            case Kind::claim: {
                c.agent = pick(kAgentIds);
                c.result = router_.claim(c.agent, now_, &c.conv);
                c.text = "claim " + c.agent + " -> '" + c.conv + "'";
                break;
            }
            case Kind::accept:
            case Kind::decline: {
                std::vector<std::string> offered;
                for (const auto& [conv, a] : before.offer) offered.push_back(conv);
                if (!offered.empty() && chance(90)) {
                    c.conv = pick(offered);
                    c.agent = chance(80) ? before.offer.at(c.conv) : pick(kAgentIds);
                } else {
                    c.conv = !waiting.empty() ? pick(waiting) : "zz-unknown";
                    c.agent = pick(kAgentIds);
                }
                c.result = kind == Kind::accept ? router_.accept(c.agent, c.conv, now_)
                                                : router_.decline(c.agent, c.conv, now_);
                c.text = std::string(kind == Kind::accept ? "accept " : "decline ") + c.agent +
                         " " + c.conv;
                break;
            }
            case Kind::tick: {
                int r2 = uniform(0, 9);
                TimeMs jump = r2 < 5   ? uniform(0, 5'000)
                              : r2 < 7 ? settings_.offer_timeout_ms + uniform(1, 5'000)
                              : r2 < 9 ? settings_.drop_grace_ms + uniform(1, 5'000)
                                       : std::max(settings_.auto_away_ms, settings_.drop_grace_ms) +
                                             uniform(1, 5'000);
                now_ += jump;
                router_.tick(now_);
                c.text = "tick +" + std::to_string(jump);
                break;
            }
        }
        if (kind == Kind::presence || kind == Kind::transfer_agent ||
            kind == Kind::transfer_department || kind == Kind::claim || kind == Kind::accept ||
            kind == Kind::decline) {
            c.text += " = " + std::string(to_string(c.result));
        }
        return c;
    }

    AgentProfile random_profile(const std::string& id) {
        AgentProfile p;
        p.id = id;
        p.name = "Agent " + id;
        p.capacity = uniform(0, 4);
        int d = uniform(0, 9);
        const std::vector<std::string> named = {"sales", "support", "billing"};
        if (d >= 4) p.departments.push_back(pick(named));
        if (d >= 8) {
            std::string second = pick(named);
            if (second != p.departments[0]) p.departments.push_back(second);
        }
        return p;
    }

    // ---- checks ----
    const ConvInfo& info(const std::string& conv) {
        static const ConvInfo none;
        auto it = convs_.find(conv);
        return it == convs_.end() ? none : it->second;
    }

    static bool same_but_id(const Key& a, const Key& b) {
        return std::get<0>(a) == std::get<0>(b) && std::get<1>(a) == std::get<1>(b) &&
               std::get<2>(a) == std::get<2>(b);
    }

    Key key(const QueueView& q) {
        return {-q.priority, info(q.conv).front ? 0 : 1, q.since, q.conv};
    }

    // Strictly eligible: the header's definition, also excluding any agent the
    // conversation timed out on or was transferred away from.
    bool strictly_eligible(const AgentView& a, const std::string& conv) {
        const ConvInfo& i = info(conv);
        return available(a) && serves(a.departments, i.department) && busy(a) < a.capacity &&
               !i.excludes(a.id);
    }

    // The call's own result, from the state before it.
    std::string check_call(const Snapshot& before, const Call& c, const Snapshot& after) {
        auto agent_before = before.agents.find(c.agent);
        const bool known = agent_before != before.agents.end();
        switch (c.kind) {
            case Kind::presence: {
                RouteError want = known ? RouteError::none : RouteError::unknown_agent;
                if (c.result != want)
                    return "[presence-result] want " + std::string(to_string(want));
                break;
            }
            case Kind::remove:
                if (c.removed != (before.waiting.count(c.conv) > 0)) {
                    return "[remove-result] remove() of a " +
                           std::string(before.waiting.count(c.conv) ? "waiting" : "non-waiting") +
                           " conversation returned " + (c.removed ? "true" : "false");
                }
                break;
            case Kind::transfer_agent: {
                std::set<RouteError> errors;
                if (before.owner.at(c.conv) != c.agent) errors.insert(RouteError::not_yours);
                if (c.agent == c.target) errors.insert(RouteError::same_agent);
                auto to = before.agents.find(c.target);
                if (to == before.agents.end()) {
                    errors.insert(RouteError::unknown_agent);
                } else {
                    if (!available(to->second)) errors.insert(RouteError::not_eligible);
                    if (busy(to->second) >= to->second.capacity) errors.insert(RouteError::no_room);
                }
                if (errors.empty() ? c.result != RouteError::none : !errors.count(c.result)) {
                    std::string want;
                    for (auto e : errors) want += std::string(to_string(e)) + " ";
                    return "[transfer-result] want " + (want.empty() ? "none" : want);
                }
                break;
            }
            case Kind::transfer_department: {
                RouteError want =
                    before.owner.at(c.conv) != c.agent ? RouteError::not_yours : RouteError::none;
                // The router may refuse a department no one else could serve now.
                bool someone_else = false;
                for (const auto& [id, a] : before.agents) {
                    if (id != c.agent && available(a) && serves(a.departments, c.target)) {
                        someone_else = true;
                    }
                }
                if (c.result != want && !(want == RouteError::none && !someone_else &&
                                          c.result == RouteError::not_eligible)) {
                    return "[transfer-dep-result] want " + std::string(to_string(want));
                }
                break;
            }
            case Kind::claim: {
                if (!known) {
                    if (c.result != RouteError::unknown_agent)
                        return "[claim-result] unknown agent";
                    break;
                }
                const AgentView& a = agent_before->second;
                // First waiting conversation this agent may take, strictly read.
                std::string first;
                for (const auto& q : before.queue) {
                    if (q.offered_to.empty() && strictly_eligible(a, q.conv)) {
                        first = q.conv;
                        break;
                    }
                }
                if (c.result == RouteError::none) {
                    if (!before.waiting.count(c.conv))
                        return "[claim-not-waiting] claimed a non-waiting conv";
                    auto o = after.owner.find(c.conv);
                    if (o == after.owner.end() || o->second != c.agent) {
                        return "[claim-owner] claimed conversation not owned by the claimer";
                    }
                    if (!serves(a.departments, info(c.conv).department)) {
                        return "[claim-department] claimed outside the agent's departments";
                    }
                    auto held = before.offer.find(c.conv);
                    bool own_offer = held != before.offer.end() && held->second == c.agent;
                    if (!own_offer && busy(a) >= a.capacity)
                        return "[claim-room] claimed without room";
                    for (const auto& q : before.queue) {
                        if (q.conv == c.conv) break;
                        if (q.conv == first)
                            return "[claim-order] skipped " + first + ", ahead of it";
                    }
                } else if (c.result == RouteError::no_room) {
                    if (busy(a) < a.capacity) return "[claim-no-room] no_room with room";
                } else if (c.result == RouteError::nothing_waiting) {
                    if (!first.empty())
                        return "[claim-nothing-waiting] nothing_waiting, yet " + first + " was";
                } else {
                    return "[claim-result] unexpected";
                }
                break;
            }
            case Kind::accept:
            case Kind::decline: {
                auto held = before.offer.find(c.conv);
                bool offered_to_them = held != before.offer.end() && held->second == c.agent;
                if (offered_to_them ? c.result != RouteError::none
                                    : c.result != RouteError::not_offered &&
                                          c.result != RouteError::unknown_agent &&
                                          c.result != RouteError::unknown_conversation) {
                    return "[answer-result] offered to them: " +
                           std::string(offered_to_them ? "yes" : "no");
                }
                if (!known && c.result == RouteError::none) return "[answer-result] unknown agent";
                break;
            }
            default:
                break;
        }
        return "";
    }

    // Replays the events over the state before the call: every change must be
    // announced, and every announcement must follow the rules.
    std::string check_events(const Snapshot& before, const Call& c,
                             const std::vector<RouteEvent>& events, const Snapshot& after) {
        const bool offer_mode = settings_.mode == AssignMode::offer;
        auto owner = before.owner;
        auto waiting = before.waiting;
        auto offer = before.offer;
        std::map<std::string, long> load;    // assigned + offered, as the events go
        std::map<std::string, TimeMs> last;  // last assignment, as the events go
        for (const auto& [id, a] : after.agents) {
            auto b = before.agents.find(id);
            load[id] = b == before.agents.end() ? 0 : busy(b->second);
            last[id] = b == before.agents.end() ? 0 : b->second.last_assigned;
        }
        std::map<std::string, TimeMs> since;  // waiting before the call
        for (const auto& q : before.queue) since[q.conv] = q.since;

        if (c.kind == Kind::enqueue) waiting.insert(c.conv);
        if (c.kind == Kind::release) {
            owner.erase(c.conv);
            --load[c.agent];
        }
        if (c.kind == Kind::remove && c.removed) waiting.erase(c.conv);

        std::set<std::string> changed_agents;
        bool queue_changed = false;
        std::map<std::string, std::size_t> requeued_at;  // conv → event index
        struct Served {
            std::string conv, agent;
            Key key;
            std::size_t index;
        };
        std::vector<Served> served;  // chosen by the rules (not claims, accepts, transfers)

        // The agent the rules pick for a conversation, as the events stand:
        // the previous agent when eligible and preferred, else the least busy
        // (conversations + offers over capacity), then idle longest, then id.
        auto check_choice = [&](const ConvInfo& ci, const std::string& chosen,
                                const std::string& at) -> std::string {
            std::vector<std::string> candidates;
            for (const auto& [id, av] : after.agents) {
                if (available(av) && serves(av.departments, ci.department) &&
                    load[id] < av.capacity && !ci.excludes(id)) {
                    candidates.push_back(id);
                }
            }
            // Agents it timed out on come last: only when nobody else is eligible.
            bool fresh_exists =
                std::any_of(candidates.begin(), candidates.end(),
                            [&](const std::string& id) { return !ci.timed_out.count(id); });
            if (fresh_exists && ci.timed_out.count(chosen)) return "[reoffered-after-timeout]" + at;
            if (fresh_exists) {
                candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                                [&](const std::string& id) {
                                                    return ci.timed_out.count(id) > 0;
                                                }),
                                 candidates.end());
            }
            auto is_candidate = [&](const std::string& id) {
                return std::find(candidates.begin(), candidates.end(), id) != candidates.end();
            };
            if (!is_candidate(chosen)) {
                if (ci.declined.count(chosen)) return "[reoffered-to-decliner]" + at;
                if (ci.transferred_from.count(chosen)) return "[straight-back]" + at;
                return "[chose-ineligible]" + at;
            }
            std::string best;
            for (const auto& id : candidates) {
                if (best.empty()) {
                    best = id;
                    continue;
                }
                long lhs = load[id] * after.agents.at(best).capacity;
                long rhs = load[best] * after.agents.at(id).capacity;
                if (lhs != rhs) {
                    if (lhs < rhs) best = id;
                } else if (last[id] < last[best]) {
                    best = id;
                }
            }
            const bool prefer =
                settings_.prefer_last_agent && !ci.preferred.empty() && is_candidate(ci.preferred);
            if (prefer && !ci.assigned_once && chosen != ci.preferred) {
                return "[preferred] eligible previous agent " + ci.preferred + " passed over" + at;
            }
            if (!(prefer && chosen == ci.preferred) && chosen != best) {
                return "[least-busy] want " + best + at;
            }
            return "";
        };

        for (std::size_t i = 0; i < events.size(); ++i) {
            const RouteEvent& e = events[i];
            const std::string at = " (event " + std::to_string(i) + ": " + show(e) + ")";
            if (const auto* a = std::get_if<re::Assigned>(&e)) {
                ConvInfo& ci = convs_[a->conv];
                auto agent = after.agents.find(a->agent);
                if (agent == after.agents.end()) return "[assigned-unknown-agent]" + at;
                if (!a->previous_agent.empty()) {
                    if (c.kind != Kind::transfer_agent || c.conv != a->conv) {
                        return "[assigned-previous] previous_agent set outside a transfer" + at;
                    }
                    auto o = owner.find(a->conv);
                    if (o == owner.end() || o->second != a->previous_agent) {
                        return "[assigned-previous] not held by previous_agent" + at;
                    }
                    --load[a->previous_agent];
                } else {
                    if (!waiting.count(a->conv)) return "[assigned-not-waiting]" + at;
                    const bool answer =
                        (c.kind == Kind::accept || c.kind == Kind::claim) && c.agent == a->agent;
                    if (settings_.mode != AssignMode::auto_assign && !answer) {
                        return "[assigned-without-accept] assigned on its own in this mode" + at;
                    }
                    auto held = offer.find(a->conv);
                    if (held != offer.end()) {
                        if (held->second != a->agent) {
                            return "[assigned-over-offer] offered to " + held->second +
                                   ", no OfferEnded" + at;
                        }
                        --load[held->second];
                        offer.erase(held);
                    }
                    if (!answer) {
                        if (auto err = check_choice(ci, a->agent, at); !err.empty()) return err;
                        auto s = since.find(a->conv);
                        served.push_back({a->conv, a->agent,
                                          Key{-ci.priority, ci.front ? 0 : 1,
                                              s == since.end() ? now_ : s->second, a->conv},
                                          i});
                    }
                    waiting.erase(a->conv);
                }
                owner[a->conv] = a->agent;
                ++load[a->agent];
                last[a->agent] = now_;
                ci.assigned_once = true;
                ci.front = false;
                ci.new_stay();
            } else if (const auto* o = std::get_if<re::Offered>(&e)) {
                ConvInfo& ci = convs_[o->conv];
                if (!offer_mode) return "[offered-outside-offer-mode]" + at;
                if (!waiting.count(o->conv)) return "[offered-not-waiting]" + at;
                if (offer.count(o->conv)) return "[two-offers] already offered" + at;
                if (o->deadline != now_ + settings_.offer_timeout_ms)
                    return "[offer-deadline]" + at;
                if (auto err = check_choice(ci, o->agent, at); !err.empty()) return err;
                auto s = since.find(o->conv);
                served.push_back({o->conv, o->agent,
                                  Key{-ci.priority, ci.front ? 0 : 1,
                                      s == since.end() ? now_ : s->second, o->conv},
                                  i});
                offer[o->conv] = o->agent;
                ++load[o->agent];
                ci.offer_deadline = o->deadline;
            } else if (const auto* x = std::get_if<re::OfferEnded>(&e)) {
                ConvInfo& ci = convs_[x->conv];
                auto held = offer.find(x->conv);
                if (held == offer.end() || held->second != x->agent) {
                    return "[offer-ended-not-held]" + at;
                }
                if (x->reason == "declined") {
                    if (c.kind != Kind::decline || c.agent != x->agent || c.conv != x->conv) {
                        return "[offer-ended-declined] without that decline" + at;
                    }
                    ci.declined.insert(x->agent);
                } else if (x->reason == "timeout") {
                    if (c.kind != Kind::tick) return "[offer-ended-timeout] outside a tick" + at;
                    if (now_ < ci.offer_deadline) return "[offer-ended-timeout] too early" + at;
                    ci.timed_out.insert(x->agent);
                } else if (x->reason == "accepted") {  // not in the header (yet)
                    if ((c.kind != Kind::accept && c.kind != Kind::claim) || c.agent != x->agent) {
                        return "[offer-ended-accepted] without that agent answering" + at;
                    }
                } else if (x->reason != "withdrawn") {
                    return "[offer-ended-reason]" + at;
                }
                offer.erase(held);
                --load[x->agent];
            } else if (const auto* q = std::get_if<re::Requeued>(&e)) {
                ConvInfo& ci = convs_[q->conv];
                auto o = owner.find(q->conv);
                if (o == owner.end() || o->second != q->previous_agent) {
                    return "[requeued-not-held] not held by previous_agent" + at;
                }
                if (q->reason == "agent_dropped") {
                    if (c.kind != Kind::tick) return "[requeued-dropped] outside a tick" + at;
                    auto d = dropped_since_.find(q->previous_agent);
                    if (conns_[q->previous_agent] > 0 || d == dropped_since_.end()) {
                        return "[requeued-dropped] agent is connected" + at;
                    }
                    if (now_ - d->second < settings_.drop_grace_ms) {
                        return "[requeued-dropped] within the grace (dropped " +
                               std::to_string(now_ - d->second) + " ms ago)" + at;
                    }
                    ci.new_stay();
                } else if (q->reason == "transfer") {
                    if (c.kind != Kind::transfer_department || c.conv != q->conv ||
                        c.agent != q->previous_agent) {
                        return "[requeued-transfer] without that transfer" + at;
                    }
                    ci.new_stay();
                    ci.transferred_from.insert(q->previous_agent);
                    ci.department = c.target;
                } else {
                    return "[requeued-reason]" + at;
                }
                owner.erase(o);
                --load[q->previous_agent];
                waiting.insert(q->conv);
                ci.front = true;
                requeued_at[q->conv] = i;
            } else if (const auto* ch = std::get_if<re::AgentChanged>(&e)) {
                changed_agents.insert(ch->agent);
            } else {
                queue_changed = true;
            }
        }

        // The replay must land on the state the views show.
        if (owner != after.owner) return "[unannounced-owner]" + diff(owner, after.owner);
        if (waiting != after.waiting) return "[unannounced-queue]" + diff(waiting, after.waiting);
        if (offer != after.offer) return "[unannounced-offer]" + diff(offer, after.offer);
        for (const auto& [id, a] : after.agents) {
            auto b = before.agents.find(id);
            if ((b == before.agents.end() || b->second.presence != a.presence ||
                 b->second.load != a.load) &&
                !changed_agents.count(id)) {
                return "[agent-changed-missing] " + id + " changed presence or load";
            }
        }
        auto same = [](const QueueView& x, const QueueView& y) {
            return x.conv == y.conv && x.position == y.position && x.department == y.department &&
                   x.offered_to == y.offered_to;
        };
        if (!queue_changed && !std::equal(before.queue.begin(), before.queue.end(),
                                          after.queue.begin(), after.queue.end(), same)) {
            return "[queue-changed-missing]";
        }

        // Served in order: nobody still waiting was ahead of a conversation
        // just given to an agent who could have taken it.
        for (const auto& s : served) {
            for (const auto& q : after.queue) {
                if (!q.offered_to.empty()) continue;
                auto r = requeued_at.find(q.conv);
                if (r != requeued_at.end() && r->second > s.index) continue;
                const ConvInfo& qi = info(q.conv);
                if (key(q) < s.key && serves(after.agents.at(s.agent).departments, qi.department) &&
                    !qi.excludes(s.agent)) {
                    std::string what = s.conv + " went to " + s.agent + " while " + q.conv +
                                       ", ahead of it, waits";
                    if (!same_but_id(key(q), s.key)) return "[served-out-of-order] " + what;
                    soft("[order-id-tie] " + what + " (queued at the same instant)");
                }
            }
        }
        return "";
    }

    std::string check_state(const Snapshot& before, const Call& c, const Snapshot& after) {
        const bool auto_mode = settings_.mode == AssignMode::auto_assign;
        const bool offer_mode = settings_.mode == AssignMode::offer;

        // Agents: capacity, connection, drop.
        for (const auto& [id, a] : after.agents) {
            if (a.load != a.conversations.size()) return "[load] " + id + " load != conversations";
            auto p = profiles_.find(id);
            if (p != profiles_.end()) {
                int want = p->second.capacity > 0 ? p->second.capacity : settings_.default_capacity;
                if (a.capacity != want) {
                    return "[capacity-view] " + id + " shows " + std::to_string(a.capacity) +
                           ", profile says " + std::to_string(want);
                }
            }
            if (busy(a) > a.capacity) {
                auto b = before.agents.find(id);
                long was = b == before.agents.end() ? 0 : busy(b->second);
                bool lowered = (c.kind == Kind::connect && c.agent == id) || over_ok_.count(id);
                if (!lowered || busy(a) > was) {
                    return "[over-capacity] " + id + " holds " + std::to_string(a.load) + "+" +
                           std::to_string(a.offered) + " with capacity " +
                           std::to_string(a.capacity);
                }
                over_ok_.insert(id);  // a new profile lowered it; must only go down
            } else {
                over_ok_.erase(id);
            }
            const int n = conns_[id];
            if (a.connected != (n > 0)) return "[connected] " + id + " view disagrees";
            if (n > 0 && a.dropped_at != 0) return "[dropped-while-connected] " + id;
            auto d = dropped_since_.find(id);
            if (n == 0 && d != dropped_since_.end()) {
                if (a.dropped_at != d->second) return "[dropped-at] " + id;
                if (c.kind == Kind::tick && now_ - d->second > settings_.drop_grace_ms &&
                    !a.conversations.empty()) {
                    return "[drop-grace-expired] " + id + " still holds " + a.conversations[0];
                }
            }
        }
        for (const auto& [id, n] : conns_) {
            if (!after.agents.count(id)) return "[agent-missing] " + id;
        }

        // Ownership: one owner, never both owned and waiting.
        std::map<std::string, std::string> seen;
        for (const auto& [id, a] : after.agents) {
            for (const auto& conv : a.conversations) {
                if (!seen.emplace(conv, id).second) {
                    return "[double-assigned] " + conv + " held by " + seen[conv] + " and " + id;
                }
                if (after.waiting.count(conv)) return "[owned-and-waiting] " + conv;
            }
        }
        // owner() and is_waiting() against agents() and queue().
        std::vector<std::string> in_play(after.waiting.begin(), after.waiting.end());
        for (const auto& [conv, a] : after.owner) in_play.push_back(conv);
        if (!c.conv.empty()) in_play.push_back(c.conv);  // released, removed, claimed
        for (const auto& conv : in_play) {
            auto o = router_.owner(conv);
            auto s = seen.find(conv);
            if (o.has_value() != (s != seen.end()) || (o && *o != s->second)) {
                return "[owner-mismatch] " + conv + " owner() disagrees with agents()";
            }
            if (router_.is_waiting(conv) != (after.waiting.count(conv) > 0)) {
                return "[waiting-mismatch] " + conv;
            }
        }
        if (after.waiting.size() != after.queue.size()) return "[queue-duplicates]";
        if (router_.waiting_count() != after.queue.size()) return "[waiting-count]";

        // Nobody waits while an eligible agent has room.
        std::map<std::string, std::size_t> offers;
        for (const auto& q : after.queue) {
            const ConvInfo& qi = info(q.conv);
            if (!q.offered_to.empty()) {
                ++offers[q.offered_to];
                if (!after.agents.count(q.offered_to)) return "[offer-unknown-agent] " + q.conv;
                if (qi.declined.count(q.offered_to)) {
                    return "[offer-to-decliner] " + q.conv + " (declined)";
                }
                if (c.kind == Kind::tick && qi.offer_deadline < now_) {
                    return "[offer-past-deadline] " + q.conv + " still offered to " + q.offered_to;
                }
                continue;
            }
            for (const auto& [id, a] : after.agents) {
                if (!available(a) || !serves(a.departments, q.department) ||
                    busy(a) >= a.capacity) {
                    continue;
                }
                if (auto_mode && !qi.transferred_from.count(id)) {
                    return "[waiting-with-room] " + q.conv + " (dep '" + q.department +
                           "') waits while " + id + " is online with " + std::to_string(a.load) +
                           "/" + std::to_string(a.capacity);
                }
                if (offer_mode && !qi.excludes(id)) {
                    return "[unoffered-with-room] " + q.conv + " (dep '" + q.department +
                           "') has no offer while " + id + " is online with room";
                }
            }
        }
        for (const auto& [id, a] : after.agents) {
            if (a.offered != offers[id]) return "[offered-count] " + id;
        }

        // Service order, positions, waits.
        std::map<std::string, std::size_t> position;
        std::map<std::string, TimeMs> wait;
        for (std::size_t i = 0; i < after.queue.size(); ++i) {
            const QueueView& q = after.queue[i];
            const ConvInfo& qi = info(q.conv);
            if (q.priority != qi.priority) return "[queue-priority] " + q.conv;
            if (q.department != qi.department) return "[queue-department] " + q.conv;
            if (i > 0 && key(q) < key(after.queue[i - 1])) {
                const QueueView& p = after.queue[i - 1];
                std::string what = q.conv + " is served after " + p.conv;
                if (!same_but_id(key(q), key(p))) return "[order] " + what;
                soft("[order-id-tie] " + what + " though queued at the same instant");
            }
            if (q.position != ++position[q.department]) {
                return "[position] " + q.conv + " is at " + std::to_string(q.position) +
                       ", should be " + std::to_string(position[q.department]);
            }
            if (q.estimated_wait_ms <= 0) {
                return "[wait-not-positive] " + q.conv + " at " + std::to_string(q.position);
            }
            if (q.estimated_wait_ms < wait[q.department]) {
                return "[wait-decreasing] " + q.conv + " at " + std::to_string(q.position);
            }
            wait[q.department] = q.estimated_wait_ms;
        }
        if (!after.queue.empty() && step_ % 4 == 0) {  // position() rebuilds the queue: sample
            const QueueView& q = after.queue[static_cast<std::size_t>(step_) % after.queue.size()];
            auto p = router_.position(q.conv, now_);
            if (!p || p->position != q.position || p->estimated_wait_ms != q.estimated_wait_ms ||
                p->offered_to != q.offered_to || p->department != q.department) {
                return "[position-view] position(" + q.conv + ") disagrees with queue()";
            }
        }
        return "";
    }

    // What counts as activity is read both ways: agent_activity, connecting
    // and setting a presence surely are; any other call by the agent may be.
    void note_activity(const Call& c) {
        if (c.agent.empty()) return;
        switch (c.kind) {
            case Kind::connect:
            case Kind::activity:
            case Kind::presence:
                surely_active_[c.agent] = now_;
                maybe_active_[c.agent] = now_;
                break;
            case Kind::claim:
            case Kind::accept:
            case Kind::decline:
            case Kind::transfer_agent:
            case Kind::transfer_department:
                maybe_active_[c.agent] = now_;
                break;
            default:
                break;
        }
    }

    std::string check_presence(const Snapshot& before, const Call& c, const Snapshot& after) {
        for (const auto& [id, a] : after.agents) {
            auto b = before.agents.find(id);
            const bool was_there = b != before.agents.end();
            if (c.kind == Kind::connect && c.agent == id && conns_[id] == 1 &&
                (!was_there || b->second.presence == Presence::offline) &&
                a.presence != Presence::online) {
                return "[connect-not-online] first connection of " + id + " left it " +
                       std::string(to_string(a.presence));
            }
            if (!was_there) continue;
            const Presence p0 = b->second.presence;
            switch (c.kind) {
                case Kind::enqueue:
                case Kind::remove:
                case Kind::release:
                case Kind::transfer_agent:
                case Kind::transfer_department:
                case Kind::claim:
                case Kind::accept:
                case Kind::decline:
                case Kind::activity:
                    if (a.presence != p0) return "[presence-changed] " + id + " by " + c.text;
                    break;
                case Kind::tick: {
                    if (p0 != Presence::online || conns_[id] == 0) break;
                    const TimeMs idle_min = now_ - maybe_active_[id];
                    const TimeMs idle_max = now_ - surely_active_[id];
                    if (a.presence == Presence::away &&
                        (settings_.auto_away_ms == 0 || idle_max < settings_.auto_away_ms)) {
                        return "[auto-away-early] " + id + " turned away after " +
                               std::to_string(idle_max) + " ms idle";
                    }
                    if (a.presence == Presence::online && settings_.auto_away_ms > 0 &&
                        idle_min > settings_.auto_away_ms) {
                        return "[auto-away-missing] " + id + " still online after " +
                               std::to_string(idle_min) + " ms idle";
                    }
                    if (a.presence == Presence::offline) {
                        return "[presence-changed] connected " + id + " went offline on a tick";
                    }
                    break;
                }
                default:
                    break;
            }
        }
        return "";
    }

    // No opening hours are set here, so: no_agents, queue_full or none.
    std::string check_availability(const Snapshot& after) {
        for (const auto& dep : kDepartments) {
            bool someone = false;
            for (const auto& [id, a] : after.agents) {
                if (available(a) && serves(a.departments, dep)) someone = true;
            }
            std::size_t queued = 0;
            for (const auto& q : after.queue) queued += q.department == dep;
            const bool full = queued >= settings_.max_queue;
            const Unavailable got = router_.availability(dep, now_);
            if (settings_.queue_without_agents) someone = true;
            const bool ok = got == Unavailable::no_agents    ? !someone
                            : got == Unavailable::queue_full ? full
                            : got == Unavailable::none       ? someone && !full
                                                             : false;
            if (!ok) {
                return "[availability] '" + dep + "' is " + std::string(to_string(got)) + " with " +
                       (someone ? "" : "no ") + "agent online and " + std::to_string(queued) +
                       " queued";
            }
        }
        return "";
    }

    // ---- reporting ----
    void record(const Call& c, const std::vector<RouteEvent>& events) {
        std::string line = "#" + std::to_string(step_) + " t=+" + std::to_string(now_ - kStart) +
                           " " + c.text + " |";
        for (const auto& e : events) {
            if (!std::holds_alternative<re::QueueChanged>(e) &&
                !std::holds_alternative<re::AgentChanged>(e)) {
                line += " " + show(e);
            }
        }
        if (verbose_) std::printf("%s\n", line.c_str());
        trace_.push_back(std::move(line));
        if (trace_.size() > kTraceLines) trace_.pop_front();
    }

    std::string context() const {
        std::string out = "  settings: mode=" +
                          std::string(settings_.mode == AssignMode::offer    ? "offer"
                                      : settings_.mode == AssignMode::manual ? "manual"
                                                                             : "auto") +
                          " default_capacity=" + std::to_string(settings_.default_capacity) +
                          " auto_away_ms=" + std::to_string(settings_.auto_away_ms) +
                          " prefer_last_agent=" + (settings_.prefer_last_agent ? "1" : "0") +
                          " default_handle_ms=" + std::to_string(settings_.default_handle_ms) +
                          " max_queue=" + std::to_string(settings_.max_queue) +
                          " queue_without_agents=" + (settings_.queue_without_agents ? "1" : "0") +
                          "\n";
        for (const auto& l : trace_) out += "  " + l + "\n";
        return out;
    }

    std::string report(const std::string& err) const {
        return err + "\n  at step " + std::to_string(step_) + " (last steps below)\n" + context();
    }

    void soft(const std::string& what) {
        std::string tag = what.substr(0, what.find(']') + 1);
        if (!soft_.count(tag)) {
            soft_[tag] = what + "\n  at step " + std::to_string(step_) + "\n" + context();
        }
    }

    std::mt19937 rng_;
    bool verbose_;
    RoutingSettings settings_;
    Router router_;
    TimeMs now_ = kStart;
    int step_ = 0;
    int next_conv_ = 0;
    std::map<std::string, int> conns_;  // open connections, as the test made them
    std::map<std::string, AgentProfile> profiles_;
    std::map<std::string, TimeMs> dropped_since_;  // last connection closed at
    std::map<std::string, TimeMs> surely_active_;  // see note_activity()
    std::map<std::string, TimeMs> maybe_active_;
    std::set<std::string> over_ok_;  // capacity lowered below what the agent holds
    std::map<std::string, ConvInfo> convs_;
    std::deque<std::string> trace_;
    std::map<std::string, std::string> soft_;
};

void run_property(AssignMode mode, std::uint32_t sequences = kSequences) {
    const char* only = std::getenv("SB_ROUTER_SEED");
    std::vector<std::uint32_t> seeds;
    if (only) {
        seeds.push_back(static_cast<std::uint32_t>(std::strtoul(only, nullptr, 10)));
    } else {
        const char* n = std::getenv("SB_ROUTER_SEQUENCES");  // for a longer soak
        const std::uint32_t count =
            n ? static_cast<std::uint32_t>(std::strtoul(n, nullptr, 10)) : sequences;
        for (std::uint32_t s = 1; s <= count; ++s) seeds.push_back(s);
    }
    const std::string name = mode == AssignMode::offer    ? "offer"
                             : mode == AssignMode::manual ? "manual"
                                                          : "auto";
    std::map<std::string, int> failures;       // tag → sequences
    std::map<std::string, std::string> first;  // tag → first report
    std::map<std::string, int> soft_count;
    std::map<std::string, std::string> soft_first;
    for (std::uint32_t seed : seeds) {
        if (only) std::printf("---- %s mode, seed %u ----\n", name.c_str(), seed);
        Sequence s(mode, seed, only != nullptr);
        std::string err = s.run();
        if (!err.empty()) {
            std::string tag = err.substr(0, err.find(']') + 1);
            if (!failures[tag]++) first[tag] = "seed " + std::to_string(seed) + ": " + err;
        }
        for (const auto& [tag, what] : s.soft()) {
            if (!soft_count[tag]++) soft_first[tag] = "seed " + std::to_string(seed) + ": " + what;
        }
    }
    for (const auto& [tag, n] : soft_count) {
        FAIL_CHECK(name << " mode: " << n << " of " << seeds.size() << " sequences broke " << tag
                        << "; first:\n"
                        << soft_first[tag]);
    }
    for (const auto& [tag, n] : failures) {
        FAIL_CHECK(name << " mode: " << n << " of " << seeds.size() << " sequences broke " << tag
                        << "; first:\n"
                        << first[tag]);
    }
}

}  // namespace

TEST_CASE("router property: auto mode keeps every rule over random sequences") {
    run_property(AssignMode::auto_assign);
}

TEST_CASE("router property: offer mode keeps every rule over random sequences") {
    run_property(AssignMode::offer);
}

TEST_CASE("router property: manual mode keeps every rule over random sequences") {
    run_property(AssignMode::manual, kSequences / 2);
}
