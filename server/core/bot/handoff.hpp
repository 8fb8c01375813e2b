// Does a visitor's message ask for a person? Phrase lists in en/hi/tr,
// matched on normalised words (case, diacritics, nukta and Turkish suffixes
// don't matter), never by exact string.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/bot/language.hpp"
#include "core/bot/text.hpp"

namespace sb::core::bot {

class HandoffDetector {
  public:
    // Keeps a reference to the analyzer; analyses every phrase list once.
    explicit HandoffDetector(const TextAnalyzer& analyzer);

    // True if the message contains one of the phrases of any of the three
    // languages (visitors mix them: "agent se baat karni hai"). lang is the
    // language the message is analysed as.
    bool asks_for_person(std::string_view text, Language lang) const;

  private:
    struct Phrase {
        std::vector<std::string> words;
        std::vector<bool> prefix;  // this word matches any word it begins ("temsilci*")
    };
    const TextAnalyzer* analyzer_;
    // Every phrase of every language, as analysed for each message language.
    std::array<std::vector<Phrase>, kLanguageCount> phrases_;
};

}  // namespace sb::core::bot
