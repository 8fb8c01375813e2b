#include "core/bot/language.hpp"

#include <unicode/utf8.h>

namespace sb::core::bot {

std::string_view to_string(Language l) {
    switch (l) {
        case Language::en:
            return "en";
        case Language::hi:
            return "hi";
        case Language::tr:
            return "tr";
    }
    return "en";
}

std::optional<Language> parse_language(std::string_view code) {
    const auto cut = code.find_first_of("-_");
    const auto primary = code.substr(0, cut);
    if (primary.size() != 2) return std::nullopt;
    const auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
    const char a = lower(primary[0]), b = lower(primary[1]);
    if (a == 'e' && b == 'n') return Language::en;
    if (a == 'h' && b == 'i') return Language::hi;
    if (a == 't' && b == 'r') return Language::tr;
    return std::nullopt;
}

namespace {

bool is_devanagari(UChar32 c) {
    return (c >= 0x0900 && c <= 0x097F) || (c >= 0xA8E0 && c <= 0xA8FF);
}

bool is_turkish_only(UChar32 c) {
    switch (c) {
        case 0x00E7:
        case 0x00C7:  // ç Ç
        case 0x011F:
        case 0x011E:  // ğ Ğ
        case 0x0131:
        case 0x0130:  // ı İ
        case 0x00F6:
        case 0x00D6:  // ö Ö
        case 0x015F:
        case 0x015E:  // ş Ş
        case 0x00FC:
        case 0x00DC:  // ü Ü
            return true;
        default:
            return false;
    }
}

}  // namespace

ScriptGuess detect_language(std::string_view text, std::string_view locale_hint) {
    bool turkish = false;
    const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
    const auto n = static_cast<std::int32_t>(text.size());
    for (std::int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(s, i, n, c);
        if (c < 0x80) continue;
        if (is_devanagari(c)) return {Language::hi, true};
        if (is_turkish_only(c)) turkish = true;
    }
    if (turkish) return {Language::tr, true};
    const auto hint = parse_language(locale_hint);
    if (hint == Language::tr) return {Language::tr, false};
    return {Language::en, false};
}

}  // namespace sb::core::bot
