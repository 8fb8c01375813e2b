// Strict UTF-8 decoding steps shared by the validator and the JSON writer.
// Private to the protocol library.
#pragma once

#include <cstddef>
#include <string_view>

namespace sb::proto::detail {

struct Utf8Step {
    std::size_t length;  // bytes consumed: a whole code point, or the maximal ill-formed subpart
    bool ok;             // false: replace those bytes with one U+FFFD
};

// One step over s[i..] (i < s.size()), following Unicode's table of
// well-formed byte sequences (Table 3-7). An ill-formed sequence consumes its
// maximal subpart, the "U+FFFD substitution of maximal subparts" practice,
// which is also what nlohmann/json's replacing dump does.
inline Utf8Step utf8_step(std::string_view s, std::size_t i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {1, true};
    std::size_t need;                    // continuation bytes after the lead
    unsigned char lo = 0x80, hi = 0xBF;  // range of the first continuation byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;  // no overlongs
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;  // no overlongs
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return {1, false};  // stray continuation, C0/C1 overlong lead, F5..FF
    }
    std::size_t got = 0;
    while (got < need && i + 1 + got < s.size()) {
        const auto b = static_cast<unsigned char>(s[i + 1 + got]);
        const unsigned char min = got == 0 ? lo : 0x80;
        const unsigned char max = got == 0 ? hi : 0xBF;
        if (b < min || b > max) break;
        ++got;
    }
    return {1 + got, got == need};
}

}  // namespace sb::proto::detail
