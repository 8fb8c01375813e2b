#include "core/bot/matcher.hpp"

#include <unicode/utf8.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace sb::core::bot {

std::string_view cap_input(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    std::size_t end = max_bytes;
    // Back off continuation bytes so the cut lands on a code point boundary.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end);
}

namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

std::u32string decode(std::string_view s) {
    std::u32string out;
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto n = static_cast<std::int32_t>(s.size());
    for (std::int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(p, i, n, c);
        out.push_back(static_cast<char32_t>(c < 0 ? 0xFFFD : c));
    }
    return out;
}

// Every string made by deleting one code point.
void deletions(std::string_view s, std::vector<std::string>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        std::string d;
        d.reserve(s.size() - len);
        d.append(s.substr(0, i)).append(s.substr(std::min(s.size(), i + len)));
        out.push_back(std::move(d));
        i += len;
    }
}

// Optimal string alignment distance, capped: returns > 1 as soon as it is.
bool within_one_edit(const std::u32string& a, const std::u32string& b) {
    const std::size_t n = a.size(), m = b.size();
    if (n > m + 1 || m > n + 1) return false;
    std::size_t i = 0;
    while (i < n && i < m && a[i] == b[i]) ++i;
    if (i == n && i == m) return true;  // equal
    // Skip the common suffix after the first difference, then compare what is left.
    const auto tail_equal = [&](std::size_t ai, std::size_t bi) {
        return n - ai == m - bi && std::equal(a.begin() + static_cast<std::ptrdiff_t>(ai), a.end(),
                                              b.begin() + static_cast<std::ptrdiff_t>(bi));
    };
    if (n == m) {
        if (tail_equal(i + 1, i + 1)) return true;  // substitution
        return i + 1 < n && a[i] == b[i + 1] && a[i + 1] == b[i] && tail_equal(i + 2, i + 2);
    }
    return n > m ? tail_equal(i + 1, i) : tail_equal(i, i + 1);  // deletion / insertion
}

struct Posting {
    std::uint32_t variant;
    std::uint16_t tf;
};

constexpr std::size_t kMinFuzzyCodePoints = 4;

}  // namespace

// One language's inverted index over question variants, in flat arrays.
struct LanguageIndex {
    StringMap<std::uint32_t> vocab;
    std::vector<std::u32string> term_chars;  // for the edit-distance check
    std::vector<double> idf;
    // Term t's variant postings: [post_begin[t], post_begin[t+1]).
    std::vector<std::uint32_t> post_begin;
    std::vector<Posting> postings;
    // Term t's entries (all variants pooled): [entry_begin[t], entry_begin[t+1]).
    std::vector<std::uint32_t> entry_begin;
    std::vector<std::uint32_t> entry_postings;
    std::vector<std::uint32_t> variant_entry;
    std::vector<double> variant_len;     // terms, counting repeats
    std::vector<double> variant_weight;  // sum of idf over distinct terms
    double avg_len = 1;
    double unknown_idf = 0;  // idf of a word no entry uses
    std::size_t entries = 0;
    StringMap<std::vector<std::uint32_t>> deletes;  // one-deletion form → terms

    // Scratch for one query.
    mutable std::vector<double> score, overlap, pooled;
    mutable std::vector<std::uint32_t> touched;
    mutable std::vector<std::int32_t> entry_best;  // variant index, -1 = none
};

struct Matcher::Impl {
    MatcherOptions options;
    TextAnalyzer analyzer;
    std::array<LanguageIndex, kLanguageCount> index;
    std::vector<std::string> unmatchable;

    Impl(const KnowledgeBase& kb, MatcherOptions o) : options(o), analyzer(o.analyzer) {
        for (const auto lang : kLanguages) build(kb, lang);
    }

    void build(const KnowledgeBase& kb, Language lang) {
        LanguageIndex& ix = index[index_of(lang)];
        const auto& entries = kb.entries(lang);
        ix.entries = entries.size();
        // Gathered per term first, then flattened.
        std::vector<std::vector<Posting>> lists;
        std::vector<std::vector<std::uint32_t>> entry_lists;
        const auto term_id = [&](const std::string& text) {
            auto [it, fresh] = ix.vocab.emplace(text, static_cast<std::uint32_t>(lists.size()));
            if (fresh) {
                lists.emplace_back();
                entry_lists.emplace_back();
                ix.term_chars.push_back(decode(text));
            }
            return it->second;
        };
        std::vector<Term> terms;
        for (std::uint32_t e = 0; e < entries.size(); ++e) {
            const auto& entry = entries[e];
            for (std::size_t q = 0; q < entry.questions.size(); ++q) {
                analyzer.terms(entry.questions[q], lang, terms);
                if (terms.empty()) {
                    unmatchable.push_back(std::string(to_string(lang)) + ": " + entry.id +
                                          " questions[" + std::to_string(q) + "]");
                    continue;
                }
                const auto v = static_cast<std::uint32_t>(ix.variant_entry.size());
                ix.variant_entry.push_back(e);
                ix.variant_len.push_back(static_cast<double>(terms.size()));
                for (const auto& t : terms) {
                    const auto id = term_id(t.text);
                    auto& list = lists[id];
                    if (!list.empty() && list.back().variant == v) {
                        ++list.back().tf;
                    } else {
                        list.push_back({v, 1});
                    }
                    auto& ents = entry_lists[id];
                    if (ents.empty() || ents.back() != e) ents.push_back(e);
                }
            }
        }
        const std::size_t variants = ix.variant_entry.size();
        const double n = static_cast<double>(options.entry_level_idf ? entries.size() : variants);
        ix.idf.resize(lists.size());
        for (std::size_t t = 0; t < lists.size(); ++t) {
            const double df = static_cast<double>(options.entry_level_idf ? entry_lists[t].size()
                                                                          : lists[t].size());
            ix.idf[t] = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
            ix.post_begin.push_back(static_cast<std::uint32_t>(ix.postings.size()));
            ix.postings.insert(ix.postings.end(), lists[t].begin(), lists[t].end());
            ix.entry_begin.push_back(static_cast<std::uint32_t>(ix.entry_postings.size()));
            ix.entry_postings.insert(ix.entry_postings.end(), entry_lists[t].begin(),
                                     entry_lists[t].end());
        }
        ix.post_begin.push_back(static_cast<std::uint32_t>(ix.postings.size()));
        ix.entry_begin.push_back(static_cast<std::uint32_t>(ix.entry_postings.size()));
        ix.unknown_idf = std::log(1.0 + (n + 0.5) / 0.5);

        ix.variant_weight.assign(variants, 0.0);
        for (std::size_t t = 0; t < lists.size(); ++t) {
            for (const auto& p : lists[t]) ix.variant_weight[p.variant] += ix.idf[t];
        }
        double total = 0;
        for (const double len : ix.variant_len) total += len;
        ix.avg_len = variants ? total / static_cast<double>(variants) : 1.0;

        if (options.fuzzy_weight > 0) {
            std::vector<std::string> dels;
            for (const auto& [term, id] : ix.vocab) {
                if (ix.term_chars[id].size() < kMinFuzzyCodePoints) continue;
                deletions(term, dels);
                for (auto& d : dels) ix.deletes[std::move(d)].push_back(id);
            }
        }
        ix.score.assign(variants, 0.0);
        ix.overlap.assign(variants, 0.0);
        ix.pooled.assign(entries.size(), 0.0);
        ix.entry_best.assign(entries.size(), -1);
    }

    // The known term a typo most likely meant: one edit away, most widely used.
    std::int64_t fuzzy(const LanguageIndex& ix, std::string_view term) const {
        const auto chars = decode(term);
        if (chars.size() < kMinFuzzyCodePoints) return -1;
        std::int64_t best = -1;
        const auto consider = [&](std::uint32_t id) {
            if (!within_one_edit(chars, ix.term_chars[id])) return;
            // Lower idf = used by more entries: the safer reading of a typo.
            if (best < 0 || ix.idf[id] < ix.idf[static_cast<std::size_t>(best)]) best = id;
        };
        if (const auto it = ix.deletes.find(term); it != ix.deletes.end()) {
            for (const auto id : it->second) consider(id);  // the visitor dropped a letter
        }
        std::vector<std::string> dels;
        deletions(term, dels);
        for (const auto& d : dels) {
            if (const auto it = ix.vocab.find(d); it != ix.vocab.end()) consider(it->second);
            if (const auto it = ix.deletes.find(d); it != ix.deletes.end()) {
                for (const auto id : it->second) consider(id);  // swapped or replaced a letter
            }
        }
        return best;
    }

    MatchResult run(std::string_view text, Language lang) const {
        MatchResult r;
        r.language = lang;
        const auto capped = cap_input(text);
        r.truncated = capped.size() < text.size();
        const LanguageIndex& ix = index[index_of(lang)];
        std::vector<Term> terms;
        r.words = analyzer.terms(capped, lang, terms);
        if (ix.variant_entry.empty()) return r;
        // Distinct terms, first occurrences, capped.
        std::vector<std::string_view> seen;
        double query_weight = 0;
        struct Hit {
            std::uint32_t term;
            double weight;  // 1, or fuzzy_weight
        };
        std::vector<Hit> hits;
        for (const auto& t : terms) {
            if (seen.size() >= kMaxQueryTerms) break;
            if (std::find(seen.begin(), seen.end(), t.text) != seen.end()) continue;
            seen.push_back(t.text);
            if (const auto it = ix.vocab.find(t.text); it != ix.vocab.end()) {
                hits.push_back({it->second, 1.0});
                query_weight += ix.idf[it->second];
                continue;
            }
            if (t.numeric) continue;  // order numbers and the like neither help nor hurt
            const auto f = options.fuzzy_weight > 0 ? fuzzy(ix, t.text) : -1;
            if (f >= 0) {
                const auto id = static_cast<std::uint32_t>(f);
                hits.push_back({id, options.fuzzy_weight});
                query_weight += ix.idf[id];
                continue;
            }
            ++r.unknown_terms;
            query_weight += options.unknown_weight * ix.unknown_idf;
        }
        r.terms = seen.size();
        if (hits.empty() || query_weight <= 0) return r;

        std::vector<std::uint32_t> entries_hit;
        const double k1 = options.k1, b = options.b;
        for (const auto& h : hits) {
            const double idf = ix.idf[h.term];
            for (auto p = ix.post_begin[h.term]; p < ix.post_begin[h.term + 1]; ++p) {
                const auto& post = ix.postings[p];
                const auto v = post.variant;
                if (ix.overlap[v] == 0) ix.touched.push_back(v);
                const double tf = post.tf;
                const double norm = k1 * (1 - b + b * ix.variant_len[v] / ix.avg_len);
                ix.score[v] += h.weight * idf * tf * (k1 + 1) / (tf + norm);
                ix.overlap[v] += h.weight * idf;
            }
            for (auto p = ix.entry_begin[h.term]; p < ix.entry_begin[h.term + 1]; ++p) {
                const auto e = ix.entry_postings[p];
                if (ix.pooled[e] == 0) entries_hit.push_back(e);
                ix.pooled[e] += h.weight * idf;
            }
        }

        const double share = options.query_share;
        const auto variant_confidence = [&](std::uint32_t v) {
            const double denom = share * query_weight + (1 - share) * ix.variant_weight[v];
            return denom > 0 ? std::clamp(ix.overlap[v] / denom, 0.0, 1.0) : 0.0;
        };
        const auto key = [&](std::uint32_t v) {
            return options.rank_by_confidence ? variant_confidence(v) : ix.score[v];
        };
        for (const auto v : ix.touched) {
            auto& best = ix.entry_best[ix.variant_entry[v]];
            if (best < 0 || key(v) > key(static_cast<std::uint32_t>(best))) {
                best = static_cast<std::int32_t>(v);
            }
        }
        const double vs = options.variant_share;
        r.candidates.reserve(entries_hit.size());
        for (const auto e : entries_hit) {
            const auto best = ix.entry_best[e];
            const double var_conf =
                best < 0 ? 0.0 : variant_confidence(static_cast<std::uint32_t>(best));
            const double bm25 = best < 0 ? 0.0 : ix.score[static_cast<std::size_t>(best)];
            const double pooled = std::clamp(ix.pooled[e] / query_weight, 0.0, 1.0);
            const double conf = std::clamp(vs * var_conf + (1 - vs) * pooled, 0.0, 1.0);
            r.candidates.push_back({{}, e, conf, bm25});
        }
        for (const auto v : ix.touched) ix.score[v] = ix.overlap[v] = 0;
        for (const auto e : entries_hit) {
            ix.entry_best[e] = -1;
            ix.pooled[e] = 0;
        }
        ix.touched.clear();

        const bool by_conf = options.rank_by_confidence;
        const auto better = [by_conf](const Candidate& a, const Candidate& c) {
            const double ka = by_conf ? a.confidence : a.score,
                         kc = by_conf ? c.confidence : c.score;
            if (ka != kc) return ka > kc;
            if (a.score != c.score) return a.score > c.score;  // tie: the stronger BM25
            return a.entry < c.entry;  // then knowledge-base order, deterministically
        };
        const std::size_t keep = std::min(options.max_candidates, r.candidates.size());
        std::partial_sort(r.candidates.begin(),
                          r.candidates.begin() + static_cast<std::ptrdiff_t>(keep),
                          r.candidates.end(), better);
        r.candidates.resize(keep);
        return r;
    }
};

Matcher::Matcher(const KnowledgeBase& kb, MatcherOptions options)
    : kb_(&kb), impl_(std::make_unique<Impl>(kb, options)) {}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

const TextAnalyzer& Matcher::analyzer() const {
    return impl_->analyzer;
}
const MatcherOptions& Matcher::options() const {
    return impl_->options;
}
const std::vector<std::string>& Matcher::unmatchable_questions() const {
    return impl_->unmatchable;
}

MatchResult Matcher::match_in(std::string_view text, Language lang) const {
    auto r = impl_->run(text, lang);
    const auto& entries = kb_->entries(lang);
    for (auto& c : r.candidates) c.entry_id = entries[c.entry].id;
    return r;
}

MatchResult Matcher::match(std::string_view text, std::string_view locale_hint) const {
    const auto capped = cap_input(text);
    const auto guess = detect_language(capped, locale_hint);
    Language lang = guess.language;
    // A language without entries can't answer; fall back to one that can.
    if (!kb_->has(lang)) {
        for (const auto l : {Language::en, Language::hi, Language::tr}) {
            if (kb_->has(l)) {
                lang = l;
                break;
            }
        }
    }
    auto r = match_in(text, lang);
    if (!guess.from_script && parse_language(locale_hint) == Language::hi &&
        kb_->has(Language::hi) && lang != Language::hi) {
        auto hindi = match_in(text, Language::hi);
        if (hindi.best_confidence() > r.best_confidence()) r = std::move(hindi);
    }
    return r;
}

}  // namespace sb::core::bot
