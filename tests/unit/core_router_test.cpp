// The Router's rules (core/router.hpp), one test case per rule. Time is the
// test's: every call gets `now` from the Desk below, nothing sleeps.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/router.hpp"

namespace {

using namespace sb::core;
namespace re = route_event;

constexpr TimeMs kSecond = 1'000;
constexpr TimeMs kMinute = 60 * kSecond;
constexpr TimeMs kStart = 1'705'000'000'000;  // 2024-01-11, any instant would do

// Milliseconds since the epoch of a UTC wall-clock time.
TimeMs utc(int y, unsigned m, unsigned d, int h, int min) {
    using namespace std::chrono;
    const sys_days date{year{y} / month{m} / day{d}};
    return duration_cast<milliseconds>((date + hours{h} + minutes{min}).time_since_epoch()).count();
}

// The decisions in a batch of events, in order; QueueChanged and AgentChanged
// are checked on their own.
std::string show(const std::vector<RouteEvent>& events) {
    std::string out;
    for (const auto& e : events) {
        std::string s;
        if (const auto* a = std::get_if<re::Assigned>(&e)) {
            s = "assigned " + a->conv + " " + a->agent;
            if (!a->previous_agent.empty()) s += " from " + a->previous_agent;
        } else if (const auto* o = std::get_if<re::Offered>(&e)) {
            s = "offered " + o->conv + " " + o->agent;
        } else if (const auto* x = std::get_if<re::OfferEnded>(&e)) {
            s = "offer_ended " + x->conv + " " + x->agent + " " + x->reason;
        } else if (const auto* q = std::get_if<re::Requeued>(&e)) {
            s = "requeued " + q->conv + " " + q->previous_agent + " " + q->reason;
        } else {
            continue;
        }
        out += (out.empty() ? "" : "; ") + s;
    }
    return out;
}

template <class E>
std::vector<E> only(const std::vector<RouteEvent>& events) {
    std::vector<E> out;
    for (const auto& e : events) {
        if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
    }
    return out;
}

bool agent_changed(const std::vector<RouteEvent>& events, const std::string& agent) {
    for (const auto& c : only<re::AgentChanged>(events)) {
        if (c.agent == agent) return true;
    }
    return false;
}

bool queue_changed(const std::vector<RouteEvent>& events) {
    return !only<re::QueueChanged>(events).empty();
}

QueueRequest request(const std::string& conv, const std::string& department = "", int priority = 0,
                     const std::string& preferred = "") {
    QueueRequest r;
    r.conv = conv;
    r.department = department;
    r.priority = priority;
    r.visitor_name = "Visitor " + conv;
    r.first_message = "hello from " + conv;
    r.preferred_agent = preferred;
    return r;
}

RoutingSettings offer_mode() {
    RoutingSettings s;
    s.mode = AssignMode::offer;
    s.offer_timeout_ms = 30 * kSecond;
    return s;
}

// A router and the test's clock.
struct Desk {
    Router router;
    TimeMs now = kStart;

    explicit Desk(RoutingSettings settings = {}) : router(std::move(settings)) {}

    void at(TimeMs t) { now = t; }
    void advance(TimeMs ms) { now += ms; }

    void connect(const std::string& id, int capacity = 0,
                 std::vector<std::string> departments = {}) {
        router.agent_connected(AgentProfile{id, "Agent " + id, std::move(departments), capacity},
                               now);
    }
    void enqueue(const std::string& conv, const std::string& department = "", int priority = 0,
                 const std::string& preferred = "") {
        router.enqueue(request(conv, department, priority, preferred), now);
    }
    RouteError presence(const std::string& agent, Presence p) {
        return router.set_presence(agent, p, now);
    }
    void tick() { router.tick(now); }

    std::vector<RouteEvent> events() { return router.take_events(); }
    std::string log() { return show(router.take_events()); }

    std::string owner(const std::string& conv) const {
        auto o = router.owner(conv);
        return o ? *o : "-";
    }
    // Waiting conversations in service order.
    std::string order() const {
        std::string out;
        for (const auto& q : router.queue(now)) out += (out.empty() ? "" : ",") + q.conv;
        return out;
    }
    QueueView waiting(const std::string& conv) const {
        auto p = router.position(conv, now);
        REQUIRE_MESSAGE(p.has_value(), conv << " is not waiting");
        return *p;
    }
    AgentView agent(const std::string& id) const {
        auto a = router.agent(id);
        REQUIRE_MESSAGE(a.has_value(), "no agent " << id);
        return *a;
    }
};

}  // namespace

// ---- presence ----------------------------------------------------------------------

TEST_CASE("router: presence names round-trip") {
    for (Presence p : {Presence::online, Presence::away, Presence::offline}) {
        CHECK(presence_from(to_string(p)) == p);
    }
    CHECK(to_string(Presence::online) == "online");
    CHECK(to_string(Presence::away) == "away");
    CHECK(to_string(Presence::offline) == "offline");
    CHECK_FALSE(presence_from("busy").has_value());
    CHECK_FALSE(presence_from("").has_value());
}

TEST_CASE("router: a connected agent is online and gets a queued conversation") {
    Desk d;
    d.connect("a1");
    auto ev = d.events();
    CHECK(agent_changed(ev, "a1"));

    auto a = d.agent("a1");
    CHECK(a.presence == Presence::online);
    CHECK(a.connected);
    CHECK(a.dropped_at == 0);
    CHECK(a.name == "Agent a1");
    CHECK(a.load == 0);
    CHECK(a.capacity == 3);  // settings default

    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 a1");
    CHECK(d.owner("c1") == "a1");
    CHECK_FALSE(d.router.is_waiting("c1"));
    CHECK(d.router.waiting_count() == 0);
    a = d.agent("a1");
    CHECK(a.load == 1);
    CHECK(a.conversations == std::vector<std::string>{"c1"});
    CHECK(a.last_assigned == d.now);
    CHECK(d.router.agents().size() == 1);
    CHECK_FALSE(d.router.agent("nobody").has_value());
}

TEST_CASE("router: away and offline agents get nothing; back online, assignment re-runs") {
    Desk d;
    d.connect("a1");
    d.events();

    CHECK(d.presence("a1", Presence::away) == RouteError::none);
    CHECK(agent_changed(d.events(), "a1"));
    CHECK(d.agent("a1").presence == Presence::away);
    d.advance(kSecond);
    d.enqueue("c1");
    CHECK(d.log() == "");
    CHECK(d.router.is_waiting("c1"));

    CHECK(d.presence("a1", Presence::offline) == RouteError::none);
    CHECK(d.agent("a1").presence == Presence::offline);
    d.advance(kSecond);
    d.enqueue("c2");
    CHECK(d.log() == "");
    CHECK(d.order() == "c1,c2");

    d.advance(kSecond);
    CHECK(d.presence("a1", Presence::online) == RouteError::none);
    auto ev = d.events();
    CHECK(show(ev) == "assigned c1 a1; assigned c2 a1");
    CHECK(agent_changed(ev, "a1"));
    CHECK(d.router.waiting_count() == 0);

    CHECK(d.presence("ghost", Presence::online) == RouteError::unknown_agent);
}

TEST_CASE("router: auto-away after auto_away_ms without activity; activity resets it") {
    RoutingSettings s;
    s.auto_away_ms = 10 * kMinute;
    Desk d(s);
    d.connect("a1");  // connecting is activity
    d.events();

    d.at(kStart + 6 * kMinute);
    d.tick();
    CHECK(d.agent("a1").presence == Presence::online);
    d.router.agent_activity("a1", d.now);

    d.at(kStart + 10 * kMinute + kSecond);  // idle 4 min since the activity
    d.tick();
    CHECK(d.agent("a1").presence == Presence::online);

    d.at(kStart + 16 * kMinute - kSecond);
    d.tick();
    CHECK(d.agent("a1").presence == Presence::online);
    d.events();

    d.at(kStart + 16 * kMinute + kSecond);
    d.tick();
    CHECK(d.agent("a1").presence == Presence::away);
    CHECK(agent_changed(d.events(), "a1"));

    d.advance(kSecond);
    d.enqueue("c1");
    CHECK(d.log() == "");  // away: gets nothing
    CHECK(d.presence("a1", Presence::online) == RouteError::none);
    CHECK(d.log() == "assigned c1 a1");
}

TEST_CASE("router: only the agent ends auto-away; activity alone does not") {
    RoutingSettings s;
    s.auto_away_ms = 10 * kMinute;
    Desk d(s);
    d.connect("a1");
    d.at(kStart + 10 * kMinute + kSecond);
    d.tick();
    REQUIRE(d.agent("a1").presence == Presence::away);
    d.advance(kSecond);
    d.router.agent_activity("a1", d.now);
    d.tick();
    CHECK(d.agent("a1").presence == Presence::away);
}

TEST_CASE("router: away and offline agents keep the conversations they hold") {
    Desk d;
    d.connect("a1");
    d.enqueue("c1");
    CHECK(d.presence("a1", Presence::away) == RouteError::none);
    CHECK(d.owner("c1") == "a1");
    CHECK(d.presence("a1", Presence::offline) == RouteError::none);
    d.advance(10 * kMinute);
    d.tick();
    CHECK(d.owner("c1") == "a1");
    CHECK(only<re::Requeued>(d.events()).empty());
}

TEST_CASE("router: auto_away_ms = 0 never turns anyone away") {
    RoutingSettings s;
    s.auto_away_ms = 0;
    Desk d(s);
    d.connect("a1");
    d.at(kStart + 30LL * 24 * 60 * kMinute);
    d.tick();
    CHECK(d.agent("a1").presence == Presence::online);
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 a1");
}

// ---- capacity ----------------------------------------------------------------------

TEST_CASE("router: capacity defaults to settings.default_capacity") {
    RoutingSettings s;
    s.default_capacity = 2;
    Desk d(s);
    d.connect("a1");
    CHECK(d.agent("a1").capacity == 2);
    d.enqueue("c1");
    d.enqueue("c2");
    d.enqueue("c3");
    CHECK(d.log() == "assigned c1 a1; assigned c2 a1");
    CHECK(d.order() == "c3");
    CHECK(d.agent("a1").load == 2);
}

TEST_CASE("router: a per-agent capacity overrides the default") {
    RoutingSettings s;
    s.default_capacity = 2;
    Desk d(s);
    d.connect("a1", 4);
    CHECK(d.agent("a1").capacity == 4);
    for (const char* c : {"c1", "c2", "c3", "c4", "c5"}) d.enqueue(c);
    CHECK(d.agent("a1").load == 4);
    CHECK(d.order() == "c5");
}

TEST_CASE("router: capacity is never exceeded, whatever the queue") {
    Desk d;
    d.connect("a1", 1);
    d.connect("a2", 1);
    for (const char* c : {"c1", "c2", "c3", "c4", "c5"}) {
        d.advance(kSecond);
        d.enqueue(c);
    }
    CHECK(d.agent("a1").load == 1);
    CHECK(d.agent("a2").load == 1);
    CHECK(d.order() == "c3,c4,c5");
}

// ---- departments -------------------------------------------------------------------

TEST_CASE("router: an agent without departments serves every department") {
    Desk d;
    d.connect("a1");
    d.enqueue("c1", "sales");
    d.enqueue("c2", "support");
    CHECK(d.log() == "assigned c1 a1; assigned c2 a1");
}

TEST_CASE("router: a conversation without a department goes to any agent") {
    Desk d;
    d.connect("a1", 0, {"sales"});
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 a1");
}

TEST_CASE("router: a conversation is never assigned outside its department") {
    Desk d;
    d.connect("a1", 0, {"sales", "billing"});
    d.enqueue("c1", "support");
    CHECK(d.log() == "");
    CHECK(d.router.is_waiting("c1"));
    d.enqueue("c2", "billing");
    CHECK(d.log() == "assigned c2 a1");
    CHECK(d.router.is_waiting("c1"));  // a1 still has room, still not theirs

    d.connect("a2", 0, {"support"});
    CHECK(d.log() == "assigned c1 a2");
}

// ---- queue order and positions -------------------------------------------------------

TEST_CASE("router: the queue is served by priority, then time queued") {
    Desk d;  // nobody online: everything waits
    d.enqueue("c1", "", 0);
    d.advance(kSecond);
    d.enqueue("c2", "", 1);
    d.advance(kSecond);
    d.enqueue("c3", "", 0);
    d.advance(kSecond);
    d.enqueue("c4", "", 2);
    CHECK(d.order() == "c4,c2,c1,c3");

    d.connect("a1", 2);
    CHECK(d.log() == "assigned c4 a1; assigned c2 a1");
    CHECK(d.order() == "c1,c3");
}

TEST_CASE("router: conversations queued at the same instant are served by id") {
    Desk d;
    d.enqueue("c9");
    d.enqueue("c3");
    d.enqueue("c5");
    CHECK(d.order() == "c3,c5,c9");
}

TEST_CASE("router: a requeued conversation goes before others of its priority, not above") {
    RoutingSettings s;
    s.drop_grace_ms = kMinute;
    Desk d(s);
    d.connect("a1", 1);
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2", "", 0);
    d.advance(kSecond);
    d.enqueue("c3", "", 1);
    CHECK(d.log() == "assigned c1 a1");

    d.router.agent_disconnected("a1", d.now);
    d.advance(kMinute + kSecond);
    d.tick();
    CHECK(d.log() == "requeued c1 a1 agent_dropped");
    CHECK(d.order() == "c3,c1,c2");
}

TEST_CASE("router: positions are 1-based within each department") {
    Desk d;
    d.enqueue("s1", "sales");
    d.advance(kSecond);
    d.enqueue("s2", "sales");
    d.advance(kSecond);
    d.enqueue("p1", "support");
    d.advance(kSecond);
    d.enqueue("s3", "sales", 0);
    d.advance(kSecond);
    d.enqueue("n1");
    d.advance(kSecond);

    auto q = d.router.queue(d.now);
    REQUIRE(q.size() == 5);
    CHECK(d.waiting("s1").position == 1);
    CHECK(d.waiting("s2").position == 2);
    CHECK(d.waiting("s3").position == 3);
    CHECK(d.waiting("p1").position == 1);
    CHECK(d.waiting("n1").position == 1);
    for (const auto& v : q) CHECK(d.waiting(v.conv).position == v.position);

    auto s3 = d.waiting("s3");
    CHECK(s3.department == "sales");
    CHECK(s3.visitor_name == "Visitor s3");
    CHECK(s3.first_message == "hello from s3");
    CHECK(s3.priority == 0);
    CHECK(s3.since == kStart + 3 * kSecond);
    CHECK(s3.offered_to == "");
    CHECK_FALSE(d.router.position("nope", d.now).has_value());

    CHECK(d.router.remove("s1", d.now));
    CHECK(d.waiting("s2").position == 1);
    CHECK(d.waiting("s3").position == 2);
    CHECK(d.waiting("p1").position == 1);
}

TEST_CASE("router: estimated waits are positive and do not fall with position") {
    Desk d;
    d.connect("a1", 1);
    d.connect("a2", 1);
    for (const char* c : {"c1", "c2", "c3", "c4", "c5", "c6"}) {
        d.advance(kSecond);
        d.enqueue(c);
    }
    auto q = d.router.queue(d.now);
    REQUIRE(q.size() == 4);
    for (std::size_t i = 0; i < q.size(); ++i) {
        CAPTURE(q[i].conv);
        CHECK(q[i].position == i + 1);
        CHECK(q[i].estimated_wait_ms > 0);
        if (i > 0) CHECK(q[i].estimated_wait_ms >= q[i - 1].estimated_wait_ms);
    }
}

TEST_CASE("router: estimated waits stay positive with a tiny handle time and many agents") {
    RoutingSettings s;
    s.default_handle_ms = 1;
    Desk d(s);
    for (const char* a : {"a1", "a2", "a3"}) d.connect(a, 1);
    for (const char* c : {"c1", "c2", "c3", "c4"}) d.enqueue(c);
    CHECK(d.order() == "c4");
    CHECK(d.waiting("c4").estimated_wait_ms > 0);
}

// ---- choosing the agent ------------------------------------------------------------

TEST_CASE("router: least busy is by load relative to capacity, not raw load") {
    Desk d;
    // On start-up the store hands back the chats held: b 1 of 2, z 2 of 6.
    d.router.restore(request("r1"), "b", d.now);
    d.router.restore(request("r2"), "z", d.now);
    d.router.restore(request("r3"), "z", d.now);
    d.connect("b", 2);
    d.connect("z", 6);
    d.events();
    CHECK(d.agent("b").load == 1);
    CHECK(d.agent("z").load == 2);

    d.advance(kSecond);
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 z");  // 3/6 after, b would be 2/2
}

TEST_CASE("router: equal load ratio goes to the agent idle longest since an assignment") {
    Desk d;
    d.connect("b");
    d.advance(kSecond);
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 b");
    CHECK(d.agent("b").last_assigned == kStart + kSecond);

    d.advance(kSecond);
    d.connect("a");
    d.advance(kSecond);
    d.enqueue("c2");
    CHECK(d.log() == "assigned c2 a");  // 0/3 beats 1/3

    d.advance(kSecond);
    d.enqueue("c3");
    CHECK(d.log() == "assigned c3 b");  // both 1/3; b idle since +1 s, a since +3 s
}

TEST_CASE("router: equal on load and idle time goes by agent id") {
    Desk d;
    d.connect("b");
    d.connect("a");
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 a");
    d.enqueue("c2");
    CHECK(d.log() == "assigned c2 b");
}

// ---- re-running assignment ---------------------------------------------------------

TEST_CASE("router: a release assigns the head of the queue at once") {
    Desk d;
    d.connect("a1", 1);
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2");
    d.advance(kSecond);
    d.enqueue("c3");
    CHECK(d.log() == "assigned c1 a1");

    d.advance(kSecond);
    d.router.release("c1", d.now);
    auto ev = d.events();
    CHECK(show(ev) == "assigned c2 a1");
    CHECK(agent_changed(ev, "a1"));
    CHECK(queue_changed(ev));
    CHECK(d.owner("c1") == "-");
    CHECK(d.agent("a1").conversations == std::vector<std::string>{"c2"});
    CHECK(d.order() == "c3");
}

TEST_CASE("router: an agent connecting takes the waiting queue") {
    Desk d;
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2");
    CHECK(d.log() == "");
    d.connect("a1");
    CHECK(d.log() == "assigned c1 a1; assigned c2 a1");
}

TEST_CASE("router: a transfer that frees room assigns the queue at once") {
    Desk d;
    d.connect("a1", 1);
    d.connect("a2", 2, {"support"});
    d.enqueue("c1");
    CHECK(d.log() == "assigned c1 a1");  // both 0 of n: by id
    d.advance(kSecond);
    d.enqueue("c2", "sales");  // only a1 serves sales, and a1 is full
    CHECK(d.log() == "");

    d.advance(kSecond);
    CHECK(d.router.transfer_to_agent("c1", "a1", "a2", d.now) == RouteError::none);
    CHECK(d.log() == "assigned c1 a2 from a1; assigned c2 a1");
}

// ---- offer mode --------------------------------------------------------------------

TEST_CASE("router: offer mode offers a conversation to one agent at a time") {
    Desk d(offer_mode());
    d.connect("a1");
    d.connect("a2");
    d.events();

    d.enqueue("c1");
    auto ev = d.events();
    CHECK(show(ev) == "offered c1 a1");
    auto offers = only<re::Offered>(ev);
    REQUIRE(offers.size() == 1);
    CHECK(offers[0].deadline == d.now + 30 * kSecond);

    CHECK(d.router.is_waiting("c1"));
    CHECK(d.owner("c1") == "-");
    CHECK(d.waiting("c1").offered_to == "a1");
    CHECK(d.agent("a1").offered == 1);
    CHECK(d.agent("a1").load == 0);
    CHECK(d.agent("a2").offered == 0);
}

TEST_CASE("router: an outstanding offer counts toward the agent's room") {
    Desk d(offer_mode());
    d.connect("a1", 1);
    d.connect("a2", 1);
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2");
    d.advance(kSecond);
    d.enqueue("c3");
    CHECK(d.log() == "offered c1 a1; offered c2 a2");
    CHECK(d.waiting("c3").offered_to == "");
}

TEST_CASE("router: an unanswered offer moves to the next agent after the timeout") {
    Desk d(offer_mode());
    d.connect("a1");
    d.connect("a2");
    const TimeMs t = d.now;
    d.enqueue("c1");
    CHECK(d.log() == "offered c1 a1");

    d.at(t + 30 * kSecond - 1);
    d.tick();
    CHECK(d.log() == "");
    CHECK(d.waiting("c1").offered_to == "a1");

    d.at(t + 30 * kSecond + 1);
    d.tick();
    auto ev = d.events();
    CHECK(show(ev) == "offer_ended c1 a1 timeout; offered c1 a2");
    auto offers = only<re::Offered>(ev);
    REQUIRE(offers.size() == 1);
    CHECK(offers[0].deadline == d.now + 30 * kSecond);
    CHECK(d.agent("a1").offered == 0);
    CHECK(d.agent("a2").offered == 1);
}

TEST_CASE("router: a decline moves the offer on, and the decliner is never offered it again") {
    Desk d(offer_mode());
    d.connect("a1");
    d.connect("a2");
    d.enqueue("c1");
    CHECK(d.log() == "offered c1 a1");

    d.advance(kSecond);
    CHECK(d.router.decline("a1", "c1", d.now) == RouteError::none);
    CHECK(d.log() == "offer_ended c1 a1 declined; offered c1 a2");
    d.advance(kSecond);
    CHECK(d.router.decline("a2", "c1", d.now) == RouteError::none);
    CHECK(d.log() == "offer_ended c1 a2 declined");
    CHECK(d.waiting("c1").offered_to == "");
    CHECK(d.agent("a1").offered == 0);

    d.advance(kSecond);
    d.connect("a3");
    CHECK(d.log() == "offered c1 a3");

    // Whatever happens to c1 next, a1 and a2 are never offered it again.
    std::string later;
    d.advance(31 * kSecond);
    d.tick();
    later += d.log() + "; ";
    CHECK(d.presence("a1", Presence::away) == RouteError::none);
    CHECK(d.presence("a1", Presence::online) == RouteError::none);
    later += d.log() + "; ";
    d.advance(kSecond);
    d.enqueue("c2");  // a1 still gets other conversations
    later += d.log();
    CHECK(later.find("offered c1 a1") == std::string::npos);
    CHECK(later.find("offered c1 a2") == std::string::npos);
    CHECK(later.find("offered c2 a1") != std::string::npos);
}

TEST_CASE("router: an agent who let an offer time out gets it again only when nobody else can") {
    Desk d(offer_mode());
    d.connect("a1");
    d.connect("a2");
    const TimeMs t = d.now;
    d.enqueue("c1");
    CHECK(d.log() == "offered c1 a1");
    d.at(t + 31 * kSecond);
    d.tick();
    CHECK(d.log() == "offer_ended c1 a1 timeout; offered c1 a2");  // moves on
    d.at(t + 62 * kSecond);
    d.tick();
    // Both let it time out: rather than strand the visitor, it comes round again.
    CHECK(d.log() == "offer_ended c1 a2 timeout; offered c1 a1");
    CHECK(d.waiting("c1").offered_to == "a1");
    d.advance(kSecond);
    d.enqueue("c2");  // a1 holds an offer, so the less busy a2 gets c2
    CHECK(d.log() == "offered c2 a2");
}

TEST_CASE("router: accepting an offer assigns; only the agent offered may answer") {
    Desk d(offer_mode());
    d.connect("a1");
    d.connect("a2");
    d.enqueue("c1");
    CHECK(d.log() == "offered c1 a1");

    d.advance(kSecond);
    CHECK(d.router.accept("a2", "c1", d.now) == RouteError::not_offered);
    CHECK(d.router.decline("a2", "c1", d.now) == RouteError::not_offered);
    CHECK(d.log() == "");
    CHECK(d.waiting("c1").offered_to == "a1");

    CHECK(d.router.accept("a1", "c1", d.now) == RouteError::none);
    auto ev = d.events();
    auto assigned = only<re::Assigned>(ev);
    REQUIRE(assigned.size() == 1);
    CHECK(assigned[0].conv == "c1");
    CHECK(assigned[0].agent == "a1");
    CHECK(assigned[0].previous_agent == "");
    CHECK(only<re::Offered>(ev).empty());
    for (const auto& x : only<re::OfferEnded>(ev)) CHECK(x.reason == "accepted");
    CHECK(d.owner("c1") == "a1");
    CHECK_FALSE(d.router.is_waiting("c1"));
    auto a1 = d.agent("a1");
    CHECK(a1.load == 1);
    CHECK(a1.offered == 0);
    CHECK(d.router.accept("a1", "c1", d.now) != RouteError::none);  // nothing left to accept
}

TEST_CASE("router: an offer of a conversation that leaves the queue is withdrawn") {
    Desk d(offer_mode());
    d.connect("a1");
    d.enqueue("c1");
    CHECK(d.log() == "offered c1 a1");
    d.advance(kSecond);
    CHECK(d.router.remove("c1", d.now));
    CHECK(d.log() == "offer_ended c1 a1 withdrawn");
    CHECK(d.agent("a1").offered == 0);
    CHECK_FALSE(d.router.is_waiting("c1"));
}

// ---- manual mode and claim ---------------------------------------------------------

TEST_CASE("router: manual mode pushes nothing; agents take from the queue") {
    RoutingSettings s;
    s.mode = AssignMode::manual;
    Desk d(s);
    d.connect("a1", 2);
    d.connect("a2", 2);
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2", "", 1);
    d.advance(kSecond);
    d.enqueue("c3");
    CHECK(d.log() == "");
    CHECK(d.order() == "c2,c1,c3");
    CHECK(d.agent("a1").offered == 0);

    std::string conv;
    CHECK(d.router.claim("a2", d.now, &conv) == RouteError::none);
    CHECK(conv == "c2");
    CHECK(d.log() == "assigned c2 a2");
    CHECK(d.router.claim("a2", d.now, &conv) == RouteError::none);
    CHECK(conv == "c1");
    CHECK(d.log() == "assigned c1 a2");
    CHECK(d.router.claim("a2", d.now, &conv) == RouteError::no_room);

    d.advance(kSecond);
    d.router.release("c2", d.now);  // room frees, still nothing pushed
    CHECK(d.log() == "");
    CHECK(d.order() == "c3");
}

// ---- manual claim ------------------------------------------------------------------

TEST_CASE("router: claim takes the first waiting conversation the agent is eligible for") {
    Desk d(offer_mode());
    d.connect("a1", 3, {"sales"});
    d.enqueue("x1", "support", 5);  // nobody serves support
    d.advance(kSecond);
    d.enqueue("s1", "sales", 0);
    d.advance(kSecond);
    d.enqueue("s2", "sales", 1);
    d.events();
    CHECK(d.order() == "x1,s2,s1");

    d.advance(kSecond);
    std::string conv;
    CHECK(d.router.claim("a1", d.now, &conv) == RouteError::none);
    CHECK(conv == "s2");
    CHECK(d.owner("s2") == "a1");
    CHECK(show(d.events()).find("assigned s2 a1") != std::string::npos);
    CHECK(d.router.is_waiting("x1"));
}

TEST_CASE("router: claim with nothing for the agent, or at capacity") {
    Desk d;
    d.connect("a1", 1, {"sales"});
    std::string conv;
    CHECK(d.router.claim("a1", d.now, &conv) == RouteError::nothing_waiting);

    d.enqueue("x1", "support");
    CHECK(d.router.claim("a1", d.now, &conv) == RouteError::nothing_waiting);
    CHECK(conv == "");
    CHECK(d.router.is_waiting("x1"));

    d.enqueue("s1", "sales");
    d.advance(kSecond);
    d.enqueue("s2", "sales");
    CHECK(d.log() == "assigned s1 a1");
    CHECK(d.router.claim("a1", d.now, &conv) == RouteError::no_room);
    CHECK(d.router.is_waiting("s2"));
    CHECK(d.agent("a1").load == 1);

    CHECK(d.router.claim("ghost", d.now, &conv) == RouteError::unknown_agent);
}

// ---- transfers ---------------------------------------------------------------------

TEST_CASE("router: transfer to an agent who is online with room") {
    Desk d;
    d.connect("a1", 2);
    d.connect("a2", 1);
    d.connect("a3", 2);
    d.enqueue("c1");
    d.enqueue("c2");
    d.enqueue("c3");
    CHECK(d.log() == "assigned c1 a1; assigned c2 a2; assigned c3 a3");

    CHECK(d.router.transfer_to_agent("c1", "a1", "a1", d.now) == RouteError::same_agent);
    CHECK(d.router.transfer_to_agent("c1", "a2", "a3", d.now) == RouteError::not_yours);
    CHECK(d.router.transfer_to_agent("c1", "a1", "a2", d.now) == RouteError::no_room);
    CHECK(d.router.transfer_to_agent("c1", "a1", "ghost", d.now) == RouteError::unknown_agent);
    CHECK(d.router.transfer_to_agent("c404", "a1", "a3", d.now) ==
          RouteError::unknown_conversation);
    CHECK(d.presence("a3", Presence::away) == RouteError::none);
    CHECK(d.router.transfer_to_agent("c1", "a1", "a3", d.now) == RouteError::not_eligible);
    CHECK(d.presence("a3", Presence::online) == RouteError::none);
    d.connect("a4", 2);
    d.router.agent_disconnected("a4", d.now);  // dropped, within the grace
    CHECK(d.router.transfer_to_agent("c1", "a1", "a4", d.now) == RouteError::not_eligible);
    CHECK(d.log() == "");
    CHECK(d.owner("c1") == "a1");

    d.advance(kSecond);
    CHECK(d.router.transfer_to_agent("c1", "a1", "a3", d.now) == RouteError::none);
    auto ev = d.events();
    CHECK(show(ev) == "assigned c1 a3 from a1");
    CHECK(agent_changed(ev, "a1"));
    CHECK(agent_changed(ev, "a3"));
    CHECK(d.owner("c1") == "a3");
    CHECK(d.agent("a1").load == 0);
    CHECK(d.agent("a3").load == 2);
}

TEST_CASE("router: transfer to a department requeues at the front of that department") {
    Desk d;
    d.connect("a1", 1, {"sales"});
    d.enqueue("c1", "sales");
    CHECK(d.log() == "assigned c1 a1");
    d.connect("b", 1, {"billing"});
    CHECK(d.presence("b", Presence::away) == RouteError::none);
    d.advance(kSecond);
    d.enqueue("b1", "billing");  // the one billing agent is away
    d.events();

    d.advance(kSecond);
    CHECK(d.router.transfer_to_department("c1", "a1", "billing", d.now) == RouteError::none);
    auto ev = d.events();
    CHECK(show(ev) == "requeued c1 a1 transfer");
    CHECK(queue_changed(ev));
    CHECK(d.owner("c1") == "-");
    CHECK(d.agent("a1").load == 0);
    CHECK(d.order() == "c1,b1");
    auto c1 = d.waiting("c1");
    CHECK(c1.department == "billing");
    CHECK(c1.position == 1);
    CHECK(d.waiting("b1").position == 2);

    d.advance(kSecond);
    CHECK(d.presence("b", Presence::online) == RouteError::none);
    CHECK(d.log() == "assigned c1 b");
    CHECK(d.router.is_waiting("b1"));

    CHECK(d.router.transfer_to_department("c1", "a1", "sales", d.now) == RouteError::not_yours);
    CHECK(d.router.transfer_to_department("c404", "b", "sales", d.now) ==
          RouteError::unknown_conversation);
    CHECK(d.owner("c1") == "b");
}

TEST_CASE("router: a conversation transferred to a department goes to its free agent at once") {
    Desk d;
    d.connect("a1", 1, {"sales"});
    d.connect("b", 1, {"billing"});
    d.enqueue("c1", "sales");
    CHECK(d.log() == "assigned c1 a1");
    d.advance(kSecond);
    CHECK(d.router.transfer_to_department("c1", "a1", "billing", d.now) == RouteError::none);
    CHECK(d.log() == "requeued c1 a1 transfer; assigned c1 b");
    CHECK(d.owner("c1") == "b");
}

TEST_CASE("router: a conversation transferred to a department does not come straight back") {
    Desk d;
    d.connect("a1", 2);  // serves every department, and will have room
    d.enqueue("c1");
    d.connect("a2");
    CHECK(d.presence("a2", Presence::away) == RouteError::none);
    d.events();
    d.advance(kSecond);
    CHECK(d.router.transfer_to_department("c1", "a1", "billing", d.now) == RouteError::none);
    CHECK(d.log() == "requeued c1 a1 transfer");
    CHECK(d.router.is_waiting("c1"));
    d.advance(kSecond);
    CHECK(d.presence("a2", Presence::online) == RouteError::none);
    CHECK(d.log() == "assigned c1 a2");
}

TEST_CASE("router: offer mode transfers straight to the agent, without an offer") {
    Desk d(offer_mode());
    d.connect("a1");
    d.enqueue("c1");
    CHECK(d.router.accept("a1", "c1", d.now) == RouteError::none);
    d.connect("a2");
    d.events();
    d.advance(kSecond);
    CHECK(d.router.transfer_to_agent("c1", "a1", "a2", d.now) == RouteError::none);
    CHECK(d.log() == "assigned c1 a2 from a1");
    CHECK(d.owner("c1") == "a2");
}

// ---- returning visitor ---------------------------------------------------------------

TEST_CASE("router: a returning visitor goes to their previous agent, even a busier one") {
    Desk d;
    d.connect("a1");
    d.enqueue("c1");
    d.enqueue("c2");
    d.connect("a2");
    d.events();
    d.advance(kSecond);
    d.enqueue("c3", "", 0, "a1");
    CHECK(d.log() == "assigned c3 a1");  // 3/3, while a2 is at 0/3
}

TEST_CASE("router: the previous agent is skipped when not eligible") {
    Desk d;
    SUBCASE("at capacity") {
        d.connect("a1", 1);
        d.enqueue("c1");
        d.connect("a2");
        d.events();
        d.enqueue("c2", "", 0, "a1");
        CHECK(d.log() == "assigned c2 a2");
    }
    SUBCASE("away") {
        d.connect("a1");
        d.connect("a2");
        CHECK(d.presence("a1", Presence::away) == RouteError::none);
        d.events();
        d.enqueue("c2", "", 0, "a1");
        CHECK(d.log() == "assigned c2 a2");
    }
    SUBCASE("not serving the department") {
        d.connect("a1", 0, {"sales"});
        d.connect("a2");
        d.events();
        d.enqueue("c2", "support", 0, "a1");
        CHECK(d.log() == "assigned c2 a2");
    }
    SUBCASE("unknown") {
        d.connect("b");
        d.events();
        d.enqueue("c2", "", 0, "ghost");
        CHECK(d.log() == "assigned c2 b");
    }
}

TEST_CASE("router: in offer mode the returning visitor's previous agent gets the offer") {
    Desk d(offer_mode());
    d.connect("a1");
    d.enqueue("c1");
    CHECK(d.router.accept("a1", "c1", d.now) == RouteError::none);
    d.connect("a2");
    d.events();
    d.advance(kSecond);
    d.enqueue("c2", "", 0, "a1");
    CHECK(d.log() == "offered c2 a1");  // a1 holds 1, a2 none
}

TEST_CASE("router: prefer_last_agent = false ignores the previous agent") {
    RoutingSettings s;
    s.prefer_last_agent = false;
    Desk d(s);
    d.connect("a1");
    d.enqueue("c1");
    d.connect("a2");
    d.events();
    d.advance(kSecond);
    d.enqueue("c2", "", 0, "a1");
    CHECK(d.log() == "assigned c2 a2");
}

// ---- agent drop --------------------------------------------------------------------

TEST_CASE("router: a dropped agent keeps their chats for the grace, then each is requeued once") {
    RoutingSettings s;
    s.drop_grace_ms = kMinute;
    Desk d(s);
    d.connect("a1");
    d.enqueue("c1");
    d.enqueue("c2");
    d.events();

    d.advance(kSecond);
    const TimeMs dropped = d.now;
    d.router.agent_disconnected("a1", d.now);
    auto a1 = d.agent("a1");
    CHECK_FALSE(a1.connected);
    CHECK(a1.dropped_at == dropped);
    CHECK(a1.load == 2);
    CHECK(d.owner("c1") == "a1");

    d.advance(kSecond);
    d.enqueue("c3");  // a1 has room but is dropped: not eligible
    CHECK(d.log() == "");
    CHECK(d.order() == "c3");

    d.at(dropped + kMinute - 1);
    d.tick();
    CHECK(d.log() == "");
    CHECK(d.owner("c1") == "a1");
    CHECK(d.owner("c2") == "a1");

    d.at(dropped + kMinute + 1);
    d.tick();
    auto ev = d.events();
    auto requeued = only<re::Requeued>(ev);
    REQUIRE(requeued.size() == 2);
    for (const auto& r : requeued) {
        CHECK(r.previous_agent == "a1");
        CHECK(r.reason == "agent_dropped");
    }
    CHECK(requeued[0].conv != requeued[1].conv);
    CHECK(only<re::Assigned>(ev).empty());
    CHECK(d.owner("c1") == "-");
    CHECK(d.agent("a1").load == 0);
    CHECK(d.order() == "c1,c2,c3");  // at the front

    CHECK(d.agent("a1").presence == Presence::offline);
    d.advance(kMinute);
    d.tick();
    CHECK(only<re::Requeued>(d.events()).empty());  // exactly once
    d.advance(kSecond);
    d.enqueue("c4");
    CHECK(d.log() == "");  // a1 still not eligible

    d.connect("a2", 4);
    CHECK(d.log() == "assigned c1 a2; assigned c2 a2; assigned c3 a2; assigned c4 a2");
}

TEST_CASE("router: an agent back within the grace keeps their chats") {
    RoutingSettings s;
    s.drop_grace_ms = kMinute;
    Desk d(s);
    d.connect("a1");
    d.enqueue("c1");
    d.events();

    const TimeMs dropped = d.now;
    d.router.agent_disconnected("a1", d.now);
    d.at(dropped + kMinute / 2);
    d.connect("a1");
    auto a1 = d.agent("a1");
    CHECK(a1.connected);
    CHECK(a1.dropped_at == 0);
    CHECK(a1.presence == Presence::online);

    d.at(dropped + 3 * kMinute);
    d.tick();
    CHECK(only<re::Requeued>(d.events()).empty());
    CHECK(d.owner("c1") == "a1");
    d.enqueue("c2");
    CHECK(d.log() == "assigned c2 a1");  // eligible again
}

TEST_CASE("router: with several connections only the last disconnect starts the grace") {
    RoutingSettings s;
    s.drop_grace_ms = kMinute;
    Desk d(s);
    d.connect("a1");
    d.connect("a1");  // a second tab
    d.enqueue("c1");
    d.events();

    d.advance(kSecond);
    d.router.agent_disconnected("a1", d.now);
    auto a1 = d.agent("a1");
    CHECK(a1.connected);
    CHECK(a1.dropped_at == 0);
    d.enqueue("c2");
    CHECK(d.log() == "assigned c2 a1");  // still eligible

    d.advance(5 * kMinute);
    d.tick();
    CHECK(only<re::Requeued>(d.events()).empty());

    const TimeMs last = d.now;
    d.router.agent_disconnected("a1", d.now);
    CHECK_FALSE(d.agent("a1").connected);
    d.at(last + kMinute - 1);
    d.tick();
    CHECK(only<re::Requeued>(d.events()).empty());
    d.at(last + kMinute + 1);
    d.tick();
    CHECK(only<re::Requeued>(d.events()).size() == 2);
}

// ---- restore -----------------------------------------------------------------------

TEST_CASE("router: a restored chat counts toward the agent's load") {
    Desk d;
    d.router.restore(request("c1"), "a1", d.now);
    d.advance(kSecond);
    d.connect("a1", 1);
    d.events();
    CHECK(d.owner("c1") == "a1");
    auto a1 = d.agent("a1");
    CHECK(a1.load == 1);
    CHECK(a1.conversations == std::vector<std::string>{"c1"});

    d.enqueue("c2");
    CHECK(d.log() == "");  // no room left
    d.router.release("c1", d.now);
    CHECK(d.log() == "assigned c2 a1");
}

TEST_CASE("router: a restored chat whose agent never comes back is requeued after the grace") {
    RoutingSettings s;
    s.drop_grace_ms = kMinute;
    Desk d(s);
    const TimeMs start = d.now;
    d.router.restore(request("c1"), "a1", start);
    d.events();
    CHECK(d.owner("c1") == "a1");

    d.at(start + kMinute - 1);
    d.tick();
    CHECK(d.log() == "");
    d.at(start + kMinute + 1);
    d.tick();
    CHECK(d.log() == "requeued c1 a1 agent_dropped");
    CHECK(d.router.is_waiting("c1"));
}

// ---- availability and opening hours -------------------------------------------------

TEST_CASE("router: availability names") {
    CHECK(to_string(Unavailable::none) == "none");
    CHECK(to_string(Unavailable::no_agents) == "no_agents");
    CHECK(to_string(Unavailable::closed_hours) == "closed_hours");
    CHECK(to_string(Unavailable::queue_full) == "queue_full");
}

TEST_CASE("router: no_agents when nobody online serves the department") {
    Desk d;
    CHECK(d.router.availability("sales", d.now) == Unavailable::no_agents);
    CHECK(d.router.availability("", d.now) == Unavailable::no_agents);

    d.connect("a1", 1, {"sales"});
    CHECK(d.router.availability("sales", d.now) == Unavailable::none);
    CHECK(d.router.availability("", d.now) == Unavailable::none);
    CHECK(d.router.availability("support", d.now) == Unavailable::no_agents);

    d.enqueue("c1", "sales");  // a full agent is still there: the visitor waits
    CHECK(d.owner("c1") == "a1");
    CHECK(d.router.availability("sales", d.now) == Unavailable::none);

    CHECK(d.presence("a1", Presence::away) == RouteError::none);
    CHECK(d.router.availability("sales", d.now) == Unavailable::no_agents);
    CHECK(d.presence("a1", Presence::online) == RouteError::none);
    d.router.agent_disconnected("a1", d.now);
    CHECK(d.router.availability("sales", d.now) == Unavailable::no_agents);

    d.connect("a2");  // serves everything
    CHECK(d.router.availability("support", d.now) == Unavailable::none);
}

TEST_CASE("router: queue_without_agents queues visitors with nobody online") {
    RoutingSettings s;
    s.queue_without_agents = true;
    s.max_queue = 1;
    Desk d(s);
    CHECK(d.router.availability("sales", d.now) == Unavailable::none);
    d.enqueue("c1", "sales");
    CHECK(d.router.availability("sales", d.now) == Unavailable::queue_full);
}

TEST_CASE("router: queue_full once the department's queue reaches max_queue") {
    RoutingSettings s;
    s.max_queue = 2;
    Desk d(s);
    d.connect("a1", 1, {"sales"});
    d.connect("a2", 1, {"support"});
    d.enqueue("c0", "sales");
    d.enqueue("s1", "sales");
    CHECK(d.router.availability("sales", d.now) == Unavailable::none);
    d.enqueue("s2", "sales");
    CHECK(d.router.waiting_count() == 2);
    CHECK(d.router.availability("sales", d.now) == Unavailable::queue_full);
    CHECK(d.router.availability("support", d.now) == Unavailable::none);  // per department

    CHECK(d.router.remove("s1", d.now));
    CHECK(d.router.availability("sales", d.now) == Unavailable::none);
}

TEST_CASE("router: closed_hours outside a department's weekly hours (Europe/Istanbul, UTC+3)") {
    WeeklyHours h;
    h.time_zone = "Europe/Istanbul";
    for (int day = 0; day < 5; ++day) h.days[day] = {{9 * 60, 17 * 60}};  // Mon-Fri 09-17
    RoutingSettings s;
    s.hours["support"] = h;
    Desk d(s);
    d.connect("a1");

    // Monday 2024-01-15: 09:00 in Istanbul is 06:00 UTC, 17:00 is 14:00 UTC.
    CHECK(d.router.availability("support", utc(2024, 1, 15, 5, 59)) == Unavailable::closed_hours);
    CHECK(d.router.availability("support", utc(2024, 1, 15, 6, 0)) == Unavailable::none);
    CHECK(d.router.availability("support", utc(2024, 1, 15, 13, 59)) == Unavailable::none);
    CHECK(d.router.availability("support", utc(2024, 1, 15, 14, 0)) == Unavailable::closed_hours);
    // Saturday 2024-01-20, 10:00 local.
    CHECK(d.router.availability("support", utc(2024, 1, 20, 7, 0)) == Unavailable::closed_hours);
    // No entry for sales and no "" entry: always open.
    CHECK(d.router.availability("sales", utc(2024, 1, 20, 7, 0)) == Unavailable::none);
}

TEST_CASE("router: the \"\" hours apply to departments without their own") {
    WeeklyHours ny;
    ny.time_zone = "America/New_York";
    for (int day = 0; day < 5; ++day) ny.days[day] = {{9 * 60, 17 * 60}};
    WeeklyHours always;
    for (auto& day : always.days) day = {{0, 24 * 60}};
    RoutingSettings s;
    s.hours[""] = ny;
    s.hours["vip"] = always;
    Desk d(s);
    d.connect("a1");

    // Monday 2024-01-15 (EST, UTC-5): 08:00 local = 13:00 UTC, 09:00 = 14:00 UTC.
    CHECK(d.router.availability("sales", utc(2024, 1, 15, 13, 0)) == Unavailable::closed_hours);
    CHECK(d.router.availability("", utc(2024, 1, 15, 13, 0)) == Unavailable::closed_hours);
    CHECK(d.router.availability("sales", utc(2024, 1, 15, 14, 0)) == Unavailable::none);
    CHECK(d.router.availability("vip", utc(2024, 1, 15, 13, 0)) == Unavailable::none);
}

TEST_CASE("router: is_open follows the zone's offset and weekday (Europe/Istanbul)") {
    WeeklyHours h;
    h.time_zone = "Europe/Istanbul";
    h.days[0] = {{0, 2 * 60}};  // Monday 00:00-02:00 local only
    // Monday 01:30 in Istanbul is Sunday 22:30 UTC.
    CHECK(is_open(h, utc(2024, 1, 14, 22, 30)));
    CHECK(is_open(h, utc(2024, 1, 14, 21, 0)));         // Monday 00:00 local: open
    CHECK_FALSE(is_open(h, utc(2024, 1, 14, 20, 59)));  // Sunday 23:59 local
    CHECK_FALSE(is_open(h, utc(2024, 1, 14, 23, 0)));   // Monday 02:00 local: closed
    CHECK_FALSE(is_open(h, utc(2024, 1, 15, 1, 30)));   // Monday 04:30 local
}

TEST_CASE("router: is_open across New York's daylight saving changes") {
    WeeklyHours h;
    h.time_zone = "America/New_York";
    for (int day = 0; day < 5; ++day) h.days[day] = {{9 * 60, 17 * 60}};

    // Winter, EST = UTC-5: Monday 2024-01-15 09:00-17:00 = 14:00-22:00 UTC.
    CHECK_FALSE(is_open(h, utc(2024, 1, 15, 13, 59)));
    CHECK(is_open(h, utc(2024, 1, 15, 14, 0)));
    CHECK(is_open(h, utc(2024, 1, 15, 21, 59)));
    CHECK_FALSE(is_open(h, utc(2024, 1, 15, 22, 0)));
    // Summer, EDT = UTC-4: Monday 2024-07-15 09:00-17:00 = 13:00-21:00 UTC.
    CHECK_FALSE(is_open(h, utc(2024, 7, 15, 12, 59)));
    CHECK(is_open(h, utc(2024, 7, 15, 13, 0)));
    CHECK(is_open(h, utc(2024, 7, 15, 20, 59)));
    CHECK_FALSE(is_open(h, utc(2024, 7, 15, 21, 0)));
    // Spring forward on Sunday 2024-03-10: Friday before is EST, Monday after EDT.
    CHECK_FALSE(is_open(h, utc(2024, 3, 8, 13, 30)));
    CHECK(is_open(h, utc(2024, 3, 8, 14, 0)));
    CHECK(is_open(h, utc(2024, 3, 11, 13, 0)));
    CHECK_FALSE(is_open(h, utc(2024, 3, 11, 12, 59)));
    // Fall back on Sunday 2024-11-03: Friday before is EDT, Monday after EST.
    CHECK(is_open(h, utc(2024, 11, 1, 13, 0)));
    CHECK_FALSE(is_open(h, utc(2024, 11, 4, 13, 30)));
    CHECK(is_open(h, utc(2024, 11, 4, 14, 0)));
    // Weekend: Saturday 2024-07-13 noon local.
    CHECK_FALSE(is_open(h, utc(2024, 7, 13, 16, 0)));
}

TEST_CASE("router: is_open with several intervals a day, an empty week, an unknown zone") {
    WeeklyHours split;
    split.days[2] = {{9 * 60, 12 * 60}, {13 * 60, 17 * 60}};  // Wednesday, UTC
    // Wednesday 2024-01-17.
    CHECK(is_open(split, utc(2024, 1, 17, 11, 59)));
    CHECK_FALSE(is_open(split, utc(2024, 1, 17, 12, 30)));
    CHECK(is_open(split, utc(2024, 1, 17, 13, 0)));
    CHECK_FALSE(is_open(split, utc(2024, 1, 18, 11, 0)));  // Thursday

    WeeklyHours never;
    CHECK_FALSE(is_open(never, utc(2024, 1, 17, 12, 0)));

    WeeklyHours unknown;
    unknown.time_zone = "Mars/Olympus_Mons";
    unknown.days[0] = {{9 * 60, 17 * 60}};
    CHECK_FALSE(is_open(unknown, utc(2024, 1, 15, 8, 59)));  // treated as UTC
    CHECK(is_open(unknown, utc(2024, 1, 15, 9, 0)));
}

// ---- release, remove, events ---------------------------------------------------------

TEST_CASE("router: release frees the agent's room") {
    Desk d;
    d.connect("a1", 1);
    d.enqueue("c1");
    d.events();
    d.advance(kSecond);
    d.router.release("c1", d.now);
    auto ev = d.events();
    CHECK(agent_changed(ev, "a1"));
    CHECK(d.owner("c1") == "-");
    CHECK(d.agent("a1").load == 0);

    d.router.release("c404", d.now);  // unknown: nothing happens
    CHECK(d.log() == "");
    d.enqueue("c2");
    CHECK(d.log() == "assigned c2 a1");
}

TEST_CASE("router: remove takes a waiting conversation out of the queue") {
    Desk d;
    d.connect("a1", 1);
    d.enqueue("c1");
    d.advance(kSecond);
    d.enqueue("c2");
    d.advance(kSecond);
    d.enqueue("c3");
    d.events();

    CHECK(d.router.remove("c2", d.now));
    CHECK(queue_changed(d.events()));
    CHECK_FALSE(d.router.is_waiting("c2"));
    CHECK(d.order() == "c3");
    CHECK(d.waiting("c3").position == 1);
    CHECK_FALSE(d.router.remove("c2", d.now));
    CHECK_FALSE(d.router.remove("c404", d.now));
    CHECK_FALSE(d.router.remove("c1", d.now));  // assigned, not waiting
    CHECK(d.owner("c1") == "a1");
}

TEST_CASE("router: take_events drains") {
    Desk d;
    d.enqueue("c1");
    auto first = d.router.take_events();
    CHECK(queue_changed(first));
    CHECK(d.router.take_events().empty());
}
