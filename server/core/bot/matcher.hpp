// Ranks knowledge-base entries against a visitor's message. Every question
// variant is a document (BM25 statistics: entry-level idf, length-normalised
// tf). An entry's confidence in [0, 1] blends its best variant's idf-weighted
// overlap with the message and the share of the message its variants know
// together; entries rank by confidence, ties by BM25 (formula and the
// measurements behind it: docs/BOT.md). I/O-free, no clocks; not thread-safe
// (it owns a TextAnalyzer and scratch buffers).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bot/knowledge_base.hpp"
#include "core/bot/language.hpp"
#include "core/bot/text.hpp"

namespace sb::core::bot {

// Only the first kMaxInputBytes of a message are read (cut on a code point boundary).
inline constexpr std::size_t kMaxInputBytes = 2000;
// Distinct terms of a message that are looked up; the rest are ignored.
inline constexpr std::size_t kMaxQueryTerms = 128;

// Defaults were chosen on tests/bot_eval (see docs/BOT.md for the measurements).
struct MatcherOptions {
    AnalyzerOptions analyzer;
    double k1 = 1.2;  // BM25 term-frequency saturation
    double b = 0.75;  // BM25 length normalisation
    // A query word unknown to the knowledge base but one edit away from a known
    // one (a typo) counts as that word, at this weight. 0 turns fuzzy matching off.
    double fuzzy_weight = 0.8;
    // Words of the message unknown to the knowledge base weigh this much,
    // relative to the idf of a word no entry uses; they lower the confidence
    // ("weather" in "what's the weather like"). Unknown numbers weigh 0.
    double unknown_weight = 0.75;
    // Variant confidence = matched / (query_share * query + (1 - query_share) * variant),
    // all sums of idf: how much the message's own words count against the variant's.
    double query_share = 0.3;
    // Confidence = variant_share * best variant's confidence
    //            + (1 - variant_share) * share of the message the entry knows
    //              (all its variants pooled).
    double variant_share = 0.7;
    bool rank_by_confidence = true;  // false: rank by the BM25 of the best variant
    bool entry_level_idf = true;     // idf counts entries, not variants
    std::size_t max_candidates = 5;
};

struct Candidate {
    std::string_view entry_id;  // points into the KnowledgeBase
    std::uint32_t entry = 0;    // index in knowledge_base().entries(language)
    double confidence = 0;      // [0, 1]
    double score = 0;           // raw BM25 of the best variant
};

struct MatchResult {
    Language language = Language::en;
    std::vector<Candidate> candidates;  // best first, at most max_candidates
    std::size_t words = 0;              // words in the message (0: empty, emoji, punctuation)
    std::size_t terms = 0;              // distinct terms looked up (0 with words: only stop words)
    std::size_t unknown_terms = 0;      // of which the knowledge base knows nothing
    bool truncated = false;             // the message was over kMaxInputBytes
    const Candidate* best() const { return candidates.empty() ? nullptr : &candidates.front(); }
    double best_confidence() const {
        return candidates.empty() ? 0.0 : candidates.front().confidence;
    }
};

class Matcher {
  public:
    // Keeps a reference: kb must outlive the matcher.
    explicit Matcher(const KnowledgeBase& kb, MatcherOptions options = {});
    ~Matcher();
    Matcher(Matcher&&) noexcept;
    Matcher& operator=(Matcher&&) noexcept;

    // Picks the language from the script and the locale hint (see
    // detect_language). Plain Latin text with a hi hint is tried as English and
    // as romanised Hindi, and the more confident reading wins.
    MatchResult match(std::string_view text, std::string_view locale_hint) const;
    // Matches against one language's entries only.
    MatchResult match_in(std::string_view text, Language lang) const;

    const KnowledgeBase& knowledge_base() const { return *kb_; }
    const TextAnalyzer& analyzer() const;
    const MatcherOptions& options() const;
    // Question variants that analyse to no term at all (only stop words or
    // punctuation): they can never match. "hi: orders.track questions[3]".
    const std::vector<std::string>& unmatchable_questions() const;

  private:
    struct Impl;
    const KnowledgeBase* kb_;
    std::unique_ptr<Impl> impl_;
};

// The prefix of text that Matcher reads: at most max_bytes, never splitting a code point.
std::string_view cap_input(std::string_view text, std::size_t max_bytes = kMaxInputBytes);

}  // namespace sb::core::bot
