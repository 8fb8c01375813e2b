// The fakes are only worth what they imitate: FakeStore runs the same Store
// contract as the real stores, and the other fakes get a few checks of their own.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core_fakes.hpp"
#include "store_contract.hpp"

namespace {

using namespace sb::core;
using namespace sb::core::fakes;

struct FakeStoreFactory {
    static std::unique_ptr<Store> make() { return std::make_unique<FakeStore>(); }
};

Conversation conversation(const std::string& id, const std::string& visitor_id) {
    Conversation c;
    c.id = id;
    c.visitor_id = visitor_id;
    return c;
}

NewMessage message(const std::string& conv, const std::string& client_id) {
    return NewMessage{conv, Sender::visitor, "v1", "Asha", client_id, "hi", 1, false};
}

}  // namespace

SB_STORE_CONTRACT(FakeStoreFactory);

TEST_CASE("FakeStore: a failed commit keeps nothing once rolled back") {
    FakeStore store;
    store.create_conversation(conversation("c1", "v1"));
    store.append(message("c1", "k1"));

    store.begin_batch();
    CHECK(store.append(message("c1", "k2")).message.seq == 2);
    CHECK(store.durable_messages("c1").size() == 1);  // not durable yet
    store.fail_next_commit();
    CHECK_THROWS_AS(store.commit_batch(), StoreError);
    CHECK(store.in_batch());
    store.rollback_batch();
    CHECK_FALSE(store.in_batch());
    CHECK(store.messages_after("c1", 0, 10).size() == 1);
    CHECK(store.conversation("c1")->last_seq == 1);

    // The switch is used up, and the rolled-back client_id is free again.
    store.begin_batch();
    auto again = store.append(message("c1", "k2"));
    CHECK_FALSE(again.duplicate);
    CHECK(again.message.seq == 2);
    store.commit_batch();
    CHECK(store.durable_messages("c1").size() == 2);
    CHECK(store.commits() == 1);
    CHECK(store.rollbacks() == 1);
}

TEST_CASE("FakeStore: fail_next_append fails one append and changes nothing") {
    FakeStore store;
    store.create_conversation(conversation("c1", "v1"));
    store.fail_next_append();
    CHECK_THROWS_AS(store.append(message("c1", "k1")), StoreError);
    CHECK(store.conversation("c1")->last_seq == 0);
    CHECK(store.append(message("c1", "k1")).message.seq == 1);
}

TEST_CASE("FakeStore: while down every call throws, but a batch can be abandoned") {
    FakeStore store;
    store.create_conversation(conversation("c1", "v1"));
    store.begin_batch();
    store.append(message("c1", "k1"));
    store.set_down(true);
    CHECK_THROWS_AS(store.append(message("c1", "k2")), StoreError);
    CHECK_THROWS_AS(store.open_conversations(), StoreError);
    CHECK_THROWS_AS(store.commit_batch(), StoreError);
    store.rollback_batch();
    store.set_down(false);
    CHECK(store.messages_after("c1", 0, 10).empty());
}

TEST_CASE("FakeStore: durable_offline sees only what a commit kept") {
    FakeStore store;
    store.begin_batch();
    store.create_offline_message(OfflineMessage{"m1", "v1", "Asha", "a@x", "", "hi", 5, 0, ""});
    CHECK(store.offline_messages(false, 10).size() == 1);
    CHECK_FALSE(store.durable_offline("m1"));
    store.commit_batch();
    REQUIRE(store.durable_offline("m1"));
    CHECK(store.durable_offline("m1")->text == "hi");
    CHECK(store.mark_offline_handled("m1", "a1", 9));
    CHECK(store.durable_offline("m1")->handled_by == "a1");
}

TEST_CASE("FakeBus: delivers synchronously to subscribed channels and records every publish") {
    FakeBus bus;
    std::vector<std::string> seen;
    bus.set_handler([&](const std::string& ch, const Envelope&) { seen.push_back(ch); });
    bus.subscribe("conv:c1");
    auto frame = std::make_shared<const std::string>(R"({"type":"x"})");
    bus.publish("conv:c1", Envelope{frame, std::nullopt});
    bus.publish("conv:c2", Envelope{frame, std::nullopt});
    bus.unsubscribe("conv:c1");
    bus.publish("conv:c1", Envelope{frame, std::nullopt});
    CHECK(seen == std::vector<std::string>{"conv:c1"});
    CHECK(bus.published().size() == 3);
    CHECK(bus.published_on("conv:c1").size() == 2);
    CHECK(bus.published_on("conv:c2")[0]["type"] == "x");
}

TEST_CASE("FakeOutbox: frames and closes per session, filtered by type") {
    FakeOutbox out;
    out.send(1, std::make_shared<const std::string>(R"({"type":"ack","seq":1})"));
    out.send(2, std::make_shared<const std::string>(R"({"type":"error","code":"forbidden"})"));
    out.send(1, std::make_shared<const std::string>(R"({"type":"error","code":"not_found"})"));
    out.close(1, 4001);
    CHECK(out.types(1) == std::vector<std::string>{"ack", "error"});
    CHECK(out.of_type(1, "ack")[0]["seq"] == 1);
    CHECK(out.error_codes(1) == std::vector<std::string>{"not_found"});
    CHECK(out.error_codes(2) == std::vector<std::string>{"forbidden"});
    CHECK(out.closes(1) == std::vector<std::uint16_t>{4001});
    CHECK(out.closes(2).empty());
    CHECK(out.log().size() == 4);
}

TEST_CASE("FakeSecurity: agent tokens, expiry and deterministic randomness") {
    FakeSecurity sec;
    auto who = sec.verify_agent_token("agent:a1:Deniz Yılmaz", 0);
    REQUIRE(who);
    CHECK(who->id == "a1");
    CHECK(who->name == "Deniz Yılmaz");
    CHECK_FALSE(sec.verify_agent_token("", 0));
    CHECK_FALSE(sec.verify_agent_token("agent:", 0));
    CHECK_FALSE(sec.verify_agent_token("agent::x", 0));
    CHECK_FALSE(sec.verify_agent_token("visitor:a1:x", 0));
    sec.expire("a1", 1'000);
    CHECK(sec.verify_agent_token("agent:a1:D", 999));
    CHECK_FALSE(sec.verify_agent_token("agent:a1:D", 1'000));
    CHECK(sec.random_id() == "00000000000000000000000000000001");
    CHECK(sec.random_token() == "tok2");
    CHECK(sec.hash_token("tok2") == "h(tok2)");
    CHECK(FakeSecurity(1000).random_id() == "000000000000000000000000000003e8");
}

TEST_CASE("FakeSecurity: an account gives the agent's tokens departments and capacity") {
    FakeSecurity sec;
    auto plain = sec.verify_agent_token("agent:a1:Deniz", 0);
    REQUIRE(plain);
    CHECK_FALSE(plain->supervisor);
    CHECK(plain->departments.empty());
    CHECK(plain->capacity == 0);

    AgentIdentity account;
    account.id = "a1";
    account.name = "ignored";
    account.supervisor = true;
    account.departments = {"billing", "sales"};
    account.capacity = 2;
    sec.set_account(account);
    auto who = sec.verify_agent_token("agent:a1:Deniz", 0);
    REQUIRE(who);
    CHECK(who->id == "a1");
    CHECK(who->name == "Deniz");  // from the token
    CHECK(who->supervisor);
    CHECK(who->departments == std::vector<std::string>{"billing", "sales"});
    CHECK(who->capacity == 2);
    CHECK(sec.verify_agent_token("agent:a2:Bo", 0)->departments.empty());

    sec.expire("a1", 10);
    CHECK_FALSE(sec.verify_agent_token("agent:a1:Deniz", 10));
}
