// The conversation state machine (core/conversation.hpp). The Router has its
// own tests (core_router_test.cpp, core_router_property_test.cpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "core/conversation.hpp"

namespace {

using namespace sb::core;
using sb::proto::Role;

std::string name(ConvState s) {
    return std::string(sb::proto::to_string(s));
}

Conversation waiting_conversation() {
    Conversation c;
    c.id = "c1";
    c.visitor_id = "v1";
    c.visitor_name = "Asha";
    c.created = 100;
    return c;
}

}  // namespace

TEST_CASE("assign moves waiting to active, once") {
    auto c = waiting_conversation();
    CHECK(assign(c, "a1", "Deniz", 200) == Transition::ok);
    CHECK(name(c.state) == "active");
    CHECK(c.agent_id == "a1");
    CHECK(c.agent_name == "Deniz");
    CHECK(c.assigned == 200);

    SUBCASE("a second assign is refused and changes nothing") {
        CHECK(assign(c, "a2", "Bo", 300) == Transition::already_assigned);
        CHECK(c.agent_id == "a1");
        CHECK(c.agent_name == "Deniz");
        CHECK(c.assigned == 200);
        CHECK(name(c.state) == "active");
    }
    SUBCASE("the same agent cannot take it twice either") {
        CHECK(assign(c, "a1", "Deniz", 300) == Transition::already_assigned);
        CHECK(c.assigned == 200);
    }
}

TEST_CASE("close from waiting or active; closed is final") {
    auto c = waiting_conversation();
    SUBCASE("from waiting") {
        CHECK(close(c, 150) == Transition::ok);
        CHECK(name(c.state) == "closed");
        CHECK(c.closed == 150);
        CHECK(c.agent_id.empty());
    }
    SUBCASE("from active") {
        REQUIRE(assign(c, "a1", "Deniz", 200) == Transition::ok);
        CHECK(close(c, 300) == Transition::ok);
        CHECK(name(c.state) == "closed");
        CHECK(c.closed == 300);
        CHECK(c.agent_id == "a1");  // who had it stays on record
    }
    SUBCASE("closed stays closed: no second close, no assign") {
        REQUIRE(close(c, 150) == Transition::ok);
        CHECK(close(c, 400) == Transition::closed);
        CHECK(c.closed == 150);
        CHECK(assign(c, "a1", "Deniz", 500) == Transition::closed);
        CHECK(name(c.state) == "closed");
        CHECK(c.agent_id.empty());
        CHECK(c.assigned == 0);
    }
}

TEST_CASE("is_participant: the visitor by visitor id, the agent by agent id") {
    auto c = waiting_conversation();
    CHECK(is_participant(c, Role::visitor, "v1"));
    CHECK_FALSE(is_participant(c, Role::visitor, "v2"));
    CHECK_FALSE(is_participant(c, Role::agent, "v1"));  // the role matters, not only the id
    CHECK_FALSE(is_participant(c, Role::agent, "a1"));  // nobody's yet
    CHECK_FALSE(is_participant(c, Role::agent, ""));    // an empty id matches no empty agent

    REQUIRE(assign(c, "a1", "Deniz", 200) == Transition::ok);
    CHECK(is_participant(c, Role::agent, "a1"));
    CHECK_FALSE(is_participant(c, Role::agent, "a2"));
    CHECK_FALSE(is_participant(c, Role::visitor, "a1"));
    CHECK(is_participant(c, Role::visitor, "v1"));

    Conversation blank;  // empty visitor id: still nobody's
    CHECK_FALSE(is_participant(blank, Role::visitor, ""));
}

TEST_CASE("mark_read only moves forward and never past last_seq") {
    auto c = waiting_conversation();
    c.last_seq = 10;

    mark_read(c, Role::visitor, 4);
    CHECK(c.visitor_read_seq == 4);
    CHECK(c.agent_read_seq == 0);  // each side has its own mark

    mark_read(c, Role::visitor, 2);  // backwards: ignored
    CHECK(c.visitor_read_seq == 4);

    mark_read(c, Role::visitor, 4);
    CHECK(c.visitor_read_seq == 4);

    mark_read(c, Role::visitor, 25);  // capped at last_seq
    CHECK(c.visitor_read_seq == 10);

    mark_read(c, Role::agent, UINT64_MAX);
    CHECK(c.agent_read_seq == 10);
    CHECK(c.visitor_read_seq == 10);

    c.last_seq = 12;
    mark_read(c, Role::agent, 11);
    CHECK(c.agent_read_seq == 11);
}

TEST_CASE("mark_read on an empty conversation stays at 0") {
    auto c = waiting_conversation();
    mark_read(c, Role::agent, 3);
    CHECK(c.agent_read_seq == 0);
}
