// The server's side of a WebSocket data frame (RFC 6455, 5.2): one final
// text frame, unmasked (a server never masks), appended to a buffer. The
// server writes its own text frames so that every frame queued for a
// socket in one loop turn leaves in one write (see gather_socket.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::net {

// Appends FIN + text opcode, the payload length in its shortest form
// (7 bits, or 126 + 16 bits, or 127 + 64 bits, network order), and the
// payload.
inline void append_text_frame(std::string& out, std::string_view payload) {
    const std::uint64_t n = payload.size();
    out.push_back(static_cast<char>(0x81));
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

// The size append_text_frame adds for a payload of `n` bytes.
constexpr std::size_t text_frame_size(std::size_t n) {
    return n + (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10);
}

}  // namespace sb::net
