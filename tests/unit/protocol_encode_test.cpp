// Server -> client encoders: parse the output back with nlohmann and check
// every field; ill-formed UTF-8 from elsewhere never makes them throw.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>
#include <switchboard/protocol.hpp>

using namespace sb::proto;
using nlohmann::json;

namespace {

json parsed(const std::string& out) {
    CAPTURE(out);
    json j = json::parse(out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.is_object());
    REQUIRE(is_valid_utf8(out));
    return j;
}

ConvSummary summary(std::string conv, ConvState state) {
    ConvSummary s;
    s.conv = std::move(conv);
    s.state = state;
    s.last_seq = 41;
    s.agent_name = "Deniz";
    s.visitor_name = "Ayşe";
    s.department = "sales";
    return s;
}

QueueEntry entry(std::string conv, std::string visitor_name, std::int64_t since) {
    QueueEntry e;
    e.conv = std::move(conv);
    e.visitor_name = std::move(visitor_name);
    e.since = since;
    return e;
}

}  // namespace

TEST_CASE("encode welcome") {
    Welcome w;
    w.role = Role::visitor;
    w.id = "v_123";
    w.name = "Ayşe";
    w.token = "rt_secret";
    w.conversations = {summary("c1", ConvState::active), summary("c2", ConvState::waiting)};
    w.conversations[1].agent_name.clear();
    const auto j = parsed(encode(w));
    CHECK(j["type"] == "welcome");
    CHECK(j["version"] == 1);
    CHECK(j["role"] == "visitor");
    CHECK(j["id"] == "v_123");
    CHECK(j["name"] == "Ayşe");
    CHECK(j["token"] == "rt_secret");
    REQUIRE(j["conversations"].size() == 2);
    const auto& c = j["conversations"][0];
    CHECK(c["conv"] == "c1");
    CHECK(c["state"] == "active");
    CHECK(c["last_seq"] == 41);
    CHECK(c["agent_name"] == "Deniz");
    CHECK(c["visitor_name"] == "Ayşe");
    CHECK(c["department"] == "sales");
    CHECK(j["conversations"][1]["state"] == "waiting");
    CHECK(j["conversations"][1]["agent_name"] == "");

    Welcome agent;
    agent.role = Role::agent;
    agent.id = "a_1";
    const auto a = parsed(encode(agent));
    CHECK(a["role"] == "agent");
    CHECK(a["token"] == "");
    CHECK(a["conversations"].is_array());
    CHECK(a["conversations"].empty());
}

TEST_CASE("encode ack") {
    const auto j = parsed(encode(Ack{"c1", "m-1", 7, 1'700'000'000'123, true}));
    CHECK(j["type"] == "ack");
    CHECK(j["conv"] == "c1");
    CHECK(j["client_id"] == "m-1");
    CHECK(j["seq"] == 7);
    CHECK(j["ts"] == 1'700'000'000'123);
    CHECK(j["duplicate"] == true);
    CHECK(parsed(encode(Ack{"c1", "m-1", 7, 0, false}))["duplicate"] == false);
}

TEST_CASE("encode message, every sender, extreme numbers") {
    MessageEvent m{"c1", 3, Sender::agent, "Deniz", "m-3", "नमस्ते \"quoted\" \\ \n\t\x01 😀", 123};
    auto j = parsed(encode(m));
    CHECK(j["type"] == "message");
    CHECK(j["conv"] == "c1");
    CHECK(j["seq"] == 3);
    CHECK(j["from"] == "agent");
    CHECK(j["author"] == "Deniz");
    CHECK(j["client_id"] == "m-3");
    CHECK(j["text"] == m.text);
    CHECK(j["ts"] == 123);
    for (auto s : {Sender::visitor, Sender::agent, Sender::bot, Sender::system}) {
        m.from = s;
        CHECK(parsed(encode(m))["from"] == to_string(s));
    }
    m.seq = UINT64_MAX;
    m.ts = INT64_MIN;
    j = parsed(encode(m));
    CHECK(j["seq"].get<std::uint64_t>() == UINT64_MAX);
    CHECK(j["ts"].get<std::int64_t>() == INT64_MIN);
    m.client_id.clear();  // bot and system messages have none
    CHECK(parsed(encode(m))["client_id"] == "");
}

TEST_CASE("encode typing and receipt") {
    auto j = parsed(encode(TypingEvent{"c1", Sender::visitor, true}));
    CHECK(j == json{{"type", "typing"}, {"conv", "c1"}, {"from", "visitor"}, {"on", true}});
    CHECK(parsed(encode(TypingEvent{"c1", Sender::agent, false}))["on"] == false);

    j = parsed(encode(ReceiptEvent{"c1", ReceiptKind::read, 9, Sender::agent}));
    CHECK(j ==
          json{{"type", "receipt"}, {"conv", "c1"}, {"kind", "read"}, {"seq", 9}, {"by", "agent"}});
    CHECK(parsed(encode(ReceiptEvent{"c1", ReceiptKind::delivered, 1, Sender::visitor}))["kind"] ==
          "delivered");
}

TEST_CASE("encode conversation: summary flattened, client_id and reason only when set") {
    ConversationEvent e;
    e.summary = summary("c1", ConvState::waiting);
    auto j = parsed(encode(e));
    CHECK(j == json{{"type", "conversation"},
                    {"conv", "c1"},
                    {"state", "waiting"},
                    {"last_seq", 41},
                    {"agent_name", "Deniz"},
                    {"visitor_name", "Ayşe"},
                    {"department", "sales"},
                    {"agent_id", ""}});
    e.summary.agent_id = "a_7";
    CHECK(parsed(encode(e))["agent_id"] == "a_7");
    e.summary.state = ConvState::closed;
    e.client_id = "s-1";
    e.reason = "closed_by_agent";
    j = parsed(encode(e));
    CHECK(j["state"] == "closed");
    CHECK(j["client_id"] == "s-1");
    CHECK(j["reason"] == "closed_by_agent");
    // The department is always there, empty when the conversation has none.
    e.summary.department.clear();
    for (const char* reason : {"assigned", "transferred", "requeued", "closed_by_visitor"}) {
        e.reason = reason;
        j = parsed(encode(e));
        CHECK(j["department"] == "");
        CHECK(j["reason"] == reason);
    }
}

TEST_CASE("encode replayed and queue") {
    CHECK(parsed(encode(Replayed{"c1", 12})) ==
          json{{"type", "replayed"}, {"conv", "c1"}, {"last_seq", 12}});

    auto j = parsed(encode(QueueEvent{}));
    CHECK(j == json{{"type", "queue"}, {"waiting", json::array()}});
    QueueEvent q;
    q.waiting = {entry("c1", "Ayşe", 1000), entry("c2", "", 2000)};
    q.waiting[0].department = "billing";
    q.waiting[0].first_message = "Faturam iki kez kesildi";
    q.waiting[0].position = 1;
    q.waiting[0].priority = 5;
    q.waiting[0].offered_to = "a_7";
    q.waiting[1].position = 1;
    j = parsed(encode(q));
    REQUIRE(j["waiting"].size() == 2);
    CHECK(j["waiting"][0] == json{{"conv", "c1"},
                                  {"visitor_name", "Ayşe"},
                                  {"since", 1000},
                                  {"department", "billing"},
                                  {"first_message", "Faturam iki kez kesildi"},
                                  {"position", 1},
                                  {"priority", 5},
                                  {"offered_to", "a_7"}});
    // Every member is present even when empty or zero.
    CHECK(j["waiting"][1] == json{{"conv", "c2"},
                                  {"visitor_name", ""},
                                  {"since", 2000},
                                  {"department", ""},
                                  {"first_message", ""},
                                  {"position", 1},
                                  {"priority", 0},
                                  {"offered_to", ""}});
    q.waiting[1].priority = -3;
    CHECK(parsed(encode(q))["waiting"][1]["priority"] == -3);
    CHECK_FALSE(j.contains("counts"));  // only when set
}

TEST_CASE("encode queue: per-department counts for supervisors, only when set") {
    QueueEvent q;
    q.counts = {{"billing", 3}, {"", 2}, {"satış", 0}};
    auto j = parsed(encode(q));
    CHECK(j == json{{"type", "queue"},
                    {"waiting", json::array()},
                    {"counts", {{"billing", 3}, {"", 2}, {"satış", 0}}}});
    q.counts = {{"big", SIZE_MAX}};
    j = parsed(encode(q));
    CHECK(j["counts"]["big"].get<std::uint64_t>() == SIZE_MAX);
}

TEST_CASE("encode error: conv and client_id only when set") {
    auto j = parsed(encode(ErrorEvent{ErrorCode::rate_limited, "slow down", "", ""}));
    CHECK(j == json{{"type", "error"}, {"code", "rate_limited"}, {"message", "slow down"}});
    j = parsed(encode(ErrorEvent{ErrorCode::conv_closed, "closed", "c1", "m-2"}));
    CHECK(j["code"] == "conv_closed");
    CHECK(j["conv"] == "c1");
    CHECK(j["client_id"] == "m-2");
    for (int i = 0; i <= static_cast<int>(ErrorCode::too_many); ++i) {
        const auto code = static_cast<ErrorCode>(i);
        CAPTURE(i);
        const auto name = to_string(code);
        CHECK(name != "unknown");
        CHECK(error_code_from(name) == code);
        CHECK(parsed(encode(ErrorEvent{code, "", "", ""}))["code"] == name);
    }
}

TEST_CASE("routing error codes keep their place at the end") {
    CHECK(static_cast<int>(ErrorCode::internal) == 16);
    CHECK(static_cast<int>(ErrorCode::no_room) == 17);
    CHECK(static_cast<int>(ErrorCode::not_offered) == 18);
    CHECK(static_cast<int>(ErrorCode::unavailable) == 19);
    CHECK(to_string(ErrorCode::no_room) == "no_room");
    CHECK(to_string(ErrorCode::not_offered) == "not_offered");
    CHECK(to_string(ErrorCode::unavailable) == "unavailable");
    CHECK(error_code_from("no_room") == ErrorCode::no_room);
    CHECK(error_code_from("not_offered") == ErrorCode::not_offered);
    CHECK(error_code_from("unavailable") == ErrorCode::unavailable);
    CHECK_FALSE(error_code_from("No_room").has_value());
}

TEST_CASE("encode message: internal only when true") {
    MessageEvent m{"c1", 5, Sender::agent, "Deniz", "", "VIP, refund approved", 99};
    auto j = parsed(encode(m));
    CHECK_FALSE(j.contains("internal"));
    m.internal = true;
    j = parsed(encode(m));
    CHECK(j["internal"] == true);
    CHECK(j["text"] == "VIP, refund approved");
    CHECK(j.size() == 9);
}

TEST_CASE("encode queue_position") {
    CHECK(parsed(encode(QueuePosition{"c1", 3, 240})) == json{{"type", "queue_position"},
                                                              {"conv", "c1"},
                                                              {"position", 3},
                                                              {"estimated_wait_s", 240}});
    CHECK(parsed(encode(QueuePosition{"c1", 1, 0}))["estimated_wait_s"] == 0);
}

TEST_CASE("encode unavailable: department always, client_id only when set") {
    for (const char* reason : {"no_agents", "closed_hours", "queue_full"}) {
        CHECK(parsed(encode(UnavailableEvent{reason, "", ""})) ==
              json{{"type", "unavailable"}, {"reason", reason}, {"department", ""}});
    }
    CHECK(parsed(encode(UnavailableEvent{"closed_hours", "billing", "s-1"})) ==
          json{{"type", "unavailable"},
               {"reason", "closed_hours"},
               {"department", "billing"},
               {"client_id", "s-1"}});
}

TEST_CASE("encode offer and offer_ended") {
    const Offer o{"c1", "Ayşe", "sales", "नमस्ते, a question", 1'767'225'630'000};
    CHECK(parsed(encode(o)) == json{{"type", "offer"},
                                    {"conv", "c1"},
                                    {"visitor_name", "Ayşe"},
                                    {"department", "sales"},
                                    {"first_message", "नमस्ते, a question"},
                                    {"deadline", 1'767'225'630'000}});
    const auto empty = parsed(encode(Offer{"c2", "", "", "", 0}));
    CHECK(empty["department"] == "");
    CHECK(empty["first_message"] == "");
    CHECK(empty["deadline"] == 0);

    for (const char* reason : {"timeout", "declined", "withdrawn", "accepted"}) {
        CHECK(parsed(encode(OfferEnded{"c1", reason})) ==
              json{{"type", "offer_ended"}, {"conv", "c1"}, {"reason", reason}});
    }
}

TEST_CASE("encode presence: every status, reason only when set") {
    for (auto s : {AgentStatus::online, AgentStatus::away, AgentStatus::offline}) {
        const auto j = parsed(encode(PresenceEvent{s, 2, 3, ""}));
        CHECK(j ==
              json{{"type", "presence"}, {"status", to_string(s)}, {"load", 2}, {"capacity", 3}});
    }
    CHECK(parsed(encode(PresenceEvent{AgentStatus::away, 0, 5, "idle"})) ==
          json{{"type", "presence"},
               {"status", "away"},
               {"load", 0},
               {"capacity", 5},
               {"reason", "idle"}});
    CHECK(to_string(AgentStatus::online) == "online");
    CHECK(to_string(AgentStatus::away) == "away");
    CHECK(to_string(AgentStatus::offline) == "offline");
    CHECK(agent_status_from("away") == AgentStatus::away);
    CHECK(agent_status_from("offline") == AgentStatus::offline);
    CHECK(agent_status_from("online") == AgentStatus::online);
    CHECK_FALSE(agent_status_from("busy").has_value());
    CHECK_FALSE(agent_status_from("Online").has_value());
}

TEST_CASE("encode left_message: client_id only when set") {
    CHECK(parsed(encode(LeftMessage{"om_1", ""})) ==
          json{{"type", "left_message"}, {"id", "om_1"}});
    CHECK(parsed(encode(LeftMessage{"om_1", "lm-1"})) ==
          json{{"type", "left_message"}, {"id", "om_1"}, {"client_id", "lm-1"}});
}

TEST_CASE("encode offline_messages: every item field, empty list") {
    CHECK(parsed(encode(OfflineMessages{})) ==
          json{{"type", "offline_messages"}, {"items", json::array()}});
    OfflineMessages m;
    m.items.push_back(
        {"om_1", "Ayşe", "a@example.com", "billing", "Call me back\nplease", 1000, 0, ""});
    m.items.push_back({"om_2", "", "r@example.in", "", "नमस्ते", 2000, 3000, "a_7"});
    const auto j = parsed(encode(m));
    REQUIRE(j["items"].size() == 2);
    CHECK(j["items"][0] == json{{"id", "om_1"},
                                {"name", "Ayşe"},
                                {"email", "a@example.com"},
                                {"department", "billing"},
                                {"text", "Call me back\nplease"},
                                {"created", 1000},
                                {"handled", 0},
                                {"handled_by", ""}});
    CHECK(j["items"][1]["handled"] == 3000);
    CHECK(j["items"][1]["handled_by"] == "a_7");
    CHECK(j["items"][1]["text"] == "नमस्ते");
}

TEST_CASE("encode a decode error as the server would send it") {
    const auto r = decode_client(R"({"type":"message","conv":"c1","client_id":"m-1","text":""})");
    REQUIRE(std::holds_alternative<DecodeError>(r));
    const auto j = parsed(encode(to_error_event(std::get<DecodeError>(r))));
    CHECK(j["code"] == "bad_field");
    CHECK(j["message"].get<std::string>().find("text") != std::string::npos);
    CHECK(j["conv"] == "c1");
    CHECK(j["client_id"] == "m-1");
}

TEST_CASE("encoders replace ill-formed UTF-8 with U+FFFD instead of throwing") {
    const std::string bad = "ok\xC3(\xE2\x82z\xED\xA0\x80\xF4\x90\x80\x80\xFF\xF0\x9F\x98";
    MessageEvent m{"c1", 1, Sender::visitor, bad, bad, bad, 0};
    std::string out;
    CHECK_NOTHROW(out = encode(m));
    const auto j = parsed(out);
    const auto text = j["text"].get<std::string>();
    CHECK(text.rfind("ok\xEF\xBF\xBD(\xEF\xBF\xBDz", 0) == 0);
    CHECK(j["author"] == text);
    CHECK(j["client_id"] == text);
    CHECK_NOTHROW(out = encode(ErrorEvent{ErrorCode::internal, bad, bad, bad}));
    parsed(out);
    Welcome w;
    w.name = bad;
    w.conversations = {summary(bad, ConvState::active)};
    CHECK_NOTHROW(out = encode(w));
    parsed(out);
    QueueEvent q;
    q.waiting = {entry(bad, bad, 1)};
    q.waiting[0].first_message = bad;
    q.counts = {{bad, 1}};
    CHECK_NOTHROW(out = encode(q));
    parsed(out);
    CHECK_NOTHROW(out = encode(Offer{bad, bad, bad, bad, 1}));
    parsed(out);
    CHECK_NOTHROW(out = encode(OfflineMessages{{{bad, bad, bad, bad, bad, 1, 2, bad}}}));
    parsed(out);
}

TEST_CASE("encoder strings match nlohmann's replacing dump byte for byte") {
    // Random bytes biased towards UTF-8 lead/continuation bytes and escapes.
    std::mt19937 rng(7);
    const unsigned char alphabet[] = {'a',  '"',  '\\', '\n', 0x00, 0x1F, 0x7F, 0x80, 0x8F,
                                      0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                      0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
    for (int i = 0; i < 5000; ++i) {
        std::string s;
        const auto len = rng() % 12;
        for (std::size_t k = 0; k < len; ++k)
            s += static_cast<char>(alphabet[rng() % sizeof alphabet]);
        const std::string ours = encode(ErrorEvent{ErrorCode::internal, s, "", ""});
        const std::string theirs = R"({"type":"error","code":"internal","message":)" +
                                   json(s).dump(-1, ' ', false, json::error_handler_t::replace) +
                                   "}";
        CAPTURE(i);
        REQUIRE(ours == theirs);
    }
}

TEST_CASE("encode bot_options: helpful_prompt only when set, suggestions in order") {
    BotOptions o;
    o.conv = "c1";
    o.seq = 7;
    o.helpful_prompt = "Bu yanıt yardımcı oldu mu?";
    o.offer_handoff = true;
    CHECK(parsed(encode(o)) == json{{"type", "bot_options"},
                                    {"conv", "c1"},
                                    {"seq", 7},
                                    {"helpful_prompt", "Bu yanıt yardımcı oldu mu?"},
                                    {"suggestions", json::array()},
                                    {"offer_handoff", true}});

    o.helpful_prompt.clear();
    o.offer_handoff = false;
    o.seq = UINT64_MAX;
    o.suggestions = {{"en.returns", "How do I return an item?"},
                     {"hi.refund:time", "रिफ़ंड कब मिलेगा?"},
                     {"tr.kargo-ucret", "Kargo ücreti ne kadar?"}};
    const auto j = parsed(encode(o));
    CHECK(j == json{{"type", "bot_options"},
                    {"conv", "c1"},
                    {"seq", UINT64_MAX},
                    {"suggestions",
                     json::array(
                         {json{{"entry", "en.returns"}, {"title", "How do I return an item?"}},
                          json{{"entry", "hi.refund:time"}, {"title", "रिफ़ंड कब मिलेगा?"}},
                          json{{"entry", "tr.kargo-ucret"}, {"title", "Kargo ücreti ne kadar?"}}})},
                    {"offer_handoff", false}});
    CHECK_FALSE(j.contains("helpful_prompt"));
    // Field order follows PROTOCOL.md.
    const auto out = encode(o);
    CHECK(out.find("\"type\"") < out.find("\"conv\""));
    CHECK(out.find("\"seq\"") < out.find("\"suggestions\""));
    CHECK(out.find("\"suggestions\"") < out.find("\"offer_handoff\""));
}

TEST_CASE("encode bot state in a conversation summary") {
    ConversationEvent ev;
    ev.summary = summary("c1", ConvState::bot);
    ev.summary.agent_name.clear();
    const auto j = parsed(encode(ev));
    CHECK(j["state"] == "bot");
    ev.summary.state = ConvState::waiting;
    ev.reason = "handoff";
    const auto k = parsed(encode(ev));
    CHECK(k["state"] == "waiting");
    CHECK(k["reason"] == "handoff");
}

// ---- visitor context, CSAT, canned replies, supervisors -----------------------

namespace {

// Where each needle first appears in out; all must appear, in this order.
void check_order(const std::string& out, std::initializer_list<std::string_view> needles) {
    CAPTURE(out);
    std::size_t at = 0;
    for (const auto needle : needles) {
        CAPTURE(needle);
        const auto found = out.find(needle, at);
        REQUIRE(found != std::string::npos);
        at = found + needle.size();
    }
}

VisitorInfo sample_visitor_info() {
    VisitorInfo m;
    m.conv = "c9";
    VisitorProfile& v = m.visitor;
    v.id = "v_1";
    v.name = "Ayşe";
    v.email = "a@example.com";
    v.verified = true;
    v.user_id = "u-42";
    v.attributes = {{"plan", "gold"}, {"order_id", "5521"}, {"Zone", "eu-1"}, {"a", "ş"}};
    v.page = "https://shop.example.com/cart?x=1&y=\"2\"";
    v.language = "tr-TR";
    v.user_agent = "Mozilla/5.0";
    v.created = 1'700'000'000'000;
    v.last_seen = 1'767'225'600'000;
    HistoryItem now;
    now.conv = "c9";
    now.state = ConvState::active;
    now.department = "billing";
    now.agent_name = "Deniz";
    now.created = 1'767'225'500'000;
    HistoryItem before;
    before.conv = "c3";
    before.state = ConvState::closed;
    before.agent_name = "Ravi";
    before.resolution = "solved";
    before.created = 1'767'000'000'000;
    before.closed = 1'767'000'600'000;
    before.csat_score = 5;
    before.csat_comment = "Çok iyi\n";
    m.history = {now, before};
    return m;
}

}  // namespace

TEST_CASE("new error codes: names both ways, at the end") {
    CHECK(static_cast<int>(ErrorCode::bad_signature) == 20);
    CHECK(static_cast<int>(ErrorCode::conflict) == 21);
    CHECK(static_cast<int>(ErrorCode::too_many) == 22);
    CHECK(to_string(ErrorCode::bad_signature) == "bad_signature");
    CHECK(to_string(ErrorCode::conflict) == "conflict");
    CHECK(to_string(ErrorCode::too_many) == "too_many");
    CHECK(error_code_from("bad_signature") == ErrorCode::bad_signature);
    CHECK(error_code_from("conflict") == ErrorCode::conflict);
    CHECK(error_code_from("too_many") == ErrorCode::too_many);
    CHECK_FALSE(error_code_from("Conflict").has_value());
    CHECK_FALSE(error_code_from("too-many").has_value());
    CHECK(parsed(encode(ErrorEvent{ErrorCode::bad_signature, "identity not verified", "", ""})) ==
          json{{"type", "error"}, {"code", "bad_signature"}, {"message", "identity not verified"}});
}

TEST_CASE("encode welcome: supervisor and verified only when true") {
    Welcome w;
    w.role = Role::agent;
    w.id = "a_1";
    auto j = parsed(encode(w));
    CHECK_FALSE(j.contains("supervisor"));
    CHECK_FALSE(j.contains("verified"));
    CHECK(j.size() == 7);

    w.supervisor = true;
    j = parsed(encode(w));
    CHECK(j["supervisor"] == true);
    CHECK_FALSE(j.contains("verified"));
    CHECK(j["role"] == "agent");

    Welcome v;
    v.role = Role::visitor;
    v.id = "v_1";
    v.token = "rt_new";
    v.verified = true;
    v.conversations = {summary("c1", ConvState::active)};
    const auto out = encode(v);
    j = parsed(out);
    CHECK(j["verified"] == true);
    CHECK_FALSE(j.contains("supervisor"));
    CHECK(j["token"] == "rt_new");
    REQUIRE(j["conversations"].size() == 1);
    check_order(out, {"\"token\"", "\"conversations\"", "\"verified\":true"});

    w.verified = true;  // both, in the order of the table
    check_order(encode(w), {"\"conversations\"", "\"supervisor\":true", "\"verified\":true"});
}

TEST_CASE("encode conversation summary: resolution only when set") {
    ConversationEvent e;
    e.summary = summary("c1", ConvState::closed);
    e.reason = "closed_by_agent";
    auto j = parsed(encode(e));
    CHECK_FALSE(j.contains("resolution"));
    e.summary.resolution = "solved";
    const auto out = encode(e);
    j = parsed(out);
    CHECK(j["resolution"] == "solved");
    CHECK(j["state"] == "closed");
    CHECK(j["reason"] == "closed_by_agent");
    check_order(out, {"\"agent_id\"", "\"resolution\":\"solved\"", "\"reason\""});
    // Welcome entries are summaries too.
    Welcome w;
    w.conversations = {summary("c1", ConvState::active), e.summary};
    j = parsed(encode(w));
    CHECK_FALSE(j["conversations"][0].contains("resolution"));
    CHECK(j["conversations"][1]["resolution"] == "solved");
}

TEST_CASE("encode rated") {
    CHECK(parsed(encode(Rated{"c1", 4})) == json{{"type", "rated"}, {"conv", "c1"}, {"score", 4}});
    CHECK(parsed(encode(Rated{"c2", 1}))["score"] == 1);
    check_order(encode(Rated{"c1", 5}), {"\"type\":\"rated\"", "\"conv\"", "\"score\":5"});
}

TEST_CASE("encode visitor_info: every field, attributes in the order given") {
    const auto m = sample_visitor_info();
    const auto out = encode(m);
    const auto j = parsed(out);
    CHECK(j["type"] == "visitor_info");
    CHECK(j["conv"] == "c9");
    CHECK(j.size() == 4);
    CHECK(
        j["visitor"] ==
        json{{"id", "v_1"},
             {"name", "Ayşe"},
             {"email", "a@example.com"},
             {"verified", true},
             {"user_id", "u-42"},
             {"attributes", {{"plan", "gold"}, {"order_id", "5521"}, {"Zone", "eu-1"}, {"a", "ş"}}},
             {"page", "https://shop.example.com/cart?x=1&y=\"2\""},
             {"language", "tr-TR"},
             {"user_agent", "Mozilla/5.0"},
             {"created", 1'700'000'000'000},
             {"last_seen", 1'767'225'600'000}});
    REQUIRE(j["history"].size() == 2);
    CHECK(j["history"][0] == json{{"conv", "c9"},
                                  {"state", "active"},
                                  {"department", "billing"},
                                  {"agent_name", "Deniz"},
                                  {"resolution", ""},
                                  {"created", 1'767'225'500'000},
                                  {"closed", 0},
                                  {"csat_score", 0},
                                  {"csat_comment", ""}});
    CHECK(j["history"][1] == json{{"conv", "c3"},
                                  {"state", "closed"},
                                  {"department", ""},
                                  {"agent_name", "Ravi"},
                                  {"resolution", "solved"},
                                  {"created", 1'767'000'000'000},
                                  {"closed", 1'767'000'600'000},
                                  {"csat_score", 5},
                                  {"csat_comment", "Çok iyi\n"}});
    // nlohmann sorts keys when parsing; the wire keeps the given order.
    check_order(out, {"\"plan\"", "\"order_id\"", "\"Zone\"", "\"a\":"});
    check_order(out, {"\"visitor\"", "\"id\"", "\"name\"", "\"email\"", "\"verified\"",
                      "\"user_id\"", "\"attributes\"", "\"page\"", "\"language\"", "\"user_agent\"",
                      "\"created\"", "\"last_seen\"", "\"history\""});
    // History newest first, as given.
    CHECK(out.find("\"c9\",\"state\"") < out.find("\"c3\""));
}

TEST_CASE("encode visitor_info: empty fields are \"\", 0 and {}") {
    VisitorInfo m;
    m.conv = "c1";
    const auto j = parsed(encode(m));
    CHECK(j == json{{"type", "visitor_info"},
                    {"conv", "c1"},
                    {"visitor",
                     {{"id", ""},
                      {"name", ""},
                      {"email", ""},
                      {"verified", false},
                      {"user_id", ""},
                      {"attributes", json::object()},
                      {"page", ""},
                      {"language", ""},
                      {"user_agent", ""},
                      {"created", 0},
                      {"last_seen", 0}}},
                    {"history", json::array()}});
    CHECK(j["visitor"]["attributes"].is_object());
    CHECK(j["history"].is_array());
    // A single attribute: no stray commas.
    m.visitor.attributes = {{"k", "v"}};
    CHECK(parsed(encode(m))["visitor"]["attributes"] == json{{"k", "v"}});
    // Every history state.
    for (auto s : {ConvState::bot, ConvState::waiting, ConvState::active, ConvState::closed}) {
        HistoryItem h;
        h.state = s;
        m.history = {h};
        CHECK(parsed(encode(m))["history"][0]["state"] == to_string(s));
    }
}

TEST_CASE("encode canned and canned_changed") {
    CHECK(parsed(encode(Canned{})) == json{{"type", "canned"}, {"items", json::array()}});
    Canned c;
    c.items = {{"cr_1", "greet", "Merhaba {visitor.name}, ben {agent.name}.", true, ""},
               {"cr_2", "refund", "İade 14 gün içinde.\n\"Koşullar\" geçerli.", false, "a_7"}};
    const auto out = encode(c);
    const auto j = parsed(out);
    CHECK(j ==
          json{{"type", "canned"},
               {"items", json::array({json{{"id", "cr_1"},
                                           {"shortcut", "greet"},
                                           {"text", "Merhaba {visitor.name}, ben {agent.name}."},
                                           {"shared", true},
                                           {"owner", ""}},
                                      json{{"id", "cr_2"},
                                           {"shortcut", "refund"},
                                           {"text", "İade 14 gün içinde.\n\"Koşullar\" geçerli."},
                                           {"shared", false},
                                           {"owner", "a_7"}}})}});
    check_order(out, {"\"id\"", "\"shortcut\"", "\"text\"", "\"shared\"", "\"owner\""});

    const auto changed = encode(CannedChanged{});
    CHECK(changed == R"({"type":"canned_changed"})");
    CHECK(parsed(changed) == json{{"type", "canned_changed"}});
}

TEST_CASE("encode dashboard: every section and field") {
    Dashboard d;
    d.agents = {{"a_1", "Deniz", AgentStatus::online, 2, 3},
                {"a_2", "Ravi", AgentStatus::away, 1, 5},
                {"a_3", "Ana", AgentStatus::offline, 0, 0}};
    d.departments = {{"", 0, 0}, {"billing", 4, 1'767'225'000'000}};
    DashboardConversation waiting;
    waiting.conv = "c1";
    waiting.visitor_name = "Ayşe";
    waiting.department = "billing";
    waiting.state = ConvState::waiting;
    waiting.since = 1'767'225'000'000;
    DashboardConversation active{
        "c2", "Ravi K", "a_1", "Deniz", "", ConvState::active, 1'767'225'100'000};
    d.conversations = {waiting, active};
    d.today = {1'767'225'600'000, 12, 7, 10, 45'000, 9, 30'500, 4, 17};
    const auto out = encode(d);
    const auto j = parsed(out);
    CHECK(j.size() == 5);
    CHECK(j["type"] == "dashboard");
    CHECK(
        j["agents"] ==
        json::array(
            {json{{"id", "a_1"},
                  {"name", "Deniz"},
                  {"status", "online"},
                  {"load", 2},
                  {"capacity", 3}},
             json{
                 {"id", "a_2"}, {"name", "Ravi"}, {"status", "away"}, {"load", 1}, {"capacity", 5}},
             json{{"id", "a_3"},
                  {"name", "Ana"},
                  {"status", "offline"},
                  {"load", 0},
                  {"capacity", 0}}}));
    CHECK(j["departments"] ==
          json::array({json{{"department", ""}, {"waiting", 0}, {"oldest_since", 0}},
                       json{{"department", "billing"},
                            {"waiting", 4},
                            {"oldest_since", 1'767'225'000'000}}}));
    CHECK(j["conversations"] == json::array({json{{"conv", "c1"},
                                                  {"visitor_name", "Ayşe"},
                                                  {"agent_id", ""},
                                                  {"agent_name", ""},
                                                  {"department", "billing"},
                                                  {"state", "waiting"},
                                                  {"since", 1'767'225'000'000}},
                                             json{{"conv", "c2"},
                                                  {"visitor_name", "Ravi K"},
                                                  {"agent_id", "a_1"},
                                                  {"agent_name", "Deniz"},
                                                  {"department", ""},
                                                  {"state", "active"},
                                                  {"since", 1'767'225'100'000}}}));
    CHECK(j["today"] == json{{"day_start", 1'767'225'600'000},
                             {"conversations", 12},
                             {"closed", 7},
                             {"assigned", 10},
                             {"avg_wait_ms", 45'000},
                             {"responded", 9},
                             {"avg_first_response_ms", 30'500},
                             {"csat_count", 4},
                             {"csat_total", 17}});
    check_order(out,
                {"\"type\"", "\"agents\"", "\"departments\"", "\"conversations\"", "\"today\""});
    check_order(out, {"\"c1\"", "\"c2\""});  // oldest first, as given
}

TEST_CASE("encode dashboard: empty, and extreme numbers") {
    auto j = parsed(encode(Dashboard{}));
    CHECK(j == json{{"type", "dashboard"},
                    {"agents", json::array()},
                    {"departments", json::array()},
                    {"conversations", json::array()},
                    {"today",
                     {{"day_start", 0},
                      {"conversations", 0},
                      {"closed", 0},
                      {"assigned", 0},
                      {"avg_wait_ms", 0},
                      {"responded", 0},
                      {"avg_first_response_ms", 0},
                      {"csat_count", 0},
                      {"csat_total", 0}}}});
    Dashboard d;
    d.agents = {{"a", "", AgentStatus::online, SIZE_MAX, -1}};
    d.today.csat_total = INT64_MAX;
    d.today.avg_wait_ms = INT64_MIN;
    j = parsed(encode(d));
    CHECK(j["agents"][0]["load"].get<std::uint64_t>() == SIZE_MAX);
    CHECK(j["agents"][0]["capacity"] == -1);
    CHECK(j["today"]["csat_total"].get<std::int64_t>() == INT64_MAX);
    CHECK(j["today"]["avg_wait_ms"].get<std::int64_t>() == INT64_MIN);
}

TEST_CASE("new encoders replace ill-formed UTF-8 instead of throwing") {
    const std::string bad = "x\xC3(\xED\xA0\x80\xFF";
    std::string out;
    VisitorInfo v;
    v.conv = bad;
    v.visitor.name = bad;
    v.visitor.attributes = {{bad, bad}, {"ok", bad}};
    v.visitor.page = bad;
    HistoryItem h;
    h.csat_comment = bad;
    h.resolution = bad;
    v.history = {h};
    CHECK_NOTHROW(out = encode(v));
    auto j = parsed(out);
    CHECK(j["visitor"]["attributes"].size() == 2);
    CHECK(j["visitor"]["attributes"]["ok"].get<std::string>().rfind("x\xEF\xBF\xBD(", 0) == 0);
    CHECK_NOTHROW(out = encode(Canned{{{bad, bad, bad, true, bad}}}));
    parsed(out);
    Dashboard d;
    d.agents = {{bad, bad, AgentStatus::away, 1, 1}};
    d.departments = {{bad, 1, 1}};
    d.conversations = {{bad, bad, bad, bad, bad, ConvState::active, 1}};
    CHECK_NOTHROW(out = encode(d));
    parsed(out);
    CHECK_NOTHROW(out = encode(Rated{bad, 3}));
    parsed(out);
    ConversationEvent e;
    e.summary.resolution = bad;
    CHECK_NOTHROW(out = encode(e));
    CHECK(parsed(out).contains("resolution"));
}
