#include "core/bot/bot.hpp"

#include <utility>

namespace sb::core::bot {

Bot::Bot(std::unique_ptr<const KnowledgeBase> kb, BotSettings settings, MatcherOptions options)
    : kb_(std::move(kb)), matcher_(*kb_, options), policy_(matcher_, settings) {}

BotLoadResult Bot::load(const std::vector<KbFile>& files, BotSettings settings,
                        MatcherOptions options) {
    auto parsed = parse_knowledge_base(files);
    BotLoadResult result;
    if (!parsed.ok()) {
        result.errors = std::move(parsed.errors);
        return result;
    }
    auto kb = std::make_unique<const KnowledgeBase>(std::move(*parsed.kb));
    result.bot.reset(new Bot(std::move(kb), settings, options));
    return result;
}

}  // namespace sb::core::bot
