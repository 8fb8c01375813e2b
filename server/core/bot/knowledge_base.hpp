// The bot's knowledge base: canned answers, each with the questions it answers.
// Loaded from JSON files whose contents the caller reads (the core does no I/O);
// validated as a whole: one error anywhere and nothing is loaded.
// The format is documented in docs/BOT.md.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bot/language.hpp"

namespace sb::core::bot {

// Validation limits. The shipped knowledge base has at least 3 question
// variants per entry; the validator only insists on kMinQuestions.
inline constexpr std::size_t kMinQuestions = 1;
inline constexpr std::size_t kMaxQuestions = 64;        // variants per entry
inline constexpr std::size_t kMaxIdBytes = 64;          // entry id, follow-up ids
inline constexpr std::size_t kMaxDepartmentBytes = 32;  // department tag
inline constexpr std::size_t kMaxQuestionBytes = 500;   // one question variant
inline constexpr std::size_t kMaxAnswerBytes = 4000;    // well under the protocol's 16 KiB text
inline constexpr std::size_t kMaxFollowUps = 5;
inline constexpr std::size_t kMaxEntriesPerLanguage = 5000;
inline constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxErrors = 100;  // reporting stops after this many

struct KbFile {
    std::string name;     // for error messages, e.g. "en.json"
    std::string content;  // the file's bytes
};

struct KbEntry {
    std::string id;  // unique per language; the same id across languages is the same topic
    Language language = Language::en;
    std::vector<std::string> questions;  // first one doubles as the entry's title
    std::string answer;
    std::string department;
    std::vector<std::string> follow_ups;  // ids of entries of the same language
    std::string file;                     // where it was loaded from
};

struct KbError {
    std::string file;
    std::string entry;  // the entry's id, "#<index>" if it has none, "" for file-level errors
    std::string field;  // e.g. "answer", "questions[2]", "" for file-level errors
    std::string message;
    // "en.json: entry orders.track: field answer: must not be empty"
    std::string to_string() const;
};

class KnowledgeBase {
  public:
    // Entries of one language, in file order (files in the order given).
    const std::vector<KbEntry>& entries(Language l) const { return entries_[index_of(l)]; }
    const KbEntry* find(Language l, std::string_view id) const;
    bool has(Language l) const { return !entries_[index_of(l)].empty(); }
    std::size_t size() const;  // entries of all languages

  private:
    friend struct KbBuilder;
    std::array<std::vector<KbEntry>, kLanguageCount> entries_;
    std::array<std::map<std::string, std::size_t, std::less<>>, kLanguageCount> by_id_;
};

struct KbParseResult {
    std::optional<KnowledgeBase> kb;  // set only when errors is empty
    std::vector<KbError> errors;
    bool ok() const { return kb.has_value(); }
};

// All-or-nothing: any error in any file and kb stays empty.
KbParseResult parse_knowledge_base(const std::vector<KbFile>& files);

}  // namespace sb::core::bot
