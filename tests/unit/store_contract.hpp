// The Store contract (core/store.hpp): doctest cases every Store must pass.
// A test file instantiates them for its store with a factory type:
//
//     struct SqliteMemory {
//         static std::unique_ptr<sb::core::Store> make() {
//             return std::make_unique<sb::store::SqliteStore>(":memory:");
//         }
//     };
//     SB_STORE_CONTRACT(SqliteMemory);  // at namespace scope
//
// make() must return a fresh, empty store each time: doctest runs a case once
// per SUBCASE, from the top. Cases are named "Store contract: ...<Factory>".
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/store.hpp"

namespace sb::store_contract {

using core::CannedReply;
using core::Conversation;
using core::ConvState;
using core::NewMessage;
using core::OfflineMessage;
using core::Sender;
using core::StoredMessage;
using core::StoreError;
using core::TimeMs;
using core::Visitor;

// A visitor without the widget's context (external_id, attributes, page... empty).
inline Visitor visitor_record(const std::string& id, const std::string& token_hash,
                              const std::string& name = "", const std::string& email = "",
                              TimeMs created = 0) {
    Visitor v;
    v.id = id;
    v.token_hash = token_hash;
    v.name = name;
    v.email = email;
    v.created = created;
    return v;
}

inline Visitor make_visitor(const std::string& id, TimeMs created = 1'700'000'000'000) {
    return visitor_record(id, "hash-" + id, "Visitor " + id, id + "@example.com", created);
}

// A visitor of the host's user `external_id` (a verified hello).
inline Visitor make_verified(const std::string& id, const std::string& external_id) {
    auto v = make_visitor(id);
    v.external_id = external_id;
    v.verified = !external_id.empty();
    return v;
}

inline Conversation make_conversation(const std::string& id, const std::string& visitor_id,
                                      TimeMs created = 1'700'000'000'000,
                                      ConvState state = ConvState::waiting) {
    Conversation c;
    c.id = id;
    c.visitor_id = visitor_id;
    c.visitor_name = "Visitor " + visitor_id;
    c.state = state;
    c.created = created;
    return c;
}

inline NewMessage make_message(const std::string& conv, const std::string& author_id,
                               const std::string& client_id, const std::string& text = "hi",
                               Sender from = Sender::visitor) {
    return NewMessage{conv, from, author_id, "Name of " + author_id, client_id, text, 1'000, false};
}

inline CannedReply make_canned(const std::string& id, const std::string& owner,
                               const std::string& shortcut, TimeMs created = 1'000) {
    return CannedReply{id, owner, shortcut, "text of " + id, created, created};
}

inline OfflineMessage make_offline(const std::string& id, TimeMs created) {
    return OfflineMessage{
        id, "v-" + id, "Name " + id, id + "@example.com", "sales", "text " + id, created, 0, ""};
}

// Comma-joined, so a failed CHECK prints both sides readably.
inline std::string seqs(const std::vector<StoredMessage>& ms) {
    std::string out;
    for (const auto& m : ms) out += (out.empty() ? "" : ",") + std::to_string(m.seq);
    return out;
}

inline std::string ids(const std::vector<Conversation>& cs) {
    std::string out;
    for (const auto& c : cs) out += (out.empty() ? "" : ",") + c.id;
    return out;
}

inline std::string ids(const std::vector<OfflineMessage>& ms) {
    std::string out;
    for (const auto& m : ms) out += (out.empty() ? "" : ",") + m.id;
    return out;
}

inline std::string ids(const std::vector<CannedReply>& rs) {
    std::string out;
    for (const auto& r : rs) out += (out.empty() ? "" : ",") + r.id;
    return out;
}

// "key=value;key=value", in order.
inline std::string pairs(const proto::Attributes& attributes) {
    std::string out;
    for (const auto& [key, value] : attributes) out += key + "=" + value + ";";
    return out;
}

inline std::string name(ConvState s) {
    return std::string(proto::to_string(s));
}
inline std::string name(Sender s) {
    return std::string(proto::to_string(s));
}

inline void check_same(const Visitor& got, const Visitor& want) {
    CHECK(got.id == want.id);
    CHECK(got.token_hash == want.token_hash);
    CHECK(got.name == want.name);
    CHECK(got.email == want.email);
    CHECK(got.created == want.created);
    CHECK(got.external_id == want.external_id);
    CHECK(got.verified == want.verified);
    CHECK(pairs(got.attributes) == pairs(want.attributes));
    CHECK(got.attributes == want.attributes);  // exact: pairs() is ambiguous for a '=' key
    CHECK(got.page == want.page);
    CHECK(got.language == want.language);
    CHECK(got.user_agent == want.user_agent);
    CHECK(got.last_seen == want.last_seen);
}

inline void check_same(const Conversation& got, const Conversation& want) {
    CHECK(got.id == want.id);
    CHECK(got.visitor_id == want.visitor_id);
    CHECK(got.visitor_name == want.visitor_name);
    CHECK(got.agent_id == want.agent_id);
    CHECK(got.agent_name == want.agent_name);
    CHECK(name(got.state) == name(want.state));
    CHECK(got.department == want.department);
    CHECK(got.priority == want.priority);
    CHECK(got.created == want.created);
    CHECK(got.queued == want.queued);
    CHECK(got.assigned == want.assigned);
    CHECK(got.first_reply == want.first_reply);
    CHECK(got.closed == want.closed);
    CHECK(got.last_seq == want.last_seq);
    CHECK(got.visitor_read_seq == want.visitor_read_seq);
    CHECK(got.agent_read_seq == want.agent_read_seq);
    CHECK(got.resolution == want.resolution);
    CHECK(got.csat_score == want.csat_score);
    CHECK(got.csat_comment == want.csat_comment);
    CHECK(got.rated == want.rated);
}

inline void check_same(const CannedReply& got, const CannedReply& want) {
    CHECK(got.id == want.id);
    CHECK(got.owner == want.owner);
    CHECK(got.shortcut == want.shortcut);
    CHECK(got.text == want.text);
    CHECK(got.created == want.created);
    CHECK(got.updated == want.updated);
}

inline void check_same(const StoredMessage& got, const StoredMessage& want) {
    CHECK(got.conv == want.conv);
    CHECK(got.seq == want.seq);
    CHECK(name(got.from) == name(want.from));
    CHECK(got.author_id == want.author_id);
    CHECK(got.author_name == want.author_name);
    CHECK(got.client_id == want.client_id);
    CHECK(got.text == want.text);
    CHECK(got.ts == want.ts);
    CHECK(got.internal == want.internal);
}

inline void check_same(const OfflineMessage& got, const OfflineMessage& want) {
    CHECK(got.id == want.id);
    CHECK(got.visitor_id == want.visitor_id);
    CHECK(got.name == want.name);
    CHECK(got.email == want.email);
    CHECK(got.department == want.department);
    CHECK(got.text == want.text);
    CHECK(got.created == want.created);
    CHECK(got.handled == want.handled);
    CHECK(got.handled_by == want.handled_by);
}

// What append() should have stored for `m` under `seq`.
inline StoredMessage stored_as(const NewMessage& m, std::uint64_t seq) {
    return StoredMessage{m.conv,      seq,    m.from, m.author_id, m.author_name,
                         m.client_id, m.text, m.ts,   m.internal};
}

// ---- visitors ---------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: visitors", Factory, sb_store_contract_visitors) {
    auto store = Factory::make();
    Visitor v = visitor_record("v1", "0123abcd", "Asha", "asha@example.com", 1'700'000'000'123);
    v.external_id = "crm-42";
    v.verified = true;
    v.attributes = {{"plan", "pro"}, {"order", "A-17"}};
    v.page = "https://shop.example.com/cart?step=2";
    v.language = "hi-IN";
    v.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    v.last_seen = 1'700'000'000'456;
    store->create_visitor(v);

    SUBCASE("create then get round-trips every field") {
        auto got = store->visitor("v1");
        REQUIRE(got);
        check_same(*got, v);
    }
    SUBCASE("found by token hash") {
        auto got = store->visitor_by_token_hash("0123abcd");
        REQUIRE(got);
        check_same(*got, v);
    }
    SUBCASE("unknown id or token hash is nullopt") {
        CHECK_FALSE(store->visitor("v2"));
        CHECK_FALSE(store->visitor_by_token_hash("ffff"));
        CHECK_FALSE(store->visitor_by_token_hash("v1"));  // an id is not a token hash
        CHECK_FALSE(store->visitor(""));
    }
    SUBCASE("empty name and email, and no context, round-trip") {
        const Visitor anon = visitor_record("v2", "beef", "", "", 5);
        store->create_visitor(anon);
        auto got = store->visitor("v2");
        REQUIRE(got);
        check_same(*got, anon);
    }
    SUBCASE("a second visitor with a taken id or token hash is refused") {
        CHECK_THROWS_AS(store->create_visitor(visitor_record("v1", "other")), StoreError);
        CHECK_THROWS_AS(store->create_visitor(visitor_record("v2", "0123abcd")), StoreError);
        CHECK_FALSE(store->visitor("v2"));
        auto got = store->visitor_by_token_hash("0123abcd");
        REQUIRE(got);
        CHECK(got->id == "v1");
    }
}

// ---- conversations ----------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: conversations", Factory,
                          sb_store_contract_conversations) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    // Every field set to something other than its default (last_seq aside:
    // a new conversation has no messages).
    Conversation c;
    c.id = "c1";
    c.visitor_id = "v1";
    c.visitor_name = "Asha";
    c.agent_id = "a1";
    c.agent_name = "Bo";
    c.state = ConvState::closed;
    c.department = "billing";
    c.priority = -3;  // negative on purpose
    c.created = 1'000;
    c.queued = 1'500;
    c.assigned = 2'000;
    c.first_reply = 2'500;
    c.closed = 3'000;
    c.visitor_read_seq = 7;
    c.agent_read_seq = 5;
    c.resolution = "billing.refund";
    c.csat_score = 4;
    c.csat_comment = "Quick, thanks";
    c.rated = 3'100;
    store->create_conversation(c);

    SUBCASE("create then get round-trips every field") {
        auto got = store->conversation("c1");
        REQUIRE(got);
        check_same(*got, c);
    }
    SUBCASE("a new conversation starts at last_seq 0, whatever the record says") {
        auto d = make_conversation("c2", "v1");
        d.last_seq = 41;
        store->create_conversation(d);
        CHECK(store->conversation("c2")->last_seq == 0);
        CHECK(store->append(make_message("c2", "v1", "k1")).message.seq == 1);
    }
    SUBCASE("update writes every field but id, visitor, created and last_seq") {
        store->create_conversation(make_conversation("c2", "v1", 500));
        for (const char* k : {"k1", "k2", "k3"}) store->append(make_message("c2", "v1", k));
        auto u = *store->conversation("c2");
        u.visitor_name = "Asha K.";
        u.state = ConvState::active;
        u.agent_id = "a7";
        u.agent_name = "Cem";
        u.department = "sales";
        u.priority = 5;
        u.queued = 550;
        u.assigned = 600;
        u.first_reply = 650;
        u.visitor_read_seq = 2;
        u.agent_read_seq = 3;
        store->update_conversation(u);
        auto got = store->conversation("c2");
        REQUIRE(got);
        check_same(*got, u);

        u.state = ConvState::closed;
        u.closed = 700;
        u.resolution = "resolved";
        store->update_conversation(u);
        got = store->conversation("c2");
        REQUIRE(got);
        check_same(*got, u);

        u.csat_score = 2;
        u.csat_comment = "slow";
        u.rated = 800;
        store->update_conversation(u);
        got = store->conversation("c2");
        REQUIRE(got);
        check_same(*got, u);
    }
    SUBCASE("a requeue clears the agent and goes back to waiting") {
        auto u = c;
        u.state = ConvState::active;
        u.closed = 0;
        store->update_conversation(u);
        check_same(*store->conversation("c1"), u);

        // Transferred to another department: back in the queue, nobody on it.
        u.state = ConvState::waiting;
        u.agent_id.clear();
        u.agent_name.clear();
        u.department = "";
        u.priority = 0;
        u.queued = 4'000;
        store->update_conversation(u);
        auto got = store->conversation("c1");
        REQUIRE(got);
        check_same(*got, u);
        CHECK(got->agent_id.empty());
        CHECK(got->agent_name.empty());
        CHECK(got->department.empty());
        CHECK(name(got->state) == "waiting");
        CHECK(ids(store->open_conversations()) == "c1");

        u.department = "support";
        store->update_conversation(u);
        CHECK(store->conversation("c1")->department == "support");
    }
    SUBCASE("update does not write last_seq, visitor_id or created") {
        store->append(make_message("c1", "v1", "k1"));
        store->append(make_message("c1", "v1", "k2"));
        auto u = c;
        u.last_seq = 99;
        u.visitor_id = "v9";
        u.created = 5;
        store->update_conversation(u);
        auto got = store->conversation("c1");
        REQUIRE(got);
        CHECK(got->last_seq == 2);
        CHECK(got->visitor_id == "v1");
        CHECK(got->created == 1'000);
        CHECK(ids(store->conversations_of_visitor("v1")) == "c1");
        CHECK(store->conversations_of_visitor("v9").empty());

        u.last_seq = 0;  // a stale copy cannot move it back either
        store->update_conversation(u);
        CHECK(store->conversation("c1")->last_seq == 2);
        CHECK(store->append(make_message("c1", "v1", "k3")).message.seq == 3);
    }
    SUBCASE("unknown id is nullopt; updating it throws") {
        CHECK_FALSE(store->conversation("c2"));
        CHECK_THROWS_AS(store->update_conversation(make_conversation("c2", "v1")), StoreError);
        CHECK_FALSE(store->conversation("c2"));
    }
    SUBCASE("a second conversation with a taken id is refused") {
        CHECK_THROWS_AS(store->create_conversation(make_conversation("c1", "v1")), StoreError);
        auto got = store->conversation("c1");
        REQUIRE(got);
        check_same(*got, c);
    }
}

// ---- append -------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: append numbers each conversation 1, 2, 3", Factory,
                          sb_store_contract_append) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));
    store->create_conversation(make_conversation("c2", "v1"));

    std::vector<StoredMessage> want1, want2;
    const Sender senders[] = {Sender::visitor, Sender::agent, Sender::bot};
    for (std::uint64_t i = 1; i <= 3; ++i) {
        auto m1 = make_message("c1", "v1", "c1-" + std::to_string(i), "one " + std::to_string(i),
                               senders[i - 1]);
        m1.ts = static_cast<TimeMs>(100 + i);
        auto m2 = make_message("c2", "v1", "c2-" + std::to_string(i), "two " + std::to_string(i));
        auto a = store->append(m1);
        auto b = store->append(m2);
        CHECK_FALSE(a.duplicate);
        CHECK_FALSE(b.duplicate);
        check_same(a.message, stored_as(m1, i));
        check_same(b.message, stored_as(m2, i));
        want1.push_back(stored_as(m1, i));
        want2.push_back(stored_as(m2, i));
    }
    auto sys = make_message("c2", "system", "", "conversation assigned", Sender::system);
    check_same(store->append(sys).message, stored_as(sys, 4));
    want2.push_back(stored_as(sys, 4));

    CHECK(store->conversation("c1")->last_seq == 3);
    CHECK(store->conversation("c2")->last_seq == 4);
    auto got1 = store->messages_after("c1", 0, 100);
    auto got2 = store->messages_after("c2", 0, 100);
    REQUIRE(got1.size() == want1.size());
    REQUIRE(got2.size() == want2.size());
    for (std::size_t i = 0; i < want1.size(); ++i) check_same(got1[i], want1[i]);
    for (std::size_t i = 0; i < want2.size(); ++i) check_same(got2[i], want2[i]);
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: append de-duplicates by (conv, author, client_id)",
                          Factory, sb_store_contract_dedup) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));
    store->create_conversation(make_conversation("c2", "v1"));
    const auto original = make_message("c1", "v1", "k1", "hello");
    const auto first = store->append(original);
    REQUIRE(first.message.seq == 1);

    SUBCASE("the same client_id from the same author returns the stored message") {
        auto resend = original;
        resend.text = "hello (edited before the resend)";
        resend.ts = 9'999;
        auto again = store->append(resend);
        CHECK(again.duplicate);
        check_same(again.message, first.message);
        CHECK(store->messages_after("c1", 0, 100).size() == 1);
        CHECK(store->conversation("c1")->last_seq == 1);
        CHECK(store->append(make_message("c1", "v1", "k2")).message.seq == 2);
    }
    SUBCASE("the same client_id from another author is a new message") {
        auto other = make_message("c1", "a1", "k1", "agent says hi", Sender::agent);
        auto out = store->append(other);
        CHECK_FALSE(out.duplicate);
        CHECK(out.message.seq == 2);
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2");
        auto again = store->append(other);
        CHECK(again.duplicate);
        CHECK(again.message.seq == 2);
        CHECK(again.message.author_id == "a1");
    }
    SUBCASE("the same client_id in another conversation is a new message") {
        auto out = store->append(make_message("c2", "v1", "k1"));
        CHECK_FALSE(out.duplicate);
        CHECK(out.message.seq == 1);
        CHECK(store->messages_after("c2", 0, 100).size() == 1);
    }
    SUBCASE("an empty client_id never de-duplicates") {
        auto sys = make_message("c1", "system", "", "agent joined", Sender::system);
        auto a = store->append(sys);
        auto b = store->append(sys);
        CHECK_FALSE(a.duplicate);
        CHECK_FALSE(b.duplicate);
        CHECK(a.message.seq == 2);
        CHECK(b.message.seq == 3);
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2,3");
    }
    SUBCASE("client_ids compare byte for byte") {
        for (const char* k : {"K1", "k1 ", "ı", "i", "I", "İ"})
            CHECK_FALSE(store->append(make_message("c1", "v1", k)).duplicate);
        CHECK(store->conversation("c1")->last_seq == 7);
    }
    SUBCASE("inside a batch, against the batch's own writes and earlier ones") {
        store->begin_batch();
        auto a = store->append(make_message("c1", "v1", "k2"));
        auto b = store->append(make_message("c1", "v1", "k2"));
        auto c = store->append(original);
        store->commit_batch();
        CHECK_FALSE(a.duplicate);
        CHECK(b.duplicate);
        CHECK(b.message.seq == a.message.seq);
        CHECK(c.duplicate);
        CHECK(c.message.seq == 1);
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2");
    }
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: append to an unknown conversation throws", Factory,
                          sb_store_contract_unknown_conv) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));

    SUBCASE("outside a batch") {
        CHECK_THROWS_AS(store->append(make_message("nope", "v1", "k1")), StoreError);
        CHECK_THROWS_AS(store->append(make_message("nope", "v1", "")), StoreError);
        CHECK(store->messages_after("nope", 0, 100).empty());
        CHECK_FALSE(store->conversation("nope"));
    }
    SUBCASE("inside a batch, which stays usable and loses nothing") {
        store->begin_batch();
        CHECK(store->append(make_message("c1", "v1", "k1")).message.seq == 1);
        CHECK_THROWS_AS(store->append(make_message("nope", "v1", "k1")), StoreError);
        CHECK(store->in_batch());
        CHECK(store->append(make_message("c1", "v1", "k2")).message.seq == 2);
        store->commit_batch();
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2");
        CHECK(store->conversation("c1")->last_seq == 2);
        CHECK_FALSE(store->conversation("nope"));
    }
}

// ---- reads ----------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: messages_after", Factory,
                          sb_store_contract_messages_after) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));
    store->create_conversation(make_conversation("c2", "v1"));
    for (int i = 1; i <= 5; ++i) store->append(make_message("c1", "v1", "k" + std::to_string(i)));
    store->append(make_message("c2", "v1", "k1"));

    CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2,3,4,5");
    CHECK(seqs(store->messages_after("c1", 2, 100)) == "3,4,5");
    CHECK(seqs(store->messages_after("c1", 0, 2)) == "1,2");
    CHECK(seqs(store->messages_after("c1", 2, 2)) == "3,4");
    CHECK(seqs(store->messages_after("c1", 4, 2)) == "5");
    CHECK(store->messages_after("c1", 5, 100).empty());
    CHECK(store->messages_after("c1", 99, 100).empty());
    CHECK(store->messages_after("c1", 0, 0).empty());
    CHECK(store->messages_after("c1", UINT64_MAX, 100).empty());
    CHECK(seqs(store->messages_after("c1", 3, SIZE_MAX)) == "4,5");
    CHECK(seqs(store->messages_after("c2", 0, 100)) == "1");
    CHECK(store->messages_after("unknown", 0, 100).empty());

    // Paging the way a resume does.
    std::string paged;
    std::uint64_t after = 0;
    for (;;) {
        auto page = store->messages_after("c1", after, 2);
        for (const auto& m : page) paged += std::to_string(m.seq);
        if (page.size() < 2) break;
        after = page.back().seq;
    }
    CHECK(paged == "12345");
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: listing conversations", Factory,
                          sb_store_contract_listing) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_visitor(make_visitor("v2"));
    store->create_visitor(make_visitor("v3"));
    // Created out of order; "c-tie" and "b-tie" share a timestamp with "d-new".
    store->create_conversation(make_conversation("d-new", "v1", 300, ConvState::active));
    store->create_conversation(make_conversation("a-old", "v1", 100, ConvState::closed));
    store->create_conversation(make_conversation("e-mid", "v2", 200, ConvState::waiting));
    store->create_conversation(make_conversation("c-tie", "v1", 300, ConvState::waiting));
    store->create_conversation(make_conversation("b-tie", "v2", 300, ConvState::active));
    store->create_conversation(make_conversation("f-first", "v2", 50, ConvState::closed));

    SUBCASE("open_conversations: not closed, oldest first, then by id") {
        CHECK(ids(store->open_conversations()) == "e-mid,b-tie,c-tie,d-new");
        auto closing = *store->conversation("e-mid");
        closing.state = ConvState::closed;
        closing.closed = 400;
        store->update_conversation(closing);
        CHECK(ids(store->open_conversations()) == "b-tie,c-tie,d-new");
        auto all = store->open_conversations();
        REQUIRE(all.size() == 3);
        CHECK(all[0].visitor_id == "v2");  // whole records come back
        CHECK(name(all[0].state) == "active");
    }
    SUBCASE("conversations_of_visitor: newest first, then by id") {
        CHECK(ids(store->conversations_of_visitor("v1")) == "c-tie,d-new,a-old");
        CHECK(ids(store->conversations_of_visitor("v2")) == "b-tie,e-mid,f-first");
        CHECK(store->conversations_of_visitor("v3").empty());
        CHECK(store->conversations_of_visitor("nobody").empty());
    }
    SUBCASE("no open conversations") {
        auto fresh = Factory::make();
        CHECK(fresh->open_conversations().empty());
    }
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: text round-trips byte for byte", Factory,
                          sb_store_contract_unicode) {
    auto store = Factory::make();
    const std::string devanagari = "नमस्ते दुनिया — क्षत्रिय ज्ञान";
    const std::string turkish = "İstanbul'da ılık bir gün: İı Iı iİ ğüşöç";
    const std::string mixed = "emoji 👩🏽‍💻 and a combining é (e\xCC\x81)";
    const std::string with_nul("a\0b", 3);
    const std::string long_text(16 * 1024, 'x');

    store->create_visitor(visitor_record("v1", "h1", devanagari, "gülşen@örnek.com.tr", 1));
    auto c = make_conversation("c1", "v1");
    c.visitor_name = devanagari;
    c.agent_name = turkish;
    c.agent_id = "a1";
    c.department = turkish;
    store->create_conversation(c);

    auto v = store->visitor("v1");
    REQUIRE(v);
    CHECK(v->name == devanagari);
    CHECK(v->email == "gülşen@örnek.com.tr");
    auto got = store->conversation("c1");
    REQUIRE(got);
    CHECK(got->visitor_name == devanagari);
    CHECK(got->agent_name == turkish);
    CHECK(got->department == turkish);

    std::vector<NewMessage> sent;
    for (const auto* text : {&devanagari, &turkish, &mixed, &with_nul, &long_text}) {
        auto m = make_message("c1", "v1", "k" + std::to_string(sent.size()), *text);
        m.author_name = turkish;
        sent.push_back(m);
        store->append(m);
    }
    auto dup = store->append(make_message("c1", "v1", "k1", "resend"));
    CHECK(dup.duplicate);
    CHECK(dup.message.text == turkish);

    auto stored = store->messages_after("c1", 0, 100);
    REQUIRE(stored.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
        CHECK(stored[i].text.size() == sent[i].text.size());
        CHECK(stored[i].text == sent[i].text);
        CHECK(stored[i].author_name == turkish);
    }
}

// ---- internal notes ---------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: the internal flag is stored and returned", Factory,
                          sb_store_contract_internal) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));
    auto note = make_message("c1", "a1", "n1", "VIP, be nice", Sender::agent);
    note.internal = true;
    const auto visible = make_message("c1", "a1", "n2", "Hello!", Sender::agent);
    auto transfer = make_message("c1", "system", "", "transferred: billing", Sender::system);
    transfer.internal = true;

    auto a = store->append(note);
    auto b = store->append(visible);
    auto t = store->append(transfer);
    CHECK(a.message.internal);
    CHECK_FALSE(b.message.internal);
    CHECK(t.message.internal);
    check_same(a.message, stored_as(note, 1));
    check_same(b.message, stored_as(visible, 2));
    check_same(t.message, stored_as(transfer, 3));

    auto all = store->messages_after("c1", 0, 100);
    REQUIRE(all.size() == 3);
    check_same(all[0], stored_as(note, 1));
    check_same(all[1], stored_as(visible, 2));
    check_same(all[2], stored_as(transfer, 3));

    SUBCASE("a duplicate returns the stored flag, not the resend's") {
        auto resend = note;
        resend.internal = false;
        auto again = store->append(resend);
        CHECK(again.duplicate);
        CHECK(again.message.internal);
        check_same(again.message, stored_as(note, 1));

        auto resend2 = visible;
        resend2.internal = true;
        auto again2 = store->append(resend2);
        CHECK(again2.duplicate);
        CHECK_FALSE(again2.message.internal);
    }
    SUBCASE("inside a batch too") {
        store->begin_batch();
        auto n = make_message("c1", "a1", "n3", "in a batch", Sender::agent);
        n.internal = true;
        CHECK(store->append(n).message.internal);
        auto dup = store->append(n);
        CHECK(dup.duplicate);
        CHECK(dup.message.internal);
        store->commit_batch();
        auto got = store->messages_after("c1", 3, 100);
        REQUIRE(got.size() == 1);
        CHECK(got[0].internal);
    }
}

// ---- offline messages ---------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: offline messages", Factory, sb_store_contract_offline) {
    auto store = Factory::make();
    CHECK(store->offline_messages(true, 100).empty());
    CHECK(store->offline_messages(false, 100).empty());

    // Created out of order; "b-tie" and "a-tie" share a timestamp with "c-new".
    OfflineMessage full{"m1", "v1", "Gülşen", "g@örnek.com.tr", "billing", "नमस्ते, call me back",
                        100,  0,    ""};
    store->create_offline_message(full);
    store->create_offline_message(make_offline("c-new", 300));
    store->create_offline_message(make_offline("e-mid", 200));
    store->create_offline_message(make_offline("b-tie", 300));
    store->create_offline_message(make_offline("a-tie", 300));

    SUBCASE("create round-trips every field") {
        auto all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 5);
        check_same(all.back(), full);
        check_same(all[3], make_offline("e-mid", 200));

        OfflineMessage anon{"m2", "", "", "", "", "", 50, 0, ""};
        store->create_offline_message(anon);
        all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 6);
        check_same(all.back(), anon);
    }
    SUBCASE("newest first, ties by id") {
        CHECK(ids(store->offline_messages(false, 100)) == "a-tie,b-tie,c-new,e-mid,m1");
        CHECK(ids(store->offline_messages(true, 100)) == "a-tie,b-tie,c-new,e-mid,m1");
    }
    SUBCASE("at most limit") {
        CHECK(ids(store->offline_messages(false, 2)) == "a-tie,b-tie");
        CHECK(ids(store->offline_messages(true, 4)) == "a-tie,b-tie,c-new,e-mid");
        CHECK(store->offline_messages(true, 0).empty());
        CHECK(store->offline_messages(false, 0).empty());
        CHECK(store->offline_messages(true, SIZE_MAX).size() == 5);
    }
    SUBCASE("handled ones are listed only when asked") {
        CHECK(store->mark_offline_handled("b-tie", "a1", 1'000));
        CHECK(store->mark_offline_handled("m1", "a2", 1'001));
        CHECK(ids(store->offline_messages(false, 100)) == "a-tie,c-new,e-mid");
        CHECK(ids(store->offline_messages(true, 100)) == "a-tie,b-tie,c-new,e-mid,m1");
        CHECK(ids(store->offline_messages(false, 1)) == "a-tie");
        // The limit counts what is listed, not what was skipped.
        CHECK(ids(store->offline_messages(false, 3)) == "a-tie,c-new,e-mid");

        auto all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 5);
        CHECK(all[1].handled == 1'000);
        CHECK(all[1].handled_by == "a1");
        auto m1 = full;
        m1.handled = 1'001;
        m1.handled_by = "a2";
        check_same(all[4], m1);  // and nothing else changed
        CHECK(all[0].handled == 0);
        CHECK(all[0].handled_by.empty());
    }
    SUBCASE("marked handled once; the second time, or an unknown id, is false") {
        CHECK(store->mark_offline_handled("e-mid", "a1", 1'000));
        CHECK_FALSE(store->mark_offline_handled("e-mid", "a2", 2'000));
        CHECK_FALSE(store->mark_offline_handled("nope", "a1", 1'000));
        CHECK_FALSE(store->mark_offline_handled("", "a1", 1'000));
        auto all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 5);
        CHECK(all[3].id == "e-mid");
        CHECK(all[3].handled == 1'000);  // the first one stands
        CHECK(all[3].handled_by == "a1");
    }
    SUBCASE("created handled: listed only with handled ones, cannot be marked again") {
        OfflineMessage done = make_offline("z-done", 400);
        done.handled = 450;
        done.handled_by = "a9";
        store->create_offline_message(done);
        CHECK(ids(store->offline_messages(false, 100)) == "a-tie,b-tie,c-new,e-mid,m1");
        auto all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 6);
        check_same(all[0], done);
        CHECK_FALSE(store->mark_offline_handled("z-done", "a1", 500));
    }
    SUBCASE("a taken id is refused") {
        CHECK_THROWS_AS(store->create_offline_message(make_offline("m1", 999)), StoreError);
        auto all = store->offline_messages(true, 100);
        REQUIRE(all.size() == 5);
        check_same(all.back(), full);
    }
    SUBCASE("inside a batch: visible at once, gone on rollback") {
        store->begin_batch();
        store->create_offline_message(make_offline("f-late", 500));
        CHECK(store->mark_offline_handled("m1", "a1", 600));
        CHECK(ids(store->offline_messages(false, 100)) == "f-late,a-tie,b-tie,c-new,e-mid");
        store->rollback_batch();
        CHECK(ids(store->offline_messages(false, 100)) == "a-tie,b-tie,c-new,e-mid,m1");
        CHECK(store->mark_offline_handled("m1", "a1", 700));

        store->begin_batch();
        store->create_offline_message(make_offline("f-late", 500));
        store->commit_batch();
        CHECK(ids(store->offline_messages(false, 100)) == "f-late,a-tie,b-tie,c-new,e-mid");
    }
}

// ---- visitor context ------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: update_visitor", Factory,
                          sb_store_contract_update_visitor) {
    auto store = Factory::make();
    const auto original = make_visitor("v1", 1'000);
    store->create_visitor(original);
    store->create_visitor(make_visitor("v2"));

    // Every field changed, the ones update_visitor() must not write included.
    Visitor u = original;
    u.token_hash = "another-hash";
    u.created = 9;
    u.name = "Asha K.";
    u.email = "asha.k@example.com";
    u.external_id = "crm-42";
    u.verified = true;
    u.attributes = {{"zeta", "last key first"}, {"alpha", "2"}, {"mid", "3"}};
    u.page = "https://shop.example.com/checkout";
    u.language = "tr-TR";
    u.user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)";
    u.last_seen = 5'000;
    // What the store should hold: all of u but id, token hash and created.
    Visitor want = u;
    want.token_hash = original.token_hash;
    want.created = original.created;

    SUBCASE("writes every field but id, token hash and created") {
        store->update_visitor(u);
        auto got = store->visitor("v1");
        REQUIRE(got);
        check_same(*got, want);
        got = store->visitor_by_token_hash("hash-v1");
        REQUIRE(got);
        check_same(*got, want);
        CHECK_FALSE(store->visitor_by_token_hash("another-hash"));
        check_same(*store->visitor("v2"), make_visitor("v2"));  // and no other visitor
    }
    SUBCASE("attributes keep their order and every byte") {
        u.attributes = {
            {"ключ", "नमस्ते दुनिया"},
            {"emoji", "👩🏽‍💻 and é (e\xCC\x81)"},
            {"quotes", "a \"quoted\" \\ back\\slash, a\nnew line, a\ttab"},
            {"json", R"({"not": ["parsed"]})"},
            {"empty", ""},
            {"", "an empty key"},
            {"nul", std::string("a\0b", 3)},
            {"İstanbul", "ılık"},
        };
        store->update_visitor(u);
        want.attributes = u.attributes;
        check_same(*store->visitor("v1"), want);
        check_same(*store->visitor_by_token_hash("hash-v1"), want);

        // Reordered, fewer, then none.
        u.attributes = {{"b", "2"}, {"a", "1"}};
        store->update_visitor(u);
        CHECK(pairs(store->visitor("v1")->attributes) == "b=2;a=1;");
        u.attributes.clear();
        store->update_visitor(u);
        CHECK(store->visitor("v1")->attributes.empty());
    }
    SUBCASE("twenty attributes of the longest size") {
        for (int i = 0; i < 20; ++i)
            u.attributes.emplace_back(std::string(60, 'k') + std::to_string(10 + i),
                                      std::string(256, static_cast<char>('a' + i)));
        store->update_visitor(u);
        want.attributes = u.attributes;
        check_same(*store->visitor("v1"), want);
    }
    SUBCASE("the context can be cleared again") {
        store->update_visitor(u);
        Visitor cleared = original;
        cleared.name.clear();
        cleared.email.clear();
        store->update_visitor(cleared);
        check_same(*store->visitor("v1"), cleared);
    }
    SUBCASE("an unknown visitor throws and nothing is created") {
        CHECK_THROWS_AS(store->update_visitor(make_visitor("v9")), StoreError);
        CHECK_THROWS_AS(store->update_visitor(Visitor{}), StoreError);
        CHECK_FALSE(store->visitor("v9"));
        CHECK_FALSE(store->visitor_by_token_hash("hash-v9"));
        check_same(*store->visitor("v1"), original);
    }
    SUBCASE("inside a batch: visible at once, gone on rollback") {
        store->begin_batch();
        store->update_visitor(u);
        check_same(*store->visitor("v1"), want);
        store->rollback_batch();
        check_same(*store->visitor("v1"), original);
    }
    SUBCASE("a failed update leaves the batch usable and unchanged") {
        store->begin_batch();
        store->update_visitor(u);
        CHECK_THROWS_AS(store->update_visitor(make_visitor("v9")), StoreError);
        CHECK(store->in_batch());
        check_same(*store->visitor("v1"), want);
        store->commit_batch();
        check_same(*store->visitor("v1"), want);
        CHECK_FALSE(store->visitor("v9"));
    }
}

// ---- conversation listings ----------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: every reader returns whole records", Factory,
                          sb_store_contract_whole_records) {
    auto store = Factory::make();
    Visitor v = make_verified("v1", "crm-1");
    v.attributes = {{"plan", "pro"}, {"order", "A-17"}};
    v.page = "https://shop.example.com/";
    v.language = "en-GB";
    v.user_agent = "curl/8.0";
    v.last_seen = 1'700'000'000'999;
    store->create_visitor(v);

    // Open, so that open_conversations() lists it too; every field set.
    Conversation c;
    c.id = "c1";
    c.visitor_id = "v1";
    c.visitor_name = "Asha";
    c.agent_id = "a1";
    c.agent_name = "Bo";
    c.state = ConvState::active;
    c.department = "billing";
    c.priority = 2;
    c.created = 1'000;
    c.queued = 1'100;
    c.assigned = 1'200;
    c.first_reply = 1'300;
    c.visitor_read_seq = 1;
    c.agent_read_seq = 1;
    c.resolution = "reopened";
    c.csat_score = 3;
    c.csat_comment = "ok";
    c.rated = 1'400;
    store->create_conversation(c);
    store->append(make_message("c1", "v1", "k1"));
    c.last_seq = 1;

    const auto check_everywhere = [&] {
        check_same(*store->visitor("v1"), v);
        check_same(*store->visitor_by_token_hash("hash-v1"), v);
        check_same(*store->conversation("c1"), c);
        using List = std::vector<Conversation>;
        for (const List& list :
             {store->conversations_of_visitor("v1"), store->open_conversations(),
              store->history_of_visitor("v1", 10), store->conversations_since(1'000)}) {
            REQUIRE(list.size() == 1);
            check_same(list[0], c);
        }
    };
    check_everywhere();

    v.name = "Asha K.";
    v.verified = false;
    v.external_id.clear();
    v.attributes = {{"order", "A-18"}};
    v.page = "https://shop.example.com/help";
    v.language = "de";
    v.user_agent = "Wget/1.21";
    v.last_seen += 60'000;
    store->update_visitor(v);
    c.resolution = "escalated";
    c.csat_score = 1;
    c.csat_comment = "Çok yavaş — नमस्ते 🙁";
    c.rated = 2'000;
    c.priority = -1;
    store->update_conversation(c);
    check_everywhere();
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: resolution and rating", Factory,
                          sb_store_contract_rating) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    auto c = make_conversation("c1", "v1", 100, ConvState::active);
    store->create_conversation(c);

    SUBCASE("a new conversation has none") {
        auto got = store->conversation("c1");
        REQUIRE(got);
        CHECK(got->resolution.empty());
        CHECK(got->csat_score == 0);
        CHECK(got->csat_comment.empty());
        CHECK(got->rated == 0);
    }
    SUBCASE("closed with a resolution, rated, rated again") {
        c.state = ConvState::closed;
        c.closed = 200;
        c.resolution = "shipping:late";
        store->update_conversation(c);
        check_same(*store->conversation("c1"), c);

        c.csat_score = 5;
        c.csat_comment = "Çok teşekkürler 🙏\nनमस्ते";
        c.rated = 300;
        store->update_conversation(c);
        check_same(*store->conversation("c1"), c);

        c.csat_score = 1;  // a second rating replaces the first
        c.csat_comment.clear();
        c.rated = 400;
        store->update_conversation(c);
        check_same(*store->conversation("c1"), c);
    }
    SUBCASE("a long comment round-trips") {
        c.csat_score = 2;
        c.csat_comment = std::string(2048, 'x');
        c.rated = 300;
        store->update_conversation(c);
        CHECK(store->conversation("c1")->csat_comment == c.csat_comment);
    }
    SUBCASE("gone with a rolled-back batch") {
        store->begin_batch();
        auto rated = c;
        rated.csat_score = 4;
        rated.rated = 300;
        store->update_conversation(rated);
        CHECK(store->conversation("c1")->csat_score == 4);
        store->rollback_batch();
        check_same(*store->conversation("c1"), c);
    }
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: history_of_visitor", Factory,
                          sb_store_contract_history) {
    auto store = Factory::make();
    store->create_visitor(make_verified("v1", "crm-1"));
    store->create_visitor(make_verified("v2", "crm-1"));  // the same user on another device
    store->create_visitor(make_verified("v3", "crm-2"));
    store->create_visitor(make_visitor("v4"));            // anonymous
    store->create_visitor(make_visitor("v5"));            // anonymous too: "" is nobody's id
    store->create_visitor(make_verified("v6", "crm-1"));  // no conversation of its own
    store->create_visitor(make_verified("v7", "CRM-1"));  // ids compare byte for byte
    // Created out of order; "a2" and "b2" share a timestamp.
    store->create_conversation(make_conversation("b1", "v2", 300, ConvState::closed));
    store->create_conversation(make_conversation("a1", "v1", 100, ConvState::closed));
    store->create_conversation(make_conversation("b2", "v2", 400, ConvState::waiting));
    store->create_conversation(make_conversation("a2", "v1", 400, ConvState::active));
    store->create_conversation(make_conversation("c1", "v3", 350));
    store->create_conversation(make_conversation("d1", "v4", 200));
    store->create_conversation(make_conversation("e1", "v5", 250));
    store->create_conversation(make_conversation("g1", "v7", 260));

    SUBCASE("own conversations and those of the same external_id, newest first, then by id") {
        CHECK(ids(store->history_of_visitor("v1", 100)) == "a2,b2,b1,a1");
        CHECK(ids(store->history_of_visitor("v2", 100)) == "a2,b2,b1,a1");
        CHECK(ids(store->history_of_visitor("v6", 100)) == "a2,b2,b1,a1");
        CHECK(ids(store->history_of_visitor("v3", 100)) == "c1");
        CHECK(ids(store->history_of_visitor("v7", 100)) == "g1");
    }
    SUBCASE("without an external_id, only the visitor's own") {
        CHECK(ids(store->history_of_visitor("v4", 100)) == "d1");
        CHECK(ids(store->history_of_visitor("v5", 100)) == "e1");
    }
    SUBCASE("matching is by external_id alone, verified or not") {
        auto v = make_visitor("v8");
        v.external_id = "crm-2";
        store->create_visitor(v);
        CHECK(ids(store->history_of_visitor("v8", 100)) == "c1");
    }
    SUBCASE("at most limit, the newest ones") {
        CHECK(ids(store->history_of_visitor("v1", 2)) == "a2,b2");
        CHECK(ids(store->history_of_visitor("v1", 3)) == "a2,b2,b1");
        CHECK(ids(store->history_of_visitor("v1", 1)) == "a2");
        CHECK(store->history_of_visitor("v1", 0).empty());
        CHECK(ids(store->history_of_visitor("v1", SIZE_MAX)) == "a2,b2,b1,a1");
    }
    SUBCASE("an unknown visitor has none") {
        CHECK(store->history_of_visitor("nobody", 100).empty());
        CHECK(store->history_of_visitor("", 100).empty());
    }
    SUBCASE("follows update_visitor") {
        auto v3 = *store->visitor("v3");
        v3.external_id = "crm-1";
        store->update_visitor(v3);
        CHECK(ids(store->history_of_visitor("v1", 100)) == "a2,b2,c1,b1,a1");
        CHECK(ids(store->history_of_visitor("v3", 100)) == "a2,b2,c1,b1,a1");

        auto v2 = *store->visitor("v2");
        v2.external_id.clear();  // signed out on that device
        v2.verified = false;
        store->update_visitor(v2);
        CHECK(ids(store->history_of_visitor("v1", 100)) == "a2,c1,a1");
        CHECK(ids(store->history_of_visitor("v2", 100)) == "b2,b1");
    }
    SUBCASE("sees the open batch") {
        store->begin_batch();
        store->create_visitor(make_verified("v9", "crm-1"));
        store->create_conversation(make_conversation("z9", "v9", 500));
        CHECK(ids(store->history_of_visitor("v1", 100)) == "z9,a2,b2,b1,a1");
        store->rollback_batch();
        CHECK(ids(store->history_of_visitor("v1", 100)) == "a2,b2,b1,a1");
    }
}

TEST_CASE_TEMPLATE_DEFINE("Store contract: conversations_since", Factory, sb_store_contract_since) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_visitor(make_visitor("v2"));
    CHECK(store->conversations_since(0).empty());
    // Created out of order, open and closed, two visitors; "y" and "z" tie.
    store->create_conversation(make_conversation("w", "v1", 300, ConvState::closed));
    store->create_conversation(make_conversation("z", "v2", 200, ConvState::active));
    store->create_conversation(make_conversation("x", "v1", 100, ConvState::waiting));
    store->create_conversation(make_conversation("y", "v1", 200, ConvState::closed));

    CHECK(ids(store->conversations_since(0)) == "x,y,z,w");
    CHECK(ids(store->conversations_since(100)) == "x,y,z,w");  // at counts
    CHECK(ids(store->conversations_since(101)) == "y,z,w");
    CHECK(ids(store->conversations_since(200)) == "y,z,w");
    CHECK(ids(store->conversations_since(201)) == "w");
    CHECK(ids(store->conversations_since(300)) == "w");
    CHECK(store->conversations_since(301).empty());
    CHECK(ids(store->conversations_since(-1)) == "x,y,z,w");
    CHECK(ids(store->conversations_since(std::numeric_limits<TimeMs>::min())) == "x,y,z,w");
    CHECK(store->conversations_since(std::numeric_limits<TimeMs>::max()).empty());

    SUBCASE("created, not updated, is what counts") {
        auto x = *store->conversation("x");
        x.queued = 500;
        x.assigned = 600;
        x.closed = 700;
        x.state = ConvState::closed;
        store->update_conversation(x);
        CHECK(ids(store->conversations_since(201)) == "w");
    }
    SUBCASE("sees the open batch") {
        store->begin_batch();
        store->create_conversation(make_conversation("v", "v2", 250));
        CHECK(ids(store->conversations_since(200)) == "y,z,v,w");
        store->rollback_batch();
        CHECK(ids(store->conversations_since(200)) == "y,z,w");
    }
}

// ---- canned replies ---------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: canned replies", Factory, sb_store_contract_canned) {
    auto store = Factory::make();
    CHECK(store->canned_replies("a1").empty());
    CHECK(store->canned_count("") == 0);

    // Shared ones (owner "") and personal ones; "hi" is taken in every scope.
    const CannedReply hello{"s-hi", "",   "hi", "Hello {visitor.name}, I am {agent.name}.\nहाँ?",
                            1'000,  1'500};
    CHECK(store->save_canned(hello));
    CHECK(store->save_canned(make_canned("s-bye", "", "bye")));
    CHECK(store->save_canned(make_canned("p-hi", "a1", "hi")));
    CHECK(store->save_canned(make_canned("p-addr", "a1", "addr")));
    CHECK(store->save_canned(make_canned("q-hi", "a2", "hi")));

    SUBCASE("save then get round-trips every field") {
        auto got = store->canned_reply("s-hi");
        REQUIRE(got);
        check_same(*got, hello);
        got = store->canned_reply("p-addr");
        REQUIRE(got);
        check_same(*got, make_canned("p-addr", "a1", "addr"));
        CHECK_FALSE(store->canned_reply("nope"));
        CHECK_FALSE(store->canned_reply(""));
    }
    SUBCASE("an agent sees the shared ones and its own: by shortcut, shared first") {
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi");
        CHECK(ids(store->canned_replies("a2")) == "s-bye,s-hi,q-hi");
        CHECK(ids(store->canned_replies("a3")) == "s-bye,s-hi");
        auto list = store->canned_replies("a1");
        REQUIRE(list.size() == 4);
        check_same(list[2], hello);  // whole records come back
    }
    SUBCASE("count per owner") {
        CHECK(store->canned_count("") == 2);
        CHECK(store->canned_count("a1") == 2);
        CHECK(store->canned_count("a2") == 1);
        CHECK(store->canned_count("a3") == 0);
    }
    SUBCASE("a taken shortcut in the same scope is refused and nothing is stored") {
        CHECK_FALSE(store->save_canned(make_canned("p-new", "a1", "hi")));
        CHECK_FALSE(store->save_canned(make_canned("s-new", "", "bye")));
        CHECK_FALSE(store->canned_reply("p-new"));
        CHECK_FALSE(store->canned_reply("s-new"));
        CHECK(store->canned_count("a1") == 2);
        CHECK(store->canned_count("") == 2);

        // An edit onto another reply's shortcut is refused too, and changes nothing.
        auto edit = make_canned("p-addr", "a1", "hi");
        edit.text = "changed";
        edit.updated = 9'000;
        CHECK_FALSE(store->save_canned(edit));
        check_same(*store->canned_reply("p-addr"), make_canned("p-addr", "a1", "addr"));
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi");
    }
    SUBCASE("the same shortcut is free for another owner") {
        CHECK(store->save_canned(make_canned("r-hi", "a3", "hi")));
        CHECK(store->save_canned(make_canned("r-bye", "a3", "bye")));
        CHECK(ids(store->canned_replies("a3")) == "s-bye,r-bye,s-hi,r-hi");
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi");
    }
    SUBCASE("an edit replaces every field but created") {
        CannedReply edit{"p-hi", "a1", "hey", "Hey there! 👋", 77, 5'000};
        CHECK(store->save_canned(edit));
        edit.created = 1'000;  // kept from the first save
        check_same(*store->canned_reply("p-hi"), edit);
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,p-hi,s-hi");
        CHECK(store->canned_count("a1") == 2);
        // The old shortcut is free again.
        CHECK(store->save_canned(make_canned("p-hi2", "a1", "hi")));
    }
    SUBCASE("saving a reply under its own shortcut is no clash") {
        auto same = make_canned("p-hi", "a1", "hi", 50);
        same.text = "new text";
        same.updated = 2'000;
        CHECK(store->save_canned(same));
        auto got = store->canned_reply("p-hi");
        REQUIRE(got);
        CHECK(got->text == "new text");
        CHECK(got->updated == 2'000);
        CHECK(got->created == 1'000);
    }
    SUBCASE("an edit may move a reply to another scope, if its shortcut is free there") {
        auto shared = make_canned("p-addr", "", "addr");
        shared.updated = 3'000;
        CHECK(store->save_canned(shared));
        CHECK(ids(store->canned_replies("a2")) == "p-addr,s-bye,s-hi,q-hi");
        CHECK(store->canned_count("a1") == 1);
        CHECK(store->canned_count("") == 3);

        CHECK_FALSE(store->save_canned(make_canned("p-hi", "", "hi")));  // "hi" is taken there
        check_same(*store->canned_reply("p-hi"), make_canned("p-hi", "a1", "hi"));
    }
    SUBCASE("delete") {
        CHECK(store->delete_canned("p-hi"));
        CHECK_FALSE(store->canned_reply("p-hi"));
        CHECK_FALSE(store->delete_canned("p-hi"));
        CHECK_FALSE(store->delete_canned("nope"));
        CHECK_FALSE(store->delete_canned(""));
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi");
        CHECK(store->canned_count("a1") == 1);
        CHECK(store->canned_count("a2") == 1);
        // Its shortcut is free again; a new reply with its id is a new reply.
        CHECK(store->save_canned(make_canned("p-hi", "a1", "hi", 8'000)));
        CHECK(store->canned_reply("p-hi")->created == 8'000);
    }
    SUBCASE("inside a batch: a clash leaves the batch usable and unchanged") {
        store->begin_batch();
        CHECK(store->save_canned(make_canned("p-new", "a1", "new")));
        CHECK_FALSE(store->save_canned(make_canned("p-new2", "a1", "new")));
        CHECK_FALSE(store->save_canned(make_canned("p-addr", "a1", "hi")));
        CHECK(store->in_batch());
        CHECK(store->delete_canned("q-hi"));
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi,p-new");
        store->commit_batch();
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi,p-new");
        check_same(*store->canned_reply("p-addr"), make_canned("p-addr", "a1", "addr"));
        CHECK_FALSE(store->canned_reply("p-new2"));
        CHECK_FALSE(store->canned_reply("q-hi"));
    }
    SUBCASE("inside a batch: gone on rollback") {
        store->begin_batch();
        CHECK(store->save_canned(make_canned("p-new", "a1", "new")));
        CHECK(store->save_canned(CannedReply{"s-hi", "", "hello", "edited", 0, 9'000}));
        CHECK(store->delete_canned("p-addr"));
        CHECK(store->canned_count("a1") == 2);
        store->rollback_batch();
        CHECK(ids(store->canned_replies("a1")) == "p-addr,s-bye,s-hi,p-hi");
        check_same(*store->canned_reply("s-hi"), hello);
    }
}

// ---- batches ----------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("Store contract: batches", Factory, sb_store_contract_batches) {
    auto store = Factory::make();
    store->create_visitor(make_visitor("v1"));
    store->create_conversation(make_conversation("c1", "v1"));
    store->append(make_message("c1", "v1", "k1"));
    store->append(make_message("c1", "v1", "k2"));
    CHECK_FALSE(store->in_batch());

    SUBCASE("appends inside begin/commit are visible inside and after") {
        store->begin_batch();
        CHECK(store->in_batch());
        CHECK(store->append(make_message("c1", "v1", "k3")).message.seq == 3);
        CHECK(store->append(make_message("c1", "v1", "k4")).message.seq == 4);
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2,3,4");
        store->commit_batch();
        CHECK_FALSE(store->in_batch());
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2,3,4");
        CHECK(store->conversation("c1")->last_seq == 4);
    }
    SUBCASE("rollback discards every write and seq restarts where it was") {
        store->begin_batch();
        store->append(make_message("c1", "v1", "k3"));
        store->append(make_message("c1", "v1", "k4"));
        store->create_visitor(make_visitor("v9"));
        store->create_conversation(make_conversation("c9", "v9"));
        store->append(make_message("c9", "v9", "k1"));
        auto closing = *store->conversation("c1");
        closing.state = ConvState::closed;
        closing.closed = 5;
        store->update_conversation(closing);
        store->rollback_batch();

        CHECK_FALSE(store->in_batch());
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2");
        auto c1 = store->conversation("c1");
        REQUIRE(c1);
        CHECK(c1->last_seq == 2);
        CHECK(name(c1->state) == "waiting");
        CHECK(c1->closed == 0);
        CHECK_FALSE(store->visitor("v9"));
        CHECK_FALSE(store->visitor_by_token_hash("hash-v9"));
        CHECK_FALSE(store->conversation("c9"));
        CHECK(store->messages_after("c9", 0, 100).empty());
        CHECK(ids(store->open_conversations()) == "c1");

        // The rolled-back client_id is free again, and numbering resumes at 3.
        auto again = store->append(make_message("c1", "v1", "k3"));
        CHECK_FALSE(again.duplicate);
        CHECK(again.message.seq == 3);
    }
    SUBCASE("a conversation created in a batch takes appends in that batch") {
        store->begin_batch();
        store->create_visitor(make_visitor("v2"));
        store->create_conversation(make_conversation("c2", "v2"));
        CHECK(store->append(make_message("c2", "v2", "k1")).message.seq == 1);
        CHECK(store->append(make_message("c2", "v2", "k2")).message.seq == 2);
        CHECK(store->append(make_message("c1", "v1", "k3")).message.seq == 3);
        store->commit_batch();
        CHECK(seqs(store->messages_after("c2", 0, 100)) == "1,2");
        CHECK(store->conversation("c2")->last_seq == 2);
        CHECK(store->visitor("v2"));
    }
    SUBCASE("every reader returns the same last_seq, in, after and without a batch") {
        // history_of_visitor and conversations_since included: each reader
        // must see the appends, whatever the store keeps the counter in.
        const auto all_readers_say = [&](std::uint64_t want) {
            CHECK(store->conversation("c1")->last_seq == want);
            const auto of_visitor = store->conversations_of_visitor("v1");
            REQUIRE(of_visitor.size() == 1);
            CHECK(of_visitor[0].last_seq == want);
            const auto open = store->open_conversations();
            REQUIRE(open.size() == 1);
            CHECK(open[0].last_seq == want);
            const auto history = store->history_of_visitor("v1", 10);
            REQUIRE(history.size() == 1);
            CHECK(history[0].last_seq == want);
            const auto since = store->conversations_since(0);
            REQUIRE(since.size() == 1);
            CHECK(since[0].last_seq == want);
        };
        all_readers_say(2);
        store->begin_batch();
        store->append(make_message("c1", "v1", "k3"));
        all_readers_say(3);
        store->append(make_message("c1", "v1", "k3"));  // a duplicate moves nothing
        all_readers_say(3);
        store->rollback_batch();
        all_readers_say(2);
        store->begin_batch();
        store->append(make_message("c1", "v1", "k3"));
        store->append(make_message("c1", "v1", "k4"));
        store->commit_batch();
        all_readers_say(4);
    }
    SUBCASE("numbering carries on after a close, a reopen and a rolled-back close") {
        auto c1 = *store->conversation("c1");
        c1.state = ConvState::closed;
        c1.closed = 5;
        store->update_conversation(c1);
        CHECK(store->conversation("c1")->last_seq == 2);
        CHECK(store->append(make_message("c1", "v1", "k3")).message.seq == 3);
        c1.state = ConvState::waiting;  // reopened, from a stale copy (last_seq 2)
        store->update_conversation(c1);
        CHECK(store->conversation("c1")->last_seq == 3);
        store->begin_batch();
        CHECK(store->append(make_message("c1", "v1", "k4")).message.seq == 4);
        c1.state = ConvState::closed;
        store->update_conversation(c1);
        CHECK(store->append(make_message("c1", "v1", "k5")).message.seq == 5);
        store->rollback_batch();
        CHECK(store->conversation("c1")->last_seq == 3);
        CHECK(store->append(make_message("c1", "v1", "k5")).message.seq == 4);
        CHECK(seqs(store->messages_after("c1", 0, 100)) == "1,2,3,4");
    }
    SUBCASE("many appends to the same and different conversations in one batch") {
        store->create_conversation(make_conversation("c2", "v1"));
        store->create_conversation(make_conversation("c3", "v1"));
        const std::string convs[] = {"c1", "c2", "c3"};
        std::uint64_t next[] = {3, 1, 1};
        store->begin_batch();
        for (int i = 0; i < 300; ++i) {
            const int k = (i + i / 3) % 3;  // the conversations in a shifting order
            const auto m = make_message(convs[k], "v1", "m" + std::to_string(i));
            const auto want = next[k]++;
            auto out = store->append(m);
            CHECK_FALSE(out.duplicate);
            CHECK(out.message.seq == want);
            if (i % 10 == 0) {  // a resend in the same batch
                auto again = store->append(m);
                CHECK(again.duplicate);
                CHECK(again.message.seq == out.message.seq);
            }
        }
        store->commit_batch();
        for (int k = 0; k < 3; ++k) {
            const auto all = store->messages_after(convs[k], 0, 1000);
            CHECK(all.size() == next[k] - 1);
            CHECK(store->conversation(convs[k])->last_seq == next[k] - 1);
            for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].seq == i + 1);
        }
    }
}

}  // namespace sb::store_contract

// Instantiates every contract case for one factory type (see the top of this
// file). Use at global scope, once per factory.
#define SB_STORE_CONTRACT(Factory)                                        \
    TYPE_TO_STRING(Factory);                                              \
    namespace sb::store_contract {                                        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_visitors, Factory);       \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_conversations, Factory);  \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_append, Factory);         \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_dedup, Factory);          \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_unknown_conv, Factory);   \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_messages_after, Factory); \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_listing, Factory);        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_unicode, Factory);        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_batches, Factory);        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_internal, Factory);       \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_offline, Factory);        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_update_visitor, Factory); \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_whole_records, Factory);  \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_rating, Factory);         \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_history, Factory);        \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_since, Factory);          \
    TEST_CASE_TEMPLATE_INVOKE(sb_store_contract_canned, Factory);         \
    }                                                                     \
    static_assert(true, "")
