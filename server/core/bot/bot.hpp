// The bot as one object: a validated knowledge base, its matcher and the
// policy. Build a new one to reload; keep the old one if loading fails.
//
//   auto loaded = Bot::load(files);          // files: {name, content} read by the caller
//   if (!loaded.bot) report(loaded.errors);  // each names file, entry and field
//   BotDecision d = loaded.bot->on_message(state, text, locale);
//   state = d.state;                         // persist per conversation
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/bot/knowledge_base.hpp"
#include "core/bot/matcher.hpp"
#include "core/bot/policy.hpp"

namespace sb::core::bot {

class Bot;

struct BotLoadResult {
    std::unique_ptr<Bot> bot;  // null when errors is non-empty
    std::vector<KbError> errors;
};

class Bot {
  public:
    static BotLoadResult load(const std::vector<KbFile>& files, BotSettings settings = {},
                              MatcherOptions options = {});

    Bot(const Bot&) = delete;
    Bot& operator=(const Bot&) = delete;

    BotDecision on_message(const BotState& state, std::string_view text,
                           std::string_view locale_hint) const {
        return policy_.on_message(state, text, locale_hint);
    }
    BotDecision on_feedback(const BotState& state, bool helpful) const {
        return policy_.on_feedback(state, helpful);
    }
    BotDecision on_handoff_request(const BotState& state) const {
        return policy_.on_handoff_request(state);
    }
    BotDecision on_suggestion(const BotState& state, std::string_view entry_id,
                              Language lang) const {
        return policy_.on_suggestion(state, entry_id, lang);
    }

    const KnowledgeBase& knowledge_base() const { return *kb_; }
    const Matcher& matcher() const { return matcher_; }
    const BotPolicy& policy() const { return policy_; }

  private:
    Bot(std::unique_ptr<const KnowledgeBase> kb, BotSettings settings, MatcherOptions options);

    std::unique_ptr<const KnowledgeBase> kb_;  // the matcher and policy point into it
    Matcher matcher_;
    BotPolicy policy_;
};

}  // namespace sb::core::bot
