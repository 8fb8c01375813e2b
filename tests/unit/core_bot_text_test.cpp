// Text handling: NFKC, Turkish case folding, Devanagari word segmentation,
// per-language matching keys and language detection.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/bot/language.hpp"
#include "core/bot/text.hpp"

using namespace sb::core::bot;
using Words = std::vector<std::string>;

namespace {

const TextAnalyzer& analyzer() {
    static const TextAnalyzer a;
    return a;
}

std::vector<std::string> term_texts(std::string_view text, Language lang) {
    std::vector<std::string> out;
    for (auto& t : analyzer().terms(text, lang)) out.push_back(t.text);
    return out;
}

}  // namespace

TEST_CASE("bot text: Turkish case folding (İ→i, I→ı) only for Turkish") {
    const auto& a = analyzer();
    CHECK(a.fold_case("İstanbul", Language::tr) == "istanbul");
    CHECK(a.fold_case("ISPARTA", Language::tr) == "ısparta");
    CHECK(a.fold_case("ılık", Language::tr) == "ılık");
    CHECK(a.fold_case("ILIK", Language::tr) == "ılık");
    CHECK(a.fold_case("SİPARİŞ", Language::tr) == "sipariş");
    // Default folding elsewhere: I→i, and İ keeps its dot as a combining mark.
    CHECK(a.fold_case("ISPARTA", Language::en) == "isparta");
    CHECK(a.fold_case("İstanbul", Language::en) != "istanbul");
    CHECK(a.fold_case("Straße", Language::en) == "strasse");
}

TEST_CASE("bot text: NFKC normalisation") {
    const auto& a = analyzer();
    CHECK(a.normalize("ＡＢＣ１２３") == "ABC123");  // fullwidth
    CHECK(a.normalize("ﬁle") == "file");             // ligature
    CHECK(a.normalize("e\xCC\x81") == "\xC3\xA9");   // e + combining acute → é
    CHECK(a.words("Ｗｈｅｒｅ　ｉｓ　ｍｙ　ＯＲＤＥＲ？", Language::en) ==
          Words{"where", "is", "my", "order"});
    // A decomposed dotted capital I is composed before Turkish folding.
    CHECK(a.fold_case("I\xCC\x87stanbul", Language::tr) == "istanbul");
}

TEST_CASE("bot text: Devanagari combining marks stay inside words") {
    const auto& a = analyzer();
    // matra ें + anusvara, virama ्, nukta ़, candrabindu ँ
    CHECK(a.words("किताबें", Language::hi) == Words{"किताबें"});
    CHECK(a.words("क्या", Language::hi) == Words{"क्या"});
    CHECK(a.words("किताबें क्या हैं?", Language::hi) == Words{"किताबें", "क्या", "हैं"});
    CHECK(a.words("ज़रूरत है।", Language::hi) == Words{"ज़रूरत", "है"});
    CHECK(a.words("मेरा पार्सल कहाँ पहुँचा?", Language::hi) == Words{"मेरा", "पार्सल", "कहाँ", "पहुँचा"});
    CHECK(a.words("हिंदी, ठीक", Language::hi) == Words{"हिंदी", "ठीक"});
}

TEST_CASE("bot text: punctuation, symbols and emoji are dropped") {
    const auto& a = analyzer();
    CHECK(a.words("😀👍🏽 !!! … ??? ✨", Language::en).empty());
    CHECK(a.words("", Language::hi).empty());
    CHECK(a.words("order 👍 #12345!", Language::en) == Words{"order", "12345"});
    CHECK(analyzer().terms("🙂🙂🙂", Language::tr).empty());
}

TEST_CASE("bot text: mixed scripts in one message") {
    const auto& a = analyzer();
    CHECK(a.words("मेरा order कहाँ है", Language::hi) == Words{"मेरा", "order", "कहाँ", "है"});
    // A Hindi visitor's "order" in Latin and in Devanagari meet on one term.
    CHECK(term_texts("ऑर्डर", Language::hi) == term_texts("order", Language::hi));
    CHECK(term_texts("रिफंड", Language::hi) == term_texts("refund", Language::hi));
    const auto mixed = term_texts("मेरा order कहाँ है", Language::hi);
    CHECK(mixed.size() == 2);  // मेरा and है are stop words
    CHECK(mixed[0] == term_texts("order", Language::hi)[0]);
}

TEST_CASE("bot text: loose per-language keys") {
    const auto& a = analyzer();
    // Turkish: diacritics and apostrophe suffixes don't matter.
    CHECK(a.keys("Almanya'ya", Language::tr) == Words{"almanya"});
    CHECK(a.keys("SİPARİŞİM", Language::tr) == Words{"siparisim"});
    CHECK(a.keys("SIPARISIM", Language::tr) == Words{"siparisim"});
    CHECK(a.keys("siparişim", Language::tr) == a.keys("siparisim", Language::tr));
    // Hindi: nukta and candrabindu/anusvara spellings meet.
    CHECK(a.keys("कहाँ", Language::hi) == a.keys("कहां", Language::hi));
    CHECK(a.keys("ज़रूरत", Language::hi) == a.keys("जरूरत", Language::hi));
    // English: n't is a "not", 's goes, typographic apostrophes count.
    CHECK(a.keys("don't", Language::en) == Words{"do", "not"});
    CHECK(a.keys("can't", Language::en) == Words{"can", "not"});
    CHECK(a.keys("where’s", Language::en) == Words{"where"});
}

TEST_CASE("bot text: stemming brings inflected forms together") {
    CHECK(term_texts("siparişim", Language::tr) == term_texts("siparişimi", Language::tr));
    CHECK(term_texts("siparişlerimden", Language::tr) == term_texts("sipariş", Language::tr));
    CHECK(term_texts("kargoya", Language::tr) == term_texts("kargo", Language::tr));
    CHECK(term_texts("hesabım", Language::tr) == term_texts("hesap", Language::tr));
    CHECK(term_texts("refunds", Language::en) == term_texts("refund", Language::en));
    CHECK(term_texts("shipped", Language::en) == term_texts("shipping", Language::en));
    CHECK(term_texts("cancelled", Language::en) == term_texts("cancel", Language::en));
    CHECK(term_texts("किताबें", Language::hi) == term_texts("किताब", Language::hi));
}

TEST_CASE("bot text: stop words go, question words and negations stay") {
    CHECK(term_texts("where is my order", Language::en).size() == 2);
    CHECK(term_texts("I have not received it", Language::en) ==
          std::vector<std::string>{"not", term_texts("receive", Language::en)[0]});
    CHECK(term_texts("hi, thanks!", Language::en).empty());
    CHECK(term_texts("merhaba, teşekkürler", Language::tr).empty());
    CHECK(term_texts("नमस्ते, धन्यवाद", Language::hi).empty());
}

TEST_CASE("bot text: words marked numeric") {
    const auto terms = analyzer().terms("order 48213", Language::en);
    REQUIRE(terms.size() == 2);
    CHECK_FALSE(terms[0].numeric);
    CHECK(terms[1].numeric);
    CHECK(terms[1].text == "48213");
}

TEST_CASE("bot text: language from script and locale hint") {
    CHECK(parse_language("tr-TR") == Language::tr);
    CHECK(parse_language("HI_in") == Language::hi);
    CHECK(parse_language("en") == Language::en);
    CHECK_FALSE(parse_language("de-DE").has_value());
    CHECK_FALSE(parse_language("").has_value());
    CHECK_FALSE(parse_language("english").has_value());

    auto g = detect_language("मेरा ऑर्डर कहाँ है", "en-US");
    CHECK(g.language == Language::hi);
    CHECK(g.from_script);
    g = detect_language("मेरा order kahan hai", "");
    CHECK(g.language == Language::hi);
    g = detect_language("Siparişim nerede?", "en-US");
    CHECK(g.language == Language::tr);
    CHECK(g.from_script);
    g = detect_language("siparisim nerede", "tr-TR");
    CHECK(g.language == Language::tr);
    CHECK_FALSE(g.from_script);
    g = detect_language("where is my order", "tr");
    CHECK(g.language == Language::tr);  // plain Latin: the hint decides
    g = detect_language("where is my order", "hi-IN");
    CHECK(g.language == Language::en);
    CHECK_FALSE(g.from_script);
    g = detect_language("where is my order", "fr-FR");
    CHECK(g.language == Language::en);
    g = detect_language("", "");
    CHECK(g.language == Language::en);
    g = detect_language("\xFF\xFE broken \xC3", "tr");
    CHECK(g.language == Language::tr);
}
