// Knowledge-base validation: every error names the file, the entry and the
// field, and a knowledge base with any error never half-loads.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/bot/knowledge_base.hpp"

using namespace sb::core::bot;

namespace {

std::string entry_json(const std::string& id, const std::string& extra = "") {
    return R"({"id":")" + id +
           R"(","questions":["How do I track my order?"],"answer":"See My orders.","department":"orders")" +
           extra + "}";
}

std::string file_json(const std::string& lang, const std::vector<std::string>& entries) {
    std::string s = R"({"language":")" + lang + R"(","entries":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
    return s + "]}";
}

KbParseResult parse_one(const std::string& content, const std::string& name = "en.json") {
    return parse_knowledge_base({{name, content}});
}

// The single error of a result, checked to name file, entry and field.
KbError only_error(const KbParseResult& r) {
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    return r.errors.front();
}

}  // namespace

TEST_CASE("bot kb: a valid knowledge base loads, in order, per language") {
    const auto r = parse_knowledge_base({
        {"en.json",
         file_json("en", {entry_json("orders.track", R"(,"follow_ups":["orders.cancel"])"),
                          entry_json("orders.cancel")})},
        {"hi.json", file_json("hi", {entry_json("orders.track")})},
    });
    for (const auto& e : r.errors) MESSAGE(e.to_string());
    REQUIRE(r.ok());
    const auto& kb = *r.kb;
    CHECK(kb.size() == 3);
    REQUIRE(kb.entries(Language::en).size() == 2);
    CHECK(kb.entries(Language::en)[0].id == "orders.track");
    CHECK(kb.entries(Language::en)[0].follow_ups == std::vector<std::string>{"orders.cancel"});
    CHECK(kb.entries(Language::en)[0].file == "en.json");
    // The same id in two languages is the same topic, not a duplicate.
    REQUIRE(kb.find(Language::hi, "orders.track"));
    CHECK(kb.find(Language::hi, "orders.track")->language == Language::hi);
    CHECK(kb.find(Language::tr, "orders.track") == nullptr);
    CHECK_FALSE(kb.has(Language::tr));
}

TEST_CASE("bot kb: broken JSON names the file") {
    const auto e = only_error(parse_one(R"({"language":"en","entries":[)", "broken.json"));
    CHECK(e.file == "broken.json");
    CHECK(e.entry.empty());
    CHECK(e.message.find("broken JSON") != std::string::npos);
}

TEST_CASE("bot kb: unknown or missing language") {
    auto e = only_error(parse_one(file_json("de", {entry_json("a")}), "de.json"));
    CHECK(e.file == "de.json");
    CHECK(e.field == "language");
    CHECK(e.message.find("\"de\"") != std::string::npos);

    e = only_error(parse_one(R"({"entries":[)" + entry_json("a") + "]}"));
    CHECK(e.field == "language");
    CHECK(e.message == "missing");

    // A locale is not a language code here.
    e = only_error(parse_one(file_json("en-US", {entry_json("a")})));
    CHECK(e.field == "language");
}

TEST_CASE("bot kb: duplicate ids within a file and across files of one language") {
    auto e = only_error(parse_one(file_json("en", {entry_json("a"), entry_json("a")})));
    CHECK(e.file == "en.json");
    CHECK(e.entry == "a");
    CHECK(e.field == "id");
    CHECK(e.message.find("duplicate") != std::string::npos);

    e = only_error(parse_knowledge_base({{"en-1.json", file_json("en", {entry_json("a")})},
                                         {"en-2.json", file_json("en", {entry_json("a")})}}));
    CHECK(e.file == "en-2.json");
    CHECK(e.entry == "a");
    CHECK(e.field == "id");
    CHECK(e.message.find("en-1.json") != std::string::npos);
}

TEST_CASE("bot kb: empty answer, missing questions, missing department") {
    auto e = only_error(parse_one(
        file_json("en", {R"({"id":"a","questions":["q?"],"answer":"  ","department":"orders"})"})));
    CHECK(e.entry == "a");
    CHECK(e.field == "answer");
    CHECK(e.message == "must not be empty");

    e = only_error(parse_one(
        file_json("en", {R"({"id":"a","questions":[],"answer":"x","department":"orders"})"})));
    CHECK(e.entry == "a");
    CHECK(e.field == "questions");
    CHECK(e.message.find(std::to_string(kMinQuestions)) != std::string::npos);

    e = only_error(
        parse_one(file_json("en", {R"({"id":"a","answer":"x","department":"orders"})"})));
    CHECK(e.field == "questions");
    CHECK(e.message == "missing");

    e = only_error(parse_one(file_json("en", {R"({"id":"a","questions":["q"],"answer":"x"})"})));
    CHECK(e.field == "department");

    e = only_error(parse_one(file_json(
        "en", {R"({"id":"a","questions":["q", ""],"answer":"x","department":"orders"})"})));
    CHECK(e.field == "questions[1]");
}

TEST_CASE("bot kb: an entry without an id is named by its index") {
    const auto e = only_error(parse_one(file_json(
        "en", {entry_json("a"), R"({"questions":["q"],"answer":"x","department":"orders"})"})));
    CHECK(e.entry == "#1");
    CHECK(e.field == "id");
}

TEST_CASE("bot kb: unknown follow-up ids, per language") {
    auto e = only_error(parse_one(
        file_json("en", {entry_json("a", R"(,"follow_ups":["b","nope"])"), entry_json("b")})));
    CHECK(e.entry == "a");
    CHECK(e.field == "follow_ups[1]");
    CHECK(e.message.find("nope") != std::string::npos);

    // Follow-ups resolve within the entry's own language only.
    e = only_error(parse_knowledge_base(
        {{"en.json", file_json("en", {entry_json("a", R"(,"follow_ups":["b"])")})},
         {"hi.json", file_json("hi", {entry_json("b")})}}));
    CHECK(e.file == "en.json");
    CHECK(e.field == "follow_ups[0]");
}

TEST_CASE("bot kb: oversize fields") {
    const std::string long_answer(kMaxAnswerBytes + 1, 'x');
    auto e = only_error(parse_one(file_json("en", {R"({"id":"a","questions":["q"],"answer":")" +
                                                   long_answer + R"(","department":"orders"})"})));
    CHECK(e.field == "answer");
    CHECK(e.message.find(std::to_string(kMaxAnswerBytes)) != std::string::npos);

    const std::string long_question(kMaxQuestionBytes + 1, 'q');
    e = only_error(parse_one(file_json("en", {R"({"id":"a","questions":[")" + long_question +
                                              R"("],"answer":"x","department":"orders"})"})));
    CHECK(e.field == "questions[0]");

    const std::string long_id(kMaxIdBytes + 1, 'a');
    e = only_error(parse_one(file_json("en", {entry_json(long_id)})));
    CHECK(e.entry == "#0");
    CHECK(e.field == "id");

    std::string many = R"({"id":"a","questions":[)";
    for (std::size_t i = 0; i <= kMaxQuestions; ++i)
        many += (i ? ",\"q" : "\"q") + std::to_string(i) + "\"";
    many += R"(],"answer":"x","department":"orders"})";
    e = only_error(parse_one(file_json("en", {many})));
    CHECK(e.field == "questions");
}

TEST_CASE("bot kb: invalid UTF-8 is reported in the field it sits in") {
    const std::string bad = "\xC3\x28";  // a lead byte without its continuation
    auto e = only_error(parse_one(file_json("en", {R"({"id":"a","questions":["q"],"answer":"caf)" +
                                                   bad + R"(","department":"orders"})"})));
    CHECK(e.file == "en.json");
    CHECK(e.entry == "a");
    CHECK(e.field == "answer");
    CHECK(e.message == "invalid UTF-8");

    // Outside any checked field: a file-level error with the byte offset.
    const std::string content =
        R"({"language":"en","entries":[)" + entry_json("a") + R"(],"x)" + bad + R"(":1})";
    const auto r = parse_one(content);
    REQUIRE_FALSE(r.ok());
    bool offset_named = false;
    for (const auto& err : r.errors) {
        if (err.message.find("invalid UTF-8 at byte") != std::string::npos) offset_named = true;
    }
    CHECK(offset_named);
}

TEST_CASE("bot kb: unknown fields and wrong types are errors") {
    auto e = only_error(parse_one(file_json("en", {entry_json("a", R"(,"answers":"typo")")})));
    CHECK(e.entry == "a");
    CHECK(e.field == "answers");

    e = only_error(parse_one(
        file_json("en", {R"({"id":"a","questions":"q","answer":"x","department":"orders"})"})));
    CHECK(e.field == "questions");

    e = only_error(parse_one(file_json("en", {entry_json("Orders Track")})));
    CHECK(e.field == "id");

    e = only_error(parse_one(R"([1,2,3])"));
    CHECK(e.entry.empty());
}

TEST_CASE("bot kb: all or nothing") {
    const auto r = parse_knowledge_base({
        {"en.json", file_json("en", {entry_json("a"), entry_json("b")})},
        {"tr.json", file_json("tr", {entry_json("a", R"(,"answer":"")")})},
    });
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.kb.has_value());
    REQUIRE_FALSE(r.errors.empty());
    for (const auto& e : r.errors) CHECK(e.file == "tr.json");

    const auto none = parse_knowledge_base({});
    CHECK_FALSE(none.ok());
    CHECK(none.errors.size() == 1);
}

TEST_CASE("bot kb: errors read as one line each") {
    const auto e = only_error(parse_one(file_json(
        "en", {R"({"id":"orders.track","questions":["q"],"answer":"","department":"orders"})"})));
    CHECK(e.to_string() == "en.json: entry orders.track: field answer: must not be empty");
}

TEST_CASE("bot kb: reporting stops at kMaxErrors") {
    std::vector<std::string> entries;
    for (std::size_t i = 0; i < kMaxErrors + 20; ++i) {
        entries.push_back(R"({"id":"e)" + std::to_string(i) +
                          R"(","questions":["q"],"answer":"","department":"x"})");
    }
    const auto r = parse_one(file_json("en", entries));
    CHECK_FALSE(r.ok());
    CHECK(r.errors.size() == kMaxErrors + 1);
}

TEST_CASE("bot kb: mangled files never crash and never half-load") {
    const std::string good = file_json(
        "hi",
        {R"({"id":"orders.track","questions":["मेरा ऑर्डर कहाँ है?","order kahan hai"],"answer":"मेरे ऑर्डर देखें: https://shop.example.com","department":"orders","follow_ups":["b"]})",
         entry_json("b")});
    REQUIRE(parse_one(good, "hi.json").ok());
    std::uint32_t seed = 2463534242u;
    const auto next = [&seed] {  // xorshift32: deterministic
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return seed;
    };
    for (int i = 0; i < 2000; ++i) {
        std::string s = good;
        const int edits = 1 + static_cast<int>(next() % 4);
        for (int k = 0; k < edits; ++k) {
            const std::size_t at = next() % s.size();
            switch (next() % 3) {
                case 0:
                    s[at] = static_cast<char>(next() & 0xFF);
                    break;
                case 1:
                    s.erase(at, 1 + next() % 8);
                    break;
                default:
                    s.insert(at, 1, static_cast<char>(next() & 0xFF));
                    break;
            }
            if (s.empty()) s = "{";
        }
        const auto r = parse_one(s, "hi.json");
        CHECK(r.ok() == r.errors.empty());
        if (!r.ok()) {
            CHECK_FALSE(r.kb.has_value());
            for (const auto& e : r.errors) CHECK(e.file == "hi.json");
        }
    }
}
