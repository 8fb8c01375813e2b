// Per-language word lists and stemmers behind TextAnalyzer. Internal to the
// bot: the lists are written in natural spelling and the analyzer runs them
// through its own pipeline once, so both sides of a match agree.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/bot/language.hpp"
#include "core/bot/text.hpp"

namespace sb::core::bot::lexicon {

struct Synonym {
    std::string_view from;  // a word as visitors write it
    std::string_view to;    // the word it should match as
};

std::span<const std::string_view> stop_words(Language lang);
std::span<const Synonym> synonyms(Language lang);
// Two-word expressions ("send back") read as one word ("return").
std::span<const Synonym> phrases(Language lang);
// Country and region names; all of them match as `canonical`.
std::span<const std::string_view> countries(Language lang, std::string_view& canonical);

// Loose forms, in place. ASCII-folds Turkish letters: ç ğ ı ö ş ü â î û → c g i o s u a i u.
void fold_turkish_letters(std::string& word);
// Drops nukta, ZWJ/ZWNJ; candrabindu → anusvara; ऑ ॉ → आ ा; with loose_vowels
// also long ī/ū → short i/u.
void loosen_hindi(std::string& word, bool loose_vowels);

void stem_english(std::string& word);
void stem_turkish(std::string& word, TurkishStemming how, std::size_t prefix);
void stem_hindi(std::string& word, bool loose_vowels);

bool is_ascii(std::string_view s);
std::size_t code_points(std::string_view s);

}  // namespace sb::core::bot::lexicon
