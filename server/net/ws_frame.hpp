// The server's side of WebSocket frames (RFC 6455, 5.2): final, unmasked (a
// server never masks), appended to a buffer. The server writes its own
// frames so that every frame queued for a socket in one loop turn leaves in
// one write (see gather_socket.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::net {

namespace ws_opcode {
inline constexpr std::uint8_t continuation = 0x0;
inline constexpr std::uint8_t text = 0x1;
inline constexpr std::uint8_t binary = 0x2;
inline constexpr std::uint8_t close = 0x8;
inline constexpr std::uint8_t ping = 0x9;
inline constexpr std::uint8_t pong = 0xA;
}  // namespace ws_opcode

// Appends FIN + `opcode`, the payload length in its shortest form (7 bits,
// or 126 + 16 bits, or 127 + 64 bits, network order), and the payload.
inline void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload) {
    const std::uint64_t n = payload.size();
    out.push_back(static_cast<char>(0x80 | opcode));
    if (n < 126) {
        out.push_back(static_cast<char>(n));
    } else if (n <= 0xFFFF) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>((n >> 8) & 0xFF));
        out.push_back(static_cast<char>(n & 0xFF));
    } else {
        out.push_back(static_cast<char>(127));
        for (int shift = 56; shift >= 0; shift -= 8) {
            out.push_back(static_cast<char>((n >> shift) & 0xFF));
        }
    }
    out.append(payload);
}

// A close frame with a status code (network order) and no reason; code 0
// sends an empty close frame (the peer's close carried no code).
inline void append_close_frame(std::string& out, std::uint16_t code) {
    if (code == 0) return append_frame(out, ws_opcode::close, {});
    const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    append_frame(out, ws_opcode::close, std::string_view(body, 2));
}

// The size append_frame adds for a payload of `n` bytes.
constexpr std::size_t frame_size(std::size_t n) {
    return n + (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10);
}

}  // namespace sb::net
