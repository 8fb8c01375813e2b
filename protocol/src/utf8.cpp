#include <cstring>

#include "switchboard/protocol.hpp"
#include "utf8.hpp"

namespace sb::proto {

bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        // Most chat text is ASCII: skip it eight bytes at a time.
        while (i + 8 <= s.size()) {
            std::uint64_t chunk;
            std::memcpy(&chunk, s.data() + i, sizeof chunk);
            if (chunk & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= s.size()) break;
        const auto step = detail::utf8_step(s, i);
        if (!step.ok) return false;
        i += step.length;
    }
    return true;
}

bool is_valid_id(std::string_view s, std::size_t max_bytes) noexcept {
    if (s.empty() || s.size() > max_bytes) return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool is_plausible_email(std::string_view s) noexcept {
    const auto at = s.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
    if (s.find('@', at + 1) != std::string_view::npos) return false;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7F) return false;  // spaces and control characters
    }
    return true;
}

}  // namespace sb::proto
