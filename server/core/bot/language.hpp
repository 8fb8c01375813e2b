// The languages the bot speaks, and which one a visitor's message is in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sb::core::bot {

enum class Language : std::uint8_t { en, hi, tr };

inline constexpr std::size_t kLanguageCount = 3;
inline constexpr std::array<Language, kLanguageCount> kLanguages{Language::en, Language::hi,
                                                                 Language::tr};

inline constexpr std::size_t index_of(Language l) {
    return static_cast<std::size_t>(l);
}

std::string_view to_string(Language l);

// "en", "hi", "tr", or a locale such as "tr-TR", "hi_IN", "EN-us": the primary
// subtag decides. Anything else is nullopt.
std::optional<Language> parse_language(std::string_view code);

// What the script of a message says about its language.
struct ScriptGuess {
    Language language = Language::en;
    // true when the letters decided (Devanagari → hi, a Turkish-only letter → tr);
    // false when the text is plain Latin (or has no letters) and the hint decided.
    bool from_script = false;
};

// Devanagari anywhere → hi. Otherwise a letter only Turkish uses among our
// languages (ç ğ ı İ ö ş ü, either case) → tr. Otherwise the locale hint if it
// is en or tr, else en. A hint of hi with Latin text gives {en, false}: the
// caller may also try hi (romanised Hindi), see Matcher::match.
ScriptGuess detect_language(std::string_view text, std::string_view locale_hint);

}  // namespace sb::core::bot
