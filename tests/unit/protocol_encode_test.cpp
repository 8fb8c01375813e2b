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
    return s;
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
                    {"visitor_name", "Ayşe"}});
    e.summary.state = ConvState::closed;
    e.client_id = "s-1";
    e.reason = "closed_by_agent";
    j = parsed(encode(e));
    CHECK(j["state"] == "closed");
    CHECK(j["client_id"] == "s-1");
    CHECK(j["reason"] == "closed_by_agent");
}

TEST_CASE("encode replayed and queue") {
    CHECK(parsed(encode(Replayed{"c1", 12})) ==
          json{{"type", "replayed"}, {"conv", "c1"}, {"last_seq", 12}});

    auto j = parsed(encode(QueueEvent{}));
    CHECK(j == json{{"type", "queue"}, {"waiting", json::array()}});
    QueueEvent q;
    q.waiting = {{"c1", "Ayşe", 1000}, {"c2", "", 2000}};
    j = parsed(encode(q));
    REQUIRE(j["waiting"].size() == 2);
    CHECK(j["waiting"][0] == json{{"conv", "c1"}, {"visitor_name", "Ayşe"}, {"since", 1000}});
    CHECK(j["waiting"][1]["conv"] == "c2");
    CHECK(j["waiting"][1]["since"] == 2000);
}

TEST_CASE("encode error: conv and client_id only when set") {
    auto j = parsed(encode(ErrorEvent{ErrorCode::rate_limited, "slow down", "", ""}));
    CHECK(j == json{{"type", "error"}, {"code", "rate_limited"}, {"message", "slow down"}});
    j = parsed(encode(ErrorEvent{ErrorCode::conv_closed, "closed", "c1", "m-2"}));
    CHECK(j["code"] == "conv_closed");
    CHECK(j["conv"] == "c1");
    CHECK(j["client_id"] == "m-2");
    for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
        const auto code = static_cast<ErrorCode>(i);
        CHECK(parsed(encode(ErrorEvent{code, "", "", ""}))["code"] == to_string(code));
    }
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
    q.waiting = {{bad, bad, 1}};
    CHECK_NOTHROW(out = encode(q));
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
