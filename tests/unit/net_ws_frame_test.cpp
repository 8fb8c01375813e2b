// The server's own WebSocket text frames (server/net/ws_frame.hpp), checked
// byte by byte against RFC 6455 5.2 at each length form's edges.
#include <doctest/doctest.h>

#include <string>

#include "net/ws_frame.hpp"

using sb::net::append_frame;
using sb::net::frame_size;
namespace ws_opcode = sb::net::ws_opcode;

namespace {

// The header a peer would read: FIN/opcode byte, then the length.
struct Header {
    unsigned first = 0;
    bool masked = false;
    std::uint64_t length = 0;
    std::size_t size = 0;
};

Header parse(const std::string& f) {
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(f.at(i)); };
    Header h;
    h.first = at(0);
    h.masked = (at(1) & 0x80) != 0;
    const unsigned len7 = at(1) & 0x7F;
    if (len7 < 126) {
        h.length = len7;
        h.size = 2;
    } else if (len7 == 126) {
        h.length = (std::uint64_t{at(2)} << 8) | at(3);
        h.size = 4;
    } else {
        for (std::size_t i = 0; i < 8; ++i) h.length = (h.length << 8) | at(2 + i);
        h.size = 10;
    }
    return h;
}

}  // namespace

TEST_CASE("a text frame uses the shortest length form, unmasked, final") {
    for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
        CAPTURE(n);
        std::string payload(n, 'a');
        if (n) payload.back() = 'z';
        std::string out = "before";
        append_frame(out, ws_opcode::text, payload);
        const std::string frame = out.substr(6);
        REQUIRE(out.substr(0, 6) == "before");  // appended, not overwritten
        const Header h = parse(frame);
        CHECK(h.first == 0x81);  // FIN + text
        CHECK_FALSE(h.masked);
        CHECK(h.length == n);
        CHECK(h.size == (n < 126 ? 2u : n <= 65535 ? 4u : 10u));
        CHECK(frame.size() == frame_size(n));
        CHECK(frame.substr(h.size) == payload);
    }
}

TEST_CASE("frames appended one after another stay separable") {
    std::string out;
    append_frame(out, ws_opcode::text, "{\"type\":\"ack\"}");
    append_frame(out, ws_opcode::text, std::string(300, 'm'));
    const Header first = parse(out);
    REQUIRE(first.length == 14);
    const std::string rest = out.substr(first.size + first.length);
    const Header second = parse(rest);
    CHECK(second.length == 300);
    CHECK(rest.size() == second.size + 300);
}
