#include "core/bot/knowledge_base.hpp"

#include <unicode/unistr.h>
#include <unicode/utf8.h>
#include <nlohmann/json.hpp>
#include <switchboard/protocol.hpp>

#include <utility>

namespace sb::core::bot {

std::string KbError::to_string() const {
    std::string s = file.empty() ? std::string("(knowledge base)") : file;
    if (!entry.empty()) s += ": entry " + entry;
    if (!field.empty()) s += ": field " + field;
    s += ": " + message;
    return s;
}

const KbEntry* KnowledgeBase::find(Language l, std::string_view id) const {
    const auto& index = by_id_[index_of(l)];
    const auto it = index.find(id);
    return it == index.end() ? nullptr : &entries_[index_of(l)][it->second];
}

std::size_t KnowledgeBase::size() const {
    std::size_t n = 0;
    for (const auto& e : entries_) n += e.size();
    return n;
}

using json = nlohmann::json;

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

bool is_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool is_blank(std::string_view s) {
    for (const char c : s) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
    }
    return true;
}

// Byte offset of the first ill-formed UTF-8 sequence; content is known to be ill-formed.
std::size_t first_bad_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto n = static_cast<std::int32_t>(s.size());
    for (std::int32_t i = 0; i < n;) {
        const std::int32_t at = i;
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0) return static_cast<std::size_t>(at);
    }
    return s.size();
}

}  // namespace

// Collects errors and, if there are none, assembles the knowledge base.
struct KbBuilder {
    std::vector<KbError> errors;
    KnowledgeBase kb;
    // Where each id was first defined, per language (file name).
    std::array<std::map<std::string, std::string, std::less<>>, kLanguageCount> seen;
    struct PendingFollowUp {
        Language language;
        std::string file, entry, field, target;
    };
    std::vector<PendingFollowUp> follow_ups;
    std::size_t utf8_errors = 0;  // fields reported as holding ill-formed UTF-8

    bool full() const { return errors.size() >= kMaxErrors; }

    void error(std::string_view file, std::string_view entry, std::string_view field,
               std::string message) {
        if (full()) return;
        errors.push_back(
            {std::string(file), std::string(entry), std::string(field), std::move(message)});
    }

    // Checks a text field; returns false if it reported an error.
    bool check_text(std::string_view file, std::string_view entry, std::string_view field,
                    std::string_view text, std::size_t max_bytes, bool multiline,
                    bool file_was_bad_utf8) {
        if (text.find(kReplacementChar) != std::string_view::npos) {
            ++utf8_errors;
            error(file, entry, field,
                  file_was_bad_utf8 ? "invalid UTF-8"
                                    : "contains U+FFFD, the mark of mis-encoded text");
            return false;
        }
        if (is_blank(text)) {
            error(file, entry, field, "must not be empty");
            return false;
        }
        if (text.size() > max_bytes) {
            error(file, entry, field,
                  "is " + std::to_string(text.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes));
            return false;
        }
        for (const char ch : text) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 && !(multiline && (c == '\n' || c == '\t')) && c != ' ') {
                error(file, entry, field, "contains a control character");
                return false;
            }
        }
        return true;
    }

    bool check_id(std::string_view file, std::string_view entry, std::string_view field,
                  std::string_view id, std::size_t max_bytes) {
        if (id.empty()) {
            error(file, entry, field, "must not be empty");
            return false;
        }
        if (id.size() > max_bytes) {
            error(file, entry, field,
                  "is " + std::to_string(id.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes));
            return false;
        }
        for (const char c : id) {
            if (!is_id_char(c)) {
                error(file, entry, field, "may only use a-z, 0-9, '.', '_' and '-'");
                return false;
            }
        }
        return true;
    }

    void add_file(const KbFile& f);
    void add_document(const std::string& file, const std::string& source, bool bad_utf8);
    void add_entry(const std::string& file, Language lang, const json& e, std::size_t index,
                   bool bad_utf8, std::vector<KbEntry>& out);
    void resolve_follow_ups();

    void build_index() {
        for (const auto l : kLanguages) {
            auto& index = kb.by_id_[index_of(l)];
            const auto& entries = kb.entries_[index_of(l)];
            for (std::size_t i = 0; i < entries.size(); ++i) index.emplace(entries[i].id, i);
        }
    }
};

void KbBuilder::add_file(const KbFile& f) {
    if (f.content.size() > kMaxFileBytes) {
        error(f.name, "", "",
              "file is " + std::to_string(f.content.size()) + " bytes, over the limit of " +
                  std::to_string(kMaxFileBytes));
        return;
    }
    // Ill-formed UTF-8 would make the JSON parser stop with a vague message.
    // Replace bad sequences with U+FFFD, parse, and report the fields they land in.
    const bool bad_utf8 = !proto::is_valid_utf8(f.content);
    const std::size_t utf8_before = utf8_errors;
    if (bad_utf8) {
        std::string text;
        icu::UnicodeString::fromUTF8(f.content).toUTF8String(text);
        add_document(f.name, text, true);
    } else {
        add_document(f.name, f.content, false);
    }
    if (bad_utf8 && utf8_errors == utf8_before) {
        // The bad bytes sat outside any checked text field (a key, an id), or
        // the JSON broke before reaching them.
        error(f.name, "", "", "invalid UTF-8 at byte " + std::to_string(first_bad_utf8(f.content)));
    }
}

void KbBuilder::add_document(const std::string& file, const std::string& source, bool bad_utf8) {
    json doc;
    try {
        doc = json::parse(source);
    } catch (const json::parse_error& e) {
        error(file, "", "", std::string("broken JSON: ") + e.what());
        return;
    }
    if (!doc.is_object()) {
        error(file, "", "", "the top level must be an object {\"language\":…,\"entries\":[…]}");
        return;
    }
    for (const auto& [key, value] : doc.items()) {
        if (key != "language" && key != "entries") error(file, "", key, "unknown field");
    }

    std::optional<Language> lang;
    const auto lit = doc.find("language");
    if (lit == doc.end()) {
        error(file, "", "language", "missing");
    } else if (!lit->is_string()) {
        error(file, "", "language", "must be a string");
    } else {
        const auto& code = lit->get_ref<const std::string&>();
        if (code == "en" || code == "hi" || code == "tr") lang = parse_language(code);
        if (!lang)
            error(file, "", "language",
                  "unknown language \"" + code + "\" (supported: en, hi, tr)");
    }

    const auto eit = doc.find("entries");
    if (eit == doc.end()) {
        error(file, "", "entries", "missing");
    } else if (!eit->is_array()) {
        error(file, "", "entries", "must be an array");
    } else if (eit->empty()) {
        error(file, "", "entries", "must not be empty");
    } else if (lang) {
        auto& out = kb.entries_[index_of(*lang)];
        for (std::size_t i = 0; i < eit->size() && !full(); ++i) {
            add_entry(file, *lang, (*eit)[i], i, bad_utf8, out);
        }
        if (out.size() > kMaxEntriesPerLanguage) {
            error(file, "", "entries",
                  "over " + std::to_string(kMaxEntriesPerLanguage) + " entries for language " +
                      std::string(to_string(*lang)));
        }
    }
}

void KbBuilder::add_entry(const std::string& file, Language lang, const json& e, std::size_t index,
                          bool bad_utf8, std::vector<KbEntry>& out) {
    std::string name = "#" + std::to_string(index);
    if (!e.is_object()) {
        error(file, name, "", "must be an object");
        return;
    }
    KbEntry entry;
    entry.language = lang;
    entry.file = file;
    bool ok = true;

    const auto id = e.find("id");
    if (id == e.end()) {
        error(file, name, "id", "missing");
        ok = false;
    } else if (!id->is_string()) {
        error(file, name, "id", "must be a string");
        ok = false;
    } else {
        entry.id = id->get<std::string>();
        if (check_id(file, name, "id", entry.id, kMaxIdBytes)) {
            name = entry.id;
            auto& seen_here = seen[index_of(lang)];
            const auto [it, fresh] = seen_here.emplace(entry.id, file);
            if (!fresh) {
                error(file, name, "id",
                      "duplicate id for language " + std::string(to_string(lang)) +
                          " (first defined in " + it->second + ")");
                ok = false;
            }
        } else {
            ok = false;
        }
    }

    for (const auto& [key, value] : e.items()) {
        if (key != "id" && key != "questions" && key != "answer" && key != "department" &&
            key != "follow_ups") {
            error(file, name, key, "unknown field");
            ok = false;
        }
    }

    const auto qs = e.find("questions");
    if (qs == e.end()) {
        error(file, name, "questions", "missing");
        ok = false;
    } else if (!qs->is_array()) {
        error(file, name, "questions", "must be an array of strings");
        ok = false;
    } else if (qs->size() < kMinQuestions) {
        error(file, name, "questions",
              "needs at least " + std::to_string(kMinQuestions) + " question variant(s)");
        ok = false;
    } else if (qs->size() > kMaxQuestions) {
        error(file, name, "questions",
              "has " + std::to_string(qs->size()) + " variants, over the limit of " +
                  std::to_string(kMaxQuestions));
        ok = false;
    } else {
        for (std::size_t i = 0; i < qs->size(); ++i) {
            const std::string field = "questions[" + std::to_string(i) + "]";
            const auto& q = (*qs)[i];
            if (!q.is_string()) {
                error(file, name, field, "must be a string");
                ok = false;
                continue;
            }
            const auto& text = q.get_ref<const std::string&>();
            if (!check_text(file, name, field, text, kMaxQuestionBytes, false, bad_utf8)) {
                ok = false;
                continue;
            }
            entry.questions.push_back(text);
        }
    }

    const auto answer = e.find("answer");
    if (answer == e.end()) {
        error(file, name, "answer", "missing");
        ok = false;
    } else if (!answer->is_string()) {
        error(file, name, "answer", "must be a string");
        ok = false;
    } else {
        entry.answer = answer->get<std::string>();
        ok = check_text(file, name, "answer", entry.answer, kMaxAnswerBytes, true, bad_utf8) && ok;
    }

    const auto dept = e.find("department");
    if (dept == e.end()) {
        error(file, name, "department", "missing");
        ok = false;
    } else if (!dept->is_string()) {
        error(file, name, "department", "must be a string");
        ok = false;
    } else {
        entry.department = dept->get<std::string>();
        ok = check_id(file, name, "department", entry.department, kMaxDepartmentBytes) && ok;
    }

    const auto fu = e.find("follow_ups");
    if (fu != e.end()) {
        if (!fu->is_array()) {
            error(file, name, "follow_ups", "must be an array of entry ids");
            ok = false;
        } else if (fu->size() > kMaxFollowUps) {
            error(file, name, "follow_ups",
                  "has " + std::to_string(fu->size()) + " ids, over the limit of " +
                      std::to_string(kMaxFollowUps));
            ok = false;
        } else {
            for (std::size_t i = 0; i < fu->size(); ++i) {
                const std::string field = "follow_ups[" + std::to_string(i) + "]";
                const auto& v = (*fu)[i];
                if (!v.is_string()) {
                    error(file, name, field, "must be a string");
                    ok = false;
                    continue;
                }
                const auto& target = v.get_ref<const std::string&>();
                if (!check_id(file, name, field, target, kMaxIdBytes)) {
                    ok = false;
                    continue;
                }
                if (target == entry.id) {
                    error(file, name, field, "refers to the entry itself");
                    ok = false;
                    continue;
                }
                entry.follow_ups.push_back(target);
                follow_ups.push_back({lang, file, name, field, target});
            }
        }
    }

    if (ok) out.push_back(std::move(entry));
}

void KbBuilder::resolve_follow_ups() {
    for (const auto& f : follow_ups) {
        if (!seen[index_of(f.language)].contains(f.target)) {
            error(f.file, f.entry, f.field,
                  "unknown entry id \"" + f.target + "\" for language " +
                      std::string(to_string(f.language)));
        }
    }
}

KbParseResult parse_knowledge_base(const std::vector<KbFile>& files) {
    KbBuilder b;
    if (files.empty()) b.error("", "", "", "no knowledge base files");
    for (const auto& f : files) {
        if (b.full()) break;
        b.add_file(f);
    }
    b.resolve_follow_ups();
    if (b.full()) b.errors.push_back({"", "", "", "too many errors; stopped reporting"});

    KbParseResult result;
    if (!b.errors.empty()) {
        result.errors = std::move(b.errors);
        return result;
    }
    b.build_index();
    result.kb = std::move(b.kb);
    return result;
}

}  // namespace sb::core::bot
