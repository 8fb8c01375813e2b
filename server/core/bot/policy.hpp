// What the bot does with a visitor's message: answer, suggest, admit a miss,
// or hand the conversation to a person. Pure functions of (state, input):
// the caller keeps a BotState per conversation and stores decision.state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/bot/handoff.hpp"
#include "core/bot/language.hpp"
#include "core/bot/matcher.hpp"

namespace sb::core::bot {

struct BotSettings {
    double answer_threshold = 0.55;  // answer at or above this confidence
    double suggest_floor = 0.35;     // suggest between this and the threshold; below: no match
    int max_misses = 2;              // no-matches in a row before handing off; 0: never
    int max_not_helpful = 2;         // "not helpful" answers before handing off; 0: never
    std::size_t max_suggestions = 3;
};

// Per conversation; starts default-constructed.
struct BotState {
    int misses_in_row = 0;
    int not_helpful_count = 0;
    bool handed_off = false;      // once true, every decision is silent
    std::string last_department;  // of the last answered (or suggested) entry
    std::string last_entry_id;    // the last answer, for feedback and follow-ups
    Language last_language = Language::en;
};

enum class DecisionKind {
    answer,       // post `text` (the entry's answer) and ask `helpful_prompt`
    suggest,      // post `text` ("Did you mean…") with `suggestions` as quick replies
    no_match,     // post `text` (rephrase, or ask for a person)
    handoff,      // post `text`, route the conversation to `department`, stay silent after
    greet,        // greetings/thanks only ("hi", "ok thanks"): post `text`
    acknowledge,  // feedback received: post `text`
    silent,       // post nothing: handed off already, or a message with no words (emoji)
};

enum class HandoffReason { none, visitor_asked, repeated_misses, not_helpful };

std::string_view to_string(DecisionKind k);
std::string_view to_string(HandoffReason r);  // "visitor_asked", "repeated_misses", "not_helpful"

struct Suggestion {
    std::string entry_id;
    std::string title;  // the entry's first question
};

struct BotDecision {
    DecisionKind kind = DecisionKind::silent;
    Language language = Language::en;
    std::string text;  // what the bot posts (empty when silent)
    // answer
    std::string entry_id;
    double confidence = 0;
    bool ask_helpful = false;    // every answer asks "Was this helpful?"
    std::string helpful_prompt;  // that question, in `language`
    // suggest: close matches; answer: the entry's follow-ups (related questions)
    std::vector<Suggestion> suggestions;
    // handoff
    HandoffReason reason = HandoffReason::none;
    std::string department;  // of the last matched entry; "" = none known (router default)
    BotState state;          // the conversation's state after this decision
};

// Canned phrases of the bot in one language.
struct BotTexts {
    std::string_view greeting;
    std::string_view did_you_mean;
    std::string_view no_match;
    std::string_view handoff;
    std::string_view was_helpful;
    std::string_view thanks;
    std::string_view not_helpful;  // followed by related questions as suggestions
};
const BotTexts& bot_texts(Language lang);

class BotPolicy {
  public:
    // Keeps a reference to the matcher (and through it the knowledge base).
    explicit BotPolicy(const Matcher& matcher, BotSettings settings = {});

    BotDecision on_message(const BotState& state, std::string_view text,
                           std::string_view locale_hint) const;
    // The visitor's answer to "Was this helpful?" about state.last_entry_id.
    BotDecision on_feedback(const BotState& state, bool helpful) const;
    // The widget's "talk to a person" button.
    BotDecision on_handoff_request(const BotState& state) const;
    // The visitor picked a suggestion (a quick reply carrying an entry id).
    BotDecision on_suggestion(const BotState& state, std::string_view entry_id,
                              Language lang) const;

    const BotSettings& settings() const { return settings_; }

  private:
    BotDecision answer(const BotState& state, const KbEntry& entry, double confidence) const;
    BotDecision handoff(const BotState& state, HandoffReason reason, Language lang,
                        std::string department) const;
    BotDecision miss(const BotState& state, Language lang) const;
    std::vector<Suggestion> follow_ups(const KbEntry& entry) const;

    const Matcher* matcher_;
    BotSettings settings_;
    HandoffDetector handoff_;
};

}  // namespace sb::core::bot
