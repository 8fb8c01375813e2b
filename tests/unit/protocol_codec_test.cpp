// decode_client: every client message, every error it can report, the limits.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include <switchboard/protocol.hpp>

using namespace sb::proto;

namespace {

template <class T>
T decode_ok(std::string_view frame, const Limits& limits = {}) {
    CAPTURE(frame);
    const auto r = decode_client(frame, limits);
    if (const auto* e = std::get_if<DecodeError>(&r)) {
        FAIL("unexpected error " << to_string(e->code) << " field=" << e->field << ": "
                                 << e->detail);
    }
    const auto& m = std::get<ClientMessage>(r);
    REQUIRE(std::holds_alternative<T>(m));
    return std::get<T>(m);
}

DecodeError decode_err(std::string_view frame, const Limits& limits = {}) {
    CAPTURE(frame);
    const auto r = decode_client(frame, limits);
    REQUIRE(std::holds_alternative<DecodeError>(r));
    return std::get<DecodeError>(r);
}

void expect_error(std::string_view frame, ErrorCode code, std::string_view field,
                  const Limits& limits = {}) {
    const auto e = decode_err(frame, limits);
    CAPTURE(frame);
    CAPTURE(e.detail);
    CHECK(to_string(e.code) == to_string(code));
    CHECK(e.field == field);
    CHECK_FALSE(e.detail.empty());
}

// A JSON string literal of n copies of c (c must need no escaping).
std::string repeat(std::size_t n, char c = 'a') {
    return std::string(n, c);
}

}  // namespace

// ---- happy paths --------------------------------------------------------------

TEST_CASE("hello: visitor and agent, optional fields and defaults") {
    auto h = decode_ok<Hello>(R"({"type":"hello","version":1,"role":"visitor"})");
    CHECK(h.version == 1);
    CHECK(h.role == Role::visitor);
    CHECK(h.token.empty());
    CHECK(h.name.empty());
    CHECK(h.email.empty());

    h = decode_ok<Hello>(
        R"({"type":"hello","version":1,"role":"visitor","token":"rt_abc","name":"Ayşe Yılmaz","email":"a@example.com"})");
    CHECK(h.token == "rt_abc");
    CHECK(h.name == "Ayşe Yılmaz");
    CHECK(h.email == "a@example.com");

    h = decode_ok<Hello>(R"({"role":"agent","token":"tok.1","version":1,"type":"hello"})");
    CHECK(h.role == Role::agent);
    CHECK(h.token == "tok.1");

    // Empty optional strings are the same as absent ones.
    h = decode_ok<Hello>(R"({"type":"hello","version":1,"role":"visitor","token":"","name":""})");
    CHECK(h.token.empty());
}

TEST_CASE("start: both fields optional") {
    auto s = decode_ok<Start>(R"({"type":"start"})");
    CHECK(s.client_id.empty());
    CHECK(s.text.empty());
    s = decode_ok<Start>(
        R"({"type":"start","client_id":"c-1","text":"Merhaba, siparişim nerede?"})");
    CHECK(s.client_id == "c-1");
    CHECK(s.text == "Merhaba, siparişim nerede?");
    s = decode_ok<Start>(R"({"type":"start","text":""})");
    CHECK(s.text.empty());
    CHECK(s.department.empty());
    s = decode_ok<Start>(R"({"type":"start","client_id":"c-2","department":"sales.tr"})");
    CHECK(s.department == "sales.tr");
}

TEST_CASE("message: all fields") {
    const auto m = decode_ok<SendMessage>(
        R"({"type":"message","conv":"cv_01H:x.y-z","client_id":"m-42","text":"नमस्ते 😀\n\"quoted\""})");
    CHECK(m.conv == "cv_01H:x.y-z");
    CHECK(m.client_id == "m-42");
    CHECK(m.text == "नमस्ते 😀\n\"quoted\"");
    // Escaped code points, including a surrogate pair, decode to UTF-8.
    const auto e = decode_ok<SendMessage>(
        R"({"type":"message","conv":"c","client_id":"m","text":"\u0130\ud83d\ude00"})");
    CHECK(e.text == "İ😀");
    // Whitespace-only text is non-empty.
    CHECK(decode_ok<SendMessage>(R"({"type":"message","conv":"c","client_id":"m","text":" "})")
              .text == " ");
}

TEST_CASE("note: the fields of a message, and the same errors") {
    const auto n = decode_ok<Note>(R"({"type":"note","conv":"c1","client_id":"n-1","text":"VIP"})");
    CHECK(n.conv == "c1");
    CHECK(n.client_id == "n-1");
    CHECK(n.text == "VIP");
    expect_error(R"({"type":"note","conv":"c1","client_id":"n-1"})", ErrorCode::missing_field,
                 "text");
    expect_error(R"({"type":"note","conv":"c1","text":"x"})", ErrorCode::missing_field,
                 "client_id");
    expect_error(R"({"type":"note","conv":"c1","client_id":"n-1","text":""})", ErrorCode::bad_field,
                 "text");
    Limits small;
    small.max_text_bytes = 3;
    expect_error(R"({"type":"note","conv":"c1","client_id":"n-1","text":"abcd"})",
                 ErrorCode::too_long, "text", small);
}

TEST_CASE("typing: on and off") {
    auto t = decode_ok<Typing>(R"({"type":"typing","conv":"c1","on":true})");
    CHECK(t.conv == "c1");
    CHECK(t.on);
    t = decode_ok<Typing>(R"({"type":"typing","conv":"c1","on":false})");
    CHECK_FALSE(t.on);
}

TEST_CASE("receipt: delivered and read") {
    auto r = decode_ok<Receipt>(R"({"type":"receipt","conv":"c1","kind":"delivered","seq":12})");
    CHECK(r.conv == "c1");
    CHECK(r.kind == ReceiptKind::delivered);
    CHECK(r.seq == 12);
    r = decode_ok<Receipt>(R"({"type":"receipt","conv":"c1","kind":"read","seq":0})");
    CHECK(r.kind == ReceiptKind::read);
    CHECK(r.seq == 0);
    r = decode_ok<Receipt>(
        R"({"type":"receipt","conv":"c1","kind":"read","seq":18446744073709551615})");
    CHECK(r.seq == UINT64_MAX);
    r = decode_ok<Receipt>(R"({"type":"receipt","conv":"c1","kind":"read","seq":-0})");
    CHECK(r.seq == 0);
}

TEST_CASE("resume: after defaults to 0") {
    auto r = decode_ok<Resume>(R"({"type":"resume","conv":"c1"})");
    CHECK(r.conv == "c1");
    CHECK(r.after == 0);
    r = decode_ok<Resume>(R"({"type":"resume","conv":"c1","after":77})");
    CHECK(r.after == 77);
}

TEST_CASE("take and close") {
    decode_ok<Take>(R"({"type":"take"})");
    CHECK(decode_ok<Close>(R"({"type":"close","conv":"c9"})").conv == "c9");
}

TEST_CASE("presence: every status") {
    CHECK(decode_ok<SetPresence>(R"({"type":"presence","status":"online"})").status ==
          AgentStatus::online);
    CHECK(decode_ok<SetPresence>(R"({"type":"presence","status":"away"})").status ==
          AgentStatus::away);
    CHECK(decode_ok<SetPresence>(R"({"type":"presence","status":"offline"})").status ==
          AgentStatus::offline);
}

TEST_CASE("accept and decline") {
    CHECK(decode_ok<Accept>(R"({"type":"accept","conv":"c1"})").conv == "c1");
    CHECK(decode_ok<Decline>(R"({"type":"decline","conv":"c2"})").conv == "c2");
}

TEST_CASE("transfer: to an agent or to a department, optional note") {
    auto t = decode_ok<Transfer>(R"({"type":"transfer","conv":"c1","to_agent":"a_7"})");
    CHECK(t.conv == "c1");
    CHECK(t.to_agent == "a_7");
    CHECK(t.to_department.empty());
    CHECK(t.note.empty());
    t = decode_ok<Transfer>(
        R"({"type":"transfer","conv":"c1","to_department":"billing","note":"VIP, iade onaylandı\n"})");
    CHECK(t.to_agent.empty());
    CHECK(t.to_department == "billing");
    CHECK(t.note == "VIP, iade onaylandı\n");
    t = decode_ok<Transfer>(R"({"type":"transfer","conv":"c1","to_agent":"a_7","note":""})");
    CHECK(t.note.empty());
}

TEST_CASE("leave_message: required and optional fields") {
    auto m = decode_ok<LeaveMessage>(
        R"({"type":"leave_message","email":"a@example.com","text":"Call me back"})");
    CHECK(m.client_id.empty());
    CHECK(m.name.empty());
    CHECK(m.email == "a@example.com");
    CHECK(m.text == "Call me back");
    CHECK(m.department.empty());
    m = decode_ok<LeaveMessage>(
        R"({"type":"leave_message","client_id":"lm-1","name":"Ayşe Yılmaz","email":"ayşe+chat@örnek.com.tr","text":"नमस्ते","department":"sales"})");
    CHECK(m.client_id == "lm-1");
    CHECK(m.name == "Ayşe Yılmaz");
    CHECK(m.email == "ayşe+chat@örnek.com.tr");
    CHECK(m.text == "नमस्ते");
    CHECK(m.department == "sales");
    // Loose on purpose: no dot needed after the '@'.
    CHECK(decode_ok<LeaveMessage>(R"({"type":"leave_message","email":"x@y","text":"t"})").email ==
          "x@y");
}

TEST_CASE("offline_list and offline_handled") {
    decode_ok<OfflineList>(R"({"type":"offline_list"})");
    CHECK(decode_ok<OfflineHandled>(R"({"type":"offline_handled","id":"om_12"})").id == "om_12");
}

TEST_CASE("unknown extra fields are ignored, whitespace is allowed") {
    decode_ok<Take>(R"({"type":"take","conv":5,"extra":{"deep":[1,2,{"x":null}]}})");
    const auto m = decode_ok<SendMessage>(
        " \n{ \"type\" : \"message\" , "
        "\"conv\":\"c\",\"client_id\":\"m\",\"text\":\"hi\",\"v\":2}\t");
    CHECK(m.text == "hi");
}

// ---- errors -------------------------------------------------------------------

TEST_CASE("bad_json: not JSON or not an object") {
    for (const char* frame :
         {"", "   ", "not json", "{", R"({"type":"take")", R"({"type":"take"}x)",
          R"({"type":"take"}{"type":"take"})", "[]", R"([{"type":"take"}])", R"("hello")", "42",
          "null", "true", R"({'type':'take'})", R"({"type":"take",})", R"({"type":"\ud800"})",
          R"({"type":"message","conv":"c","client_id":"m","text":"\udc00"})",
          R"({"type":"receipt","conv":"c","kind":"read","seq":1e400})"}) {
        expect_error(frame, ErrorCode::bad_json, "");
    }
}

TEST_CASE("bad_json: deep nesting is rejected without recursion trouble") {
    const std::string deep = std::string(30000, '[') + std::string(30000, ']');
    expect_error(deep, ErrorCode::bad_json, "");
    // Deep but ignored inside an object: still decodes.
    const std::string inner = std::string(20000, '[') + std::string(20000, ']');
    decode_ok<Take>(R"({"type":"take","x":)" + inner + "}");
}

TEST_CASE("type: missing, wrong JSON type, unknown") {
    expect_error("{}", ErrorCode::missing_field, "type");
    expect_error(R"({"Type":"take"})", ErrorCode::missing_field, "type");
    expect_error(R"({"type":1})", ErrorCode::bad_field, "type");
    expect_error(R"({"type":null})", ErrorCode::bad_field, "type");
    expect_error(R"({"type":["take"]})", ErrorCode::bad_field, "type");
    expect_error(R"({"type":"shout"})", ErrorCode::unknown_type, "type");
    expect_error(R"({"type":""})", ErrorCode::unknown_type, "type");
    expect_error(R"({"type":"Take"})", ErrorCode::unknown_type, "type");
    expect_error(R"({"type":"welcome"})", ErrorCode::unknown_type, "type");  // server-only
}

TEST_CASE("hello errors") {
    expect_error(R"({"type":"hello","role":"visitor"})", ErrorCode::missing_field, "version");
    expect_error(R"({"type":"hello","version":1})", ErrorCode::missing_field, "role");
    expect_error(R"({"type":"hello","version":"1","role":"visitor"})", ErrorCode::bad_field,
                 "version");
    expect_error(R"({"type":"hello","version":1.0,"role":"visitor"})", ErrorCode::bad_field,
                 "version");
    expect_error(R"({"type":"hello","version":true,"role":"visitor"})", ErrorCode::bad_field,
                 "version");
    expect_error(R"({"type":"hello","version":2,"role":"visitor"})", ErrorCode::unsupported_version,
                 "version");
    expect_error(R"({"type":"hello","version":0,"role":"visitor"})", ErrorCode::unsupported_version,
                 "version");
    expect_error(R"({"type":"hello","version":-1,"role":"visitor"})",
                 ErrorCode::unsupported_version, "version");
    expect_error(R"({"type":"hello","version":1,"role":"admin"})", ErrorCode::bad_field, "role");
    expect_error(R"({"type":"hello","version":1,"role":"Agent"})", ErrorCode::bad_field, "role");
    expect_error(R"({"type":"hello","version":1,"role":0})", ErrorCode::bad_field, "role");
    expect_error(R"({"type":"hello","version":1,"role":"visitor","token":5})", ErrorCode::bad_field,
                 "token");
    expect_error(R"({"type":"hello","version":1,"role":"visitor","token":null})",
                 ErrorCode::bad_field, "token");
    expect_error(R"({"type":"hello","version":1,"role":"visitor","name":["x"]})",
                 ErrorCode::bad_field, "name");
    expect_error(R"({"type":"hello","version":1,"role":"visitor","email":{}})",
                 ErrorCode::bad_field, "email");
}

TEST_CASE("start errors") {
    expect_error(R"({"type":"start","client_id":""})", ErrorCode::bad_field, "client_id");
    expect_error(R"({"type":"start","client_id":"a b"})", ErrorCode::bad_field, "client_id");
    expect_error(R"({"type":"start","client_id":7})", ErrorCode::bad_field, "client_id");
    expect_error(R"({"type":"start","text":1})", ErrorCode::bad_field, "text");
    expect_error(R"({"type":"start","text":null})", ErrorCode::bad_field, "text");
}

TEST_CASE("start department errors") {
    expect_error(R"({"type":"start","department":""})", ErrorCode::bad_field, "department");
    expect_error(R"({"type":"start","department":"sales team"})", ErrorCode::bad_field,
                 "department");
    expect_error(R"({"type":"start","department":"satış"})", ErrorCode::bad_field, "department");
    expect_error(R"({"type":"start","department":3})", ErrorCode::bad_field, "department");
    expect_error(R"({"type":"start","department":null})", ErrorCode::bad_field, "department");
    expect_error(R"({"type":"start","department":")" + repeat(65) + "\"}", ErrorCode::too_long,
                 "department");
    CHECK(decode_ok<Start>(R"({"type":"start","department":")" + repeat(64) + "\"}")
              .department.size() == 64);
    // Wire order: client_id, text, department.
    expect_error(R"({"type":"start","client_id":"","department":""})", ErrorCode::bad_field,
                 "client_id");
    expect_error(R"({"type":"start","text":5,"department":""})", ErrorCode::bad_field, "text");
}

TEST_CASE("message errors, the first failing field in wire order wins") {
    expect_error(R"({"type":"message"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"message","client_id":"m","text":"x"})", ErrorCode::missing_field,
                 "conv");
    expect_error(R"({"type":"message","conv":"c","text":"x"})", ErrorCode::missing_field,
                 "client_id");
    expect_error(R"({"type":"message","conv":"c","client_id":"m"})", ErrorCode::missing_field,
                 "text");
    expect_error(R"({"type":"message","conv":"c","client_id":"m","text":""})", ErrorCode::bad_field,
                 "text");
    expect_error(R"({"type":"message","conv":"c","client_id":"m","text":42})", ErrorCode::bad_field,
                 "text");
    expect_error(R"({"type":"message","conv":"","client_id":"m","text":"x"})", ErrorCode::bad_field,
                 "conv");
    expect_error(R"({"type":"message","conv":"c","client_id":"","text":"x"})", ErrorCode::bad_field,
                 "client_id");
    expect_error(R"({"type":"message","conv":"../etc","client_id":"m","text":"x"})",
                 ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"message","conv":"café","client_id":"m","text":"x"})",
                 ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"message","conv":"c\u0000","client_id":"m","text":"x"})",
                 ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"message","conv":1,"client_id":"m","text":"x"})", ErrorCode::bad_field,
                 "conv");
    expect_error(R"({"type":"message","conv":"c","client_id":{"id":1},"text":"x"})",
                 ErrorCode::bad_field, "client_id");
}

TEST_CASE("typing errors") {
    expect_error(R"({"type":"typing","on":true})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"typing","conv":"c"})", ErrorCode::missing_field, "on");
    expect_error(R"({"type":"typing","conv":"c","on":"true"})", ErrorCode::bad_field, "on");
    expect_error(R"({"type":"typing","conv":"c","on":1})", ErrorCode::bad_field, "on");
    expect_error(R"({"type":"typing","conv":"c","on":null})", ErrorCode::bad_field, "on");
}

TEST_CASE("receipt errors") {
    expect_error(R"({"type":"receipt","kind":"read","seq":1})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"receipt","conv":"c","seq":1})", ErrorCode::missing_field, "kind");
    expect_error(R"({"type":"receipt","conv":"c","kind":"read"})", ErrorCode::missing_field, "seq");
    expect_error(R"({"type":"receipt","conv":"c","kind":"seen","seq":1})", ErrorCode::bad_field,
                 "kind");
    expect_error(R"({"type":"receipt","conv":"c","kind":1,"seq":1})", ErrorCode::bad_field, "kind");
    expect_error(R"({"type":"receipt","conv":"c","kind":"read","seq":-1})", ErrorCode::bad_field,
                 "seq");
    expect_error(R"({"type":"receipt","conv":"c","kind":"read","seq":1.5})", ErrorCode::bad_field,
                 "seq");
    expect_error(R"({"type":"receipt","conv":"c","kind":"read","seq":2.0})", ErrorCode::bad_field,
                 "seq");
    expect_error(R"({"type":"receipt","conv":"c","kind":"read","seq":"3"})", ErrorCode::bad_field,
                 "seq");
    // Beyond uint64: nlohmann reads it as a float.
    expect_error(R"({"type":"receipt","conv":"c","kind":"read","seq":18446744073709551616})",
                 ErrorCode::bad_field, "seq");
}

TEST_CASE("resume and close errors") {
    expect_error(R"({"type":"resume"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"resume","after":3})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"resume","conv":"c","after":-1})", ErrorCode::bad_field, "after");
    expect_error(R"({"type":"resume","conv":"c","after":"0"})", ErrorCode::bad_field, "after");
    expect_error(R"({"type":"resume","conv":"c","after":null})", ErrorCode::bad_field, "after");
    expect_error(R"({"type":"close"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"close","conv":5})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"close","conv":"a b"})", ErrorCode::bad_field, "conv");
}

TEST_CASE("presence errors") {
    expect_error(R"({"type":"presence"})", ErrorCode::missing_field, "status");
    expect_error(R"({"type":"presence","status":"busy"})", ErrorCode::bad_field, "status");
    expect_error(R"({"type":"presence","status":"Online"})", ErrorCode::bad_field, "status");
    expect_error(R"({"type":"presence","status":""})", ErrorCode::bad_field, "status");
    expect_error(R"({"type":"presence","status":1})", ErrorCode::bad_field, "status");
    expect_error(R"({"type":"presence","status":null})", ErrorCode::bad_field, "status");
    expect_error(R"({"type":"presence","status":["away"]})", ErrorCode::bad_field, "status");
}

TEST_CASE("accept and decline errors") {
    for (const std::string type : {"accept", "decline"}) {
        CAPTURE(type);
        const auto frame = [&](const std::string& rest) {
            return R"({"type":")" + type + "\"" + rest + "}";
        };
        expect_error(frame(""), ErrorCode::missing_field, "conv");
        expect_error(frame(R"(,"conv":"")"), ErrorCode::bad_field, "conv");
        expect_error(frame(R"(,"conv":"a/b")"), ErrorCode::bad_field, "conv");
        expect_error(frame(R"(,"conv":7)"), ErrorCode::bad_field, "conv");
        expect_error(frame(R"(,"conv":null)"), ErrorCode::bad_field, "conv");
        expect_error(frame(R"(,"conv":")" + repeat(65) + "\""), ErrorCode::too_long, "conv");
    }
}

TEST_CASE("transfer errors") {
    expect_error(R"({"type":"transfer","to_agent":"a_7"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"transfer","conv":"c 1","to_agent":"a_7"})", ErrorCode::bad_field,
                 "conv");
    // Exactly one target: neither or both is bad_field on to_agent.
    expect_error(R"({"type":"transfer","conv":"c1"})", ErrorCode::bad_field, "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","note":"hi"})", ErrorCode::bad_field,
                 "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":"a_7","to_department":"billing"})",
                 ErrorCode::bad_field, "to_agent");
    // Each target is an id.
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":""})", ErrorCode::bad_field,
                 "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":"a 7"})", ErrorCode::bad_field,
                 "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":7})", ErrorCode::bad_field,
                 "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":")" + repeat(65) + "\"}",
                 ErrorCode::too_long, "to_agent");
    expect_error(R"({"type":"transfer","conv":"c1","to_department":""})", ErrorCode::bad_field,
                 "to_department");
    expect_error(R"({"type":"transfer","conv":"c1","to_department":"bill ing"})",
                 ErrorCode::bad_field, "to_department");
    expect_error(R"({"type":"transfer","conv":"c1","to_department":null})", ErrorCode::bad_field,
                 "to_department");
    expect_error(R"({"type":"transfer","conv":"c1","to_department":")" + repeat(65) + "\"}",
                 ErrorCode::too_long, "to_department");
    // The note: text up to max_text_bytes.
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":"a","note":5})", ErrorCode::bad_field,
                 "note");
    expect_error(R"({"type":"transfer","conv":"c1","to_agent":"a","note":null})",
                 ErrorCode::bad_field, "note");
    CHECK(decode_ok<Transfer>(R"({"type":"transfer","conv":"c1","to_agent":"a","note":")" +
                              repeat(16384) + "\"}")
              .note.size() == 16384);
    expect_error(
        R"({"type":"transfer","conv":"c1","to_agent":"a","note":")" + repeat(16385) + "\"}",
        ErrorCode::too_long, "note");
    expect_error(
        "{\"type\":\"transfer\",\"conv\":\"c1\",\"to_agent\":\"a\",\"note\":\"\xED\xA0\x80\"}",
        ErrorCode::bad_utf8, "");
    // The target check comes before the note.
    expect_error(R"({"type":"transfer","conv":"c1","note":5})", ErrorCode::bad_field, "to_agent");
    // Errors echo the conv.
    CHECK(decode_err(R"({"type":"transfer","conv":"c1"})").conv == "c1");
}

TEST_CASE("leave_message errors") {
    const auto frame = [](const std::string& fields) {
        return R"({"type":"leave_message",)" + fields + "}";
    };
    expect_error(frame(R"("text":"t")"), ErrorCode::missing_field, "email");
    expect_error(frame(R"("email":"a@b")"), ErrorCode::missing_field, "text");
    expect_error(frame(R"("email":"a@b","text":"")"), ErrorCode::bad_field, "text");
    expect_error(frame(R"("email":"a@b","text":7)"), ErrorCode::bad_field, "text");
    expect_error(frame(R"("email":"a@b","text":")" + repeat(16385) + "\""), ErrorCode::too_long,
                 "text");
    CHECK(decode_ok<LeaveMessage>(frame(R"("email":"a@b","text":")" + repeat(16384) + "\""))
              .text.size() == 16384);
    // email: a string, within max_name_bytes, one '@' with text on both sides, no spaces.
    for (const char* bad :
         {R"("")", R"("ayse")", R"("@example.com")", R"("ayse@")", R"("@")", R"("a@@b")",
          R"("a@b@c")", R"("a b@c")", R"("a@b c")", R"(" a@b")", R"("a@b ")", R"("a@b\t")",
          R"("a\n@b")", R"("a@b\u0000")", R"(5)", R"(null)", R"(["a@b"])"}) {
        CAPTURE(bad);
        expect_error(frame(std::string(R"("email":)") + bad + R"(,"text":"t")"),
                     ErrorCode::bad_field, "email");
    }
    const std::string at_limit = repeat(64) + "@" + repeat(63);
    CHECK(decode_ok<LeaveMessage>(frame(R"("email":")" + at_limit + R"(","text":"t")")).email ==
          at_limit);
    expect_error(frame(R"("email":")" + at_limit + R"(a","text":"t")"), ErrorCode::too_long,
                 "email");
    // Optional fields.
    expect_error(frame(R"("client_id":"","email":"a@b","text":"t")"), ErrorCode::bad_field,
                 "client_id");
    expect_error(frame(R"("client_id":"x y","email":"a@b","text":"t")"), ErrorCode::bad_field,
                 "client_id");
    expect_error(frame(R"("name":5,"email":"a@b","text":"t")"), ErrorCode::bad_field, "name");
    expect_error(frame(R"("name":")" + repeat(129) + R"(","email":"a@b","text":"t")"),
                 ErrorCode::too_long, "name");
    expect_error(frame(R"("email":"a@b","text":"t","department":"")"), ErrorCode::bad_field,
                 "department");
    expect_error(frame(R"("email":"a@b","text":"t","department":"a b")"), ErrorCode::bad_field,
                 "department");
    // Wire order: client_id, name, email, text, department.
    expect_error(frame(R"("name":1,"email":"bad","text":"")"), ErrorCode::bad_field, "name");
    expect_error(frame(R"("email":"bad","text":"")"), ErrorCode::bad_field, "email");
    expect_error(frame(R"("email":"a@b","text":"","department":"")"), ErrorCode::bad_field, "text");
    // Errors echo the client_id.
    CHECK(decode_err(frame(R"("client_id":"lm-1","email":"bad","text":"t")")).client_id == "lm-1");
}

TEST_CASE("offline_handled errors") {
    expect_error(R"({"type":"offline_handled"})", ErrorCode::missing_field, "id");
    expect_error(R"({"type":"offline_handled","id":""})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"offline_handled","id":"om 1"})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"offline_handled","id":12})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"offline_handled","id":null})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"offline_handled","id":")" + repeat(65) + "\"}", ErrorCode::too_long,
                 "id");
    CHECK(decode_ok<OfflineHandled>(R"({"type":"offline_handled","id":")" + repeat(64) + "\"}")
              .id.size() == 64);
}

TEST_CASE("routing types are case-sensitive client types") {
    for (const char* t :
         {"Presence", "ACCEPT", "leave-message", "offlineList", "offer", "offer_ended",
          "queue_position", "unavailable", "left_message", "offline_messages"}) {
        CAPTURE(t);
        expect_error(std::string(R"({"type":")") + t + "\"}", ErrorCode::unknown_type, "type");
    }
}

TEST_CASE("bad_utf8: ill-formed bytes anywhere in the frame") {
    for (const char* bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\xFF"}) {
        const std::string frame =
            std::string(R"({"type":"message","conv":"c","client_id":"m","text":"x)") + bad + "\"}";
        expect_error(frame, ErrorCode::bad_utf8, "");
    }
    expect_error("{\"type\":\"hello\",\"version\":1,\"role\":\"visitor\",\"name\":\"\xC3\"}",
                 ErrorCode::bad_utf8, "");
}

TEST_CASE("limits: each string at exactly its limit passes, one byte more is too_long") {
    const Limits l;
    const auto hello = [](std::string_view field, const std::string& v) {
        return std::string(R"({"type":"hello","version":1,"role":"visitor",")") +
               std::string(field) + R"(":")" + v + "\"}";
    };
    for (const auto& [field, max] :
         {std::pair<std::string_view, std::size_t>{"token", l.max_token_bytes},
          {"name", l.max_name_bytes},
          {"email", l.max_name_bytes}}) {
        CAPTURE(field);
        decode_ok<Hello>(hello(field, repeat(max)));
        expect_error(hello(field, repeat(max + 1)), ErrorCode::too_long, field);
    }

    const auto message = [](const std::string& conv, const std::string& cid,
                            const std::string& text) {
        return R"({"type":"message","conv":")" + conv + R"(","client_id":")" + cid +
               R"(","text":")" + text + "\"}";
    };
    CHECK(decode_ok<SendMessage>(message(repeat(64), "m", "x")).conv.size() == 64);
    expect_error(message(repeat(65), "m", "x"), ErrorCode::too_long, "conv");
    CHECK(decode_ok<SendMessage>(message("c", repeat(64), "x")).client_id.size() == 64);
    expect_error(message("c", repeat(65), "x"), ErrorCode::too_long, "client_id");
    CHECK(decode_ok<SendMessage>(message("c", "m", repeat(16384))).text.size() == 16384);
    expect_error(message("c", "m", repeat(16385)), ErrorCode::too_long, "text");
    expect_error(R"({"type":"start","text":")" + repeat(16385) + "\"}", ErrorCode::too_long,
                 "text");
    expect_error(R"({"type":"resume","conv":")" + repeat(65) + "\"}", ErrorCode::too_long, "conv");
}

TEST_CASE("limits: text is measured in UTF-8 bytes, after unescaping") {
    // "न" is 3 bytes: 5461 of them = 16383 bytes, one more = 16386.
    std::string ok, over;
    for (int i = 0; i < 5461; ++i) ok += "न";
    over = ok + "न";
    const auto frame = [](const std::string& text) {
        return R"({"type":"message","conv":"c","client_id":"m","text":")" + text + "\"}";
    };
    CHECK(decode_ok<SendMessage>(frame(ok)).text.size() == 16383);
    expect_error(frame(over), ErrorCode::too_long, "text");
    // 16384 escaped newlines are 16384 bytes of text (the frame is twice that).
    std::string escaped;
    for (int i = 0; i < 16384; ++i) escaped += "\\n";
    CHECK(decode_ok<SendMessage>(frame(escaped)).text.size() == 16384);
    expect_error(frame(escaped + "\\n"), ErrorCode::too_long, "text");
}

TEST_CASE("limits: the frame is checked first, at exactly max_frame_bytes") {
    const Limits l;
    const std::string head = R"({"type":"take","pad":")";
    std::string frame = head + repeat(l.max_frame_bytes - head.size() - 2) + "\"}";
    REQUIRE(frame.size() == l.max_frame_bytes);
    decode_ok<Take>(frame);
    frame.insert(head.size(), "a");
    expect_error(frame, ErrorCode::too_long, "");
    // Oversized garbage is too_long, not bad_json: size comes before parsing.
    expect_error(repeat(l.max_frame_bytes + 1, '{'), ErrorCode::too_long, "");
}

TEST_CASE("limits: custom Limits are honoured") {
    Limits l;
    l.max_frame_bytes = 100;
    l.max_text_bytes = 5;
    l.max_id_bytes = 3;
    l.max_token_bytes = 4;
    l.max_name_bytes = 2;
    decode_ok<SendMessage>(R"({"type":"message","conv":"abc","client_id":"xyz","text":"12345"})",
                           l);
    expect_error(R"({"type":"message","conv":"abcd","client_id":"x","text":"1"})",
                 ErrorCode::too_long, "conv", l);
    expect_error(R"({"type":"message","conv":"a","client_id":"x","text":"123456"})",
                 ErrorCode::too_long, "text", l);
    expect_error(R"({"type":"hello","version":1,"role":"agent","token":"12345"})",
                 ErrorCode::too_long, "token", l);
    expect_error(R"({"type":"hello","version":1,"role":"visitor","name":"abc"})",
                 ErrorCode::too_long, "name", l);
    expect_error(R"({"type":"take","pad":")" + repeat(100) + "\"}", ErrorCode::too_long, "", l);
}

TEST_CASE("errors echo conv and client_id when they are valid ids") {
    auto e = decode_err(R"({"type":"message","conv":"c7","client_id":"m-9","text":""})");
    CHECK(e.conv == "c7");
    CHECK(e.client_id == "m-9");
    e = decode_err(R"({"type":"message","conv":"c7","client_id":"m 9","text":"x"})");
    CHECK(e.conv == "c7");
    CHECK(e.client_id.empty());
    e = decode_err(R"({"type":"start","client_id":"s1","text":5})");
    CHECK(e.client_id == "s1");
    CHECK(e.conv.empty());
    e = decode_err(R"({"type":"message","conv":")" + repeat(65) +
                   R"(","client_id":"m","text":"x"})");
    CHECK(e.conv.empty());
    CHECK(e.client_id == "m");

    const auto ev = to_error_event(e);
    CHECK(ev.code == ErrorCode::too_long);
    CHECK(ev.message == e.detail);
    CHECK(ev.client_id == "m");
    CHECK(ev.conv.empty());
}

TEST_CASE("duplicate keys: the last one wins") {
    CHECK(decode_ok<Close>(R"({"type":"close","conv":"a","conv":"b"})").conv == "b");
}

TEST_CASE("decode_client never throws on mutated and random frames") {
    const std::string seeds[] = {
        R"({"type":"hello","version":1,"role":"visitor","token":"t","name":"Ayşe","email":"e"})",
        R"({"type":"message","conv":"c1","client_id":"m1","text":"नमस्ते 😀"})",
        R"({"type":"receipt","conv":"c1","kind":"read","seq":12})",
        R"({"type":"resume","conv":"c1","after":3})",
        R"({"type":"typing","conv":"c1","on":true})",
        R"({"type":"transfer","conv":"c1","to_department":"d","note":"n"})",
        R"({"type":"leave_message","client_id":"l","name":"n","email":"a@b","text":"t"})",
        R"({"type":"presence","status":"away"})",
    };
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    Limits small;
    small.max_frame_bytes = 90;
    small.max_text_bytes = 8;
    int decoded = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string f = seeds[static_cast<std::size_t>(i) % std::size(seeds)];
        const int edits = 1 + i % 4;
        for (int k = 0; k < edits; ++k) {
            const auto pos = static_cast<std::size_t>(rng()) % (f.size() + 1);
            switch (rng() % 3) {
                case 0:
                    f.insert(pos, 1, static_cast<char>(byte(rng)));
                    break;
                case 1:
                    if (pos < f.size()) f.erase(pos, 1);
                    break;
                default:
                    if (pos < f.size()) f[pos] = static_cast<char>(byte(rng));
            }
        }
        DecodeResult r;
        CHECK_NOTHROW(r = decode_client(f, i % 2 ? small : Limits{}));
        if (std::holds_alternative<ClientMessage>(r)) ++decoded;
    }
    CHECK(decoded > 0);  // some mutations stay valid
}

// ---- the canned-answer bot ------------------------------------------------------

TEST_CASE("start: locale hint for the bot") {
    CHECK(decode_ok<Start>(R"({"type":"start"})").locale.empty());
    for (const char* loc : {"en", "hi", "tr", "tr-TR", "zh-Hant-TW", "x-1"}) {
        CAPTURE(loc);
        CHECK(decode_ok<Start>(std::string(R"({"type":"start","locale":")") + loc + "\"}").locale ==
              loc);
    }
    // Empty is the same as absent: no hint.
    CHECK(decode_ok<Start>(R"({"type":"start","locale":""})").locale.empty());
    const auto s = decode_ok<Start>(
        R"({"type":"start","client_id":"c-1","text":"kargom nerede","department":"sales","locale":"tr-TR"})");
    CHECK(s.client_id == "c-1");
    CHECK(s.text == "kargom nerede");
    CHECK(s.department == "sales");
    CHECK(s.locale == "tr-TR");
    CHECK(decode_ok<Start>(R"({"type":"start","locale":")" + repeat(kMaxLocaleBytes) + "\"}")
              .locale.size() == kMaxLocaleBytes);
}

TEST_CASE("start locale errors") {
    expect_error(R"({"type":"start","locale":")" + repeat(kMaxLocaleBytes + 1) + "\"}",
                 ErrorCode::too_long, "locale");
    for (const char* bad : {R"("tr_TR")", R"("en US")", R"("tr.TR")", R"("türkçe")", R"("hi:IN")",
                            "7", "null", "true", R"(["tr"])"}) {
        CAPTURE(bad);
        expect_error(std::string(R"({"type":"start","locale":)") + bad + "}", ErrorCode::bad_field,
                     "locale");
    }
    // Wire order: department before locale.
    expect_error(R"({"type":"start","department":"","locale":"x y"})", ErrorCode::bad_field,
                 "department");
    CHECK(decode_err(R"({"type":"start","client_id":"s-9","locale":"x y"})").client_id == "s-9");
}

TEST_CASE("feedback: helpful true and false") {
    auto f = decode_ok<Feedback>(R"({"type":"feedback","conv":"c1","helpful":true})");
    CHECK(f.conv == "c1");
    CHECK(f.helpful);
    f = decode_ok<Feedback>(R"({"type":"feedback","conv":"c1","helpful":false})");
    CHECK_FALSE(f.helpful);
}

TEST_CASE("feedback errors") {
    expect_error(R"({"type":"feedback"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"feedback","helpful":true})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"feedback","conv":"c1"})", ErrorCode::missing_field, "helpful");
    expect_error(R"({"type":"feedback","conv":"","helpful":true})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"feedback","conv":"c 1","helpful":true})", ErrorCode::bad_field,
                 "conv");
    expect_error(R"({"type":"feedback","conv":")" + repeat(65) + R"(","helpful":true})",
                 ErrorCode::too_long, "conv");
    for (const char* bad : {"1", "0", R"("true")", R"("yes")", "null", "[]"}) {
        CAPTURE(bad);
        expect_error(std::string(R"({"type":"feedback","conv":"c1","helpful":)") + bad + "}",
                     ErrorCode::bad_field, "helpful");
    }
    CHECK(decode_err(R"({"type":"feedback","conv":"c1","helpful":1})").conv == "c1");
}

TEST_CASE("handoff: just the conversation") {
    CHECK(decode_ok<Handoff>(R"({"type":"handoff","conv":"cv_9"})").conv == "cv_9");
    expect_error(R"({"type":"handoff"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"handoff","conv":""})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"handoff","conv":"a/b"})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"handoff","conv":5})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"handoff","conv":null})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"handoff","conv":")" + repeat(65) + "\"}", ErrorCode::too_long, "conv");
}

TEST_CASE("suggestion: every field") {
    const auto p = decode_ok<PickSuggestion>(
        R"({"type":"suggestion","conv":"c1","client_id":"m-7","entry":"tr.returns:window_30-d","text":"İade süresi ne kadar?"})");
    CHECK(p.conv == "c1");
    CHECK(p.client_id == "m-7");
    CHECK(p.entry == "tr.returns:window_30-d");
    CHECK(p.text == "İade süresi ne kadar?");
    CHECK(decode_ok<PickSuggestion>(R"({"type":"suggestion","conv":"c","client_id":"m","entry":")" +
                                    repeat(kMaxEntryBytes) + R"(","text":"t"})")
              .entry.size() == kMaxEntryBytes);
    const Limits l;
    CHECK(decode_ok<PickSuggestion>(
              R"({"type":"suggestion","conv":"c","client_id":"m","entry":"e","text":")" +
              repeat(l.max_text_bytes) + "\"}")
              .text.size() == l.max_text_bytes);
}

TEST_CASE("suggestion errors, the first failing field in wire order wins") {
    const auto frame = [](std::string_view members) {
        return std::string(R"({"type":"suggestion",)") + std::string(members) + "}";
    };
    expect_error(R"({"type":"suggestion"})", ErrorCode::missing_field, "conv");
    expect_error(frame(R"("client_id":"m","entry":"e","text":"t")"), ErrorCode::missing_field,
                 "conv");
    expect_error(frame(R"("conv":"c","entry":"e","text":"t")"), ErrorCode::missing_field,
                 "client_id");
    expect_error(frame(R"("conv":"c","client_id":"m","text":"t")"), ErrorCode::missing_field,
                 "entry");
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"e")"), ErrorCode::missing_field,
                 "text");
    expect_error(frame(R"("conv":"c","client_id":"","entry":"e","text":"t")"), ErrorCode::bad_field,
                 "client_id");
    for (const char* bad : {R"("")", R"("a b")", R"("iade/30")", R"("iade?")", R"("iadé")", "3",
                            "null", R"(["e"])"}) {
        CAPTURE(bad);
        expect_error(
            frame(std::string(R"("conv":"c","client_id":"m","entry":)") + bad + R"(,"text":"t")"),
            ErrorCode::bad_field, "entry");
    }
    expect_error(frame(R"("conv":"c","client_id":"m","entry":")" + repeat(kMaxEntryBytes + 1) +
                       R"(","text":"t")"),
                 ErrorCode::too_long, "entry");
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"e","text":"")"), ErrorCode::bad_field,
                 "text");
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"e","text":1)"), ErrorCode::bad_field,
                 "text");
    const Limits l;
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"e","text":")" +
                       repeat(l.max_text_bytes + 1) + "\""),
                 ErrorCode::too_long, "text");
    Limits small;
    small.max_text_bytes = 4;
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"e","text":"hello")"),
                 ErrorCode::too_long, "text", small);
    expect_error(frame(R"("conv":"c","client_id":"m","entry":"a b","text":"")"),
                 ErrorCode::bad_field, "entry");
    // Errors echo conv and client_id.
    const auto e = decode_err(frame(R"("conv":"c1","client_id":"m-1","entry":"a b","text":"t")"));
    CHECK(e.conv == "c1");
    CHECK(e.client_id == "m-1");
}

TEST_CASE("bot types are case-sensitive client types; bot_options is server-only") {
    for (const char* t :
         {"Feedback", "HANDOFF", "hand_off", "suggestions", "Suggestion", "bot_options", "bot"}) {
        CAPTURE(t);
        expect_error(std::string(R"({"type":")") + t + "\"}", ErrorCode::unknown_type, "type");
    }
}

// ---- visitor context, CSAT, canned replies ------------------------------------

namespace {

// 64 lowercase hex digits: the shape of a hex HMAC-SHA256.
const std::string kSig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string visitor_hello(std::string_view members) {
    return std::string(R"({"type":"hello","version":1,"role":"visitor",)") + std::string(members) +
           "}";
}

// An "attributes" object of n members k0..k(n-1), each with value v.
std::string attributes_of(std::size_t n, const std::string& v = "x") {
    std::string s = "{";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) s += ',';
        s += "\"k" + std::to_string(i) + "\":\"" + v + "\"";
    }
    return s + "}";
}

}  // namespace

TEST_CASE("hello: visitor context fields") {
    const auto h = decode_ok<Hello>(visitor_hello(
        R"j("token":"rt_1","name":"Ayşe","email":"a@example.com","user_id":"u-42 (Ayşe)","signature":")j" +
        kSig +
        R"j(","attributes":{"plan":"gold","order_id":"5521","Zone":"eu-1","a.b:c_d-e":"ş"},"page":"https://shop.example.com/cart?x=1&y=ü","language":"tr-TR","user_agent":"Mozilla/5.0 (X11; Linux x86_64)")j"));
    CHECK(h.token == "rt_1");
    CHECK(h.name == "Ayşe");
    CHECK(h.email == "a@example.com");
    CHECK(h.user_id == "u-42 (Ayşe)");  // free text, not an id
    CHECK(h.signature == kSig);
    // In the order sent, not sorted.
    CHECK(h.attributes ==
          Attributes{{"plan", "gold"}, {"order_id", "5521"}, {"Zone", "eu-1"}, {"a.b:c_d-e", "ş"}});
    CHECK(h.page == "https://shop.example.com/cart?x=1&y=ü");
    CHECK(h.language == "tr-TR");
    CHECK(h.user_agent == "Mozilla/5.0 (X11; Linux x86_64)");

    // All optional.
    const auto bare = decode_ok<Hello>(visitor_hello(R"("name":"Ravi")"));
    CHECK(bare.user_id.empty());
    CHECK(bare.signature.empty());
    CHECK(bare.attributes.empty());
    CHECK(bare.page.empty());
    CHECK(bare.language.empty());
    CHECK(bare.user_agent.empty());

    // Empty text fields and an empty object are the same as absent ones.
    const auto empty = decode_ok<Hello>(
        visitor_hello(R"("attributes":{},"page":"","language":"","user_agent":"")"));
    CHECK(empty.attributes.empty());
    CHECK(empty.page.empty());
    CHECK(empty.language.empty());

    // One attribute; an empty value is kept.
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"coupon":""})")).attributes ==
          Attributes{{"coupon", ""}});

    // The codec does not look at the role: the server ignores them from agents.
    const auto agent = decode_ok<Hello>(
        R"({"type":"hello","version":1,"role":"agent","token":"t","page":"p","attributes":{"b":"1","a":"2"}})");
    CHECK(agent.page == "p");
    CHECK(agent.attributes == Attributes{{"b", "1"}, {"a", "2"}});
}

TEST_CASE("hello attributes: order sent, repeated keys, look-alike members") {
    // Sorted, reverse-sorted and mixed orders all survive.
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"c":"3","b":"2","a":"1"})")).attributes ==
          Attributes{{"c", "3"}, {"b", "2"}, {"a", "1"}});
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"a":"1","b":"2","c":"3"})")).attributes ==
          Attributes{{"a", "1"}, {"b", "2"}, {"c", "3"}});
    // A key sent twice: its last value, at its first place (as for duplicate members).
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"b":"1","a":"2","b":"3"})")).attributes ==
          Attributes{{"b", "3"}, {"a", "2"}});
    // "attributes" sent twice: the last one wins, with its own order.
    CHECK(decode_ok<Hello>(
              visitor_hello(R"("attributes":{"x":"0","y":"0"},"attributes":{"q":"1","p":"2"})"))
              .attributes == Attributes{{"q", "1"}, {"p", "2"}});
    // An "attributes" member nested elsewhere, before or after, changes nothing.
    CHECK(
        decode_ok<Hello>(
            visitor_hello(
                R"("meta":{"attributes":{"z":"9","y":"8"}},"attributes":{"n":"1","m":"2"},"more":[{"attributes":{"k":"v"}}])"))
            .attributes == Attributes{{"n", "1"}, {"m", "2"}});
    // Escaped keys and values are unescaped.
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"k\u0031":"a\"b\\c\n","k0":"\u015f"})"))
              .attributes == Attributes{{"k1", "a\"b\\c\n"}, {"k0", "ş"}});
    // At the limits.
    const auto at_limit = decode_ok<Hello>(
        visitor_hello("\"attributes\":" + attributes_of(kMaxAttributes, repeat(256))));
    REQUIRE(at_limit.attributes.size() == kMaxAttributes);
    CHECK(at_limit.attributes[0].first == "k0");
    CHECK(at_limit.attributes[10].first == "k10");  // not sorted after "k1"
    CHECK(at_limit.attributes[19].first == "k19");
    CHECK(at_limit.attributes[19].second.size() == kMaxAttributeValueBytes);
    const std::string key64 = repeat(kMaxAttributeKeyBytes, 'K');
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{")" + key64 + R"(":"v"})"))
              .attributes[0]
              .first == key64);
    // Values are counted in UTF-8 bytes: 128 × "ş" = 256 bytes.
    std::string s128;
    for (int i = 0; i < 128; ++i) s128 += "ş";
    CHECK(decode_ok<Hello>(visitor_hello(R"("attributes":{"k":")" + s128 + "\"}"))
              .attributes[0]
              .second.size() == 256);
    expect_error(visitor_hello(R"("attributes":{"k":")" + s128 + "ş\"}"), ErrorCode::too_long,
                 "attributes");
}

TEST_CASE("hello attributes errors") {
    const auto with = [](const std::string& attrs) {
        return visitor_hello("\"attributes\":" + attrs);
    };
    for (const char* bad : {"[]", R"([["k","v"]])", R"("k=v")", "1", "null", "true"}) {
        CAPTURE(bad);
        expect_error(with(bad), ErrorCode::bad_field, "attributes");
    }
    // Too many members.
    expect_error(with(attributes_of(kMaxAttributes + 1)), ErrorCode::too_long, "attributes");
    expect_error(with(attributes_of(100)), ErrorCode::too_long, "attributes");
    // Keys: 1..64 bytes of [A-Za-z0-9._:-].
    expect_error(with(R"({")" + repeat(kMaxAttributeKeyBytes + 1) + R"(":"v"})"),
                 ErrorCode::too_long, "attributes");
    for (const char* key : {"", "a b", "a/b", "plan?", "şehir", "a\\u0000", "a\\n", "{x}"}) {
        CAPTURE(key);
        expect_error(with(std::string(R"({")") + key + R"(":"v"})"), ErrorCode::bad_field,
                     "attributes");
    }
    // Values: strings of at most 256 bytes.
    expect_error(with(R"({"k":")" + repeat(kMaxAttributeValueBytes + 1) + "\"}"),
                 ErrorCode::too_long, "attributes");
    for (const char* value : {"1", "1.5", "true", "null", "[]", R"({"x":"y"})", R"(["v"])"}) {
        CAPTURE(value);
        expect_error(with(std::string(R"({"k":)") + value + "}"), ErrorCode::bad_field,
                     "attributes");
    }
    // Checked in the order sent: the first bad member (not the first in key order) is named.
    auto e = decode_err(with(R"({"zz":5,"aa":")" + repeat(300) + "\"}"));
    CHECK(e.code == ErrorCode::bad_field);
    CHECK(e.detail.find("'zz'") != std::string::npos);
    e = decode_err(with(R"({"zz":")" + repeat(300) + R"(","aa":5})"));
    CHECK(e.code == ErrorCode::too_long);
    CHECK(e.detail.find("'zz'") != std::string::npos);
    // Ill-formed UTF-8 in a value fails the whole frame.
    expect_error(visitor_hello("\"attributes\":{\"k\":\"\xED\xA0\x80\"}"), ErrorCode::bad_utf8, "");
    // The count is checked before the members.
    expect_error(with(attributes_of(kMaxAttributes + 1, "a b\\u0000")), ErrorCode::too_long,
                 "attributes");
}

TEST_CASE("hello identity: user_id and signature") {
    // Both or neither.
    expect_error(visitor_hello(R"("user_id":"u-1")"), ErrorCode::bad_field, "signature");
    expect_error(visitor_hello(R"("signature":")" + kSig + "\""), ErrorCode::bad_field, "user_id");
    // user_id: text, not empty, at most max_name_bytes.
    expect_error(visitor_hello(R"("user_id":"","signature":")" + kSig + "\""), ErrorCode::bad_field,
                 "user_id");
    for (const char* bad : {"5", "null", "true", R"(["u"])", "{}"}) {
        CAPTURE(bad);
        expect_error(
            visitor_hello(std::string(R"("user_id":)") + bad + R"(,"signature":")" + kSig + "\""),
            ErrorCode::bad_field, "user_id");
    }
    const Limits l;
    CHECK(decode_ok<Hello>(visitor_hello(R"("user_id":")" + repeat(l.max_name_bytes) +
                                         R"(","signature":")" + kSig + "\""))
              .user_id.size() == l.max_name_bytes);
    expect_error(visitor_hello(R"("user_id":")" + repeat(l.max_name_bytes + 1) +
                               R"(","signature":")" + kSig + "\""),
                 ErrorCode::too_long, "user_id");
    Limits small;
    small.max_name_bytes = 3;
    expect_error(visitor_hello(R"("user_id":"abcd","signature":")" + kSig + "\""),
                 ErrorCode::too_long, "user_id", small);
    // signature: exactly 64 of [0-9a-f].
    const auto sig_error = [](const std::string& sig, ErrorCode code) {
        expect_error(visitor_hello(R"("user_id":"u-1","signature":)" + sig), code, "signature");
    };
    sig_error('"' + kSig.substr(0, 63) + '"', ErrorCode::bad_field);
    sig_error('"' + kSig + "0\"", ErrorCode::too_long);
    sig_error(R"("")", ErrorCode::bad_field);
    std::string upper = kSig;
    upper[10] = 'A';
    sig_error('"' + upper + '"', ErrorCode::bad_field);
    std::string non_hex = kSig;
    non_hex[63] = 'g';
    sig_error('"' + non_hex + '"', ErrorCode::bad_field);
    std::string spaced = kSig;
    spaced[0] = ' ';
    sig_error('"' + spaced + '"', ErrorCode::bad_field);
    for (const char* bad : {"5", "null", "true", "[]"}) sig_error(bad, ErrorCode::bad_field);
    // A malformed signature is reported as such even without a user_id.
    expect_error(visitor_hello(R"("signature":"abc")"), ErrorCode::bad_field, "signature");
    // user_id is read first.
    expect_error(visitor_hello(R"("user_id":"","signature":"XYZ")"), ErrorCode::bad_field,
                 "user_id");
    // The pair is checked before attributes, page, language and user_agent.
    expect_error(visitor_hello(R"("user_id":"u","attributes":[],"language":"x y")"),
                 ErrorCode::bad_field, "signature");
    // And after the fields before it.
    expect_error(visitor_hello(R"("name":5,"user_id":"u")"), ErrorCode::bad_field, "name");
}

TEST_CASE("hello page, language, user_agent") {
    // page: text up to 2048 bytes.
    CHECK(
        decode_ok<Hello>(visitor_hello(R"("page":")" + repeat(kMaxPageBytes) + "\"")).page.size() ==
        kMaxPageBytes);
    expect_error(visitor_hello(R"("page":")" + repeat(kMaxPageBytes + 1) + "\""),
                 ErrorCode::too_long, "page");
    for (const char* bad : {"1", "null", R"(["/"])", "{}"}) {
        CAPTURE(bad);
        expect_error(visitor_hello(std::string(R"("page":)") + bad), ErrorCode::bad_field, "page");
    }
    // language: like start.locale.
    for (const char* tag : {"en", "tr-TR", "zh-Hant-TW", "x-1"}) {
        CAPTURE(tag);
        CHECK(
            decode_ok<Hello>(visitor_hello(std::string(R"("language":")") + tag + "\"")).language ==
            tag);
    }
    CHECK(decode_ok<Hello>(visitor_hello(R"("language":")" + repeat(kMaxLocaleBytes) + "\""))
              .language.size() == kMaxLocaleBytes);
    expect_error(visitor_hello(R"("language":")" + repeat(kMaxLocaleBytes + 1) + "\""),
                 ErrorCode::too_long, "language");
    for (const char* bad : {R"("tr_TR")", R"("en US")", R"("en;q=0.9")", R"("türkçe")",
                            R"("en,tr")", "7", "null", R"(["tr"])"}) {
        CAPTURE(bad);
        expect_error(visitor_hello(std::string(R"("language":)") + bad), ErrorCode::bad_field,
                     "language");
    }
    // user_agent: text up to 512 bytes.
    CHECK(decode_ok<Hello>(visitor_hello(R"("user_agent":")" + repeat(kMaxUserAgentBytes) + "\""))
              .user_agent.size() == kMaxUserAgentBytes);
    expect_error(visitor_hello(R"("user_agent":")" + repeat(kMaxUserAgentBytes + 1) + "\""),
                 ErrorCode::too_long, "user_agent");
    expect_error(visitor_hello(R"("user_agent":42)"), ErrorCode::bad_field, "user_agent");
    expect_error(visitor_hello(R"("user_agent":null)"), ErrorCode::bad_field, "user_agent");
    // Ill-formed UTF-8 fails the frame.
    expect_error(visitor_hello("\"page\":\"https://x/\xC3\""), ErrorCode::bad_utf8, "");
    expect_error(visitor_hello("\"user_agent\":\"\xFF\""), ErrorCode::bad_utf8, "");
    // Wire order: attributes, page, language, user_agent.
    expect_error(visitor_hello(R"("attributes":5,"page":5,"language":5,"user_agent":5)"),
                 ErrorCode::bad_field, "attributes");
    expect_error(visitor_hello(R"("page":5,"language":5,"user_agent":5)"), ErrorCode::bad_field,
                 "page");
    expect_error(visitor_hello(R"("language":"a b","user_agent":5)"), ErrorCode::bad_field,
                 "language");
}

TEST_CASE("close: optional resolution tag") {
    auto c = decode_ok<Close>(R"({"type":"close","conv":"c1"})");
    CHECK(c.conv == "c1");
    CHECK(c.resolution.empty());
    c = decode_ok<Close>(R"({"type":"close","conv":"c1","resolution":"solved"})");
    CHECK(c.resolution == "solved");
    CHECK(decode_ok<Close>(
              R"({"type":"close","conv":"c1","resolution":"billing.refund:partial-2_x"})")
              .resolution == "billing.refund:partial-2_x");
    CHECK(decode_ok<Close>(R"({"type":"close","conv":"c1","resolution":")" + repeat(kMaxTagBytes) +
                           "\"}")
              .resolution.size() == kMaxTagBytes);
    expect_error(R"({"type":"close","conv":"c1","resolution":")" + repeat(kMaxTagBytes + 1) + "\"}",
                 ErrorCode::too_long, "resolution");
    for (const char* bad : {R"("")", R"("not solved")", R"("çözüldü")", R"("a/b")", "5", "null",
                            "true", R"(["solved"])"}) {
        CAPTURE(bad);
        expect_error(std::string(R"({"type":"close","conv":"c1","resolution":)") + bad + "}",
                     ErrorCode::bad_field, "resolution");
    }
    // conv first; the error echoes it.
    expect_error(R"({"type":"close","resolution":"solved"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"close","conv":"","resolution":"x y"})", ErrorCode::bad_field, "conv");
    CHECK(decode_err(R"({"type":"close","conv":"c1","resolution":"x y"})").conv == "c1");
}

TEST_CASE("rate: score 1..5 and an optional comment") {
    for (int score = 1; score <= 5; ++score) {
        CAPTURE(score);
        const auto r =
            decode_ok<Rate>(R"({"type":"rate","conv":"c1","score":)" + std::to_string(score) + "}");
        CHECK(r.conv == "c1");
        CHECK(r.score == score);
        CHECK(r.comment.empty());
    }
    auto r = decode_ok<Rate>(
        R"({"type":"rate","conv":"c1","score":4,"comment":"Hızlı ve nazik, teşekkürler!\n"})");
    CHECK(r.score == 4);
    CHECK(r.comment == "Hızlı ve nazik, teşekkürler!\n");
    CHECK(decode_ok<Rate>(R"({"type":"rate","conv":"c1","score":1,"comment":""})").comment.empty());
    r = decode_ok<Rate>(R"({"type":"rate","conv":"c1","score":2,"comment":")" +
                        repeat(kMaxCommentBytes) + "\"}");
    CHECK(r.comment.size() == kMaxCommentBytes);
}

TEST_CASE("rate errors") {
    expect_error(R"({"type":"rate","score":5})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"rate","conv":"c1"})", ErrorCode::missing_field, "score");
    expect_error(R"({"type":"rate","conv":"c 1","score":5})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"rate","conv":")" + repeat(65) + R"(","score":5})", ErrorCode::too_long,
                 "conv");
    // Out of range, not an integer, or beyond any int: all bad_field.
    for (const char* bad :
         {"0", "6", "-1", "-0", "100", "3.5", "3.0", "5e0", R"("3")", "true", "null", "[3]",
          "4294967297", "9223372036854775809", "-9223372036854775808", "18446744073709551615",
          "18446744073709551616"}) {
        CAPTURE(bad);
        expect_error(std::string(R"({"type":"rate","conv":"c1","score":)") + bad + "}",
                     ErrorCode::bad_field, "score");
    }
    // The comment: text up to 2048 bytes.
    expect_error(R"({"type":"rate","conv":"c1","score":5,"comment":")" +
                     repeat(kMaxCommentBytes + 1) + "\"}",
                 ErrorCode::too_long, "comment");
    expect_error(R"({"type":"rate","conv":"c1","score":5,"comment":5})", ErrorCode::bad_field,
                 "comment");
    expect_error(R"({"type":"rate","conv":"c1","score":5,"comment":null})", ErrorCode::bad_field,
                 "comment");
    expect_error("{\"type\":\"rate\",\"conv\":\"c1\",\"score\":5,\"comment\":\"\xC3\"}",
                 ErrorCode::bad_utf8, "");
    // Wire order: conv, score, comment; errors echo the conv.
    expect_error(R"({"type":"rate","conv":"c1","score":9,"comment":5})", ErrorCode::bad_field,
                 "score");
    CHECK(decode_err(R"({"type":"rate","conv":"c1","score":9})").conv == "c1");
}

TEST_CASE("visitor_info: just the conversation") {
    CHECK(decode_ok<VisitorInfoQuery>(R"({"type":"visitor_info","conv":"c_7"})").conv == "c_7");
    expect_error(R"({"type":"visitor_info"})", ErrorCode::missing_field, "conv");
    expect_error(R"({"type":"visitor_info","conv":""})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"visitor_info","conv":"a b"})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"visitor_info","conv":5})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"visitor_info","conv":null})", ErrorCode::bad_field, "conv");
    expect_error(R"({"type":"visitor_info","conv":")" + repeat(65) + "\"}", ErrorCode::too_long,
                 "conv");
}

TEST_CASE("canned_list: no fields") {
    decode_ok<CannedList>(R"({"type":"canned_list"})");
    decode_ok<CannedList>(R"({"type":"canned_list","shared":"whatever"})");
}

TEST_CASE("canned_save: create and edit") {
    auto c = decode_ok<CannedSave>(
        R"({"type":"canned_save","shortcut":"greet","text":"Merhaba {visitor.name}, ben {agent.name}."})");
    CHECK(c.id.empty());
    CHECK(c.shortcut == "greet");
    CHECK(c.text == "Merhaba {visitor.name}, ben {agent.name}.");
    CHECK_FALSE(c.shared);
    c = decode_ok<CannedSave>(
        R"({"type":"canned_save","id":"cr_12","shortcut":"Refund-policy_2","text":"नमस्ते","shared":true})");
    CHECK(c.id == "cr_12");
    CHECK(c.shortcut == "Refund-policy_2");
    CHECK(c.text == "नमस्ते");
    CHECK(c.shared);
    CHECK_FALSE(
        decode_ok<CannedSave>(R"({"type":"canned_save","shortcut":"x","text":"t","shared":false})")
            .shared);
    const Limits l;
    c = decode_ok<CannedSave>(R"({"type":"canned_save","shortcut":")" + repeat(kMaxShortcutBytes) +
                              R"(","text":")" + repeat(l.max_text_bytes) + "\"}");
    CHECK(c.shortcut.size() == kMaxShortcutBytes);
    CHECK(c.text.size() == l.max_text_bytes);
}

TEST_CASE("canned_save errors") {
    const auto frame = [](std::string_view members) {
        return std::string(R"({"type":"canned_save",)") + std::string(members) + "}";
    };
    expect_error(frame(R"("text":"t")"), ErrorCode::missing_field, "shortcut");
    expect_error(frame(R"("shortcut":"s")"), ErrorCode::missing_field, "text");
    // id: optional, but an id when present.
    expect_error(frame(R"("id":"","shortcut":"s","text":"t")"), ErrorCode::bad_field, "id");
    expect_error(frame(R"("id":"cr 1","shortcut":"s","text":"t")"), ErrorCode::bad_field, "id");
    expect_error(frame(R"("id":12,"shortcut":"s","text":"t")"), ErrorCode::bad_field, "id");
    expect_error(frame(R"("id":")" + repeat(65) + R"(","shortcut":"s","text":"t")"),
                 ErrorCode::too_long, "id");
    // shortcut: 1..32 of [A-Za-z0-9_-].
    expect_error(frame(R"("shortcut":")" + repeat(kMaxShortcutBytes + 1) + R"(","text":"t")"),
                 ErrorCode::too_long, "shortcut");
    for (const char* bad : {R"("")", R"("a b")", R"("a.b")", R"("a:b")", R"("/greet")",
                            R"("selam_ş")", R"("x\n")", "5", "null", "true", R"(["s"])"}) {
        CAPTURE(bad);
        expect_error(frame(std::string(R"("shortcut":)") + bad + R"(,"text":"t")"),
                     ErrorCode::bad_field, "shortcut");
    }
    // text: 1..max_text_bytes.
    expect_error(frame(R"("shortcut":"s","text":"")"), ErrorCode::bad_field, "text");
    expect_error(frame(R"("shortcut":"s","text":7)"), ErrorCode::bad_field, "text");
    expect_error(frame(R"("shortcut":"s","text":null)"), ErrorCode::bad_field, "text");
    const Limits l;
    expect_error(frame(R"("shortcut":"s","text":")" + repeat(l.max_text_bytes + 1) + "\""),
                 ErrorCode::too_long, "text");
    Limits small;
    small.max_text_bytes = 4;
    expect_error(frame(R"("shortcut":"s","text":"hello")"), ErrorCode::too_long, "text", small);
    expect_error("{\"type\":\"canned_save\",\"shortcut\":\"s\",\"text\":\"\xE2\x82\"}",
                 ErrorCode::bad_utf8, "");
    // shared: a boolean.
    for (const char* bad : {"1", "0", R"("true")", "null", "[]"}) {
        CAPTURE(bad);
        expect_error(frame(std::string(R"("shortcut":"s","text":"t","shared":)") + bad),
                     ErrorCode::bad_field, "shared");
    }
    // Wire order: id, shortcut, text, shared.
    expect_error(frame(R"("id":"","shortcut":"","text":"","shared":1)"), ErrorCode::bad_field,
                 "id");
    expect_error(frame(R"("shortcut":"","text":"","shared":1)"), ErrorCode::bad_field, "shortcut");
    expect_error(frame(R"("shortcut":"s","text":"","shared":1)"), ErrorCode::bad_field, "text");
}

TEST_CASE("canned_delete: an id") {
    CHECK(decode_ok<CannedDelete>(R"({"type":"canned_delete","id":"cr_12"})").id == "cr_12");
    expect_error(R"({"type":"canned_delete"})", ErrorCode::missing_field, "id");
    expect_error(R"({"type":"canned_delete","id":""})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"canned_delete","id":"cr 12"})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"canned_delete","id":12})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"canned_delete","id":null})", ErrorCode::bad_field, "id");
    expect_error(R"({"type":"canned_delete","id":")" + repeat(65) + "\"}", ErrorCode::too_long,
                 "id");
}

TEST_CASE("console types are case-sensitive client types; their answers are server-only") {
    for (const char* t : {"Rate", "RATE", "visitorInfo", "visitor-info", "canned", "cannedList",
                          "canned_changed", "rated", "dashboard", "canned_edit"}) {
        CAPTURE(t);
        expect_error(std::string(R"({"type":")") + t + "\"}", ErrorCode::unknown_type, "type");
    }
}

TEST_CASE("decode_client never throws on mutated console frames") {
    const std::string seeds[] = {
        visitor_hello(
            R"("user_id":"u","signature":")" + kSig +
            R"(","attributes":{"b":"1","a":"2","c":"3"},"page":"p","language":"tr","user_agent":"ua")"),
        R"({"type":"close","conv":"c1","resolution":"solved"})",
        R"({"type":"rate","conv":"c1","score":5,"comment":"ok"})",
        R"({"type":"visitor_info","conv":"c1"})",
        R"({"type":"canned_save","id":"x","shortcut":"s","text":"t","shared":true})",
        R"({"type":"canned_delete","id":"x"})",
    };
    std::mt19937 rng(4242);
    std::uniform_int_distribution<int> byte(0, 255);
    int decoded = 0;
    for (int i = 0; i < 12000; ++i) {
        std::string f = seeds[static_cast<std::size_t>(i) % std::size(seeds)];
        for (int k = 0; k < 1 + i % 3; ++k) {
            const auto pos = static_cast<std::size_t>(rng()) % (f.size() + 1);
            switch (rng() % 3) {
                case 0:
                    f.insert(pos, 1, static_cast<char>(byte(rng)));
                    break;
                case 1:
                    if (pos < f.size()) f.erase(pos, 1);
                    break;
                default:
                    if (pos < f.size()) f[pos] = static_cast<char>(byte(rng));
            }
        }
        DecodeResult r;
        CHECK_NOTHROW(r = decode_client(f));
        if (const auto* m = std::get_if<ClientMessage>(&r)) {
            ++decoded;
            // Whatever decodes respects the limits.
            if (const auto* h = std::get_if<Hello>(m)) {
                CHECK(h->attributes.size() <= kMaxAttributes);
                CHECK(h->user_id.empty() == h->signature.empty());
            }
            if (const auto* rate = std::get_if<Rate>(m)) {
                CHECK(rate->score >= 1);
                CHECK(rate->score <= 5);
            }
        }
    }
    CHECK(decoded > 0);
}
