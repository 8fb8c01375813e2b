// The Hub's visitor context and the console's features, driven through its
// ports (core_fakes.hpp): verified identity, the context agents see
// (visitor_info and its history), CSAT, resolution tags, canned replies,
// supervisors' read-only access and their dashboard, and DayStats.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/stats.hpp"
#include "core_hub_node.hpp"

using namespace sb::core::hubtest;

namespace {

json signed_hello(const std::string& user, const std::string& signature,
                  const std::string& token = "") {
    json j = hello_visitor(token, "Ayşe");
    j["user_id"] = user;
    j["signature"] = signature;
    return j;
}
json rate(const std::string& conv, int score, const std::string& comment = "") {
    json j{{"type", "rate"}, {"conv", conv}, {"score", score}};
    if (!comment.empty()) j["comment"] = comment;
    return j;
}
json info(const std::string& conv) {
    return {{"type", "visitor_info"}, {"conv", conv}};
}
json canned_save(const std::string& shortcut, const std::string& text, bool shared = false,
                 const std::string& id = "") {
    json j{{"type", "canned_save"}, {"shortcut", shortcut}, {"text", text}, {"shared", shared}};
    if (!id.empty()) j["id"] = id;
    return j;
}
json canned_delete(const std::string& id) {
    return {{"type", "canned_delete"}, {"id", id}};
}
json close_with(const std::string& conv, const std::string& resolution) {
    return {{"type", "close"}, {"conv", conv}, {"resolution", resolution}};
}

HubSettings manual() {
    HubSettings s = routing(AssignMode::auto_assign);
    s.dashboard_interval_ms = 500;
    return s;
}

void make_supervisor(Node& n, const std::string& id) {
    AgentIdentity who;
    who.id = id;
    who.supervisor = true;
    n.sec.set_account(who);
}

// A visitor chatting with agent a1 (auto-assigned); returns the conversation.
std::string chat(Node& n, const VisitorSession& v, const std::string& client_id = "s1") {
    return n.start(v.sid, client_id, "Merhaba");
}

}  // namespace

// ---- verified identity ----------------------------------------------------------------

TEST_CASE("identity: a valid signature marks the visitor verified and stores the user id") {
    FakeStore store;
    Node n(store, manual());
    n.sec.set_identity_secret(true);
    SessionId sid = n.connect();
    n.turn(sid, signed_hello("user-42", FakeSecurity::sign("user-42")));
    auto w = n.last(sid, "welcome");
    CHECK(w.value("verified", false));
    auto v = store.durable_visitor(w["id"].get<std::string>());
    REQUIRE(v);
    CHECK(v->verified);
    CHECK(v->external_id == "user-42");
}

TEST_CASE("identity: a wrong signature, or none when required, is refused with 4001") {
    FakeStore store;
    HubSettings s = manual();
    Node n(store, s);
    n.sec.set_identity_secret(true);
    SessionId bad = n.connect();
    n.turn(bad, signed_hello("user-42", FakeSecurity::sign("user-43")));
    CHECK(n.errors(bad) == std::vector<std::string>{"bad_signature"});
    CHECK(n.out.closes(bad) == std::vector<std::uint16_t>{4001});
    CHECK(n.got(bad, "welcome").empty());

    // Unsigned is fine unless required.
    auto plain = n.visitor("Asha");
    CHECK_FALSE(n.last(plain.sid, "welcome").value("verified", false));

    FakeStore store2;
    s.require_identity = true;
    Node strict(store2, s);
    strict.sec.set_identity_secret(true);
    SessionId anon = strict.connect();
    strict.turn(anon, hello_visitor());
    CHECK(strict.errors(anon) == std::vector<std::string>{"bad_signature"});
    CHECK(strict.out.closes(anon) == std::vector<std::uint16_t>{4001});
    SessionId ok = strict.connect();
    strict.turn(ok, signed_hello("u1", FakeSecurity::sign("u1")));
    CHECK(strict.got(ok, "welcome").size() == 1);
}

TEST_CASE("identity: without a configured secret no signature verifies") {
    FakeStore store;
    Node n(store, manual());
    SessionId sid = n.connect();
    n.turn(sid, signed_hello("user-42", FakeSecurity::sign("user-42")));
    CHECK(n.errors(sid) == std::vector<std::string>{"bad_signature"});
}

TEST_CASE("identity: another verified user on the same browser gets a new visitor") {
    FakeStore store;
    Node n(store, manual());
    n.sec.set_identity_secret(true);
    SessionId first = n.connect();
    n.turn(first, signed_hello("alice", FakeSecurity::sign("alice")));
    auto w1 = n.last(first, "welcome");
    const std::string token = w1["token"];

    // Same user again with the token: same visitor, no new token.
    SessionId again = n.connect();
    n.turn(again, signed_hello("alice", FakeSecurity::sign("alice"), token));
    auto w2 = n.last(again, "welcome");
    CHECK(w2["id"] == w1["id"]);
    CHECK(w2.value("token", "").empty());

    // Bob on Alice's browser: a new visitor with its own token.
    SessionId bob = n.connect();
    n.turn(bob, signed_hello("bob", FakeSecurity::sign("bob"), token));
    auto w3 = n.last(bob, "welcome");
    CHECK(w3["id"] != w1["id"]);
    CHECK_FALSE(w3["token"].get<std::string>().empty());
    CHECK(store.durable_visitor(w1["id"].get<std::string>())->external_id == "alice");
}

TEST_CASE("identity: verified visitors get the configured queue priority") {
    FakeStore store;
    HubSettings s = routing(AssignMode::manual, true);
    s.verified_priority = 7;
    Node n(store, s);
    n.sec.set_identity_secret(true);
    auto plain = n.visitor("Asha");
    SessionId vip = n.connect();
    n.turn(vip, signed_hello("vip", FakeSecurity::sign("vip")));
    std::string c1 = n.start(plain.sid, "a");
    std::string c2 = n.start(vip, "b");
    CHECK(store.durable_conversation(c1)->priority == 0);
    CHECK(store.durable_conversation(c2)->priority == 7);
}

// ---- visitor context ---------------------------------------------------------------------

TEST_CASE("context: hello stores attributes, page, language and browser; a later hello updates") {
    FakeStore store;
    Node n(store, manual());
    SessionId sid = n.connect();
    // Raw text: the attributes' order matters (json would sort the keys).
    n.hub.on_frame(sid,
                   R"({"type":"hello","version":1,"role":"visitor","name":"Asha",)"
                   R"("email":"asha@example.com","attributes":{"plan":"pro","order":"A-17"},)"
                   R"("page":"https://shop.example/cart","language":"hi-IN",)"
                   R"("user_agent":"Mozilla/5.0 Chrome/120"})",
                   n.now);
    n.flush();
    auto w = n.last(sid, "welcome");
    const std::string id = w["id"], token = w["token"];
    auto v = store.durable_visitor(id);
    REQUIRE(v);
    CHECK(v->email == "asha@example.com");
    REQUIRE(v->attributes.size() == 2);
    // In the order the page sent them.
    CHECK(v->attributes[0] == std::pair<std::string, std::string>{"plan", "pro"});
    CHECK(v->attributes[1] == std::pair<std::string, std::string>{"order", "A-17"});
    CHECK(v->page == "https://shop.example/cart");
    CHECK(v->language == "hi-IN");
    CHECK(v->user_agent == "Mozilla/5.0 Chrome/120");
    CHECK(v->last_seen == n.now);

    n.advance(5'000);
    SessionId back = n.connect();
    json h2 = hello_visitor(token, "");
    h2["page"] = "https://shop.example/checkout";
    n.turn(back, h2);
    v = store.durable_visitor(id);
    CHECK(v->page == "https://shop.example/checkout");
    CHECK(v->name == "Asha");  // not sent: kept
    CHECK(v->attributes.size() == 2);
    CHECK(v->last_seen == n.now);
}

TEST_CASE("context: the assigned agent and supervisors read visitor_info; others may not") {
    FakeStore store;
    Node n(store, manual());
    make_supervisor(n, "boss");
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    std::string first = chat(n, v);
    n.turn(a1, close_with(first, "solved"));
    n.turn(v.sid, rate(first, 4, "quick"));
    n.advance(1'000);
    std::string second = n.start(v.sid, "s2", "again");
    SessionId a2 = n.agent("a2", "Ece");
    SessionId boss = n.agent("boss", "Bo");
    n.forget_output();

    n.turn(a1, info(second));
    auto i = n.last(a1, "visitor_info");
    CHECK(i["conv"] == second);
    CHECK(i["visitor"]["name"] == "Asha");
    CHECK(i["visitor"]["id"] == v.id);
    REQUIRE(i["history"].size() == 2);
    CHECK(i["history"][0]["conv"] == second);  // newest first
    CHECK(i["history"][1]["conv"] == first);
    CHECK(i["history"][1]["csat_score"] == 4);
    CHECK(i["history"][1]["csat_comment"] == "quick");
    CHECK(i["history"][1]["resolution"] == "solved");

    n.turn(a2, info(second));
    CHECK(n.errors(a2) == std::vector<std::string>{"forbidden"});
    n.turn(v.sid, info(second));
    CHECK(n.errors(v.sid) == std::vector<std::string>{"forbidden"});
    n.turn(boss, info(first));
    CHECK(n.last(boss, "visitor_info")["conv"] == first);
    n.turn(boss, info("c_nope"));
    CHECK(n.errors(boss) == std::vector<std::string>{"not_found"});
}

TEST_CASE("context: a returning visitor's new page is pushed to the agent, not to the visitor") {
    FakeStore store;
    Node n(store, manual());
    SessionId a1 = n.agent("a1");
    auto v = n.visitor("Asha");
    std::string conv = chat(n, v);
    n.turn(a1, resume(conv));
    n.forget_output();
    SessionId back = n.connect();
    json h = hello_visitor(v.token, "");
    h["page"] = "https://shop.example/orders/17";
    n.turn(back, h);
    auto pushed = n.got(a1, "visitor_info");
    REQUIRE(pushed.size() == 1);
    CHECK(pushed[0]["visitor"]["page"] == "https://shop.example/orders/17");
    CHECK(n.got(v.sid, "visitor_info").empty());
    CHECK(n.got(back, "visitor_info").empty());
}

// ---- CSAT and resolution -----------------------------------------------------------------

TEST_CASE("rate: only the visitor, only once closed; a second rating replaces the first") {
    FakeStore store;
    Node n(store, manual());
    SessionId a1 = n.agent("a1");
    auto v = n.visitor("Asha");
    auto other = n.visitor("Mallory");
    std::string conv = chat(n, v);

    n.turn(v.sid, rate(conv, 5));
    CHECK(n.errors(v.sid) == std::vector<std::string>{"bad_field"});
    n.turn(a1, close_with(conv, "billing.refund"));
    CHECK(store.durable_conversation(conv)->resolution == "billing.refund");
    n.forget_output();

    n.turn(a1, rate(conv, 5));
    CHECK(n.errors(a1) == std::vector<std::string>{"forbidden"});
    n.turn(other.sid, rate(conv, 1));
    CHECK(n.errors(other.sid) == std::vector<std::string>{"forbidden"});

    n.turn(v.sid, rate(conv, 2, "slow"));
    CHECK(n.last(v.sid, "rated")["score"] == 2);
    n.advance(1'000);
    n.turn(v.sid, rate(conv, 5, "sorted in the end"));
    auto stored = store.durable_conversation(conv);
    CHECK(stored->csat_score == 5);
    CHECK(stored->csat_comment == "sorted in the end");
    CHECK(stored->rated == n.now);
    CHECK(n.errors(v.sid).empty());
}

TEST_CASE("close: a visitor's resolution is ignored; the closed event carries the agent's") {
    FakeStore store;
    Node n(store, manual());
    SessionId a1 = n.agent("a1");
    auto v = n.visitor("Asha");
    std::string conv = chat(n, v);
    n.turn(v.sid, close_with(conv, "spam"));
    CHECK(store.durable_conversation(conv)->resolution.empty());

    auto w = n.visitor("Ece");
    std::string conv2 = chat(n, w);
    n.forget_output();
    n.turn(a1, close_with(conv2, "solved"));
    CHECK(n.last(w.sid, "conversation")["resolution"] == "solved");
}

// ---- canned replies ------------------------------------------------------------------------

TEST_CASE("canned: personal ones for their owner, shared ones by supervisors") {
    FakeStore store;
    HubSettings s = manual();
    s.canned_limit = 2;
    Node n(store, s);
    make_supervisor(n, "boss");
    SessionId a1 = n.agent("a1", "Deniz");
    SessionId a2 = n.agent("a2", "Ece");
    SessionId boss = n.agent("boss", "Bo");
    n.forget_output();

    n.turn(a1, canned_save("hi", "Hello {visitor.name}, I am {agent.name}."));
    auto mine = n.last(a1, "canned");
    REQUIRE(mine["items"].size() == 1);
    const std::string id = mine["items"][0]["id"];
    CHECK(mine["items"][0]["shared"] == false);
    CHECK(mine["items"][0]["owner"] == "a1");
    CHECK(n.got(a1, "canned_changed").size() == 1);  // to a1's sessions only
    CHECK(n.got(a2, "canned_changed").empty());

    n.turn(a1, canned_save("bye", "Bye", true));
    CHECK(n.errors(a1) == std::vector<std::string>{"forbidden"});
    n.turn(a1, canned_save("hi", "again"));
    CHECK(n.errors(a1) == std::vector<std::string>{"forbidden", "conflict"});
    n.turn(a2, canned_save("x", "theirs", false, id));
    CHECK(n.errors(a2) == std::vector<std::string>{"forbidden"});
    n.turn(a2, canned_delete(id));
    CHECK(n.errors(a2) == std::vector<std::string>{"forbidden", "forbidden"});

    n.forget_output();
    n.turn(boss, canned_save("hi", "Welcome to Acme!", true));
    CHECK(n.got(a2, "canned_changed").size() == 1);  // shared: every agent
    n.turn(a2, {{"type", "canned_list"}});
    auto list = n.last(a2, "canned");
    REQUIRE(list["items"].size() == 1);
    CHECK(list["items"][0]["shared"] == true);
    n.turn(a1, {{"type", "canned_list"}});
    list = n.last(a1, "canned");
    REQUIRE(list["items"].size() == 2);  // same shortcut: shared, then own
    CHECK(list["items"][0]["shared"] == true);
    CHECK(list["items"][1]["id"] == id);

    n.turn(a1, canned_save("hi", "Hi {visitor.name}!", false, id));
    CHECK(store.canned_reply(id)->text == "Hi {visitor.name}!");
    n.turn(a1, canned_save("b", "two"));
    n.forget_output();
    n.turn(a1, canned_save("c", "three"));
    CHECK(n.errors(a1) == std::vector<std::string>{"too_many"});
    n.turn(a1, canned_delete(id));
    CHECK_FALSE(store.canned_reply(id));
    n.turn(a1, canned_delete(id));
    CHECK(n.errors(a1) == std::vector<std::string>{"too_many", "not_found"});
    auto v = n.visitor("Asha");
    n.turn(v.sid, {{"type", "canned_list"}});
    CHECK(n.errors(v.sid) == std::vector<std::string>{"forbidden"});
}

// ---- supervisors -----------------------------------------------------------------------------

TEST_CASE("supervisor: follows any conversation read-only, notes included") {
    FakeStore store;
    Node n(store, manual());
    make_supervisor(n, "boss");
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    std::string conv = chat(n, v);
    n.turn(a1, {{"type", "note"}, {"conv", conv}, {"client_id", "n1"}, {"text", "VIP"}});
    SessionId a2 = n.agent("a2", "Ece");
    SessionId boss = n.agent("boss", "Bo");
    CHECK(n.last(boss, "welcome").value("supervisor", false));
    CHECK_FALSE(n.last(a2, "welcome").contains("supervisor"));
    n.forget_output();

    n.turn(a2, resume(conv));
    CHECK(n.errors(a2) == std::vector<std::string>{"forbidden"});
    n.turn(boss, resume(conv));
    auto replay = n.got(boss, "message");
    REQUIRE(replay.size() == 2);
    CHECK(replay[1]["internal"] == true);
    n.turn(v.sid, message(conv, "m2", "still there?"));
    CHECK(n.got(boss, "message").size() == 3);  // live after the replay

    n.turn(boss, message(conv, "b1", "hijack"));
    n.turn(boss, close_frame(conv));
    CHECK(n.errors(boss) == std::vector<std::string>{"forbidden", "forbidden"});
    CHECK(store.durable_conversation(conv)->state == ConvState::active);
}

TEST_CASE("dashboard: pushed to supervisors on sign-in and on change, at most once per interval") {
    FakeStore store;
    Node n(store, manual());
    make_supervisor(n, "boss");
    SessionId boss = n.agent("boss", "Bo");
    auto d0 = n.last(boss, "dashboard");
    CHECK(d0["today"]["conversations"] == 0);
    SessionId a1 = n.agent("a1", "Deniz");
    n.advance(600);
    n.tick();
    auto agents = n.last(boss, "dashboard")["agents"];
    REQUIRE(agents.size() == 2);

    // A plain agent never gets it.
    CHECK(n.got(a1, "dashboard").empty());

    n.advance(600);
    n.forget_output();
    auto v = n.visitor("Asha");
    std::string conv = chat(n, v);  // assigned to a1 or boss (least busy)
    auto pushed = n.got(boss, "dashboard");
    REQUIRE(pushed.size() == 1);
    CHECK(pushed[0]["today"]["conversations"] == 1);
    CHECK(pushed[0]["today"]["assigned"] == 1);
    REQUIRE(pushed[0]["conversations"].size() == 1);
    CHECK(pushed[0]["conversations"][0]["conv"] == conv);

    // Within the interval: nothing more until the next due tick.
    n.advance(100);
    const std::string agent = pushed[0]["conversations"][0]["agent_id"];
    SessionId holder = agent == "a1" ? a1 : boss;
    n.turn(holder, message(conv, "r1", "Hello!"));
    CHECK(n.got(boss, "dashboard").size() == 1);
    n.advance(500);
    n.tick();
    auto d = n.last(boss, "dashboard");
    CHECK(n.got(boss, "dashboard").size() == 2);
    CHECK(d["today"]["responded"] == 1);
    CHECK(d["today"]["avg_first_response_ms"] == 100);

    n.turn(holder, close_frame(conv));
    n.turn(v.sid, rate(conv, 4));
    n.advance(500);
    n.tick();
    d = n.last(boss, "dashboard");
    CHECK(d["today"]["closed"] == 1);
    CHECK(d["today"]["csat_count"] == 1);
    CHECK(d["today"]["csat_total"] == 4);
    CHECK(d["conversations"].empty());
    n.advance(500);
    n.forget_output();
    n.tick();
    CHECK(n.got(boss, "dashboard").empty());  // nothing changed: nothing sent
}

TEST_CASE("dashboard: the day's figures survive a restart and reset at midnight") {
    FakeStore store;
    std::string conv;
    {
        Node n(store, manual());
        SessionId a1 = n.agent("a1");
        auto v = n.visitor("Asha");
        conv = chat(n, v);
        n.turn(a1, close_frame(conv));
        n.turn(v.sid, rate(conv, 5));
    }
    Node n(store, manual());
    make_supervisor(n, "boss");
    SessionId boss = n.agent("boss", "Bo");
    auto d = n.last(boss, "dashboard");
    CHECK(d["today"]["conversations"] == 1);
    CHECK(d["today"]["csat_total"] == 5);
    n.advance(day_start("UTC", n.now) + 86'400'000 - n.now);  // next midnight
    n.tick();
    CHECK(n.last(boss, "dashboard")["today"]["conversations"] == 0);
}

TEST_CASE("stats: day_start follows the time zone") {
    // 2023-11-14T22:13:20Z
    constexpr TimeMs t = 1'700'000'000'000;
    CHECK(day_start("UTC", t) == 1'699'920'000'000);  // 2023-11-14T00:00Z
    // Istanbul is UTC+3: already the 15th there, which began at 21:00Z on the 14th.
    CHECK(day_start("Europe/Istanbul", t) == 1'699'995'600'000);
    CHECK(day_start("No/Such_Zone", t) == day_start("UTC", t));
}

TEST_CASE("stats: waits, first responses and CSAT over the day's conversations") {
    DayStats s;
    s.reset(1000);
    Conversation old;
    old.id = "old";
    old.created = 999;
    old.csat_score = 1;
    s.note(old);  // yesterday: not counted
    Conversation a;
    a.id = "a";
    a.created = 1000;
    a.queued = 1100;
    s.note(a);
    a.assigned = 1400;  // waited 300
    s.note(a);
    a.assigned = 9000;  // a transfer later does not change the wait
    a.first_reply = 9500;
    s.note(a);
    Conversation b;
    b.id = "b";
    b.created = 2000;
    b.queued = 2000;
    b.assigned = 2100;  // waited 100
    b.first_reply = 2400;
    b.state = ConvState::closed;
    b.csat_score = 3;
    s.note(b);
    auto t = s.today();
    CHECK(t.conversations == 2);
    CHECK(t.assigned == 2);
    CHECK(t.avg_wait_ms == 200);
    CHECK(t.responded == 2);
    CHECK(t.avg_first_response_ms == 400);  // (500 + 300) / 2
    CHECK(t.closed == 1);
    CHECK(t.csat_count == 1);
    CHECK(t.csat_total == 3);
}
