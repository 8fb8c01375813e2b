// Matcher: ranking, the confidence range, and robustness against empty,
// huge, emoji-only, ill-formed and mixed-script input.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

#include "core/bot/matcher.hpp"

using namespace sb::core::bot;

namespace {

const char* kEn = R"({"language":"en","entries":[
 {"id":"orders.track","department":"orders","questions":["Where is my order?","How can I track my package?","Order status"],"answer":"See My orders."},
 {"id":"billing.refund_timing","department":"billing","questions":["How long does a refund take?","When will I get my refund?","Refund status"],"answer":"5-7 days."},
 {"id":"account.password_reset","department":"account","questions":["I forgot my password","How do I reset my password?","I can't log in"],"answer":"Use Forgot password."},
 {"id":"returns.policy","department":"returns","questions":["How do I return an item?","What is your return policy?","I want to send something back"],"answer":"Start a return in My orders."},
 {"id":"odd","department":"support","questions":["Is it?","Why is the sky blue?"],"answer":"Odd."}]})";
const char* kHi = R"({"language":"hi","entries":[
 {"id":"orders.track","department":"orders","questions":["मेरा ऑर्डर कहाँ है?","मैं अपना ऑर्डर कैसे ट्रैक करूँ?","order kahan hai"],"answer":"मेरे ऑर्डर देखें।"},
 {"id":"billing.refund_timing","department":"billing","questions":["रिफंड में कितना समय लगता है?","मेरा रिफंड कब आएगा?","refund kab aayega"],"answer":"5-7 दिन।"}]})";
const char* kTr = R"({"language":"tr","entries":[
 {"id":"orders.track","department":"orders","questions":["Siparişim nerede?","Siparişimi nasıl takip edebilirim?","Kargom şu an nerede?"],"answer":"Siparişlerim sayfasına bakın."},
 {"id":"billing.refund_timing","department":"billing","questions":["Para iadesi ne kadar sürer?","İadem ne zaman hesabıma geçer?","Param kaç günde iade edilir?"],"answer":"5-7 iş günü."}]})";

const KnowledgeBase& kb() {
    static const KnowledgeBase k = [] {
        auto r = parse_knowledge_base({{"en.json", kEn}, {"hi.json", kHi}, {"tr.json", kTr}});
        REQUIRE(r.ok());
        return std::move(*r.kb);
    }();
    return k;
}

const Matcher& matcher() {
    static const Matcher m(kb());
    return m;
}

void check_sane(const MatchResult& r) {
    CHECK(r.candidates.size() <= matcher().options().max_candidates);
    double last = 2.0;
    for (const auto& c : r.candidates) {
        CHECK(c.confidence >= 0.0);
        CHECK(c.confidence <= 1.0);
        CHECK(c.confidence <= last);  // best first
        last = c.confidence;
        CHECK(kb().find(r.language, c.entry_id) != nullptr);
    }
}

}  // namespace

TEST_CASE("bot matcher: a known question ranks its entry first, confidently") {
    const auto r = matcher().match("Where is my order?", "en");
    check_sane(r);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "orders.track");
    CHECK(r.best()->confidence > 0.9);
    CHECK(r.language == Language::en);

    const auto p = matcher().match("i forgot my pasword", "en-US");  // typo
    REQUIRE(p.best());
    CHECK(p.best()->entry_id == "account.password_reset");
}

TEST_CASE("bot matcher: unknown words lower the confidence") {
    const auto known = matcher().match("when will i get my refund", "en");
    const auto padded =
        matcher().match("when will i get my refund for the purple giraffe costume", "en");
    REQUIRE(known.best());
    REQUIRE(padded.best());
    CHECK(padded.best()->entry_id == known.best()->entry_id);
    CHECK(padded.best()->confidence < known.best()->confidence);
    CHECK(padded.unknown_terms >= 3);

    const auto none = matcher().match("what is the weather in paris tomorrow", "en");
    CHECK(none.best_confidence() < 0.35);
}

TEST_CASE("bot matcher: empty, emoji-only and punctuation-only input") {
    for (const char* text : {"", " ", "😀😀😀", "👍🏽", "?!?!…", "\n\t"}) {
        CAPTURE(text);
        const auto r = matcher().match(text, "en");
        CHECK(r.candidates.empty());
        CHECK(r.words == 0);
        CHECK(r.best() == nullptr);
        CHECK(r.best_confidence() == 0.0);
    }
    const auto stop_only = matcher().match("hi, thanks!", "en");
    CHECK(stop_only.words == 2);
    CHECK(stop_only.terms == 0);
    CHECK(stop_only.candidates.empty());
}

TEST_CASE("bot matcher: huge input is capped, on a code point boundary") {
    std::string huge;
    while (huge.size() < 1'000'000) huge += "where is my order ";
    const auto r = matcher().match(huge, "en");
    CHECK(r.truncated);
    check_sane(r);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "orders.track");

    std::string devanagari;
    while (devanagari.size() < kMaxInputBytes + 10) devanagari += "ऑर्डर ";  // 3-byte letters
    const auto cut = cap_input(devanagari);
    CHECK(cut.size() <= kMaxInputBytes);
    CHECK((static_cast<unsigned char>(devanagari[cut.size()]) & 0xC0) != 0x80);
    const auto h = matcher().match(devanagari, "hi");
    CHECK(h.truncated);
    check_sane(h);
    CHECK(cap_input("short") == "short");
}

TEST_CASE("bot matcher: ill-formed UTF-8 doesn't crash") {
    const auto r = matcher().match("wh\xC3\x28re is my \xFF\xFE order \xE2\x82", "en");
    check_sane(r);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "orders.track");
}

TEST_CASE("bot matcher: mixed scripts and languages") {
    auto r = matcher().match("मेरा order कहाँ है", "en-US");
    CHECK(r.language == Language::hi);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "orders.track");

    // Romanised Hindi with a Hindi locale: tried as English and as Hindi.
    r = matcher().match("mera refund kab aayega", "hi-IN");
    CHECK(r.language == Language::hi);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "billing.refund_timing");

    // Turkish typed without Turkish letters, or in capitals with a plain I.
    r = matcher().match("SIPARISIM NEREDE", "tr-TR");
    CHECK(r.language == Language::tr);
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "orders.track");
    r = matcher().match("iadem ne zaman hesabima gecer", "tr");
    REQUIRE(r.best());
    CHECK(r.best()->entry_id == "billing.refund_timing");

    // Turkish letters decide even under an English locale.
    r = matcher().match("Siparişim nerede?", "en-US");
    CHECK(r.language == Language::tr);
}

TEST_CASE("bot matcher: questions that can never match are reported") {
    const auto& bad = matcher().unmatchable_questions();
    REQUIRE(bad.size() == 1);
    CHECK(bad[0] == "en: odd questions[0]");
}

TEST_CASE("bot matcher: confidence stays in [0, 1] on arbitrary input") {
    std::mt19937 rng(12345);
    const std::string pieces[] = {"order",    "refund", "कहाँ",    "ऑर्डर",  "sipariş", "İADE",
                                  "ı",        "?",      "😀",      " ",     "\xC3",    "\xFF",
                                  "password", "my",     "ne",     "zaman", "1234",    "'",
                                  "n't",      "किताबें",  "\u200D", "ＡＢＣ"};
    for (int i = 0; i < 500; ++i) {
        std::string text;
        const int n = static_cast<int>(rng() % 12);
        for (int k = 0; k < n; ++k) {
            text += pieces[rng() % std::size(pieces)];
            if (rng() % 2) text += ' ';
        }
        for (const char* locale : {"en", "hi-IN", "tr", ""})
            check_sane(matcher().match(text, locale));
    }
}

TEST_CASE("bot matcher: a language without entries falls back to one with entries") {
    auto r = parse_knowledge_base({{"en.json", kEn}});
    REQUIRE(r.ok());
    const Matcher en_only(*r.kb);
    const auto m = en_only.match("Siparişim nerede?", "tr");
    CHECK(m.language == Language::en);
    check_sane(m);
}
