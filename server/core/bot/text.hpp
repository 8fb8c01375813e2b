// Text handling for the bot, on ICU: NFKC, locale-aware case folding, word
// segmentation, then per-language matching keys (stop words, stemming,
// synonyms). Not thread-safe: it owns an ICU BreakIterator (the core is
// single-threaded; give each thread its own analyzer if that ever changes).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bot/language.hpp"

namespace sb::core::bot {

// How Turkish words are reduced to a matching key (measured in docs/BOT.md).
enum class TurkishStemming {
    none,             // diacritic-folded surface form
    suffixes,         // strip case, possessive, plural and common verb suffixes
    prefix,           // first turkish_prefix letters (the "F5" truncation of Turkish IR)
    suffixes_prefix,  // both: strip, then truncate
};

struct AnalyzerOptions {
    TurkishStemming turkish = TurkishStemming::suffixes_prefix;
    std::size_t turkish_prefix = 5;
    bool english_stemming = true;  // light suffix stripping (plural, -ing, -ed, -ly, final e)
    bool hindi_stemming = true;    // light inflection stripping (Ramanathan & Rao)
    bool hindi_loose_vowels = true;  // ी→ि ू→ु ई→इ ऊ→उ: the commonest Hindi spelling slips
    bool synonyms = true;  // loanwords, romanised Hindi, irregular verbs, domain synonyms
};

// One matching key of a message.
struct Term {
    std::string text;
    bool numeric = false;  // ICU classed the word as a number ("48213")
};

class TextAnalyzer {
  public:
    explicit TextAnalyzer(AnalyzerOptions options = {});
    ~TextAnalyzer();
    TextAnalyzer(TextAnalyzer&&) noexcept;
    TextAnalyzer& operator=(TextAnalyzer&&) noexcept;

    const AnalyzerOptions& options() const;

    // NFKC. Ill-formed UTF-8 becomes U+FFFD.
    std::string normalize(std::string_view text) const;
    // NFKC, then case folding: Turkish folding for tr (İ→i, I→ı), default otherwise.
    std::string fold_case(std::string_view text, Language lang) const;
    // fold_case, then ICU word segmentation; punctuation, spaces, symbols and
    // emoji are dropped. Combining marks stay inside their words.
    std::vector<std::string> words(std::string_view text, Language lang) const;
    // words, then the per-language loose form used for matching, before stop
    // words and stemming: tr drops diacritics (ş→s, ı→i, …) and apostrophe
    // suffixes (Almanya'ya → almanya); hi drops nukta and zero-width joiners and
    // unifies candrabindu/anusvara; en splits n't into "not" and drops 's.
    std::vector<std::string> keys(std::string_view text, Language lang) const;
    // keys, minus stop words, stemmed, synonyms applied: what the matcher indexes.
    std::vector<Term> terms(std::string_view text, Language lang) const;
    // Same into out (cleared first); returns how many words the text had, so a
    // caller can tell "only stop words" (words > 0, no terms) from "no words".
    std::size_t terms(std::string_view text, Language lang, std::vector<Term>& out) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::core::bot
