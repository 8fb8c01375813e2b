#include "core/bot/text.hpp"

#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/ubrk.h>
#include <unicode/unistr.h>

#include <array>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "core/bot/lexicon.hpp"

namespace sb::core::bot {

namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
using StringMap = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;

struct RawWord {
    std::string text;
    bool numeric = false;
};

struct Lexicon {
    StringSet stop;
    StringMap synonyms;
    StringMap phrases;  // "first\x1Fsecond" (key forms) → term
};

constexpr char kPhraseSep = '\x1F';

}  // namespace

struct TextAnalyzer::Impl {
    AnalyzerOptions options;
    const icu::Normalizer2* nfkc = nullptr;
    std::unique_ptr<icu::BreakIterator> breaker;
    const icu::UnicodeString empty;
    std::array<Lexicon, kLanguageCount> lexicons;

    explicit Impl(AnalyzerOptions o) : options(o) {
        UErrorCode status = U_ZERO_ERROR;
        nfkc = icu::Normalizer2::getNFKCInstance(status);
        if (U_FAILURE(status)) throw std::runtime_error("ICU: no NFKC data");
        // Root word rules: the same for en/hi/tr, and keep matras, virama and
        // nukta inside Devanagari words (they are Extend characters, UAX #29).
        breaker.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
        if (U_FAILURE(status) || !breaker) throw std::runtime_error("ICU: no word break data");
        for (const auto lang : kLanguages) build_lexicon(lang);
    }

    icu::UnicodeString folded(std::string_view text, Language lang) const {
        auto u = icu::UnicodeString::fromUTF8(
            icu::StringPiece(text.data(), static_cast<std::int32_t>(text.size())));
        // Typographic apostrophes act like ASCII ones inside words (don’t, Almanya’ya).
        u.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x2019)),
                         icu::UnicodeString(u'\''));
        u.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x02BC)),
                         icu::UnicodeString(u'\''));
        UErrorCode status = U_ZERO_ERROR;
        auto n = nfkc->normalize(u, status);
        if (U_FAILURE(status)) return u;
        n.foldCase(lang == Language::tr ? U_FOLD_CASE_EXCLUDE_SPECIAL_I : U_FOLD_CASE_DEFAULT);
        // Folding can un-normalise a few characters (ǰ → j + caron).
        if (nfkc->quickCheck(n, status) != UNORM_YES) {
            status = U_ZERO_ERROR;
            auto again = nfkc->normalize(n, status);
            if (U_SUCCESS(status)) n = std::move(again);
        }
        return n;
    }

    void segment(std::string_view text, Language lang, std::vector<RawWord>& out) const {
        const auto u = folded(text, lang);
        breaker->setText(u);
        std::int32_t start = breaker->first();
        for (std::int32_t end = breaker->next(); end != icu::BreakIterator::DONE;
             start = end, end = breaker->next()) {
            const std::int32_t status = breaker->getRuleStatus();
            // UBRK_WORD_NONE covers spaces, punctuation, symbols and emoji.
            if (status < UBRK_WORD_NONE_LIMIT) continue;
            RawWord w;
            w.numeric = status < UBRK_WORD_NUMBER_LIMIT;
            u.tempSubStringBetween(start, end).toUTF8String(w.text);
            out.push_back(std::move(w));
        }
        // The iterator aliases the text it was given: don't leave it pointing into u.
        breaker->setText(empty);
    }

    // The loose per-language form(s) of one word; may add 0, 1 or 2 keys.
    void key_forms(RawWord&& w, Language lang, std::vector<RawWord>& out) const {
        std::string& s = w.text;
        const auto apos = s.find('\'');
        if (apos != std::string::npos) {
            if (lang != Language::tr && lexicon::is_ascii(s) && s.size() > 3 &&
                s.compare(s.size() - 3, 3, "n't") == 0) {
                std::string base = s.substr(0, s.size() - 3);
                if (base == "ca") base = "can";
                if (base == "wo") base = "will";
                if (base == "sha") base = "shall";
                if (!base.empty() && base.find('\'') == std::string::npos) {
                    out.push_back({std::move(base), false});
                }
                out.push_back({"not", false});
                return;
            }
            // where's → where; Almanya'ya → almanya; TL'dir → tl
            s.resize(apos);
            if (s.empty()) return;
        }
        if (lang == Language::tr) lexicon::fold_turkish_letters(s);
        if (lang == Language::hi) lexicon::loosen_hindi(s, options.hindi_loose_vowels);
        if (!s.empty()) out.push_back(std::move(w));
    }

    void keys(std::string_view text, Language lang, std::vector<RawWord>& out) const {
        std::vector<RawWord> words;
        segment(text, lang, words);
        for (auto& w : words) key_forms(std::move(w), lang, out);
    }

    void stem(std::string& s, Language lang) const {
        const bool ascii = lexicon::is_ascii(s);
        switch (lang) {
            case Language::en:
                if (options.english_stemming) lexicon::stem_english(s);
                break;
            case Language::hi:
                if (ascii) {
                    if (options.english_stemming) lexicon::stem_english(s);
                } else if (options.hindi_stemming) {
                    lexicon::stem_hindi(s, options.hindi_loose_vowels);
                }
                break;
            case Language::tr:
                lexicon::stem_turkish(s, options.turkish, options.turkish_prefix);
                break;
        }
    }

    bool is_stop(const RawWord& k, Language lang) const {
        // Lone Latin letters ("i", "u", "M") say nothing; digits may (order numbers).
        if (!k.numeric && k.text.size() == 1 && lexicon::is_ascii(k.text)) return true;
        return lexicons[index_of(lang)].stop.contains(k.text);
    }

    void to_terms(std::vector<RawWord>&& raw, Language lang, std::vector<Term>& out) const {
        const auto& lex = lexicons[index_of(lang)];
        std::vector<bool> stop(raw.size()), used(raw.size(), false);
        for (std::size_t i = 0; i < raw.size(); ++i) {
            stop[i] = is_stop(raw[i], lang);
            if (!raw[i].numeric) stem(raw[i].text, lang);
        }
        std::string pair;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (used[i]) continue;
            // A phrase may have one word inside it: "send it back", "how many days".
            bool joined = false;
            for (std::size_t j = i + 1; !lex.phrases.empty() && j < raw.size() && j <= i + 2; ++j) {
                pair.assign(raw[i].text).append(1, kPhraseSep).append(raw[j].text);
                if (const auto it = lex.phrases.find(pair); it != lex.phrases.end()) {
                    out.push_back({it->second, false});
                    used[j] = true;
                    joined = true;
                    break;
                }
            }
            if (joined || stop[i] || raw[i].text.empty()) continue;
            if (!raw[i].numeric && options.synonyms) {
                if (const auto it = lex.synonyms.find(raw[i].text); it != lex.synonyms.end()) {
                    raw[i].text = it->second;
                }
            }
            out.push_back({std::move(raw[i].text), raw[i].numeric});
        }
    }

    void build_lexicon(Language lang) {
        auto& lex = lexicons[index_of(lang)];
        std::vector<RawWord> ks;
        for (const auto w : lexicon::stop_words(lang)) {
            ks.clear();
            keys(w, lang, ks);
            for (auto& k : ks) lex.stop.insert(std::move(k.text));
        }
        if (!options.synonyms) return;
        const auto add = [&](std::string_view from_word, std::string_view to_word) {
            ks.clear();
            keys(from_word, lang, ks);
            if (ks.size() != 1) return;
            std::string from = std::move(ks[0].text);
            stem(from, lang);
            ks.clear();
            keys(to_word, lang, ks);
            if (ks.size() != 1) return;
            std::string to = std::move(ks[0].text);
            stem(to, lang);
            if (from != to) lex.synonyms.emplace(std::move(from), std::move(to));
        };
        for (const auto& syn : lexicon::synonyms(lang)) add(syn.from, syn.to);
        for (const auto& ph : lexicon::phrases(lang)) {
            ks.clear();
            keys(ph.from, lang, ks);
            if (ks.size() != 2) continue;
            stem(ks[0].text, lang);
            stem(ks[1].text, lang);
            std::string from = ks[0].text + kPhraseSep + ks[1].text;
            ks.clear();
            keys(ph.to, lang, ks);
            if (ks.size() != 1) continue;
            std::string to = std::move(ks[0].text);
            stem(to, lang);
            lex.phrases.emplace(std::move(from), std::move(to));
        }
        std::string_view country;
        for (const auto name : lexicon::countries(lang, country)) add(name, country);
        // Follow chains (शिपिंग → ship → deliver) so every form lands on the last word.
        const auto resolve = [&](const std::string& from, std::string& to) {
            for (int hop = 0; hop < 4; ++hop) {
                const auto next = lex.synonyms.find(to);
                if (next == lex.synonyms.end() || next->second == from) break;
                to = next->second;
            }
        };
        for (auto& [from, to] : lex.synonyms) resolve(from, to);
        for (auto& [from, to] : lex.phrases) resolve(from, to);
    }
};

TextAnalyzer::TextAnalyzer(AnalyzerOptions options) : impl_(std::make_unique<Impl>(options)) {}
TextAnalyzer::~TextAnalyzer() = default;
TextAnalyzer::TextAnalyzer(TextAnalyzer&&) noexcept = default;
TextAnalyzer& TextAnalyzer::operator=(TextAnalyzer&&) noexcept = default;

const AnalyzerOptions& TextAnalyzer::options() const {
    return impl_->options;
}

std::string TextAnalyzer::normalize(std::string_view text) const {
    auto u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(text.data(), static_cast<std::int32_t>(text.size())));
    UErrorCode status = U_ZERO_ERROR;
    const auto n = impl_->nfkc->normalize(u, status);
    std::string out;
    (U_SUCCESS(status) ? n : u).toUTF8String(out);
    return out;
}

std::string TextAnalyzer::fold_case(std::string_view text, Language lang) const {
    std::string out;
    impl_->folded(text, lang).toUTF8String(out);
    return out;
}

std::vector<std::string> TextAnalyzer::words(std::string_view text, Language lang) const {
    std::vector<RawWord> raw;
    impl_->segment(text, lang, raw);
    std::vector<std::string> out;
    out.reserve(raw.size());
    for (auto& w : raw) out.push_back(std::move(w.text));
    return out;
}

std::vector<std::string> TextAnalyzer::keys(std::string_view text, Language lang) const {
    std::vector<RawWord> raw;
    impl_->keys(text, lang, raw);
    std::vector<std::string> out;
    out.reserve(raw.size());
    for (auto& w : raw) out.push_back(std::move(w.text));
    return out;
}

std::vector<Term> TextAnalyzer::terms(std::string_view text, Language lang) const {
    std::vector<Term> out;
    terms(text, lang, out);
    return out;
}

std::size_t TextAnalyzer::terms(std::string_view text, Language lang,
                                std::vector<Term>& out) const {
    out.clear();
    std::vector<RawWord> raw;
    impl_->keys(text, lang, raw);
    const std::size_t words = raw.size();
    impl_->to_terms(std::move(raw), lang, out);
    return words;
}

}  // namespace sb::core::bot
