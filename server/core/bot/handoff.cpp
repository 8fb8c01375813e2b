#include "core/bot/handoff.hpp"

#include <span>

#include "core/bot/lexicon.hpp"

namespace sb::core::bot {

namespace {

// Words in order; up to kMaxGap other words may sit between two of them
// ("talk to a real person"). A trailing * matches any word it begins, for
// Turkish suffixes: temsilci* matches temsilciyle, temsilcisine.
constexpr std::size_t kMaxGap = 2;

// clang-format off
constexpr std::string_view kPhrases[] = {
    // en
    "human", "humans", "agent", "agents", "live agent", "representative", "operator", "real person",
    "live person", "talk person", "speak person", "chat person", "talk someone", "speak someone",
    "talk somebody", "speak somebody", "customer care executive", "staff member",
    // hi (Devanagari and romanised)
    "इंसान", "इन्सान", "एजेंट", "एजेंट्स", "असली व्यक्ति", "व्यक्ति से बात", "किसी से बात",
    "आदमी से बात", "कस्टमर केयर से बात", "ग्राहक सेवा से बात", "प्रतिनिधि", "एग्जीक्यूटिव",
    "एक्जीक्यूटिव", "insaan", "insan se baat", "kisi se baat", "customer care se baat",
    // tr
    "insan*", "temsilci*", "operatör*", "canlı destek", "yetkili*", "gerçek kişi*",
    "biriyle görüş*", "biriyle konuş*", "çalışan*", "müşteri hizmetlerine bağla*",
};
// clang-format on

// Diacritic-free on both sides, so "canli destek" typed under an English
// locale still matches "canlı destek".
void loosen(std::string& w) {
    lexicon::fold_turkish_letters(w);
}

}  // namespace

HandoffDetector::HandoffDetector(const TextAnalyzer& analyzer) : analyzer_(&analyzer) {
    for (const auto lang : kLanguages) {
        auto& out = phrases_[index_of(lang)];
        for (const auto text : kPhrases) {
            Phrase p;
            std::size_t start = 0;
            while (start < text.size()) {
                auto end = text.find(' ', start);
                if (end == std::string_view::npos) end = text.size();
                auto word = text.substr(start, end - start);
                start = end + 1;
                const bool prefix = !word.empty() && word.back() == '*';
                if (prefix) word.remove_suffix(1);
                auto keys = analyzer.keys(word, lang);
                if (keys.size() != 1) continue;
                loosen(keys[0]);
                p.words.push_back(std::move(keys[0]));
                p.prefix.push_back(prefix);
            }
            if (!p.words.empty()) out.push_back(std::move(p));
        }
    }
}

bool HandoffDetector::asks_for_person(std::string_view text, Language lang) const {
    auto words = analyzer_->keys(text, lang);
    for (auto& w : words) loosen(w);
    const auto matches = [](const std::string& word, const std::string& want, bool prefix) {
        return prefix ? word.compare(0, want.size(), want) == 0 : word == want;
    };
    for (const auto& p : phrases_[index_of(lang)]) {
        for (std::size_t start = 0; start < words.size(); ++start) {
            if (!matches(words[start], p.words[0], p.prefix[0])) continue;
            // Greedy: each next phrase word within kMaxGap words of the previous one.
            std::size_t at = start, k = 1;
            while (k < p.words.size()) {
                bool found = false;
                for (std::size_t j = at + 1; j < words.size() && j <= at + 1 + kMaxGap; ++j) {
                    if (matches(words[j], p.words[k], p.prefix[k])) {
                        at = j;
                        found = true;
                        break;
                    }
                }
                if (!found) break;
                ++k;
            }
            if (k == p.words.size()) return true;
        }
    }
    return false;
}

}  // namespace sb::core::bot
