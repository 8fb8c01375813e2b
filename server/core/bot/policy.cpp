#include "core/bot/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace sb::core::bot {

std::string_view to_string(DecisionKind k) {
    switch (k) {
        case DecisionKind::answer:
            return "answer";
        case DecisionKind::suggest:
            return "suggest";
        case DecisionKind::no_match:
            return "no_match";
        case DecisionKind::handoff:
            return "handoff";
        case DecisionKind::greet:
            return "greet";
        case DecisionKind::acknowledge:
            return "acknowledge";
        case DecisionKind::silent:
            return "silent";
    }
    return "silent";
}

std::string_view to_string(HandoffReason r) {
    switch (r) {
        case HandoffReason::none:
            return "none";
        case HandoffReason::visitor_asked:
            return "visitor_asked";
        case HandoffReason::repeated_misses:
            return "repeated_misses";
        case HandoffReason::not_helpful:
            return "not_helpful";
    }
    return "none";
}

const BotTexts& bot_texts(Language lang) {
    static const std::array<BotTexts, kLanguageCount> texts{{
        {
            "Happy to help! Ask me anything about orders, delivery, returns, payments or your "
            "account.",
            "I'm not sure I understood. Did you mean one of these?",
            "Sorry, I don't have an answer to that. Could you rephrase it? "
            "You can also ask to talk to a person.",
            "I'm connecting you with a member of our team. Please stay in this chat; "
            "someone will be with you shortly.",
            "Was this helpful?",
            "Thanks for letting me know!",
            "Sorry that didn't help. Maybe one of these is closer:",
        },
        {
            "आपकी मदद करके खुशी होगी! ऑर्डर, डिलीवरी, रिटर्न, भुगतान या अपने अकाउंट के बारे में "
            "कुछ भी पूछिए।",
            "मुझे पक्का नहीं पता कि मैं सही समझा। क्या आपका मतलब इनमें से कोई है?",
            "माफ़ कीजिए, इसका जवाब मेरे पास नहीं है। क्या आप इसे दूसरे शब्दों में पूछ सकते हैं? आप "
            "किसी व्यक्ति से बात करने के लिए भी कह सकते हैं।",
            "मैं आपको हमारी टीम के एक सदस्य से जोड़ रहा हूँ। कृपया इसी चैट में बने रहें, कोई जल्द "
            "ही आपसे बात करेगा।",
            "क्या यह जवाब मददगार था?",
            "बताने के लिए धन्यवाद!",
            "माफ़ कीजिए, इससे मदद नहीं मिली। शायद इनमें से कोई सवाल आपके काम का हो:",
        },
        {
            "Memnuniyetle yardımcı olurum! Sipariş, teslimat, iade, ödeme veya hesabınızla ilgili "
            "her şeyi sorabilirsiniz.",
            "Sizi doğru anladığımdan emin değilim. Şunlardan birini mi demek istediniz?",
            "Üzgünüm, bu sorunun yanıtı bende yok. Farklı bir şekilde sorabilir misiniz? "
            "Dilerseniz bir müşteri temsilcisiyle de görüşebilirsiniz.",
            "Sizi ekibimizden bir arkadaşımıza bağlıyorum. Lütfen bu sohbette kalın; en kısa "
            "sürede size dönülecek.",
            "Bu yanıt işinize yaradı mı?",
            "Geri bildiriminiz için teşekkürler!",
            "Yardımcı olamadığım için üzgünüm. Belki şunlardan biri işinize yarar:",
        },
    }};
    return texts[index_of(lang)];
}

BotPolicy::BotPolicy(const Matcher& matcher, BotSettings settings)
    : matcher_(&matcher), settings_(settings), handoff_(matcher.analyzer()) {
    settings_.answer_threshold = std::clamp(settings_.answer_threshold, 0.0, 1.0);
    settings_.suggest_floor = std::clamp(settings_.suggest_floor, 0.0, settings_.answer_threshold);
}

std::vector<Suggestion> BotPolicy::follow_ups(const KbEntry& entry) const {
    std::vector<Suggestion> out;
    const auto& kb = matcher_->knowledge_base();
    for (const auto& id : entry.follow_ups) {
        if (out.size() >= settings_.max_suggestions) break;
        if (const auto* f = kb.find(entry.language, id))
            out.push_back({f->id, f->questions.front()});
    }
    return out;
}

BotDecision BotPolicy::answer(const BotState& state, const KbEntry& entry,
                              double confidence) const {
    BotDecision d;
    d.kind = DecisionKind::answer;
    d.language = entry.language;
    d.text = entry.answer;
    d.entry_id = entry.id;
    d.confidence = confidence;
    d.ask_helpful = true;
    d.helpful_prompt = bot_texts(entry.language).was_helpful;
    d.suggestions = follow_ups(entry);
    d.department = entry.department;
    d.state = state;
    d.state.misses_in_row = 0;
    d.state.last_department = entry.department;
    d.state.last_entry_id = entry.id;
    d.state.last_language = entry.language;
    return d;
}

BotDecision BotPolicy::handoff(const BotState& state, HandoffReason reason, Language lang,
                               std::string department) const {
    BotDecision d;
    d.kind = DecisionKind::handoff;
    d.language = lang;
    d.text = bot_texts(lang).handoff;
    d.reason = reason;
    d.department = std::move(department);
    d.state = state;
    d.state.handed_off = true;
    d.state.last_language = lang;
    return d;
}

BotDecision BotPolicy::miss(const BotState& state, Language lang) const {
    BotState next = state;
    next.misses_in_row = state.misses_in_row + 1;
    next.last_language = lang;
    if (settings_.max_misses > 0 && next.misses_in_row >= settings_.max_misses) {
        return handoff(next, HandoffReason::repeated_misses, lang, state.last_department);
    }
    BotDecision d;
    d.kind = DecisionKind::no_match;
    d.language = lang;
    d.text = bot_texts(lang).no_match;
    d.state = std::move(next);
    return d;
}

BotDecision BotPolicy::on_message(const BotState& state, std::string_view text,
                                  std::string_view locale_hint) const {
    BotDecision d;
    d.state = state;
    if (state.handed_off) return d;  // silent: a person has the conversation now

    const auto r = matcher_->match(text, locale_hint);
    const auto& kb = matcher_->knowledge_base();
    const auto* best = r.best();
    const auto entry_of = [&](const Candidate& c) { return &kb.entries(r.language)[c.entry]; };

    if (handoff_.asks_for_person(cap_input(text), r.language)) {
        // Route by what this message is about if we can tell, else by the last topic.
        std::string dept = state.last_department;
        if (best && best->confidence >= settings_.suggest_floor) dept = entry_of(*best)->department;
        return handoff(state, HandoffReason::visitor_asked, r.language, std::move(dept));
    }
    if (r.words == 0) {
        d.language = r.language;
        return d;  // silent: emoji, punctuation, empty
    }
    if (r.terms == 0) {
        // Only greetings, thanks and other small words: not a miss.
        d.kind = DecisionKind::greet;
        d.language = r.language;
        d.text = bot_texts(r.language).greeting;
        return d;
    }
    if (best && best->confidence >= settings_.answer_threshold) {
        return answer(state, *entry_of(*best), best->confidence);
    }
    if (best && best->confidence >= settings_.suggest_floor) {
        d.kind = DecisionKind::suggest;
        d.language = r.language;
        d.text = bot_texts(r.language).did_you_mean;
        d.confidence = best->confidence;
        for (const auto& c : r.candidates) {
            if (d.suggestions.size() >= settings_.max_suggestions) break;
            if (c.confidence < settings_.suggest_floor) break;
            const auto* e = entry_of(c);
            d.suggestions.push_back({e->id, e->questions.front()});
        }
        // A suggestion is neither a miss nor an answer: the counter stays.
        if (d.state.last_department.empty()) d.state.last_department = entry_of(*best)->department;
        d.state.last_language = r.language;
        return d;
    }
    return miss(state, r.language);
}

BotDecision BotPolicy::on_feedback(const BotState& state, bool helpful) const {
    BotDecision d;
    d.state = state;
    d.language = state.last_language;
    if (state.handed_off) return d;
    if (helpful) {
        d.kind = DecisionKind::acknowledge;
        d.text = bot_texts(state.last_language).thanks;
        return d;
    }
    BotState next = state;
    next.not_helpful_count = state.not_helpful_count + 1;
    if (settings_.max_not_helpful > 0 && next.not_helpful_count >= settings_.max_not_helpful) {
        return handoff(next, HandoffReason::not_helpful, state.last_language,
                       state.last_department);
    }
    d.state = next;
    const auto* last = matcher_->knowledge_base().find(state.last_language, state.last_entry_id);
    if (last && !last->follow_ups.empty()) {
        d.kind = DecisionKind::suggest;
        d.text = bot_texts(state.last_language).not_helpful;
        d.suggestions = follow_ups(*last);
        return d;
    }
    d.kind = DecisionKind::no_match;
    d.text = bot_texts(state.last_language).no_match;
    return d;
}

BotDecision BotPolicy::on_handoff_request(const BotState& state) const {
    if (state.handed_off) {
        BotDecision d;
        d.state = state;
        d.language = state.last_language;
        return d;
    }
    return handoff(state, HandoffReason::visitor_asked, state.last_language, state.last_department);
}

BotDecision BotPolicy::on_suggestion(const BotState& state, std::string_view entry_id,
                                     Language lang) const {
    if (state.handed_off) {
        BotDecision d;
        d.state = state;
        d.language = lang;
        return d;
    }
    if (const auto* e = matcher_->knowledge_base().find(lang, entry_id)) {
        return answer(state, *e, 1.0);
    }
    // A stale quick reply (the knowledge base was reloaded): not the visitor's miss.
    BotDecision d;
    d.kind = DecisionKind::no_match;
    d.language = lang;
    d.text = bot_texts(lang).no_match;
    d.state = state;
    return d;
}

}  // namespace sb::core::bot
