// The Hub's routing, driven through its ports (core_fakes.hpp): auto-assign,
// capacity, queue positions, nobody there and offline messages, offer mode,
// presence, dropped agents, transfers and the conversation timings. The
// Router's own rules are tested in core_router_test.cpp; these cases check
// what the hub makes of its decisions: frames, store writes, who follows what.
//
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core_hub_node.hpp"

using namespace sb::core::hubtest;

// ---- auto-assign -------------------------------------------------------------------------------

TEST_CASE("auto: an agent online before the start gets the conversation at once") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId agent = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    n.advance(1'000);
    n.forget_output();

    n.turn(v.sid, start_frame("s1", "Siparişim nerede?"));
    auto mine = n.got(v.sid, "conversation");
    REQUIRE(mine.size() == 2);
    const std::string conv = mine[0]["conv"];
    CHECK(mine[0]["client_id"] == "s1");  // the answer to start, then the assignment
    CHECK(states(mine) == "waiting:,active:assigned");
    CHECK(mine[1]["conv"] == conv);
    CHECK(mine[1]["agent_name"] == "Deniz");
    CHECK(n.got(v.sid, "queue_position").empty());  // never waited

    auto theirs = n.got(agent, "conversation");
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0]["conv"] == conv);
    CHECK(states(theirs) == "active:assigned");
    CHECK(theirs[0]["visitor_name"] == "Asha");
    // The queue agents see never changed (empty before and after): no frame.
    CHECK(n.got(agent, "queue").empty());
    CHECK(n.last(agent, "presence")["load"] == 1);
    CHECK(n.hub.waiting_count() == 0);

    auto stored = store.durable_conversation(conv);
    REQUIRE(stored);
    CHECK(name(stored->state) == "active");
    CHECK(stored->agent_id == "a1");
    CHECK(stored->agent_name == "Deniz");
    CHECK(stored->queued == n.now);
    CHECK(stored->assigned == n.now);
    CHECK(stored->first_reply == 0);

    // Assigned is not following: the agent resumes to get the transcript.
    CHECK(n.got(agent, "message").empty());
    n.forget_output();
    n.turn(agent, resume(conv, 0));
    CHECK(n.out.types(agent) == std::vector<std::string>{"message", "replayed"});
    CHECK(n.last(agent, "message")["text"] == "Siparişim nerede?");
    n.turn(v.sid, message(conv, "k2"));
    CHECK(seqs(n.got(agent, "message")) == "1,2");
}

TEST_CASE("auto: capacity from the account; the rest queue with positions; a close frees room") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    n.account("a1", 2);
    SessionId agent = n.agent("a1", "Deniz");
    CHECK(n.last(agent, "presence")["capacity"] == 2);

    std::vector<VisitorSession> vs;
    std::vector<std::string> convs;
    for (const char* who : {"V1", "V2", "V3", "V4"}) {
        vs.push_back(n.visitor(who));
        n.advance(10);
        convs.push_back(n.start(vs.back().sid));
    }
    CHECK(n.last(vs[0].sid, "conversation")["state"] == "active");
    CHECK(n.last(vs[1].sid, "conversation")["state"] == "active");
    CHECK(n.last(vs[2].sid, "conversation")["state"] == "waiting");
    CHECK(n.last(vs[3].sid, "conversation")["state"] == "waiting");
    CHECK(n.got(vs[0].sid, "queue_position").empty());
    CHECK(n.got(vs[1].sid, "queue_position").empty());
    CHECK(n.last(vs[2].sid, "queue_position")["position"] == 1);
    CHECK(n.last(vs[2].sid, "queue_position")["conv"] == convs[2]);
    CHECK(n.last(vs[3].sid, "queue_position")["position"] == 2);
    CHECK(n.last(vs[3].sid, "queue_position")["estimated_wait_s"] >
          n.last(vs[2].sid, "queue_position")["estimated_wait_s"]);
    CHECK(queue_of(n.last(agent, "queue")) == convs[2] + "/#1," + convs[3] + "/#2");
    CHECK(n.last(agent, "presence")["load"] == 2);
    CHECK(n.hub.router().agent("a1")->load == 2);
    for (std::size_t i = 2; i < 4; ++i) {
        auto stored = store.durable_conversation(convs[i]);
        CHECK(name(stored->state) == "waiting");
        CHECK(stored->assigned == 0);
    }

    // The agent closes one: the head of the queue is assigned in the same turn,
    // and the one behind it moves up.
    n.advance(60'000);
    n.forget_output();
    n.turn(agent, close_frame(convs[0]));
    CHECK(states(n.got(vs[0].sid, "conversation")) == "closed:closed_by_agent");
    CHECK(states(n.got(vs[2].sid, "conversation")) == "active:assigned");
    CHECK(n.got(vs[2].sid, "queue_position").empty());
    CHECK(n.last(vs[3].sid, "queue_position")["position"] == 1);
    CHECK(states(n.got(agent, "conversation")) == "closed:closed_by_agent,active:assigned");
    CHECK(queue_of(n.last(agent, "queue")) == convs[3] + "/#1");
    // Load 2 → 1 → 2 within the turn: nothing changed, nothing sent.
    CHECK(n.got(agent, "presence").empty());
    auto closed = store.durable_conversation(convs[0]);
    CHECK(closed->closed == n.now);
    CHECK(store.durable_conversation(convs[2])->assigned == n.now);

    // The visitor closes a waiting one: it leaves the queue, nobody is told.
    n.forget_output();
    n.turn(vs[3].sid, close_frame(convs[3]));
    CHECK(states(n.got(vs[3].sid, "conversation")) == "closed:closed_by_visitor");
    CHECK(n.last(agent, "queue")["waiting"].empty());
    CHECK(n.got(agent, "conversation").empty());
    CHECK(n.hub.waiting_count() == 0);
}

TEST_CASE("auto: departments: an agent only gets its own; another department waits") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, true));
    n.account("a1", 3, {"sales"});
    SessionId agent = n.agent("a1");
    auto v = n.visitor("Asha");
    auto w = n.visitor("Bo");
    const std::string billing = n.start(v.sid, "s1", "", "billing");
    const std::string sales = n.start(w.sid, "s1", "", "sales");
    CHECK(n.last(v.sid, "conversation")["state"] == "waiting");
    CHECK(n.last(v.sid, "conversation")["department"] == "billing");
    CHECK(n.last(w.sid, "conversation")["state"] == "active");
    CHECK(n.last(agent, "conversation")["conv"] == sales);
    CHECK(queue_of(n.last(agent, "queue")) == billing + "/billing#1");
    CHECK(store.durable_conversation(billing)->department == "billing");
}

// ---- nobody there ------------------------------------------------------------------------------

TEST_CASE("no agent online: start is answered with unavailable and opens nothing") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, false));
    auto v = n.visitor("Asha");
    SUBCASE("nobody signed in") {}
    SUBCASE("the only agent is away") {
        SessionId agent = n.agent("a1");
        n.turn(agent, presence("away"));
    }
    SUBCASE("the only agent serves another department") {
        n.account("a1", 3, {"sales"});
        n.agent("a1");
    }
    n.forget_output();

    n.turn(v.sid, start_frame("s1", "is anyone there?", "billing"));
    CHECK(n.out.types(v.sid) == std::vector<std::string>{"unavailable"});
    auto u = n.last(v.sid, "unavailable");
    CHECK(u["reason"] == "no_agents");
    CHECK(u["department"] == "billing");
    CHECK(u["client_id"] == "s1");
    CHECK(store.open_conversations().empty());
    CHECK(n.hub.waiting_count() == 0);
    CHECK(n.got(v.sid, "ack").empty());
    for (const auto& p : n.bus.published()) CHECK(p.channel.rfind("conv:", 0) != 0);
}

TEST_CASE("leave_message: stored, answered with its id, pushed to agents; list and handled") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, false));
    SessionId agent = n.agent("a1");
    n.turn(agent, presence("away"));
    auto v = n.visitor("Asha");
    n.advance(1'000);
    n.forget_output();

    n.turn(v.sid, leave_message("lm-1", "Please call me back", "billing"));
    CHECK(n.out.types(v.sid) == std::vector<std::string>{"left_message"});
    auto left = n.last(v.sid, "left_message");
    const std::string id = left["id"];
    CHECK_FALSE(id.empty());
    CHECK(left["client_id"] == "lm-1");
    auto stored = store.durable_offline(id);
    REQUIRE(stored);
    CHECK(stored->visitor_id == v.id);
    CHECK(stored->name == "Ayşe");
    CHECK(stored->email == "ayse@example.com");
    CHECK(stored->department == "billing");
    CHECK(stored->text == "Please call me back");
    CHECK(stored->created == n.now);
    CHECK(stored->handled == 0);

    // Pushed to the agents, away or not.
    auto pushed = n.last(agent, "offline_messages");
    REQUIRE(pushed["items"].size() == 1);
    CHECK(pushed["items"][0]["id"] == id);
    CHECK(pushed["items"][0]["email"] == "ayse@example.com");
    CHECK(pushed["items"][0]["handled"] == 0);
    CHECK(pushed["items"][0]["handled_by"] == "");

    n.advance(1'000);
    n.turn(v.sid, leave_message("lm-2", "And about order 5521"));
    n.forget_output();
    n.turn(agent, offline_list());
    CHECK(n.out.types(agent) == std::vector<std::string>{"offline_messages"});
    auto list = n.last(agent, "offline_messages")["items"];
    REQUIRE(list.size() == 2);
    CHECK(list[0]["text"] == "And about order 5521");  // newest first
    CHECK(list[1]["id"] == id);
    CHECK(list[1]["created"] == kT0 + 1'000);

    n.advance(1'000);
    n.forget_output();
    n.turn(agent, offline_handled(id));
    CHECK(n.errors(agent).empty());
    CHECK(store.durable_offline(id)->handled == n.now);
    CHECK(store.durable_offline(id)->handled_by == "a1");
    auto fresh = n.last(agent, "offline_messages")["items"];  // pushed again, marked
    bool marked = false;
    for (const auto& item : fresh) marked |= item["id"] == id && item["handled"] == n.now;
    CHECK(marked);

    n.turn(agent, offline_list());  // the list shows handled ones too
    auto all = n.last(agent, "offline_messages")["items"];
    REQUIRE(all.size() == 2);
    CHECK(all[1]["handled"] == n.now);
    CHECK(all[1]["handled_by"] == "a1");

    n.forget_output();
    n.turn(agent, offline_handled(id));
    CHECK(n.errors(agent) == std::vector<std::string>{"not_found"});
    n.turn(agent, offline_handled("m_nope"));
    CHECK(n.errors(agent) == std::vector<std::string>{"not_found", "not_found"});
    CHECK(store.durable_offline(id)->handled == n.now);

    // Roles.
    n.turn(v.sid, offline_list());
    n.turn(v.sid, offline_handled(id));
    CHECK(n.errors(v.sid) == std::vector<std::string>{"forbidden", "forbidden"});
    n.turn(agent, leave_message("lm-3", "agents do not leave messages"));
    CHECK(n.errors(agent).back() == "forbidden");
}

TEST_CASE("leave_message resent with the same client_id stores nothing new") {
    // PROTOCOL.md §3 leave_message: "Resending with the same client_id stores
    // nothing new and answers with the same id."
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, false));
    auto v = n.visitor("Asha");
    n.turn(v.sid, leave_message("lm-1", "Please call me back"));
    n.turn(v.sid, leave_message("lm-1", "Please call me back"));
    auto left = n.got(v.sid, "left_message");
    REQUIRE(left.size() == 2);
    CHECK(left[1]["id"] == left[0]["id"]);
    CHECK(left[1]["client_id"] == "lm-1");
    CHECK(store.offline_messages(true, 100).size() == 1);

    // From another connection of the same visitor: the same answer.
    auto again = n.visitor("", v.token);
    n.turn(again.sid, leave_message("lm-1", "Please call me back"));
    CHECK(n.last(again.sid, "left_message")["id"] == left[0]["id"]);
    CHECK(store.offline_messages(true, 100).size() == 1);

    // Another client_id, or another visitor's lm-1: new messages.
    n.turn(v.sid, leave_message("lm-2", "One more thing"));
    CHECK(n.last(v.sid, "left_message")["id"] != left[0]["id"]);
    auto other = n.visitor("Bo");
    n.turn(other.sid, leave_message("lm-1", "Hello from Bo"));
    CHECK(n.last(other.sid, "left_message")["id"] != left[0]["id"]);
    CHECK(store.offline_messages(true, 100).size() == 3);
}

TEST_CASE("leave_message resent after a failed commit is stored") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, false));
    auto v = n.visitor("Asha");
    n.forget_output();
    store.fail_next_commit();
    n.turn(v.sid, leave_message("lm-1", "Please call me back"));
    REQUIRE(n.errors(v.sid) == std::vector<std::string>{"store_unavailable"});
    n.disconnect(v.sid);

    auto back = n.visitor("", v.token);
    n.turn(back.sid, leave_message("lm-1", "Please call me back"));
    auto left = n.got(back.sid, "left_message");
    REQUIRE(left.size() == 1);
    CHECK(store.durable_offline(left[0]["id"].get<std::string>()));
    CHECK(store.offline_messages(true, 100).size() == 1);
}

TEST_CASE("leave_message in a failed commit: store_unavailable and 1011, nothing stored") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, false));
    SessionId agent = n.agent("a1");
    auto v = n.visitor("Asha");
    n.forget_output();
    store.fail_next_commit();
    n.turn(v.sid, leave_message("lm-1", "Please call me back"));
    CHECK(n.errors(v.sid) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.out.closes(v.sid) == std::vector<std::uint16_t>{sb::proto::close_code::internal_error});
    CHECK(n.got(v.sid, "left_message").empty());
    CHECK(store.offline_messages(true, 100).empty());
    for (const auto& f : n.got(agent, "offline_messages")) CHECK(f["items"].empty());
}

// ---- offer mode ---------------------------------------------------------------------------------

TEST_CASE("offer: offered to one agent; accept assigns; decline and timeout move it on") {
    FakeStore store;
    HubSettings settings = routing(AssignMode::offer);
    settings.routing.offer_timeout_ms = 30'000;
    Node n(store, settings);
    SessionId a1 = n.agent("a1", "Deniz");
    n.advance(10);
    SessionId a2 = n.agent("a2", "Bo");
    auto v = n.visitor("Ravi");
    n.advance(1'000);
    n.forget_output();

    const std::string conv = n.start(v.sid, "s1", "I was charged twice");
    // Both idle and empty: a1 is first by id.
    auto offer = n.got(a1, "offer");
    REQUIRE(offer.size() == 1);
    CHECK(offer[0]["conv"] == conv);
    CHECK(offer[0]["visitor_name"] == "Ravi");
    CHECK(offer[0]["first_message"] == "I was charged twice");
    CHECK(offer[0]["deadline"] == n.now + 30'000);
    CHECK(n.got(a2, "offer").empty());
    CHECK(n.last(a1, "queue")["waiting"][0]["offered_to"] == "a1");
    CHECK(n.last(v.sid, "conversation")["state"] == "waiting");
    CHECK(name(store.durable_conversation(conv)->state) == "waiting");

    SUBCASE("accept: assigned") {
        n.forget_output();
        n.turn(a1, accept(conv));
        CHECK(n.errors(a1).empty());
        CHECK(states(n.got(a1, "conversation")) == "active:assigned");
        CHECK(states(n.got(v.sid, "conversation")) == "active:assigned");
        CHECK(n.last(v.sid, "conversation")["agent_name"] == "Deniz");
        CHECK(n.last(a1, "queue")["waiting"].empty());
        CHECK(store.durable_conversation(conv)->agent_id == "a1");
        // Accepting twice, or someone else's: not_offered.
        n.turn(a1, accept(conv));
        n.turn(a2, accept(conv));
        CHECK(n.errors(a1) == std::vector<std::string>{"not_offered"});
        CHECK(n.errors(a2) == std::vector<std::string>{"not_offered"});
        CHECK(n.last(a1, "error")["conv"] == conv);
    }
    SUBCASE("another agent cannot accept or decline it") {
        n.forget_output();
        n.turn(a2, accept(conv));
        n.turn(a2, decline(conv));
        CHECK(n.errors(a2) == std::vector<std::string>{"not_offered", "not_offered"});
        CHECK(n.got(a1, "offer_ended").empty());
        CHECK(n.hub.router().position(conv, n.now)->offered_to == "a1");
        n.turn(v.sid, accept(conv));
        CHECK(n.errors(v.sid) == std::vector<std::string>{"forbidden"});
    }
    SUBCASE("decline: offer_ended, offered to the next agent, never back") {
        n.forget_output();
        n.turn(a1, decline(conv));
        CHECK(n.errors(a1).empty());
        auto ended = n.got(a1, "offer_ended");
        REQUIRE(ended.size() == 1);
        CHECK(ended[0]["conv"] == conv);
        CHECK(ended[0]["reason"] == "declined");
        REQUIRE(n.got(a2, "offer").size() == 1);
        CHECK(n.last(a2, "offer")["conv"] == conv);
        CHECK(n.got(a1, "offer").empty());
        CHECK(n.last(a1, "queue")["waiting"][0]["offered_to"] == "a2");

        // a2 lets it time out: a1 refused it, so it goes back to a2, the
        // only agent left (a timeout is not a refusal).
        n.advance(30'000);
        n.forget_output();
        n.tick();
        CHECK(n.last(a2, "offer_ended")["reason"] == "timeout");
        CHECK(n.got(a1, "offer").empty());
        REQUIRE(n.got(a2, "offer").size() == 1);
        CHECK(n.last(a2, "offer")["deadline"] == n.now + 30'000);
        CHECK(n.got(v.sid, "conversation").empty());  // still waiting
        CHECK(n.hub.waiting_count() == 1);
    }
    SUBCASE("timeout: offer_ended, then the next agent") {
        n.advance(29'999);
        n.forget_output();
        n.tick();
        CHECK(n.got(a1, "offer_ended").empty());
        n.advance(1);
        n.tick();
        auto ended = n.got(a1, "offer_ended");
        REQUIRE(ended.size() == 1);
        CHECK(ended[0]["reason"] == "timeout");
        CHECK(n.last(a2, "offer")["conv"] == conv);
        CHECK(n.last(a2, "offer")["deadline"] == n.now + 30'000);
        n.turn(a2, accept(conv));
        CHECK(states(n.got(v.sid, "conversation")) == "active:assigned");
        CHECK(n.last(v.sid, "conversation")["agent_name"] == "Bo");
        CHECK(store.durable_conversation(conv)->assigned == n.now);
    }
    SUBCASE("the visitor closes it: the offer is withdrawn") {
        n.forget_output();
        n.turn(v.sid, close_frame(conv));
        CHECK(n.last(a1, "offer_ended")["reason"] == "withdrawn");
        CHECK(n.last(a1, "queue")["waiting"].empty());
    }
}

TEST_CASE("offer: accept ends the offer with reason accepted, to every session of the agent") {
    // PROTOCOL.md §3 accept.
    FakeStore store;
    Node n(store, routing(AssignMode::offer));
    SessionId a1 = n.agent("a1");
    SessionId tab = n.agent("a1");
    auto v = n.visitor("Ravi");
    const std::string conv = n.start(v.sid);
    REQUIRE(n.got(a1, "offer").size() == 1);
    n.forget_output();
    n.turn(a1, accept(conv));
    for (SessionId sid : {a1, tab}) {
        auto ended = n.got(sid, "offer_ended");
        REQUIRE(ended.size() == 1);
        CHECK(ended[0]["conv"] == conv);
        CHECK(ended[0]["reason"] == "accepted");
    }
}

// ---- presence
// ------------------------------------------------------------------------------------

TEST_CASE("presence: away gets no new conversations; online again assigns at once") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, true));
    SessionId a1 = n.agent("a1");
    SessionId tab = n.agent("a1");  // a second session of the same agent
    auto v = n.visitor("Asha");
    n.forget_output();

    n.turn(a1, presence("away"));
    for (SessionId sid : {a1, tab}) {
        CAPTURE(sid);
        auto p = n.last(sid, "presence");
        CHECK(p["status"] == "away");
        CHECK(p["load"] == 0);
        CHECK(p["capacity"] == 3);
        CHECK_FALSE(p.contains("reason"));
    }
    CHECK(n.hub.router().agent("a1")->presence == Presence::away);

    const std::string conv = n.start(v.sid);
    CHECK(n.last(v.sid, "conversation")["state"] == "waiting");
    CHECK(n.last(v.sid, "queue_position")["position"] == 1);
    CHECK(n.got(a1, "conversation").empty());

    n.forget_output();
    n.turn(tab, presence("online"));
    CHECK(states(n.got(v.sid, "conversation")) == "active:assigned");
    for (SessionId sid : {a1, tab}) {
        CAPTURE(sid);
        CHECK(states(n.got(sid, "conversation")) == "active:assigned");
        CHECK(n.last(sid, "presence")["status"] == "online");
        CHECK(n.last(sid, "presence")["load"] == 1);
        CHECK(n.last(sid, "queue")["waiting"].empty());
    }
    CHECK(store.durable_conversation(conv)->agent_id == "a1");

    SUBCASE("away and offline keep what they hold") {
        n.turn(a1, presence("offline"));
        CHECK(n.last(a1, "presence")["status"] == "offline");
        CHECK(n.last(a1, "presence")["load"] == 1);
        n.turn(a1, message(conv, "a-1"));
        CHECK(n.errors(a1).empty());
        CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
    }
    SUBCASE("a visitor may not set presence") {
        n.turn(v.sid, presence("away"));
        CHECK(n.errors(v.sid) == std::vector<std::string>{"forbidden"});
    }
}

TEST_CASE("presence: auto-away after inactivity says reason idle") {
    // PROTOCOL.md §4 presence / §5 Auto-away: "its sessions receive presence
    // with reason idle". The hub encodes every presence event without a reason.
    FakeStore store;
    HubSettings settings = routing(AssignMode::auto_assign, true);
    settings.routing.auto_away_ms = 60'000;
    Node n(store, settings);
    SessionId a1 = n.agent("a1");
    n.advance(60'000);
    n.forget_output();
    n.tick();
    auto p = n.got(a1, "presence");
    REQUIRE(p.size() == 1);
    CHECK(p[0]["status"] == "away");
    CHECK(p[0].value("reason", "") == "idle");
}

TEST_CASE("presence: auto-away stops assignment until the agent is online again") {
    FakeStore store;
    HubSettings settings = routing(AssignMode::auto_assign, true);
    settings.routing.auto_away_ms = 60'000;
    Node n(store, settings);
    SessionId a1 = n.agent("a1");
    n.advance(59'999);
    n.tick();
    CHECK(n.hub.router().agent("a1")->presence == Presence::online);
    n.advance(1);
    n.tick();
    CHECK(n.last(a1, "presence")["status"] == "away");
    auto v = n.visitor("Asha");
    n.start(v.sid);
    CHECK(n.last(v.sid, "conversation")["state"] == "waiting");
    n.turn(a1, presence("online"));
    CHECK(n.last(v.sid, "conversation")["state"] == "active");
}

// ---- dropped agents
// --------------------------------------------------------------------------------

TEST_CASE("an agent gone past the drop grace: its conversation is requeued, once") {
    FakeStore store;
    HubSettings settings = routing(AssignMode::auto_assign, true);
    settings.routing.drop_grace_ms = 60'000;
    Node n(store, settings);
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid, "s1", "hello");
    REQUIRE(n.last(v.sid, "conversation")["state"] == "active");
    n.turn(a1, resume(conv, 0));
    n.advance(1'000);
    n.forget_output();

    n.disconnect(a1);
    CHECK(n.got(v.sid, "conversation").empty());  // nothing yet: the grace runs

    SUBCASE("not back in time: requeued at the front, the visitor told") {
        n.advance(59'999);
        n.tick();
        CHECK(n.got(v.sid, "conversation").empty());
        n.advance(1);
        n.tick();
        auto ev = n.got(v.sid, "conversation");
        REQUIRE(ev.size() == 1);
        CHECK(states(ev) == "waiting:requeued");
        CHECK(ev[0]["agent_name"] == "");
        CHECK(n.last(v.sid, "queue_position")["position"] == 1);
        auto stored = store.durable_conversation(conv);
        CHECK(name(stored->state) == "waiting");
        CHECK(stored->agent_id.empty());
        CHECK(stored->queued == n.now);
        CHECK(n.hub.waiting_count() == 1);

        // Once only.
        n.advance(120'000);
        n.forget_output();
        n.tick();
        CHECK(n.got(v.sid, "conversation").empty());

        // The agent back later: the conversation is assigned again (auto),
        // and the agent resumes to follow it.
        SessionId back = n.agent("a1", "Deniz");
        CHECK(states(n.got(v.sid, "conversation")) == "active:assigned");
        CHECK(states(n.got(back, "conversation")) == "active:assigned");
        n.turn(v.sid, message(conv, "k2"));
        CHECK(n.got(back, "message").empty());
        n.turn(back, resume(conv, 0));
        CHECK(seqs(n.got(back, "message")) == "1,2");
    }
    SUBCASE("another agent online takes it at once") {
        n.advance(1'000);
        SessionId a2 = n.agent("a2", "Bo");
        CHECK(n.got(a2, "conversation").empty());  // still a1's during the grace
        n.advance(59'000);
        n.tick();
        CHECK(states(n.got(v.sid, "conversation")) == "waiting:requeued,active:assigned");
        CHECK(n.last(v.sid, "conversation")["agent_name"] == "Bo");
        CHECK(states(n.got(a2, "conversation")) == "active:assigned");
        CHECK(store.durable_conversation(conv)->agent_id == "a2");
    }
    SUBCASE("back within the grace: kept, nothing told") {
        n.advance(30'000);
        SessionId back = n.agent("a1", "Deniz");
        auto w = n.last(back, "welcome");
        REQUIRE(w["conversations"].size() == 1);
        CHECK(w["conversations"][0]["conv"] == conv);
        CHECK(w["conversations"][0]["state"] == "active");
        n.advance(60'000);
        n.tick();
        CHECK(n.got(v.sid, "conversation").empty());
        CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
        CHECK(store.durable_conversation(conv)->agent_id == "a1");
        n.turn(back, message(conv, "a-1"));
        CHECK(n.errors(back).empty());
    }
}

TEST_CASE("an agent with two sessions closing one is not dropped") {
    FakeStore store;
    HubSettings settings = routing(AssignMode::auto_assign, true);
    settings.routing.drop_grace_ms = 1'000;
    Node n(store, settings);
    SessionId a1 = n.agent("a1");
    SessionId tab = n.agent("a1");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    n.disconnect(a1);
    n.advance(5'000);
    n.forget_output();
    n.tick();
    CHECK(n.got(v.sid, "conversation").empty());
    CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
    n.turn(tab, message(conv, "a-1"));
    CHECK(n.errors(tab).empty());
}

// ---- transfer
// -------------------------------------------------------------------------------------

TEST_CASE("transfer to an agent: both agents and the visitor told; the note is for agents only") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    n.account("a1", 1);
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid, "s1", "hello");
    REQUIRE(n.last(v.sid, "conversation")["agent_name"] == "Deniz");
    SessionId a2 = n.agent("a2", "Bo");
    n.turn(a1, resume(conv, 0));
    n.turn(a1, message(conv, "a-1", "let me get billing"));
    n.advance(1'000);
    n.forget_output();

    n.turn(a1, transfer_to_agent(conv, "a2", "Double charge on order 5521"));
    CHECK(n.errors(a1).empty());
    auto to = n.got(a2, "conversation");
    REQUIRE(to.size() == 1);
    CHECK(states(to) == "active:transferred");
    CHECK(to[0]["agent_name"] == "Bo");
    CHECK(states(n.got(a1, "conversation")) == "active:transferred");
    CHECK(n.last(a1, "conversation")["agent_name"] == "Bo");
    CHECK(states(n.got(v.sid, "conversation")) == "active:transferred");
    CHECK(n.last(v.sid, "conversation")["agent_name"] == "Bo");
    // The visitor follows the conversation but never gets the note.
    CHECK(n.got(v.sid, "message").empty());
    CHECK(n.last(a1, "presence")["load"] == 0);
    CHECK(n.last(a2, "presence")["load"] == 1);

    auto stored = store.durable_conversation(conv);
    CHECK(stored->agent_id == "a2");
    CHECK(stored->agent_name == "Bo");
    CHECK(stored->assigned == n.now);
    auto log = store.durable_messages(conv);
    REQUIRE(log.size() == 3);
    CHECK(log[2].internal);
    CHECK(name(log[2].from) == "agent");
    CHECK(log[2].author_id == "a1");
    CHECK(log[2].text.find("Double charge on order 5521") != std::string::npos);

    // The previous agent can no longer write; the new one can.
    n.forget_output();
    n.turn(a1, message(conv, "a-2"));
    CHECK(n.errors(a1) == std::vector<std::string>{"forbidden"});
    CHECK(n.last(a1, "error").value("client_id", "") == "a-2");
    n.turn(a1, resume(conv, 0));
    CHECK(n.errors(a1).back() == "forbidden");
    n.turn(v.sid, message(conv, "k2"));
    CHECK(n.got(a1, "message").empty());  // no longer following

    // The receiving agent resumes: the transcript, the note (internal) in it.
    n.forget_output();
    n.turn(a2, resume(conv, 0));
    auto replay = n.got(a2, "message");
    CHECK(seqs(replay) == "1,2,3,4");
    REQUIRE(replay.size() == 4);
    CHECK(replay[2]["internal"] == true);
    CHECK(replay[2]["from"] == "agent");
    CHECK(replay[2]["author"] == "Deniz");
    for (std::size_t i : {0u, 1u, 3u}) CHECK_FALSE(replay[i].contains("internal"));
    n.turn(a2, message(conv, "b-1", "Bo here"));
    CHECK(n.errors(a2).empty());
    CHECK(seqs(n.got(a2, "message")) == "1,2,3,4,5");

    // The visitor, live and on resume, never sees it.
    CHECK(seqs(n.got(v.sid, "message")) == "5");
    SessionId tab = n.connect();
    n.turn(tab, hello_visitor(v.token, ""));
    n.turn(tab, resume(conv, 0));
    CHECK(seqs(n.got(tab, "message")) == "1,2,4,5");
    CHECK(n.last(tab, "replayed")["last_seq"] == 5);
    for (const auto& m : n.got(tab, "message")) CHECK_FALSE(m.contains("internal"));
    n.turn(tab, resume(conv, 2));
    CHECK(seqs(n.got(tab, "message")) == "1,2,4,5,4,5");
}

TEST_CASE("transfer to an agent: errors") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    n.account("a2", 1);
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    SessionId a2 = n.agent("a2", "Bo");
    auto w = n.visitor("Bo's visitor");
    n.start(w.sid);  // a2 gets it (least busy): a2 is now full
    REQUIRE(n.hub.router().agent("a2")->load == 1);
    SessionId a3 = n.agent("a3", "Cem");
    n.turn(a3, presence("away"));
    n.forget_output();

    n.turn(a1, transfer_to_agent(conv, "a2"));
    CHECK(n.errors(a1).back() == "no_room");
    n.turn(a1, transfer_to_agent(conv, "a3"));
    CHECK(n.errors(a1).back() == "unavailable");
    n.turn(a1, transfer_to_agent(conv, "a_nobody"));
    CHECK(n.errors(a1).back() == "unavailable");
    n.turn(a2, transfer_to_agent(conv, "a3"));
    CHECK(n.errors(a2).back() == "forbidden");  // not a2's
    n.turn(v.sid, transfer_to_agent(conv, "a2"));
    CHECK(n.errors(v.sid).back() == "forbidden");
    n.turn(a1, transfer_to_agent("c_nope", "a2"));
    CHECK(n.errors(a1).back() == "not_found");
    for (const auto& e : n.got(a1, "error")) CHECK(e.value("conv", "") != "");
    // Nothing moved, nothing stored.
    CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
    CHECK(store.durable_messages(conv).empty());
    CHECK(n.got(v.sid, "conversation").empty());

    n.turn(a1, close_frame(conv));
    n.turn(a1, transfer_to_agent(conv, "a3"));
    CHECK(n.errors(a1).back() == "conv_closed");
}

TEST_CASE("transfer whose note cannot be stored: moved, and the note's failure reported") {
    // The router decides first (so no note ever records a transfer that did
    // not happen); a note that then fails to store is reported on its own.
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId a1 = n.agent("a1", "Deniz");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    SessionId a2 = n.agent("a2", "Bo");
    n.forget_output();

    store.fail_next_append();
    n.turn(a1, transfer_to_agent(conv, "a2", "over to you"));
    CHECK(n.errors(a1) == std::vector<std::string>{"store_unavailable"});
    CHECK(n.last(a1, "error")["conv"] == conv);
    CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a2"));
    CHECK(store.durable_conversation(conv)->agent_id == "a2");
    CHECK(n.last(v.sid, "conversation")["reason"] == "transferred");
    CHECK(n.last(a2, "conversation")["reason"] == "transferred");
}

TEST_CASE("transfer to a department: back to waiting, at the front of that queue") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, true));
    n.account("a1", 3, {"sales"});
    n.account("a2", 1, {"billing"});
    SessionId a1 = n.agent("a1", "Deniz");
    SessionId a2 = n.agent("a2", "Bo");
    n.turn(a2, presence("away"));  // billing is known, but nobody takes it now
    auto x = n.visitor("Xu");
    const std::string older = n.start(x.sid, "s1", "", "billing");
    n.advance(1'000);
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid, "s1", "hello", "sales");
    REQUIRE(n.last(v.sid, "conversation")["state"] == "active");
    CHECK(n.last(x.sid, "queue_position")["position"] == 1);
    n.turn(a1, resume(conv, 0));
    n.advance(1'000);
    n.forget_output();

    n.turn(a1, transfer_to_department(conv, "billing", "refund approved"));
    CHECK(n.errors(a1).empty());
    auto ev = n.got(v.sid, "conversation");
    REQUIRE(ev.size() == 1);
    CHECK(states(ev) == "waiting:transferred");
    CHECK(ev[0]["department"] == "billing");
    CHECK(ev[0]["agent_name"] == "");
    CHECK(states(n.got(a1, "conversation")) == "waiting:transferred");
    CHECK(queue_of(n.last(a1, "queue")) == conv + "/billing#1," + older + "/billing#2");
    CHECK(n.last(v.sid, "queue_position")["position"] == 1);
    CHECK(n.last(x.sid, "queue_position")["position"] == 2);
    CHECK(n.got(v.sid, "message").empty());  // the note is not for the visitor
    CHECK(n.last(a1, "presence")["load"] == 0);

    auto stored = store.durable_conversation(conv);
    CHECK(name(stored->state) == "waiting");
    CHECK(stored->agent_id.empty());
    CHECK(stored->department == "billing");
    CHECK(stored->queued == n.now);
    auto log = store.durable_messages(conv);
    REQUIRE(log.size() == 2);
    CHECK(log[1].internal);
    CHECK(log[1].text.find("refund approved") != std::string::npos);

    n.turn(a1, message(conv, "a-1"));
    CHECK(n.errors(a1) == std::vector<std::string>{"forbidden"});

    // The agent of billing is back: the transferred one first.
    n.forget_output();
    n.turn(a2, presence("online"));
    CHECK(states(n.got(a2, "conversation")) == "active:assigned");
    CHECK(n.last(a2, "conversation")["conv"] == conv);
    CHECK(n.last(v.sid, "conversation")["agent_name"] == "Bo");
    CHECK(n.last(x.sid, "queue_position")["position"] == 1);
    n.turn(a2, resume(conv, 0));
    auto replay = n.got(a2, "message");
    REQUIRE(replay.size() == 2);
    CHECK(replay[1]["internal"] == true);
}

TEST_CASE("transfer to a department nobody else serves: unavailable, nothing moved") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId a1 = n.agent("a1", "Deniz");  // serves every department, but is the sender
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    n.forget_output();
    n.turn(a1, transfer_to_department(conv, "billing", "refund approved"));
    CHECK(n.errors(a1) == std::vector<std::string>{"unavailable"});
    CHECK(n.last(a1, "error")["conv"] == conv);
    CHECK(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
    CHECK(n.got(v.sid, "conversation").empty());
    CHECK(store.durable_messages(conv).empty());
    CHECK(store.durable_conversation(conv)->agent_id == "a1");
}

TEST_CASE("transfer: the note reaches the receiving agent with the transcript, never the visitor") {
    // The transferring agent leaves the conversation at once; the receiving
    // agent follows it by resuming, and the note comes with the transcript.
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId a1 = n.agent("a1", "Deniz");
    n.agent("a2", "Bo");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    REQUIRE(n.hub.router().owner(conv) == std::optional<std::string>("a1"));
    n.turn(a1, resume(conv, 0));
    n.forget_output();
    n.turn(a1, transfer_to_agent(conv, "a2", "over to you"));
    CHECK(n.got(a1, "message").empty());  // no longer following
    CHECK(n.got(v.sid, "message").empty());
    SessionId a2 = n.agent("a2", "Bo");  // a second session of a2 resumes it
    n.forget_output();
    n.turn(a2, resume(conv, 0));
    auto replay = n.got(a2, "message");
    REQUIRE(!replay.empty());
    CHECK(replay.back()["internal"] == true);
    CHECK(replay.back()["text"].get<std::string>().find("over to you") != std::string::npos);
}

// ---- timings
// ----------------------------------------------------------------------------------------

TEST_CASE("timings: queued, assigned, first_reply (first agent message only), closed") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign, true));
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid, "s1", "hello");
    const TimeMs queued = n.now;
    auto c = store.durable_conversation(conv);
    CHECK(c->created == queued);
    CHECK(c->queued == queued);
    CHECK(c->assigned == 0);
    CHECK(c->first_reply == 0);

    n.advance(5'000);
    SessionId a1 = n.agent("a1");  // assigned at sign-in
    const TimeMs assigned = n.now;
    c = store.durable_conversation(conv);
    CHECK(c->assigned == assigned);
    CHECK(c->first_reply == 0);

    n.advance(1'000);
    n.turn(v.sid, message(conv, "k2"));
    CHECK(store.durable_conversation(conv)->first_reply == 0);  // the visitor's do not count

    n.advance(2'000);
    n.turn(a1, message(conv, "a-1"));
    const TimeMs replied = n.now;
    CHECK(store.durable_conversation(conv)->first_reply == replied);
    n.advance(2'000);
    n.turn(a1, message(conv, "a-2"));
    CHECK(store.durable_conversation(conv)->first_reply == replied);
    n.turn(a1, message(conv, "a-1"));  // a duplicate changes nothing either
    CHECK(store.durable_conversation(conv)->first_reply == replied);

    n.advance(3'000);
    n.turn(v.sid, close_frame(conv));
    c = store.durable_conversation(conv);
    CHECK(name(c->state) == "closed");
    CHECK(c->closed == n.now);
    CHECK(c->created == queued);
    CHECK(c->queued == queued);
    CHECK(c->assigned == assigned);
    CHECK(c->first_reply == replied);
    CHECK(c->agent_id == "a1");
}

TEST_CASE("timings: a transfer note is not a first reply") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId a1 = n.agent("a1");
    auto v = n.visitor("Asha");
    const std::string conv = n.start(v.sid);
    n.agent("a2", "Bo");
    n.advance(1'000);
    n.turn(a1, transfer_to_agent(conv, "a2", "yours"));
    REQUIRE(store.durable_conversation(conv)->agent_id == "a2");
    CHECK(store.durable_conversation(conv)->first_reply == 0);
}

// ---- the rebuild after a failed commit
// ------------------------------------------------------------

TEST_CASE("after a failed commit the rebuilt router keeps capacity") {
    // Hub::rebuild() replays open_conversations() oldest first: a waiting
    // conversation older than an active one is enqueued before the active one
    // is restored, so in auto (and offer) mode Router::run() hands it to an
    // agent whose load does not count the active one yet. The agent ends up
    // over its capacity, and the Assigned event waits in the router until the
    // next turn's apply_routing().
    FakeStore store;
    HubSettings settings = routing(AssignMode::auto_assign, true);
    settings.routing.drop_grace_ms = 1'000;
    Node n(store, settings);
    n.account("a1", 1);
    n.account("a2", 1);
    SessionId a1 = n.agent("a1", "Deniz");
    SessionId a2 = n.agent("a2", "Bo");
    auto v1 = n.visitor("Asha");
    const std::string c1 = n.start(v1.sid);  // a1
    n.advance(10);
    auto v2 = n.visitor("Bo");
    const std::string c2 = n.start(v2.sid);  // a2
    REQUIRE(n.hub.router().owner(c1) == std::optional<std::string>("a1"));
    REQUIRE(n.hub.router().owner(c2) == std::optional<std::string>("a2"));
    n.disconnect(a1);
    n.advance(1'000);
    n.tick();  // c1 (the older) is requeued; a2 is full
    REQUIRE(n.hub.router().is_waiting(c1));

    store.fail_next_commit();
    n.turn(v2.sid, message(c2, "k1"));
    REQUIRE(n.out.closes(v2.sid).size() == 1);
    CHECK(n.hub.router().agent("a2")->load == 1);
    CHECK(n.hub.router().is_waiting(c1));
    CHECK(n.hub.waiting_count() == 1);
    n.forget_output();
    n.turn(a2, message(c2, "a-1"));  // the next turn
    CHECK(n.got(a2, "conversation").empty());
    CHECK(name(store.durable_conversation(c1)->state) == "waiting");
}

TEST_CASE("department priority: a configured department is served ahead of earlier arrivals") {
    FakeStore store;
    HubSettings settings = routing(AssignMode::manual, true);
    settings.routing.department_priority = {{"vip", 5}};
    Node n(store, settings);
    auto plain = n.visitor("Asha");
    const std::string first = n.start(plain.sid, "s1", "", "");
    n.advance(1'000);
    auto vip = n.visitor("Bo");
    const std::string second = n.start(vip.sid, "s1", "", "vip");
    CHECK(store.durable_conversation(second)->priority == 5);
    CHECK(store.durable_conversation(first)->priority == 0);
    auto queue = n.hub.router().queue(n.now);
    REQUIRE(queue.size() == 2);
    CHECK(queue[0].conv == second);  // priority first, though it came later
    CHECK(queue[1].conv == first);
    SessionId agent = n.agent("a1", "Deniz");
    n.turn(agent, json{{"type", "take"}});
    CHECK(n.hub.router().owner(second) == std::optional<std::string>("a1"));
}

TEST_CASE("presence: another session of a signed-in agent hears it; the others hear nothing new") {
    FakeStore store;
    Node n(store, routing(AssignMode::auto_assign));
    SessionId first = n.agent("a1", "Deniz");
    CHECK(n.got(first, "presence").size() == 1);  // offline → online: told
    n.forget_output();
    SessionId second = n.agent("a1", "Deniz");
    CHECK(n.got(second, "presence").size() == 1);  // the new session is told directly
    CHECK(n.got(first, "presence").empty());       // nothing changed for the first
    n.turn(second, presence("online"));            // unchanged: the answer only
    CHECK(n.got(second, "presence").size() == 2);
    CHECK(n.got(first, "presence").empty());
    n.turn(second, presence("away"));  // a change reaches every session
    CHECK(n.last(first, "presence")["status"] == "away");
    CHECK(n.last(second, "presence")["status"] == "away");
}
