// The Hub driven through its ports (core_fakes.hpp): frames in, frames and
// store writes out. Time is whatever the test says `now` is; nothing sleeps.
//
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/hub.hpp"
#include "core_fakes.hpp"

namespace {

using namespace sb::core;
using namespace sb::core::fakes;
namespace close_code = sb::proto::close_code;

constexpr TimeMs kT0 = 1'700'000'000'000;

// ---- frames a client sends -----------------------------------------------------

json hello_visitor(const std::string& token = "", const std::string& name = "Asha") {
    json j{{"type", "hello"}, {"version", 1}, {"role", "visitor"}};
    if (!token.empty()) j["token"] = token;
    if (!name.empty()) j["name"] = name;
    return j;
}
json hello_agent(const std::string& token) {
    json j{{"type", "hello"}, {"version", 1}, {"role", "agent"}};
    if (!token.empty()) j["token"] = token;
    return j;
}
json start_frame(const std::string& client_id = "", const std::string& text = "") {
    json j{{"type", "start"}};
    if (!client_id.empty()) j["client_id"] = client_id;
    if (!text.empty()) j["text"] = text;
    return j;
}
json message(const std::string& conv, const std::string& client_id,
             const std::string& text = "hi") {
    return {{"type", "message"}, {"conv", conv}, {"client_id", client_id}, {"text", text}};
}
json typing(const std::string& conv, bool on = true) {
    return {{"type", "typing"}, {"conv", conv}, {"on", on}};
}
json receipt(const std::string& conv, const std::string& kind, std::uint64_t seq) {
    return {{"type", "receipt"}, {"conv", conv}, {"kind", kind}, {"seq", seq}};
}
json resume(const std::string& conv, std::uint64_t after = 0) {
    return {{"type", "resume"}, {"conv", conv}, {"after", after}};
}
json take() {
    return {{"type", "take"}};
}
json close_frame(const std::string& conv) {
    return {{"type", "close"}, {"conv", conv}};
}

// ---- reading what came out -------------------------------------------------------

// "1,2,3" from frames carrying a seq.
std::string seqs(const std::vector<json>& frames) {
    std::string out;
    for (const auto& f : frames) out += (out.empty() ? "" : ",") + f["seq"].dump();
    return out;
}

template <class Enum>
std::string name(Enum e) {
    return std::string(sb::proto::to_string(e));
}

// The "type" of every frame sent to the session before its first close (the
// server's outbox drops whatever is sent after it).
std::vector<std::string> types_before_close(const FakeOutbox& out, SessionId sid) {
    std::vector<std::string> types;
    for (const auto& e : out.log()) {
        if (e.sid != sid) continue;
        if (e.code != 0) break;
        types.push_back(json::parse(e.frame).value("type", ""));
    }
    return types;
}

// The convs of a queue frame, in order.
std::string convs_of(const json& q) {
    std::string out;
    for (const auto& e : q["waiting"])
        out += (out.empty() ? "" : ",") + e["conv"].get<std::string>();
    return out;
}

// The queue as "conv@since,..." from a queue frame.
std::string queue_of(const json& q) {
    std::string out;
    for (const auto& e : q["waiting"])
        out += (out.empty() ? "" : ",") + e["conv"].get<std::string>() + "@" +
               std::to_string(e["since"].get<TimeMs>() - kT0);
    return out;
}

// ---- one node ----------------------------------------------------------------------

struct VisitorSession {
    SessionId sid = 0;
    std::string id;
    std::string token;
};

// Most cases here are about conversations, not routing: agents claim with
// take, and a visitor may start while no agent is online.
HubSettings manual() {
    HubSettings s;
    s.routing.mode = AssignMode::manual;
    s.routing.queue_without_agents = true;
    return s;
}

struct Node {
    explicit Node(FakeStore& s, HubSettings settings = manual(), std::uint64_t first_id = 1)
        : store(s), sec(first_id), hub(settings, store, bus, out, sec) {
        hub.start(now);
        hub.flush(now);  // the first loop turn announces the rebuilt queue
    }

    FakeStore& store;
    FakeBus bus;
    FakeOutbox out;
    FakeSecurity sec;
    TimeMs now = kT0;
    Hub hub;
    SessionId next_sid = 1;

    SessionId connect() {
        SessionId sid = next_sid++;
        hub.on_open(sid, now);
        return sid;
    }
    void frame(SessionId sid, const json& j) { raw(sid, j.dump()); }
    void raw(SessionId sid, std::string_view text) { hub.on_frame(sid, text, now); }
    // The socket went away.
    void disconnect(SessionId sid) { hub.on_close(sid, now); }
    void flush() { hub.flush(now); }
    // One loop turn carrying one frame.
    void turn(SessionId sid, const json& j) {
        frame(sid, j);
        flush();
    }
    void advance(TimeMs ms) { now += ms; }

    VisitorSession visitor(const std::string& visitor_name = "Asha",
                           const std::string& token = "") {
        SessionId sid = connect();
        turn(sid, hello_visitor(token, visitor_name));
        auto w = out.of_type(sid, "welcome");
        REQUIRE(w.size() == 1);
        return {sid, w[0]["id"].get<std::string>(),
                token.empty() ? w[0]["token"].get<std::string>() : token};
    }
    SessionId agent(const std::string& id, const std::string& agent_name = "Deniz") {
        SessionId sid = connect();
        turn(sid, hello_agent("agent:" + id + ":" + agent_name));
        REQUIRE(out.of_type(sid, "welcome").size() == 1);
        return sid;
    }
    // The visitor's start; returns the conversation id.
    std::string start(SessionId sid, const std::string& client_id = "s1",
                      const std::string& text = "") {
        turn(sid, start_frame(client_id, text));
        auto ev = out.of_type(sid, "conversation");
        REQUIRE_FALSE(ev.empty());
        return ev.back()["conv"].get<std::string>();
    }
    // Frames with this type sent to the session, newest last.
    std::vector<json> got(SessionId sid, std::string_view type) const {
        return out.of_type(sid, type);
    }
    void forget_output() {
        out.clear();
        bus.clear();
    }
};

// A visitor's conversation taken by agent a1, whose session has resumed it.
struct Chat {
    VisitorSession visitor;
    SessionId agent = 0;
    std::string conv;
};

Chat chat(Node& n) {
    Chat c;
    c.visitor = n.visitor("Asha");
    c.conv = n.start(c.visitor.sid);
    c.agent = n.agent("a1", "Deniz");
    n.turn(c.agent, take());
    n.turn(c.agent, resume(c.conv, 0));
    REQUIRE(n.got(c.agent, "replayed").size() == 1);
    n.forget_output();
    return c;
}

}  // namespace

// ---- hello ---------------------------------------------------------------------------

TEST_CASE("hello: a visitor without a token is created and gets a resume token") {
    FakeStore store;
    Node n(store);
    SessionId sid = n.connect();
    n.frame(sid, hello_visitor("", "Asha"));
    CHECK(n.out.empty());
    n.flush();

    CHECK(n.out.types(sid) == std::vector<std::string>{"welcome"});
    auto w = n.got(sid, "welcome").at(0);
    CHECK(w["role"] == "visitor");
    CHECK(w["name"] == "Asha");
    const std::string id = w["id"];
    const std::string token = w["token"];
    CHECK(id.rfind("v_", 0) == 0);
    CHECK_FALSE(token.empty());
    CHECK(w["conversations"].empty());
    CHECK(n.out.closes(sid).empty());

    auto stored = store.durable_visitor(id);
    REQUIRE(stored);
    CHECK(stored->token_hash == "h(" + token + ")");  // the hash is kept, not the token
    CHECK(stored->name == "Asha");
    CHECK(stored->created == n.now);
    CHECK(n.bus.subscribed("visitor:" + id));
}

TEST_CASE("hello: a known token resumes the same visitor and lists the open conversation") {
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    n.disconnect(v.sid);
    n.advance(60'000);

    SessionId again = n.connect();
    n.turn(again, hello_visitor(v.token, ""));
    auto w = n.got(again, "welcome");
    REQUIRE(w.size() == 1);
    CHECK(w[0]["id"] == v.id);
    CHECK(w[0]["name"] == "Asha");
    CHECK(w[0]["token"] == "");  // nothing new to store
    REQUIRE(w[0]["conversations"].size() == 1);
    const auto& c = w[0]["conversations"][0];
    CHECK(c["conv"] == conv);
    CHECK(c["state"] == "waiting");
    CHECK(c["last_seq"] == 0);
    CHECK(c["visitor_name"] == "Asha");
    CHECK(c["agent_name"] == "");

    SUBCASE("once closed, it is no longer listed") {
        n.turn(again, close_frame(conv));
        SessionId third = n.connect();
        n.turn(third, hello_visitor(v.token, ""));
        auto w3 = n.got(third, "welcome");
        REQUIRE(w3.size() == 1);
        CHECK(w3[0]["id"] == v.id);
        CHECK(w3[0]["conversations"].empty());
    }
}

TEST_CASE("hello: an unknown visitor token gets bad_token, then close 4001") {
    FakeStore store;
    Node n(store);
    SessionId sid = n.connect();
    n.turn(sid, hello_visitor("forged-token"));
    CHECK(n.out.error_codes(sid) == std::vector<std::string>{"bad_token"});
    CHECK(n.out.closes(sid) == std::vector<std::uint16_t>{close_code::bad_token});
    // The error is written before the close.
    REQUIRE(n.out.log().size() == 2);
    CHECK(n.out.log()[0].code == 0);
    CHECK(n.out.log()[1].code == close_code::bad_token);
    CHECK(n.got(sid, "welcome").empty());

    // Still not signed in.
    n.turn(sid, start_frame());
    CHECK(n.out.error_codes(sid).back() == "hello_required");
}

TEST_CASE("hello: an agent with a bad, missing or expired token gets bad_token and 4001") {
    FakeStore store;
    Node n(store);
    std::string token;
    SUBCASE("forged") {
        token = "forged";
    }
    SUBCASE("missing") {
        token = "";
    }
    SUBCASE("a visitor's resume token") {
        token = n.visitor("Asha").token;
    }
    SUBCASE("expired") {
        n.sec.expire("a1", n.now + 1'000);
        n.advance(1'000);
        token = "agent:a1:Deniz";
    }
    n.forget_output();
    SessionId sid = n.connect();
    n.turn(sid, hello_agent(token));
    CHECK(n.out.types(sid) == std::vector<std::string>{"error"});
    CHECK(n.out.error_codes(sid) == std::vector<std::string>{"bad_token"});
    CHECK(n.out.closes(sid) == std::vector<std::uint16_t>{close_code::bad_token});
    CHECK_FALSE(n.bus.subscribed("agents"));

    n.turn(sid, take());
    CHECK(n.out.error_codes(sid).back() == "hello_required");
}

TEST_CASE("hello: an agent's token is checked against now") {
    FakeStore store;
    Node n(store);
    n.sec.expire("a1", n.now + 1'000);
    n.advance(999);
    SessionId sid = n.connect();
    n.turn(sid, hello_agent("agent:a1:Deniz"));
    CHECK(n.out.types(sid) == std::vector<std::string>{"welcome", "queue", "presence"});
    auto w = n.got(sid, "welcome").at(0);
    CHECK(w["role"] == "agent");
    CHECK(w["id"] == "a1");
    CHECK(w["name"] == "Deniz");
    CHECK(w["token"] == "");
    CHECK(n.got(sid, "queue").at(0)["waiting"].empty());
    auto p = n.got(sid, "presence").at(0);
    CHECK(p["status"] == "online");
    CHECK(p["load"] == 0);
    CHECK(p["capacity"] == 3);  // the routing default
    CHECK(n.out.closes(sid).empty());
    CHECK(n.bus.subscribed("agents"));
    CHECK(n.bus.subscribed("agent:a1"));
}

TEST_CASE("before hello every frame gets hello_required and the connection stays open") {
    FakeStore store;
    Node n(store);
    SessionId sid = n.connect();
    for (const auto& j : {start_frame("s1"), take(), message("c_x", "k1"), typing("c_x"),
                          receipt("c_x", "read", 1), resume("c_x"), close_frame("c_x")}) {
        n.turn(sid, j);
    }
    CHECK(n.out.error_codes(sid) == std::vector<std::string>(7, "hello_required"));
    CHECK(n.out.closes(sid).empty());
    CHECK(store.open_conversations().empty());

    n.turn(sid, hello_visitor());
    CHECK(n.got(sid, "welcome").size() == 1);
}

TEST_CASE("a second hello gets already_hello and changes nothing") {
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    n.turn(v.sid, hello_agent("agent:a1:Deniz"));
    n.turn(v.sid, hello_visitor());
    CHECK(n.out.error_codes(v.sid) == std::vector<std::string>{"already_hello", "already_hello"});
    CHECK(n.got(v.sid, "welcome").size() == 1);
    CHECK(n.out.closes(v.sid).empty());
    CHECK_FALSE(n.bus.subscribed("agents"));
    // Still the same visitor: a visitor may start, an agent may not.
    n.turn(v.sid, start_frame("s1"));
    CHECK(n.got(v.sid, "conversation").size() == 1);
}

// ---- start ------------------------------------------------------------------------------

TEST_CASE("start: a waiting conversation, announced to the agents; start again returns it") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    n.advance(1'000);
    n.forget_output();

    n.turn(v.sid, start_frame("s1"));
    CHECK(n.out.types(v.sid) == std::vector<std::string>{"conversation", "queue_position"});
    auto ev = n.got(v.sid, "conversation").at(0);
    const std::string conv = ev["conv"];
    CHECK(conv.rfind("c_", 0) == 0);
    CHECK(ev["state"] == "waiting");
    CHECK(ev["client_id"] == "s1");
    CHECK(ev["last_seq"] == 0);
    CHECK(ev["visitor_name"] == "Asha");
    CHECK(ev["agent_name"] == "");
    CHECK_FALSE(ev.contains("reason"));

    auto stored = store.durable_conversation(conv);
    REQUIRE(stored);
    CHECK(name(stored->state) == "waiting");
    CHECK(stored->visitor_id == v.id);
    CHECK(stored->created == n.now);
    CHECK(n.hub.waiting_count() == 1);
    auto pos = n.got(v.sid, "queue_position").at(0);
    CHECK(pos["conv"] == conv);
    CHECK(pos["position"] == 1);

    auto queue = n.bus.published_on("agents");
    REQUIRE(queue.size() == 1);
    CHECK(queue_of(queue[0]) == conv + "@1000");
    CHECK(queue[0]["waiting"][0]["visitor_name"] == "Asha");
    auto agent_queue = n.got(agent, "queue");
    REQUIRE(agent_queue.size() == 1);
    CHECK(queue_of(agent_queue[0]) == conv + "@1000");

    SUBCASE("start again returns the same conversation and queues nothing new") {
        n.advance(1'000);
        n.forget_output();
        n.turn(v.sid, start_frame("s2"));
        auto again = n.got(v.sid, "conversation");
        REQUIRE(again.size() == 1);
        CHECK(again[0]["conv"] == conv);
        CHECK(again[0]["client_id"] == "s2");
        CHECK(again[0]["state"] == "waiting");
        CHECK(n.hub.waiting_count() == 1);
        CHECK(n.bus.published_on("agents").empty());
        CHECK(store.open_conversations().size() == 1);
    }
    SUBCASE("an agent may not start") {
        n.turn(agent, start_frame("s9"));
        CHECK(n.out.error_codes(agent) == std::vector<std::string>{"forbidden"});
        CHECK(store.open_conversations().size() == 1);
    }
}

TEST_CASE("start with text stores it as seq 1 and acks it") {
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    n.forget_output();

    SUBCASE("with a client_id") {
        n.turn(v.sid, start_frame("s1", "Siparişim nerede?"));
        CHECK(n.out.types(v.sid) ==
              std::vector<std::string>{"conversation", "ack", "message", "queue_position"});
        const std::string conv = n.got(v.sid, "conversation").at(0)["conv"];
        auto ack = n.got(v.sid, "ack").at(0);
        CHECK(ack["conv"] == conv);
        CHECK(ack["client_id"] == "s1");
        CHECK(ack["seq"] == 1);
        CHECK(ack["ts"] == n.now);
        CHECK(ack["duplicate"] == false);
        auto msg = n.got(v.sid, "message").at(0);
        CHECK(msg["seq"] == 1);
        CHECK(msg["from"] == "visitor");
        CHECK(msg["author"] == "Asha");
        CHECK(msg["client_id"] == "s1");
        CHECK(msg["text"] == "Siparişim nerede?");
        auto log = store.durable_messages(conv);
        REQUIRE(log.size() == 1);
        CHECK(log[0].author_id == v.id);
        CHECK(log[0].text == "Siparişim nerede?");

        // Resent after a reconnect: same conversation, the text is not stored twice.
        n.forget_output();
        n.turn(v.sid, start_frame("s1", "Siparişim nerede?"));
        CHECK(n.out.types(v.sid) == std::vector<std::string>{"conversation", "ack"});
        CHECK(n.got(v.sid, "conversation").at(0)["conv"] == conv);
        CHECK(n.got(v.sid, "ack").at(0)["duplicate"] == true);
        CHECK(n.got(v.sid, "ack").at(0)["seq"] == 1);
        CHECK(store.durable_messages(conv).size() == 1);
    }
    SUBCASE("without a client_id the hub makes one from the conversation") {
        n.turn(v.sid, start_frame("", "hello"));
        const std::string conv = n.got(v.sid, "conversation").at(0)["conv"];
        auto ack = n.got(v.sid, "ack").at(0);
        CHECK(ack["seq"] == 1);
        CHECK(ack["client_id"] == "start-" + conv);
    }
}

// ---- delivery ------------------------------------------------------------------------------

TEST_CASE("nothing leaves the hub before flush, and an ack only after its commit") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    const int commits = store.commits();
    int acks = 0;
    n.out.on_send = [&](SessionId, const json& f) {
        if (f["type"] != "ack") return;
        ++acks;
        CHECK_FALSE(store.in_batch());
        CHECK(store.durable_messages(c.conv).size() >= f["seq"].get<std::size_t>());
    };

    n.frame(c.visitor.sid, message(c.conv, "k1", "one"));
    n.frame(c.agent, message(c.conv, "k1", "two"));
    n.frame(c.visitor.sid, message(c.conv, "k2", "three"));
    CHECK(n.out.empty());
    CHECK(n.bus.published().empty());
    CHECK(store.in_batch());
    CHECK(store.durable_messages(c.conv).empty());
    CHECK(n.hub.dirty());

    n.flush();
    CHECK(acks == 3);
    CHECK(store.commits() == commits + 1);  // one turn, one transaction
    CHECK_FALSE(store.in_batch());
    CHECK_FALSE(n.hub.dirty());
    CHECK(seqs(n.got(c.agent, "message")) == "1,2,3");
}

TEST_CASE("messages flow both ways, numbered 1, 2, 3, to every follower") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    SessionId tab2 = n.connect();
    n.turn(tab2, hello_visitor(c.visitor.token, ""));
    n.turn(tab2, resume(c.conv, 0));
    n.forget_output();

    n.turn(c.visitor.sid, message(c.conv, "k1", "Merhaba"));
    n.advance(10);
    n.turn(c.agent, message(c.conv, "a-1", "नमस्ते"));
    n.advance(10);
    n.turn(tab2, message(c.conv, "k2", "from the other tab"));

    for (SessionId sid : {c.visitor.sid, c.agent, tab2}) {
        CAPTURE(sid);
        auto msgs = n.got(sid, "message");
        CHECK(seqs(msgs) == "1,2,3");
        REQUIRE(msgs.size() == 3);
        CHECK(msgs[0]["from"] == "visitor");
        CHECK(msgs[0]["author"] == "Asha");
        CHECK(msgs[0]["text"] == "Merhaba");
        CHECK(msgs[1]["from"] == "agent");
        CHECK(msgs[1]["author"] == "Deniz");
        CHECK(msgs[1]["text"] == "नमस्ते");
        CHECK(msgs[1]["client_id"] == "a-1");
        CHECK(msgs[2]["ts"] == kT0 + 20);
    }
    // Acks go to the sending session only.
    CHECK(seqs(n.got(c.visitor.sid, "ack")) == "1");
    CHECK(seqs(n.got(c.agent, "ack")) == "2");
    CHECK(seqs(n.got(tab2, "ack")) == "3");

    auto log = store.durable_messages(c.conv);
    REQUIRE(log.size() == 3);
    CHECK(log[0].author_id == c.visitor.id);
    CHECK(log[1].author_id == "a1");
    CHECK(name(log[1].from) == "agent");
    CHECK(log[2].author_id == c.visitor.id);
    CHECK(store.conversation(c.conv)->last_seq == 3);
}

TEST_CASE("a resent client_id is acked as a duplicate with the original seq and not broadcast") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "k1", "first"));
    const TimeMs first_ts = n.now;
    n.advance(5'000);
    n.forget_output();

    SUBCASE("in a later turn") {
        n.turn(c.visitor.sid, message(c.conv, "k1", "first, resent"));
        auto acks = n.got(c.visitor.sid, "ack");
        REQUIRE(acks.size() == 1);
        CHECK(acks[0]["duplicate"] == true);
        CHECK(acks[0]["seq"] == 1);
        CHECK(acks[0]["ts"] == first_ts);
        CHECK(n.got(c.visitor.sid, "message").empty());
        CHECK(n.got(c.agent, "message").empty());
        CHECK(n.bus.published_on("conv:" + c.conv).empty());
        CHECK(store.durable_messages(c.conv).size() == 1);

        // The next new message still gets the next seq.
        n.turn(c.visitor.sid, message(c.conv, "k2"));
        CHECK(seqs(n.got(c.agent, "message")) == "2");
    }
    SUBCASE("twice in the same turn") {
        n.frame(c.visitor.sid, message(c.conv, "k2", "second"));
        n.frame(c.visitor.sid, message(c.conv, "k2", "second"));
        n.flush();
        auto acks = n.got(c.visitor.sid, "ack");
        REQUIRE(acks.size() == 2);
        CHECK(acks[0]["seq"] == 2);
        CHECK(acks[0]["duplicate"] == false);
        CHECK(acks[1]["seq"] == 2);
        CHECK(acks[1]["duplicate"] == true);
        CHECK(seqs(n.got(c.agent, "message")) == "2");
    }
    SUBCASE("the same client_id from the other author is a new message") {
        n.turn(c.agent, message(c.conv, "k1", "agent's own k1"));
        auto acks = n.got(c.agent, "ack");
        REQUIRE(acks.size() == 1);
        CHECK(acks[0]["duplicate"] == false);
        CHECK(acks[0]["seq"] == 2);
        CHECK(seqs(n.got(c.visitor.sid, "message")) == "2");
    }
}

TEST_CASE("an append the store refuses gets store_unavailable; a retry is stored") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    store.fail_next_append();
    n.turn(c.visitor.sid, message(c.conv, "k1"));
    auto errs = n.got(c.visitor.sid, "error");
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]["code"] == "store_unavailable");
    CHECK(errs[0]["conv"] == c.conv);
    CHECK(errs[0]["client_id"] == "k1");
    CHECK(n.got(c.visitor.sid, "ack").empty());
    CHECK(n.got(c.agent, "message").empty());

    n.turn(c.visitor.sid, message(c.conv, "k1"));
    CHECK(seqs(n.got(c.visitor.sid, "ack")) == "1");
    CHECK(seqs(n.got(c.agent, "message")) == "1");
}

// A failed commit (PROTOCOL.md §7, 1011): nothing of the turn leaves the hub.
// Every session owed an answer in that turn gets store_unavailable and close
// 1011; the hub reads its open conversations and its router view again from
// the store; clients reconnect, resume and resend with the same client_ids.

TEST_CASE(
    "a failed commit: no ack, nothing published, 1011; the resend after reconnect is stored once") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "k0", "durable before"));
    n.forget_output();

    store.fail_next_commit();
    n.turn(c.visitor.sid, message(c.conv, "k1", "lost"));

    CHECK(types_before_close(n.out, c.visitor.sid) == std::vector<std::string>{"error"});
    CHECK(n.out.error_codes(c.visitor.sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(c.visitor.sid) == std::vector<std::uint16_t>{close_code::internal_error});
    CHECK(n.got(c.agent, "message").empty());
    CHECK(n.out.closes(c.agent).empty());  // owed nothing: left alone
    for (const auto& t : n.out.types(c.agent)) CHECK(t == "queue");
    // No conversation traffic. (A refreshed "agents" queue, rebuilt from the
    // store after the rollback, is allowed: it is accurate.)
    for (const auto& p : n.bus.published()) CHECK(p.channel == "agents");
    CHECK(store.durable_messages(c.conv).size() == 1);
    CHECK(store.conversation(c.conv)->last_seq == 1);
    CHECK_FALSE(store.in_batch());
    CHECK(store.rollbacks() == 1);

    // The client reconnects, resumes from what it has and resends.
    n.disconnect(c.visitor.sid);
    n.forget_output();
    auto back = n.visitor("", c.visitor.token);
    n.turn(back.sid, resume(c.conv, 1));
    CHECK(n.got(back.sid, "replayed").at(0)["last_seq"] == 1);
    n.turn(back.sid, message(c.conv, "k1", "lost"));
    auto ack = n.got(back.sid, "ack");
    REQUIRE(ack.size() == 1);
    CHECK(ack[0]["seq"] == 2);
    CHECK(ack[0]["duplicate"] == false);
    CHECK(seqs(n.got(c.agent, "message")) == "2");
    CHECK(seqs(n.got(back.sid, "message")) == "2");

    n.turn(back.sid, message(c.conv, "k1", "lost"));
    CHECK(n.got(back.sid, "ack").back()["duplicate"] == true);
    auto log = store.durable_messages(c.conv);
    REQUIRE(log.size() == 2);
    CHECK(log[1].client_id == "k1");
    CHECK(seqs(n.got(c.agent, "message")) == "2");
}

TEST_CASE("a failed commit undoes a conversation started in that turn") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");
    auto v = n.visitor("Asha");
    n.forget_output();

    store.fail_next_commit();
    n.turn(v.sid, start_frame("s1", "hello"));
    CHECK(n.out.types(v.sid) == std::vector<std::string>{"error"});
    CHECK(n.out.error_codes(v.sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(v.sid) == std::vector<std::uint16_t>{close_code::internal_error});
    CHECK(n.hub.waiting_count() == 0);
    CHECK(store.open_conversations().empty());
    for (const auto& q : n.got(agent, "queue")) CHECK(q["waiting"].empty());

    n.disconnect(v.sid);
    auto back = n.visitor("", v.token);
    CHECK(n.got(back.sid, "welcome").at(0)["conversations"].empty());
    n.turn(back.sid, start_frame("s1", "hello"));
    CHECK(n.hub.waiting_count() == 1);
    CHECK(seqs(n.got(back.sid, "ack")) == "1");
    n.turn(agent, take());
    CHECK(n.got(agent, "conversation").size() == 1);
}

TEST_CASE("a failed commit closes every session owed an answer in that turn, and only those") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    auto other = n.visitor("Ravi");
    const std::string other_conv = n.start(other.sid);
    n.forget_output();

    SessionId agent2 = n.connect();
    n.frame(agent2, hello_agent("agent:a2:Bo"));        // owed: welcome
    n.frame(c.visitor.sid, message(c.conv, "k1"));      // owed: ack
    n.frame(other.sid, typing(other_conv));             // owed nothing
    n.frame(c.agent, receipt(c.conv, "delivered", 0));  // owed nothing
    store.fail_next_commit();
    n.flush();

    for (SessionId sid : {agent2, c.visitor.sid}) {
        CAPTURE(sid);
        CHECK(types_before_close(n.out, sid) == std::vector<std::string>{"error"});
        CHECK(n.out.error_codes(sid) == std::vector<std::string>{"store_unavailable"});
        CHECK(n.out.closes(sid) == std::vector<std::uint16_t>{close_code::internal_error});
    }
    for (SessionId sid : {other.sid, c.agent}) {
        CAPTURE(sid);
        CHECK(n.out.closes(sid).empty());
        CHECK(n.out.error_codes(sid).empty());
    }
    // Nothing of the turn's conversation traffic left; what the rebuilt views
    // announce (queue, positions, presence) is read from the store.
    for (const auto& p : n.bus.published()) CHECK(p.channel.rfind("conv:", 0) != 0);
    for (SessionId sid : {agent2, c.visitor.sid, other.sid, c.agent}) {
        for (const auto& t : n.out.types(sid)) {
            CAPTURE(t);
            CHECK((t == "error" || t == "queue" || t == "queue_position" || t == "presence"));
        }
    }

    // The closed agent signs in again on a new connection.
    n.disconnect(agent2);
    SessionId again = n.agent("a2", "Bo");
    CHECK(n.got(again, "queue").at(0)["waiting"].size() == 1);
}

TEST_CASE("a failed commit of a visitor's hello: error, 1011; a new connection's hello works") {
    FakeStore store;
    Node n(store);
    SessionId sid = n.connect();
    store.fail_next_commit();
    n.turn(sid, hello_visitor());
    CHECK(n.out.types(sid) == std::vector<std::string>{"error"});
    CHECK(n.out.error_codes(sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(sid) == std::vector<std::uint16_t>{close_code::internal_error});

    n.disconnect(sid);
    n.forget_output();
    auto v = n.visitor("Asha");
    CHECK(store.durable_visitor(v.id));
    CHECK_FALSE(v.token.empty());
}

TEST_CASE("a failed commit of a start without text is answered with store_unavailable and 1011") {
    // The answer to start is a "conversation" event published on the visitor's
    // channel, not a direct frame, so flush() does not count the session as
    // owed an answer: today the visitor hears nothing at all.
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    n.forget_output();
    store.fail_next_commit();
    n.turn(v.sid, start_frame("s1"));
    CHECK(n.out.error_codes(v.sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(v.sid) == std::vector<std::uint16_t>{close_code::internal_error});
    CHECK(n.hub.waiting_count() == 0);
    CHECK(store.open_conversations().empty());
}

TEST_CASE("the store down at commit: memory is kept; after it recovers a resend is stored once") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");
    auto v = n.visitor("Asha");
    auto w = n.visitor("Bo");
    const std::string conv = n.start(v.sid);
    n.start(w.sid);
    n.forget_output();

    n.frame(v.sid, message(conv, "k1"));
    store.set_down(true);
    n.flush();  // the commit fails, and so does reading the store again
    store.set_down(false);
    CHECK(n.out.error_codes(v.sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(v.sid) == std::vector<std::uint16_t>{close_code::internal_error});
    CHECK(store.durable_messages(conv).empty());
    // What the hub knew is kept: both conversations are still waiting.
    CHECK(n.hub.waiting_count() == 2);

    n.disconnect(v.sid);
    n.forget_output();
    auto back = n.visitor("", v.token);
    REQUIRE(n.got(back.sid, "welcome").at(0)["conversations"].size() == 1);
    CHECK(n.got(back.sid, "welcome").at(0)["conversations"][0]["conv"] == conv);
    n.turn(back.sid, message(conv, "k1"));
    CHECK(n.out.error_codes(back.sid).empty());
    CHECK(seqs(n.got(back.sid, "ack")) == "1");
    n.turn(back.sid, message(conv, "k1"));
    CHECK(n.got(back.sid, "ack").back()["duplicate"] == true);
    CHECK(store.durable_messages(conv).size() == 1);
    CHECK(n.hub.waiting_count() == 2);
    n.turn(agent, take());
    CHECK(n.out.error_codes(agent).empty());
    CHECK(n.got(agent, "conversation").at(0)["conv"] == conv);
}

TEST_CASE("the store down at the commit of a start: the visitor can start again once it is back") {
    // The commit fails and so does the rebuild, so the hub keeps the
    // conversation it created in memory though the store never got it: the
    // visitor's next start returns it, and every message to it fails.
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    n.forget_output();
    n.frame(v.sid, start_frame("s1", "hello"));
    store.set_down(true);
    n.flush();
    store.set_down(false);
    CHECK(n.out.closes(v.sid) == std::vector<std::uint16_t>{close_code::internal_error});
    CHECK(store.open_conversations().empty());

    n.disconnect(v.sid);
    auto back = n.visitor("", v.token);
    n.turn(back.sid, start_frame("s1", "hello"));
    CHECK(n.out.error_codes(back.sid).empty());
    auto ack = n.got(back.sid, "ack");
    REQUIRE(ack.size() == 1);
    CHECK(ack[0]["seq"] == 1);
    const std::string conv = n.got(back.sid, "conversation").back()["conv"];
    CHECK(store.durable_messages(conv).size() == 1);
}

// ---- take ------------------------------------------------------------------------------------

TEST_CASE("take: nothing_waiting on an empty queue") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");
    n.turn(agent, take());
    CHECK(n.out.error_codes(agent) == std::vector<std::string>{"nothing_waiting"});
}

TEST_CASE("take: oldest first; both sides told; the queue empties") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1", "Deniz");
    SessionId other_agent = n.agent("a2", "Bo");
    auto first = n.visitor("Asha");
    auto second = n.visitor("Ravi");
    const std::string c1 = n.start(first.sid);
    n.advance(10);
    const std::string c2 = n.start(second.sid);
    CHECK(queue_of(n.got(agent, "queue").back()) == c1 + "@0," + c2 + "@10");
    n.advance(10);
    n.forget_output();

    n.turn(agent, take());
    auto mine = n.got(agent, "conversation");
    REQUIRE(mine.size() == 1);
    CHECK(mine[0]["conv"] == c1);
    CHECK(mine[0]["state"] == "active");
    CHECK(mine[0]["agent_name"] == "Deniz");
    CHECK(mine[0]["visitor_name"] == "Asha");
    CHECK(mine[0]["reason"] == "assigned");
    auto theirs = n.got(first.sid, "conversation");
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0]["conv"] == c1);
    CHECK(theirs[0]["state"] == "active");
    CHECK(theirs[0]["agent_name"] == "Deniz");
    CHECK(n.got(second.sid, "conversation").empty());
    CHECK(n.got(other_agent, "conversation").empty());
    CHECK(n.bus.published_on("visitor:" + first.id).size() == 1);
    CHECK(n.got(agent, "presence").back()["load"] == 1);

    auto stored = store.durable_conversation(c1);
    REQUIRE(stored);
    CHECK(name(stored->state) == "active");
    CHECK(stored->agent_id == "a1");
    CHECK(stored->agent_name == "Deniz");
    CHECK(stored->assigned == n.now);
    CHECK(n.hub.waiting_count() == 1);
    CHECK(queue_of(n.got(other_agent, "queue").back()) == c2 + "@10");

    n.turn(other_agent, take());
    CHECK(n.got(other_agent, "conversation").at(0)["conv"] == c2);
    CHECK(n.got(agent, "queue").back()["waiting"].empty());
    CHECK(n.hub.waiting_count() == 0);
    n.turn(agent, take());
    CHECK(n.out.error_codes(agent) == std::vector<std::string>{"nothing_waiting"});

    SUBCASE("a visitor may not take") {
        n.turn(first.sid, take());
        CHECK(n.out.error_codes(first.sid) == std::vector<std::string>{"forbidden"});
    }
}

// ---- rights and states -----------------------------------------------------------------------

TEST_CASE("writing to a conversation: forbidden, not_found, conv_closed") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    SessionId stranger_agent = n.agent("a2", "Bo");
    auto stranger = n.visitor("Mallory");
    const std::string waiting = n.start(stranger.sid);
    n.forget_output();

    SUBCASE("an agent the conversation is not assigned to") {
        for (const auto& j : {message(c.conv, "k1"), typing(c.conv), receipt(c.conv, "read", 0),
                              resume(c.conv), close_frame(c.conv)})
            n.turn(stranger_agent, j);
        CHECK(n.out.error_codes(stranger_agent) == std::vector<std::string>(5, "forbidden"));
        for (const auto& e : n.got(stranger_agent, "error")) CHECK(e["conv"] == c.conv);
    }
    SUBCASE("an agent on a conversation still waiting") {
        n.turn(c.agent, message(waiting, "k1"));
        CHECK(n.out.error_codes(c.agent) == std::vector<std::string>{"forbidden"});
    }
    SUBCASE("another visitor") {
        for (const auto& j : {message(c.conv, "k1"), typing(c.conv), receipt(c.conv, "read", 0),
                              resume(c.conv), close_frame(c.conv)})
            n.turn(stranger.sid, j);
        CHECK(n.out.error_codes(stranger.sid) == std::vector<std::string>(5, "forbidden"));
    }
    SUBCASE("an unknown conversation") {
        for (const auto& j :
             {message("c_nope", "k1"), typing("c_nope"), receipt("c_nope", "read", 0),
              resume("c_nope"), close_frame("c_nope")})
            n.turn(c.visitor.sid, j);
        CHECK(n.out.error_codes(c.visitor.sid) == std::vector<std::string>(5, "not_found"));
        for (const auto& e : n.got(c.visitor.sid, "error")) CHECK(e["conv"] == "c_nope");
    }
    SUBCASE("a closed conversation: conv_closed, but resume still replays") {
        n.turn(c.visitor.sid, message(c.conv, "k1"));
        n.turn(c.visitor.sid, close_frame(c.conv));
        n.forget_output();
        for (SessionId sid : {c.visitor.sid, c.agent}) {
            for (const auto& j : {message(c.conv, "k2"), typing(c.conv), receipt(c.conv, "read", 1),
                                  close_frame(c.conv)})
                n.turn(sid, j);
            CHECK(n.out.error_codes(sid) == std::vector<std::string>(4, "conv_closed"));
            n.turn(sid, resume(c.conv, 0));
            CHECK(seqs(n.got(sid, "message")) == "1");
            CHECK(n.got(sid, "replayed").at(0)["last_seq"] == 1);
        }
        // Strangers are still strangers.
        n.turn(stranger_agent, resume(c.conv, 0));
        CHECK(n.out.error_codes(stranger_agent) == std::vector<std::string>{"forbidden"});
        CHECK(store.durable_messages(c.conv).size() == 1);
    }
    CHECK(store.durable_messages(c.conv).size() <= 1);
}

// ---- resume ---------------------------------------------------------------------------------

TEST_CASE("resume replays exactly seq > after, in order, then replayed, then follows live") {
    FakeStore store;
    HubSettings settings = manual();
    settings.replay_page = 2;  // several pages, and a full last page
    Node n(store, settings);
    auto c = chat(n);
    for (int i = 1; i <= 6; ++i) n.turn(c.visitor.sid, message(c.conv, "k" + std::to_string(i)));

    SessionId tab = n.connect();
    n.turn(tab, hello_visitor(c.visitor.token, ""));
    n.forget_output();

    std::uint64_t after = 0;
    std::string want;
    std::uint64_t last = 0;
    SUBCASE("from 0") {
        after = 0;
        want = "1,2,3,4,5,6";
        last = 6;
    }
    SUBCASE("from the middle") {
        after = 3;
        want = "4,5,6";
        last = 6;
    }
    SUBCASE("from an odd point") {
        after = 2;
        want = "3,4,5,6";
        last = 6;
    }
    SUBCASE("from the end") {
        after = 6;
        want = "";
        last = 6;
    }
    SUBCASE("from beyond the end: nothing, and the resume point back") {
        after = 99;
        want = "";
        last = 99;
    }
    n.frame(tab, resume(c.conv, after));
    CHECK(n.out.empty());  // replayed in flush, after the turn's commit
    n.flush();
    auto types = n.out.types(tab);
    REQUIRE_FALSE(types.empty());
    CHECK(types.back() == "replayed");
    CHECK(types.size() == n.got(tab, "message").size() + 1);
    CHECK(seqs(n.got(tab, "message")) == want);
    auto replayed = n.got(tab, "replayed").at(0);
    CHECK(replayed["conv"] == c.conv);
    CHECK(replayed["last_seq"] == last);
    CHECK(n.out.frames(c.agent).empty());

    // Then live.
    n.forget_output();
    n.turn(c.agent, message(c.conv, "a1"));
    CHECK(seqs(n.got(tab, "message")) == "7");
}

TEST_CASE("a resume in the same turn as a new message delivers that message once") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "k1"));
    SessionId tab = n.connect();
    n.turn(tab, hello_visitor(c.visitor.token, ""));
    n.forget_output();

    SUBCASE("resume first") {
        n.frame(tab, resume(c.conv, 1));
        n.frame(c.agent, message(c.conv, "a-1"));
    }
    SUBCASE("message first") {
        n.frame(c.agent, message(c.conv, "a-1"));
        n.frame(tab, resume(c.conv, 1));
    }
    n.flush();
    CHECK(seqs(n.got(tab, "message")) == "2");
    CHECK(n.out.types(tab) == std::vector<std::string>{"message", "replayed"});
    CHECK(n.got(tab, "replayed").at(0)["last_seq"] == 2);
    CHECK(seqs(n.got(c.visitor.sid, "message")) == "2");
    CHECK(seqs(n.got(c.agent, "message")) == "2");

    n.turn(c.visitor.sid, message(c.conv, "k2"));
    CHECK(seqs(n.got(tab, "message")) == "2,3");
}

TEST_CASE("a replay the store cannot read gets store_unavailable; resume again works") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "k1"));
    SessionId tab = n.connect();
    n.turn(tab, hello_visitor(c.visitor.token, ""));
    n.forget_output();

    n.frame(tab, resume(c.conv, 0));
    store.set_down(true);
    n.flush();
    store.set_down(false);
    CHECK(n.out.types(tab) == std::vector<std::string>{"error"});
    auto err = n.got(tab, "error").at(0);
    CHECK(err["code"] == "store_unavailable");
    CHECK(err["conv"] == c.conv);
    // Not following yet: a resume that failed delivers nothing live either.
    n.turn(c.agent, message(c.conv, "a-1"));
    CHECK(n.got(tab, "message").empty());

    n.turn(tab, resume(c.conv, 0));
    CHECK(seqs(n.got(tab, "message")) == "1,2");
    CHECK(n.got(tab, "replayed").at(0)["last_seq"] == 2);
}

// ---- typing and receipts -----------------------------------------------------------------

TEST_CASE("typing and receipts reach the other side only") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    SessionId visitor_tab = n.connect();
    n.turn(visitor_tab, hello_visitor(c.visitor.token, ""));
    n.turn(visitor_tab, resume(c.conv));
    SessionId agent_tab = n.agent("a1", "Deniz");
    n.turn(agent_tab, resume(c.conv));
    n.turn(c.visitor.sid, message(c.conv, "k1"));
    n.turn(c.agent, message(c.conv, "a-1"));
    n.forget_output();
    const std::vector<SessionId> visitors{c.visitor.sid, visitor_tab};
    const std::vector<SessionId> agents{c.agent, agent_tab};

    SUBCASE("the visitor types") {
        n.turn(c.visitor.sid, typing(c.conv, true));
        for (SessionId sid : agents) {
            auto t = n.got(sid, "typing");
            REQUIRE(t.size() == 1);
            CHECK(t[0]["conv"] == c.conv);
            CHECK(t[0]["from"] == "visitor");
            CHECK(t[0]["on"] == true);
        }
        for (SessionId sid : visitors) CHECK(n.out.frames(sid).empty());
    }
    SUBCASE("the agent stops typing") {
        n.turn(c.agent, typing(c.conv, false));
        for (SessionId sid : visitors) {
            auto t = n.got(sid, "typing");
            REQUIRE(t.size() == 1);
            CHECK(t[0]["from"] == "agent");
            CHECK(t[0]["on"] == false);
        }
        for (SessionId sid : agents) CHECK(n.out.frames(sid).empty());
    }
    SUBCASE("the agent reads; the mark is stored and only moves forward") {
        n.turn(c.agent, receipt(c.conv, "read", 2));
        for (SessionId sid : visitors) {
            auto r = n.got(sid, "receipt");
            REQUIRE(r.size() == 1);
            CHECK(r[0]["conv"] == c.conv);
            CHECK(r[0]["kind"] == "read");
            CHECK(r[0]["seq"] == 2);
            CHECK(r[0]["by"] == "agent");
        }
        for (SessionId sid : agents) CHECK(n.out.frames(sid).empty());
        CHECK(store.durable_conversation(c.conv)->agent_read_seq == 2);
        CHECK(store.durable_conversation(c.conv)->visitor_read_seq == 0);

        n.turn(c.agent, receipt(c.conv, "read", 1));
        CHECK(store.durable_conversation(c.conv)->agent_read_seq == 2);
    }
    SUBCASE("the visitor's delivered receipt is passed on, not stored") {
        n.turn(visitor_tab, receipt(c.conv, "delivered", 2));
        for (SessionId sid : agents) {
            auto r = n.got(sid, "receipt");
            REQUIRE(r.size() == 1);
            CHECK(r[0]["kind"] == "delivered");
            CHECK(r[0]["by"] == "visitor");
        }
        for (SessionId sid : visitors) CHECK(n.out.frames(sid).empty());
        CHECK(store.durable_conversation(c.conv)->visitor_read_seq == 0);
    }
}

TEST_CASE("a read receipt beyond the last message is bad_field and changes nothing") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "k1"));
    n.forget_output();
    n.turn(c.agent, receipt(c.conv, "read", 2));
    auto errs = n.got(c.agent, "error");
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]["code"] == "bad_field");
    CHECK(errs[0]["conv"] == c.conv);
    CHECK(n.out.frames(c.visitor.sid).empty());
    CHECK(n.bus.published_on("conv:" + c.conv).empty());
    CHECK(store.durable_conversation(c.conv)->agent_read_seq == 0);
}

TEST_CASE("a frame that fails to decode gets one error echoing its conv and client_id") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.turn(c.visitor.sid, message(c.conv, "m-1", std::string(16 * 1024 + 1, 'x')));
    auto errs = n.got(c.visitor.sid, "error");
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]["code"] == "too_long");
    CHECK(errs[0].value("conv", "") == c.conv);
    CHECK(errs[0].value("client_id", "") == "m-1");
    CHECK(n.out.types(c.visitor.sid).size() == 1);
    CHECK(n.out.frames(c.agent).empty());
    CHECK(n.out.closes(c.visitor.sid).empty());
    CHECK(store.durable_messages(c.conv).empty());

    n.raw(c.visitor.sid, "{");
    n.flush();
    CHECK(n.out.error_codes(c.visitor.sid).back() == "bad_json");
    CHECK(n.out.closes(c.visitor.sid).empty());
}

// ---- time ----------------------------------------------------------------------------------

TEST_CASE("hello timeout: tick(now) closes with 4002 only the sessions without hello") {
    FakeStore store;
    Node n(store);  // hello_timeout_ms = 5000
    SessionId silent = n.connect();
    SessionId greeted = n.connect();
    n.turn(greeted, hello_visitor());
    SessionId gone = n.connect();
    n.disconnect(gone);
    n.advance(1'000);
    SessionId late = n.connect();
    SessionId rejected = n.connect();
    n.turn(rejected, take());  // a frame is not a hello
    n.forget_output();

    n.hub.tick(kT0 + 4'999);
    n.flush();
    CHECK(n.out.empty());

    n.hub.tick(kT0 + 5'000);
    CHECK(n.out.empty());  // queued until the flush
    CHECK(n.hub.dirty());
    n.flush();
    CHECK(n.out.closes(silent) == std::vector<std::uint16_t>{close_code::hello_timeout});
    CHECK(n.out.closes(greeted).empty());
    CHECK(n.out.closes(gone).empty());
    CHECK(n.out.closes(late).empty());
    CHECK(n.out.closes(rejected).empty());

    n.hub.tick(kT0 + 6'000);
    n.flush();
    CHECK(n.out.closes(late) == std::vector<std::uint16_t>{close_code::hello_timeout});
    CHECK(n.out.closes(rejected) == std::vector<std::uint16_t>{close_code::hello_timeout});
    CHECK(n.out.closes(silent).size() == 1);  // closed once
    CHECK(n.out.closes(greeted).empty());
}

TEST_CASE("rate limit: a burst of 40, then rate_limited, refilled at 20/s") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");  // the hello is the first frame of the burst
    n.forget_output();
    const auto send_takes = [&](int count) {
        for (int i = 0; i < count; ++i) n.frame(agent, take());
        n.flush();
        auto codes = n.out.error_codes(agent);
        n.forget_output();
        return codes;
    };
    const auto answers = [](int ok, int limited) {
        std::vector<std::string> v(ok, "nothing_waiting");
        v.insert(v.end(), limited, "rate_limited");
        return v;
    };

    CHECK(send_takes(40) == answers(39, 1));
    n.advance(60);  // 1.2 frames' worth
    CHECK(send_takes(2) == answers(1, 1));
    n.advance(25);  // 0.7: not yet
    CHECK(send_takes(1) == answers(0, 1));
    n.advance(25);  // 1.2
    CHECK(send_takes(2) == answers(1, 1));
    n.advance(60'000);  // a long pause refills the bucket, to the burst and no more
    CHECK(send_takes(41) == answers(40, 1));
}

TEST_CASE("rate limit: a limited message is dropped, not stored") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    // hello and start took two frames of the burst of 40.
    for (int i = 0; i < 38; ++i) n.frame(c.visitor.sid, typing(c.conv));
    n.frame(c.visitor.sid, message(c.conv, "k1"));
    n.flush();
    auto errs = n.got(c.visitor.sid, "error");
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]["code"] == "rate_limited");
    CHECK(errs[0].value("conv", "") == c.conv);  // so the client knows what to resend
    CHECK(errs[0].value("client_id", "") == "k1");
    CHECK(n.got(c.visitor.sid, "ack").empty());
    CHECK(store.durable_messages(c.conv).empty());
}

// ---- close ------------------------------------------------------------------------------------

TEST_CASE("close by the agent: closed_by_agent to both sides, gone from open") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    n.advance(1'000);
    n.turn(c.agent, close_frame(c.conv));

    for (SessionId sid : {c.visitor.sid, c.agent}) {
        auto ev = n.got(sid, "conversation");
        REQUIRE(ev.size() == 1);
        CHECK(ev[0]["conv"] == c.conv);
        CHECK(ev[0]["state"] == "closed");
        CHECK(ev[0]["reason"] == "closed_by_agent");
    }
    auto stored = store.durable_conversation(c.conv);
    REQUIRE(stored);
    CHECK(name(stored->state) == "closed");
    CHECK(stored->closed == n.now);
    CHECK(store.open_conversations().empty());

    n.turn(c.agent, message(c.conv, "a-1"));
    CHECK(n.out.error_codes(c.agent) == std::vector<std::string>{"conv_closed"});

    // The agent's next welcome no longer lists it; the visitor's next start is new.
    SessionId agent_again = n.agent("a1", "Deniz");
    CHECK(n.got(agent_again, "welcome").at(0)["conversations"].empty());
    const std::string next = n.start(c.visitor.sid, "s2");
    CHECK(next != c.conv);
    CHECK(n.got(c.visitor.sid, "conversation").back()["state"] == "waiting");
}

TEST_CASE("close by the visitor of a waiting conversation takes it off the queue") {
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");
    auto first = n.visitor("Asha");
    auto second = n.visitor("Ravi");
    const std::string c1 = n.start(first.sid);
    const std::string c2 = n.start(second.sid);
    n.forget_output();

    n.turn(first.sid, close_frame(c1));
    auto ev = n.got(first.sid, "conversation");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0]["state"] == "closed");
    CHECK(ev[0]["reason"] == "closed_by_visitor");
    CHECK(n.hub.waiting_count() == 1);
    CHECK(queue_of(n.got(agent, "queue").back()) == c2 + "@0");

    n.turn(agent, take());
    CHECK(n.got(agent, "conversation").at(0)["conv"] == c2);
}

// ---- sessions -------------------------------------------------------------------------------

TEST_CASE("a closed session is sent nothing more and leaves its channels") {
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    CHECK(n.bus.subscribed("conv:" + c.conv));
    CHECK(n.bus.subscribed("visitor:" + c.visitor.id));

    // Closed mid-turn: what was queued for it is dropped.
    n.frame(c.visitor.sid, message(c.conv, "k1"));
    n.disconnect(c.visitor.sid);
    n.flush();
    CHECK(n.out.frames(c.visitor.sid).empty());
    CHECK(seqs(n.got(c.agent, "message")) == "1");  // the message itself was stored
    CHECK_FALSE(n.bus.subscribed("visitor:" + c.visitor.id));
    CHECK(n.bus.subscribed("conv:" + c.conv));  // the agent still follows

    n.disconnect(c.agent);
    CHECK_FALSE(n.bus.subscribed("conv:" + c.conv));
    CHECK_FALSE(n.bus.subscribed("agents"));
    CHECK(n.hub.session_count() == 0);
}

// ---- restart ----------------------------------------------------------------------------------

TEST_CASE("start(now) rebuilds the queue and the open conversations from the store") {
    FakeStore store;
    std::string a, b, c, d;
    VisitorSession va, vb, vc, vd;
    {
        Node before(store);
        SessionId agent = before.agent("a1", "Deniz");
        va = before.visitor("Asha");
        vb = before.visitor("Bo");
        vc = before.visitor("Cem");
        vd = before.visitor("Dev");
        a = before.start(va.sid);
        before.advance(10);
        b = before.start(vb.sid);
        before.advance(10);
        c = before.start(vc.sid);
        before.advance(10);
        d = before.start(vd.sid);
        before.turn(agent, take());  // a
        before.turn(va.sid, message(a, "k1"));
        before.turn(vc.sid, close_frame(c));
    }  // the node goes away; the store stays

    Node after(store, manual(), 1'000);
    after.advance(60'000);
    CHECK(after.hub.waiting_count() == 2);
    auto announced = after.bus.published_on("agents");
    REQUIRE(announced.size() == 1);
    CHECK(convs_of(announced[0]) == b + "," + d);

    SessionId a2 = after.agent("a2", "Bo");
    CHECK(convs_of(after.got(a2, "queue").at(0)) == b + "," + d);
    CHECK(after.got(a2, "queue").at(0)["waiting"][0]["visitor_name"] == "Bo");
    SessionId a1 = after.agent("a1", "Deniz");
    auto w = after.got(a1, "welcome").at(0);
    REQUIRE(w["conversations"].size() == 1);
    CHECK(w["conversations"][0]["conv"] == a);
    CHECK(w["conversations"][0]["state"] == "active");
    CHECK(w["conversations"][0]["last_seq"] == 1);

    after.turn(a2, take());
    CHECK(after.got(a2, "conversation").at(0)["conv"] == b);

    // The visitor comes back and carries on where the log left off.
    auto back = after.visitor("", va.token);
    CHECK(back.id == va.id);
    after.turn(a1, resume(a, 0));
    after.turn(back.sid, resume(a, 1));
    after.turn(back.sid, message(a, "k2"));
    CHECK(seqs(after.got(back.sid, "ack")) == "2");
    CHECK(seqs(after.got(a1, "message")) == "1,2");

    // A closed conversation stays closed; its visitor starts a new one.
    auto cem = after.visitor("", vc.token);
    after.turn(cem.sid, message(c, "k9"));
    CHECK(after.out.error_codes(cem.sid) == std::vector<std::string>{"conv_closed"});
    CHECK(after.start(cem.sid, "s2") != c);
    CHECK(after.hub.waiting_count() == 2);
}

TEST_CASE("after a restart the queue keeps when each conversation entered it") {
    // PROTOCOL.md §4 queue: "since: when it (last) entered the queue", which
    // the store keeps as Conversation::queued. The rebuild enqueues every
    // waiting conversation at the time of the rebuild instead (restart, and
    // every failed commit), which resets waits and estimates.
    FakeStore store;
    std::string a, b;
    {
        Node before(store);
        auto va = before.visitor("Asha");
        auto vb = before.visitor("Bo");
        a = before.start(va.sid);
        before.advance(10);
        b = before.start(vb.sid);
        CHECK(store.durable_conversation(b)->queued == kT0 + 10);
    }
    Node after(store, manual(), 1'000);
    after.advance(60'000);
    SessionId agent = after.agent("a1");
    CHECK(queue_of(after.got(agent, "queue").at(0)) == a + "@0," + b + "@10");
}

// ---- following: who receives a conversation's messages -------------------------------------

TEST_CASE("take does not make the agent follow; resume from 0 gives the transcript, then live") {
    // PROTOCOL.md §2: a session learning of a conversation it does not follow
    // (an assignment) sends resume; the replay comes first, live after it.
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid, "s1", "hello");
    SessionId agent = n.agent("a1");
    n.turn(agent, take());
    CHECK(n.got(agent, "conversation").at(0)["state"] == "active");
    n.forget_output();

    n.turn(v.sid, message(conv, "k2"));
    CHECK(n.got(agent, "message").empty());  // not following yet

    std::uint64_t last = 0;
    SUBCASE("resume in its own turn") {
        n.turn(agent, resume(conv, 0));
        CHECK(n.out.types(agent) == std::vector<std::string>{"message", "message", "replayed"});
        CHECK(seqs(n.got(agent, "message")) == "1,2");
        last = 2;
    }
    SUBCASE("resume in the same turn as a new message") {
        n.frame(agent, resume(conv, 0));
        n.frame(v.sid, message(conv, "k3"));
        n.flush();
        CHECK(seqs(n.got(agent, "message")) == "1,2,3");
        CHECK(n.out.types(agent).back() == "replayed");
        last = 3;
    }
    CHECK(n.got(agent, "replayed").at(0)["last_seq"] == last);
    CHECK(n.got(agent, "message").at(0)["text"] == "hello");
    n.forget_output();
    n.turn(v.sid, message(conv, "k4"));
    n.turn(agent, message(conv, "a-1"));
    CHECK(seqs(n.got(agent, "message")) ==
          std::to_string(last + 1) + "," + std::to_string(last + 2));
}

TEST_CASE("start returning the open conversation does not make the session follow; resume does") {
    // PROTOCOL.md §3 start: "when start returns an existing one, send resume
    // to follow it".
    FakeStore store;
    Node n(store);
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    SessionId tab = n.connect();
    n.turn(tab, hello_visitor(v.token, ""));
    n.turn(tab, start_frame("s2"));
    auto ev = n.got(tab, "conversation");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0]["conv"] == conv);
    CHECK(ev[0]["client_id"] == "s2");
    n.forget_output();

    n.turn(v.sid, message(conv, "k1"));
    CHECK(n.got(tab, "message").empty());
    CHECK(seqs(n.got(v.sid, "message")) == "1");  // the creating session follows

    n.turn(tab, resume(conv, 0));
    CHECK(n.out.types(tab) == std::vector<std::string>{"message", "replayed"});
    n.turn(v.sid, message(conv, "k2"));
    CHECK(seqs(n.got(tab, "message")) == "1,2");
}

// ---- errors about a message, and the rate limit ----------------------------------------------

TEST_CASE("errors about a message carry its client_id and conv") {
    // PROTOCOL.md §3 message: "Errors about a message carry its conv and client_id."
    FakeStore store;
    Node n(store);
    auto c = chat(n);
    SessionId stranger = n.agent("a2");
    n.turn(stranger, message(c.conv, "m-1"));         // forbidden
    n.turn(c.visitor.sid, message("c_nope", "m-2"));  // not_found
    n.turn(c.visitor.sid, close_frame(c.conv));
    n.turn(c.visitor.sid, message(c.conv, "m-3"));  // conv_closed
    auto forbidden = n.got(stranger, "error");
    auto visitor_errs = n.got(c.visitor.sid, "error");
    REQUIRE(forbidden.size() == 1);
    REQUIRE(visitor_errs.size() == 2);
    CHECK(forbidden[0]["code"] == "forbidden");
    CHECK(forbidden[0].value("client_id", "") == "m-1");
    CHECK(forbidden[0].value("conv", "") == c.conv);
    CHECK(visitor_errs[0]["code"] == "not_found");
    CHECK(visitor_errs[0].value("client_id", "") == "m-2");
    CHECK(visitor_errs[0].value("conv", "") == "c_nope");
    CHECK(visitor_errs[1]["code"] == "conv_closed");
    CHECK(visitor_errs[1].value("client_id", "") == "m-3");
    CHECK(visitor_errs[1].value("conv", "") == c.conv);
}

TEST_CASE("the rate limit counts every frame, including ones that fail to decode") {
    // PROTOCOL.md §8: "a token bucket counting every frame a client sends".
    FakeStore store;
    Node n(store);
    SessionId agent = n.agent("a1");  // the hello counted too
    n.forget_output();
    for (int i = 0; i < 40; ++i) n.raw(agent, "not json");
    n.flush();
    auto codes = n.out.error_codes(agent);
    REQUIRE(codes.size() == 40);
    CHECK(codes[38] == "bad_json");
    CHECK(codes[39] == "rate_limited");
    CHECK(n.out.closes(agent).empty());
}

TEST_CASE("the rate limit counts frames before hello, and a limited hello is not taken") {
    FakeStore store;
    Node n(store);
    SessionId sid = n.connect();
    for (int i = 0; i < 40; ++i) n.frame(sid, take());
    n.frame(sid, hello_visitor());
    n.flush();
    auto codes = n.out.error_codes(sid);
    REQUIRE(codes.size() == 41);
    CHECK(codes[39] == "hello_required");
    CHECK(codes[40] == "rate_limited");
    CHECK(n.got(sid, "welcome").empty());

    n.advance(50);  // one frame's worth
    n.turn(sid, hello_visitor());
    CHECK(n.got(sid, "welcome").size() == 1);
}
