// WsReader (server/net/ws_reader.hpp): client frames in, events out, against
// RFC 6455: masking, the three length forms, fragmentation with control
// frames between, every violation's close code, and input in any pieces.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ws_reader.hpp"

using sb::net::WsEvent;
using sb::net::WsReader;

namespace {

// A client frame: masked with a fixed key unless `masked` is false.
std::string client_frame(std::uint8_t first_byte, const std::string& payload, bool masked = true) {
    std::string f;
    f.push_back(static_cast<char>(first_byte));
    const std::uint64_t n = payload.size();
    const char m = masked ? static_cast<char>(0x80) : 0;
    if (n < 126) {
        f.push_back(static_cast<char>(m | static_cast<char>(n)));
    } else if (n <= 0xFFFF) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((n >> s) & 0xFF));
    }
    const char key[4] = {0x11, 0x22, 0x33, 0x44};
    if (masked) f.append(key, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
    }
    return f;
}

std::string text(const std::string& p, bool fin = true) {
    return client_frame(fin ? 0x81 : 0x01, p);
}
std::string continuation(const std::string& p, bool fin) {
    return client_frame(fin ? 0x80 : 0x00, p);
}
std::string close_frame(const std::string& body) {
    return client_frame(0x88, body);
}
std::string code(std::uint16_t c) {
    return std::string{static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
}

struct Seen {
    WsEvent::Kind kind;
    std::string payload;
    std::uint16_t code;
};

// Feeds `bytes` in pieces of `step` (0: all at once); returns the events.
std::vector<Seen> run(WsReader& r, std::string bytes, std::size_t step = 0) {
    std::vector<Seen> seen;
    auto on = [&](const WsEvent& e) {
        seen.push_back({e.kind, std::string(e.payload), e.code});
        return true;
    };
    if (step == 0) step = bytes.size() ? bytes.size() : 1;
    for (std::size_t at = 0; at < bytes.size(); at += step) {
        const std::size_t n = std::min(step, bytes.size() - at);
        std::string piece = bytes.substr(at, n);  // the reader writes into it
        r.feed(piece.data(), piece.size(), on);
    }
    return seen;
}

std::uint16_t failure(const std::string& bytes, std::size_t max = 1024) {
    WsReader r(max);
    auto seen = run(r, bytes);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back().kind == WsEvent::Kind::fail);
    CHECK(r.ended());
    return seen.back().code;
}

}  // namespace

TEST_CASE("ws reader: text frames of every length form, whole or byte by byte") {
    for (std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 70000u}) {
        for (std::size_t step : {0u, 1u, 7u, 4096u}) {
            if (step == 1 && n > 2000) continue;  // the long ones in bigger pieces
            CAPTURE(n);
            CAPTURE(step);
            std::string payload(n, 'x');
            if (n) payload.front() = 'a';
            if (n) payload.back() = 'z';
            WsReader r(100000);
            auto seen = run(r, text(payload) + text("next"), step);
            REQUIRE(seen.size() == 2);
            CHECK(seen[0].kind == WsEvent::Kind::text);
            CHECK(seen[0].payload == payload);
            CHECK(seen[1].payload == "next");
            CHECK_FALSE(r.ended());
        }
    }
}

TEST_CASE("ws reader: a fragmented message with a ping between its fragments") {
    WsReader r(1024);
    auto seen = run(r,
                    text("Hel", false) + client_frame(0x89, "are you there?") +
                        continuation("lo, ", false) + continuation("world", true),
                    3);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].kind == WsEvent::Kind::ping);
    CHECK(seen[0].payload == "are you there?");
    CHECK(seen[1].kind == WsEvent::Kind::text);
    CHECK(seen[1].payload == "Hello, world");
}

TEST_CASE("ws reader: UTF-8 is checked over the whole message") {
    const std::string devanagari = "\xE0\xA4\xA8\xE0\xA4\xAE";  // नम
    WsReader r(1024);
    // The first character split between two fragments is fine.
    auto seen =
        run(r, text(devanagari.substr(0, 2), false) + continuation(devanagari.substr(2), true));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].payload == devanagari);
    CHECK(failure(text("bad \xC3\x28 byte")) == 1007);
    CHECK(failure(text("\xE0\xA4", false) + continuation("!", true)) == 1007);
}

TEST_CASE("ws reader: binary, pong and close events") {
    WsReader r(1024);
    auto seen = run(r, client_frame(0x82, std::string("\x00\xFF", 2)) + client_frame(0x8A, "p") +
                           close_frame(code(1000) + "bye"));
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].kind == WsEvent::Kind::binary);
    CHECK(seen[0].payload == std::string("\x00\xFF", 2));
    CHECK(seen[1].kind == WsEvent::Kind::pong);
    CHECK(seen[2].kind == WsEvent::Kind::close);
    CHECK(seen[2].code == 1000);
    CHECK(r.ended());
    // Nothing after a close.
    std::string more = text("late");
    int after = 0;
    CHECK(r.feed(more.data(), more.size(), [&](const WsEvent&) { return ++after > 0; }) ==
          WsReader::Progress::ended);
    CHECK(after == 0);

    WsReader empty(1024);
    auto s2 = run(empty, close_frame(""));
    REQUIRE(s2.size() == 1);
    CHECK(s2[0].code == 0);
}

TEST_CASE("ws reader: protocol violations fail with 1002") {
    CHECK(failure(client_frame(0x81, "unmasked", false)) == 1002);
    CHECK(failure(client_frame(0xC1, "rsv1 set")) == 1002);
    CHECK(failure(client_frame(0x83, "opcode 3")) == 1002);
    CHECK(failure(client_frame(0x8B, "opcode 11")) == 1002);
    CHECK(failure(client_frame(0x89, std::string(126, 'p'))) == 1002);  // control over 125
    CHECK(failure(client_frame(0x09, "fragmented ping")) == 1002);
    CHECK(failure(continuation("no start", true)) == 1002);
    CHECK(failure(text("one", false) + text("two")) == 1002);
    CHECK(failure(close_frame("x")) == 1002);
    CHECK(failure(close_frame(code(1005))) == 1002);  // never sent on the wire
    CHECK(failure(close_frame(code(999))) == 1002);
    CHECK(failure(close_frame(code(5000))) == 1002);
    CHECK(failure(close_frame(code(1000) + "\xFF")) == 1007);
}

TEST_CASE("ws reader: a message over the limit fails with 1009 before its payload") {
    // Only the header of a 2 MB frame: refused at once, nothing buffered.
    const std::string big = text(std::string(2'000'000, 'b'));
    CHECK(failure(big.substr(0, 14), 65536) == 1009);
    CHECK(failure(text(std::string(600, 'a'), false) + continuation(std::string(600, 'b'), true),
                  1000) == 1009);
    WsReader r(1000);
    auto seen = run(r, text(std::string(1000, 'a')));  // exactly the limit is fine
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].payload.size() == 1000);
}

TEST_CASE("ws reader: the handler stops after an event; the rest waits in the reader") {
    WsReader r(1024);
    std::string bytes = text("one") + client_frame(0x89, "p") + text("two") + text("thr", false);
    std::vector<std::string> seen;
    auto one_at_a_time = [&](const WsEvent& e) {
        seen.emplace_back(e.payload);
        return e.kind != WsEvent::Kind::text;  // stop after each message
    };
    CHECK(r.feed(bytes.data(), bytes.size(), one_at_a_time) == WsReader::Progress::stopped);
    CHECK(seen == std::vector<std::string>{"one"});
    CHECK(r.feed(nullptr, 0, one_at_a_time) == WsReader::Progress::stopped);
    CHECK(seen == std::vector<std::string>{"one", "p", "two"});
    CHECK(r.feed(nullptr, 0, one_at_a_time) == WsReader::Progress::need_bytes);
    std::string rest = continuation("ee", true);
    CHECK(r.feed(rest.data(), rest.size(), one_at_a_time) == WsReader::Progress::stopped);
    CHECK(seen.back() == "three");
    CHECK(r.feed(nullptr, 0, one_at_a_time) == WsReader::Progress::need_bytes);
}
