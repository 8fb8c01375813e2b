#include "net/knowledge_files.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sb::net {

namespace {

// Refuse absurd files before reading them into memory.
constexpr std::uintmax_t kMaxKnowledgeFileBytes = 8u << 20;

std::vector<std::filesystem::path> json_files(const std::filesystem::path& dir,
                                              std::error_code& ec) {
    std::vector<std::filesystem::path> out;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".json") out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

KnowledgeLoad load_knowledge(const std::filesystem::path& dir, const core::bot::BotSettings& s) {
    KnowledgeLoad result;
    std::error_code ec;
    auto files = json_files(dir, ec);
    if (ec) {
        result.errors.push_back(dir.string() + ": cannot read the folder: " + ec.message());
        return result;
    }
    if (files.empty()) {
        result.errors.push_back(dir.string() + ": no *.json knowledge base files");
        return result;
    }
    std::vector<core::bot::KbFile> contents;
    for (const auto& f : files) {
        auto size = std::filesystem::file_size(f, ec);
        if (ec || size > kMaxKnowledgeFileBytes) {
            result.errors.push_back(f.filename().string() + ": unreadable or over " +
                                    std::to_string(kMaxKnowledgeFileBytes) + " bytes");
            continue;
        }
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in && !in.eof()) {
            result.errors.push_back(f.filename().string() + ": cannot read");
            continue;
        }
        contents.push_back({f.filename().string(), ss.str()});
    }
    if (!result.errors.empty()) return result;
    auto loaded = core::bot::Bot::load(contents, s);
    if (!loaded.bot) {
        for (const auto& e : loaded.errors) result.errors.push_back(e.to_string());
        return result;
    }
    result.entries = loaded.bot->knowledge_base().size();
    result.bot = std::shared_ptr<const core::bot::Bot>(std::move(loaded.bot));
    return result;
}

std::string knowledge_signature(const std::filesystem::path& dir) {
    std::error_code ec;
    std::string sig;
    for (const auto& f : json_files(dir, ec)) {
        std::error_code fec;
        auto size = std::filesystem::file_size(f, fec);
        auto mtime = std::filesystem::last_write_time(f, fec).time_since_epoch().count();
        sig +=
            f.filename().string() + ":" + std::to_string(size) + ":" + std::to_string(mtime) + ";";
    }
    return sig;
}

}  // namespace sb::net
