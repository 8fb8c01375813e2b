// Policy: answer / suggest / no match, every hand-off rule, and silence after
// hand-off. Pure functions over BotState: each step feeds decision.state on.
#include <doctest/doctest.h>

#include <string>

#include "core/bot/bot.hpp"

using namespace sb::core::bot;

namespace {

const char* kEn = R"({"language":"en","entries":[
 {"id":"orders.track","department":"orders","questions":["Where is my order?","How can I track my package?","Order status"],"answer":"See My orders.","follow_ups":["shipping.late"]},
 {"id":"shipping.late","department":"shipping","questions":["My order is late","My delivery is delayed","Why hasn't my order arrived yet?"],"answer":"Couriers can be late."},
 {"id":"billing.refund_timing","department":"billing","questions":["How long does a refund take?","When will I get my refund?","Refund status"],"answer":"5-7 days.","follow_ups":["billing.refund"]},
 {"id":"billing.refund","department":"billing","questions":["How do refunds work?","Where will I get my refund?","Refund to my card"],"answer":"To your card."},
 {"id":"support.hours","department":"support","questions":["What are your business hours?","When is customer service open?","Are you open on weekends?"],"answer":"Mon-Sat 9-21."}]})";
const char* kHi = R"({"language":"hi","entries":[
 {"id":"orders.track","department":"orders","questions":["मेरा ऑर्डर कहाँ है?","मैं अपना ऑर्डर कैसे ट्रैक करूँ?","order kahan hai"],"answer":"मेरे ऑर्डर देखें।"}]})";
const char* kTr = R"({"language":"tr","entries":[
 {"id":"orders.track","department":"orders","questions":["Siparişim nerede?","Siparişimi nasıl takip edebilirim?","Kargom şu an nerede?"],"answer":"Siparişlerim sayfasına bakın."}]})";

std::unique_ptr<Bot> make_bot(BotSettings settings = {}) {
    auto r = Bot::load({{"en.json", kEn}, {"hi.json", kHi}, {"tr.json", kTr}}, settings);
    REQUIRE(r.bot);
    return std::move(r.bot);
}

const Bot& bot() {
    static const auto b = make_bot();
    return *b;
}

constexpr const char* kGibberish = "zorblax quendle frimp";

}  // namespace

TEST_CASE("bot policy: a confident match is answered, and asks whether it helped") {
    const auto d = bot().on_message(BotState{}, "where is my order?", "en-US");
    CHECK(d.kind == DecisionKind::answer);
    CHECK(d.entry_id == "orders.track");
    CHECK(d.text == "See My orders.");
    CHECK(d.language == Language::en);
    CHECK(d.ask_helpful);
    CHECK(d.helpful_prompt == "Was this helpful?");
    CHECK(d.confidence >= bot().policy().settings().answer_threshold);
    CHECK(d.confidence <= 1.0);
    REQUIRE(d.suggestions.size() == 1);  // follow-ups
    CHECK(d.suggestions[0].entry_id == "shipping.late");
    CHECK(d.suggestions[0].title == "My order is late");
    CHECK(d.department == "orders");
    CHECK(d.state.last_department == "orders");
    CHECK(d.state.last_entry_id == "orders.track");
    CHECK(d.reason == HandoffReason::none);

    const auto hi = bot().on_message(BotState{}, "मेरा ऑर्डर कहाँ है", "hi-IN");
    CHECK(hi.kind == DecisionKind::answer);
    CHECK(hi.language == Language::hi);
    CHECK(hi.helpful_prompt == bot_texts(Language::hi).was_helpful);
}

TEST_CASE("bot policy: between the floor and the threshold, up to 3 suggestions") {
    const std::string text = "refund";
    const auto m = bot().matcher().match(text, "en");
    REQUIRE(m.best());
    const double c = m.best_confidence();
    REQUIRE(c > 0.1);
    BotSettings s;
    s.answer_threshold = c + 0.01;
    s.suggest_floor = c - 0.2;
    s.max_suggestions = 3;
    const auto b = make_bot(s);
    const auto d = b->on_message(BotState{}, text, "en");
    CHECK(d.kind == DecisionKind::suggest);
    CHECK(d.text == bot_texts(Language::en).did_you_mean);
    REQUIRE_FALSE(d.suggestions.empty());
    CHECK(d.suggestions.size() <= 3);
    CHECK(d.suggestions[0].entry_id == std::string(m.best()->entry_id));
    for (const auto& sug : d.suggestions) {
        const auto* e = b->knowledge_base().find(Language::en, sug.entry_id);
        REQUIRE(e);
        CHECK(sug.title == e->questions.front());
    }
    CHECK_FALSE(d.ask_helpful);
    CHECK(d.state.misses_in_row == 0);  // a suggestion is not a miss
    CHECK(d.state.last_department == "billing");

    // Below the floor it is a miss.
    s.suggest_floor = c + 0.005;
    const auto none = make_bot(s)->on_message(BotState{}, text, "en");
    CHECK(none.kind == DecisionKind::no_match);
}

TEST_CASE("bot policy: hand-off after max_misses misses in a row, to the last department") {
    BotState st;
    auto d = bot().on_message(st, "when will i get my refund", "en");
    REQUIRE(d.kind == DecisionKind::answer);
    st = d.state;
    d = bot().on_message(st, kGibberish, "en");
    CHECK(d.kind == DecisionKind::no_match);
    CHECK(d.text == bot_texts(Language::en).no_match);
    CHECK(d.state.misses_in_row == 1);
    st = d.state;
    d = bot().on_message(st, kGibberish, "en");
    CHECK(d.kind == DecisionKind::handoff);
    CHECK(d.reason == HandoffReason::repeated_misses);
    CHECK(d.department == "billing");
    CHECK(d.text == bot_texts(Language::en).handoff);
    CHECK(d.state.handed_off);
}

TEST_CASE("bot policy: an answer resets the miss counter") {
    BotState st;
    st = bot().on_message(st, kGibberish, "en").state;
    CHECK(st.misses_in_row == 1);
    st = bot().on_message(st, "where is my order", "en").state;
    CHECK(st.misses_in_row == 0);
    const auto d = bot().on_message(st, kGibberish, "en");
    CHECK(d.kind == DecisionKind::no_match);
}

TEST_CASE("bot policy: max_misses 0 never hands off for misses") {
    BotSettings s;
    s.max_misses = 0;
    const auto b = make_bot(s);
    BotState st;
    for (int i = 0; i < 5; ++i) {
        const auto d = b->on_message(st, kGibberish, "en");
        CHECK(d.kind == DecisionKind::no_match);
        st = d.state;
    }
    CHECK(st.misses_in_row == 5);
}

TEST_CASE("bot policy: the visitor asks for a person, in any of the three languages") {
    for (const char* text : {"I want to talk to a human", "can I speak to someone please", "AGENT",
                             "live agent pls", "get me a real person", "मुझे किसी इंसान से बात करनी है",
                             "एजेंट से बात कराओ", "agent se baat karni hai", "kisi se baat karni hai",
                             "müşteri temsilcisiyle görüşmek istiyorum", "MÜŞTERİ TEMSİLCİSİ",
                             "canli destek", "bir insanla konuşabilir miyim"}) {
        CAPTURE(text);
        for (const char* locale : {"en-US", "hi-IN", "tr-TR"}) {
            CAPTURE(locale);
            const auto d = bot().on_message(BotState{}, text, locale);
            CHECK(d.kind == DecisionKind::handoff);
            CHECK(d.reason == HandoffReason::visitor_asked);
            CHECK(d.state.handed_off);
        }
    }
}

TEST_CASE("bot policy: ordinary questions don't trigger a hand-off") {
    for (const char* text : {"what are your customer service hours", "delete my personal data",
                             "when is customer service open", "müşteri hizmetleri ne zaman açık",
                             "where is my order"}) {
        CAPTURE(text);
        CHECK(bot().on_message(BotState{}, text, "en").kind != DecisionKind::handoff);
    }
}

TEST_CASE("bot policy: a hand-off request goes to the department of the last matched entry") {
    BotState st = bot().on_message(BotState{}, "how long does a refund take", "en").state;
    REQUIRE(st.last_department == "billing");
    auto d = bot().on_message(st, "talk to a human", "en");
    CHECK(d.kind == DecisionKind::handoff);
    CHECK(d.department == "billing");
    // ... or to this message's topic when it names one.
    d = bot().on_message(st, "agent please, my order is late and delayed", "en");
    CHECK(d.kind == DecisionKind::handoff);
    CHECK(d.department == "shipping");
    // Nothing matched yet: no department, the router picks its default.
    d = bot().on_message(BotState{}, "human", "en");
    CHECK(d.department.empty());
}

TEST_CASE("bot policy: the widget's button hands off") {
    BotState st = bot().on_message(BotState{}, "where is my order", "en").state;
    const auto d = bot().on_handoff_request(st);
    CHECK(d.kind == DecisionKind::handoff);
    CHECK(d.reason == HandoffReason::visitor_asked);
    CHECK(d.department == "orders");
}

TEST_CASE("bot policy: two 'not helpful' answers hand off") {
    BotState st = bot().on_message(BotState{}, "when will i get my refund", "en").state;
    auto d = bot().on_feedback(st, false);
    CHECK(d.kind == DecisionKind::suggest);  // the entry's follow-ups
    CHECK(d.text == bot_texts(Language::en).not_helpful);
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].entry_id == "billing.refund");
    CHECK(d.state.not_helpful_count == 1);
    st = bot().on_suggestion(d.state, "billing.refund", Language::en).state;
    d = bot().on_feedback(st, false);
    CHECK(d.kind == DecisionKind::handoff);
    CHECK(d.reason == HandoffReason::not_helpful);
    CHECK(d.department == "billing");
    CHECK(d.state.handed_off);
}

TEST_CASE("bot policy: 'helpful' is acknowledged and changes nothing") {
    BotState st = bot().on_message(BotState{}, "where is my order", "en").state;
    const auto d = bot().on_feedback(st, true);
    CHECK(d.kind == DecisionKind::acknowledge);
    CHECK(d.text == bot_texts(Language::en).thanks);
    CHECK(d.state.not_helpful_count == 0);
    CHECK_FALSE(d.state.handed_off);
}

TEST_CASE("bot policy: silent after hand-off, whatever arrives") {
    BotState st = bot().on_message(BotState{}, "talk to a human", "en").state;
    REQUIRE(st.handed_off);
    const BotDecision ds[] = {
        bot().on_message(st, "where is my order", "en"),
        bot().on_message(st, kGibberish, "en"),
        bot().on_message(st, "agent", "en"),
        bot().on_feedback(st, false),
        bot().on_feedback(st, true),
        bot().on_handoff_request(st),
        bot().on_suggestion(st, "orders.track", Language::en),
    };
    for (const auto& d : ds) {
        CHECK(d.kind == DecisionKind::silent);
        CHECK(d.text.empty());
        CHECK(d.state.handed_off);
        CHECK(d.state.misses_in_row == st.misses_in_row);
    }
}

TEST_CASE("bot policy: emoji-only is ignored, greetings are greeted, neither is a miss") {
    BotState st;
    st.misses_in_row = 1;
    auto d = bot().on_message(st, "👍👍", "en");
    CHECK(d.kind == DecisionKind::silent);
    CHECK(d.state.misses_in_row == 1);
    d = bot().on_message(st, "", "en");
    CHECK(d.kind == DecisionKind::silent);
    d = bot().on_message(st, "hello!", "en");
    CHECK(d.kind == DecisionKind::greet);
    CHECK(d.text == bot_texts(Language::en).greeting);
    CHECK(d.state.misses_in_row == 1);
    d = bot().on_message(st, "merhaba", "tr-TR");
    CHECK(d.kind == DecisionKind::greet);
    CHECK(d.language == Language::tr);
}

TEST_CASE("bot policy: choosing a suggestion answers it; a stale one is not a miss") {
    auto d = bot().on_suggestion(BotState{}, "support.hours", Language::en);
    CHECK(d.kind == DecisionKind::answer);
    CHECK(d.entry_id == "support.hours");
    CHECK(d.ask_helpful);
    d = bot().on_suggestion(BotState{}, "no.such.entry", Language::en);
    CHECK(d.kind == DecisionKind::no_match);
    CHECK(d.state.misses_in_row == 0);
}

TEST_CASE("bot policy: decisions name their kind and reason") {
    CHECK(to_string(DecisionKind::answer) == "answer");
    CHECK(to_string(DecisionKind::silent) == "silent");
    CHECK(to_string(HandoffReason::visitor_asked) == "visitor_asked");
    CHECK(to_string(HandoffReason::repeated_misses) == "repeated_misses");
    CHECK(to_string(HandoffReason::not_helpful) == "not_helpful");
    for (const auto lang : kLanguages) {
        const auto& t = bot_texts(lang);
        CHECK_FALSE(t.greeting.empty());
        CHECK_FALSE(t.handoff.empty());
        CHECK_FALSE(t.was_helpful.empty());
    }
}

TEST_CASE("bot policy: a failed load reports and gives no bot") {
    const auto r = Bot::load({{"en.json", "{not json"}});
    CHECK_FALSE(r.bot);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].file == "en.json");
}
