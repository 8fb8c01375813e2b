// Reading the bot's knowledge base folder: the file I/O the core leaves out.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/bot/bot.hpp"

namespace sb::net {

struct KnowledgeLoad {
    std::shared_ptr<const core::bot::Bot> bot;  // null when errors is non-empty
    std::vector<std::string> errors;            // each names the file, entry and field
    std::size_t entries = 0;
};

// Every *.json file of `dir`, in name order, validated as one knowledge base:
// all or nothing.
KnowledgeLoad load_knowledge(const std::filesystem::path& dir, const core::bot::BotSettings& s);

// Changes when any *.json file of `dir` is added, removed or rewritten.
std::string knowledge_signature(const std::filesystem::path& dir);

}  // namespace sb::net
