// Word lists and stemmers. Lists are in natural spelling; TextAnalyzer runs
// them through its own pipeline, so "için" here matches "icin" and "İÇİN".
#include "core/bot/lexicon.hpp"

#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <vector>

namespace sb::core::bot::lexicon {

namespace {

// Function words that carry no topic. Question words (what, when, where, how…)
// and negations stay: "when will my refund arrive" and "not received" need them.
// clang-format off
constexpr std::string_view kStopEn[] = {
    "a", "an", "the", "i", "me", "my", "mine", "myself", "you", "your", "yours", "u", "ur", "we",
    "us", "our", "it", "its", "this", "that", "these", "those", "is", "am", "are", "was", "were",
    "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had", "can", "could",
    "would", "should", "will", "shall", "may", "might", "must", "to", "of", "in", "on", "at", "for",
    "from", "by", "with", "about", "into", "as", "and", "or", "but", "so", "if", "then", "than",
    "there", "here", "please", "pls", "plz", "thanks", "thank", "hi", "hello", "hey", "dear",
    "just", "also", "any", "some", "very", "really", "want", "like", "need", "im", "ive", "ok",
    "okay", "guys", "help", "still", "yet", "now", "get", "go", "let", "know", "tell", "say",
    "said", "says", "something", "anything", "someone", "anyone", "somebody", "anybody",
};
// clang-format on

// clang-format off
constexpr std::string_view kStopHi[] = {
    // Devanagari
    "का", "के", "की", "को", "से", "में", "पर", "ने", "है", "हैं", "हूँ", "हो", "था", "थी", "थे",
    "और", "या", "यह", "ये", "वह", "वो", "इस", "उस", "इसे", "उसे", "मैं", "मुझे", "मुझको", "मेरा",
    "मेरी", "मेरे", "मैंने", "हम", "हमें", "हमारा", "आप", "आपका", "आपकी", "आपके", "आपको", "आपने",
    "तुम", "क्या", "भी", "तो", "ही", "ना", "जी", "कृपया", "प्लीज़", "धन्यवाद", "नमस्ते", "हेलो",
    "हाय", "एक", "कुछ", "कोई", "अपना", "अपनी", "अपने", "कर", "करें", "करना", "करनी", "करने", "करूँ",
    "करो", "करते", "करता", "करती", "किया", "कीजिए", "दीजिए", "रहा", "रही", "रहे", "गया", "गई", "गए",
    "गयी", "हुआ", "हुई", "हुए", "होगा", "होगी", "होता", "होती", "लिए", "साथ", "बारे", "जो", "सकता",
    "सकती", "सकते", "चाहिए", "यहाँ", "वाला", "वाली", "वाले", "हाँ",
    // romanised Hindi
    "hai", "hain", "ka", "ki", "ke", "ko", "se", "me", "mein", "mai", "main", "mera", "meri",
    "mere", "mujhe", "kya", "kar", "karna", "karni", "karo", "kare", "karein", "ho", "tha", "thi",
    "aur", "ye", "yeh", "wo", "woh", "bhi", "hi", "na", "ji", "koi", "kuch", "ek", "apna", "aap",
    "hum", "raha", "rahi", "gaya", "gayi", "hua", "hui", "sakte", "sakta", "chahiye", "wala",
    "wali", "hoga", "hogi",
    // English mixed in
    "a", "an", "the", "i", "my", "is", "are", "to", "of", "in", "on", "for", "please", "pls", "plz",
    "can", "do", "it", "you", "your", "me", "and", "or", "with",
};
// clang-format on

// clang-format off
constexpr std::string_view kStopTr[] = {
    "ve", "veya", "ya", "ile", "bir", "bu", "şu", "o", "da", "de", "mi", "mı", "mu", "mü", "miyim",
    "mıyım", "muyum", "müyüm", "misin", "mısın", "musun", "müsün", "misiniz", "mısınız", "musunuz",
    "müsünüz", "midir", "mıdır", "mudur", "müdür", "ben", "beni", "bana", "benim", "sen", "seni",
    "sana", "senin", "siz", "sizi", "size", "sizin", "biz", "bize", "bizim", "için", "ama", "fakat",
    "acaba", "lütfen", "merhaba", "selam", "teşekkürler", "teşekkür", "sağol", "iyi", "günler",
    "ki", "şey", "gibi", "yani", "hem", "çok", "en", "şimdi", "artık", "hala", "hâlâ", "hemen",
    "rica", "var", "olur", "olsun", "istiyorum", "istiyoruz", "isterim", "lazım", "gerek",
    "gerekiyor", "gerekir",
    // light verbs: "iade etmek", "ödeme yapmak" carry their meaning in the noun
    "et", "etmek", "etti", "ettim", "eder", "ederim", "edin", "edebilir", "edebilirim", "edilir",
    "edildi", "edilecek", "edilsin", "edilmiş", "yap", "yapmak", "yaptım", "yapabilir",
    "yapabilirim", "yapılır", "yapılıyor", "yapıyor", "yapar",
    // "sipariş vermek" is to order; "elime ulaşmak", to reach me
    "ver", "vermek", "verdim", "verdiğim", "verdikten", "versem", "verirsem", "veriyorum",
    "verebilir", "verebilirim", "verilir", "verilen", "elime", "elimize", "mevcut",
};
// clang-format on

// from → to. Loanwords and spelling variants meet on one form; irregular
// English verbs meet their base form; romanised Hindi meets Devanagari.
// clang-format off
constexpr Synonym kSynEn[] = {
    {"parcel", "package"}, {"shipment", "ship"}, {"postage", "shipping"}, {"fee", "cost"},
    {"price", "cost"}, {"charge", "cost"}, {"pricing", "cost"}, {"installment", "instalment"},
    {"emi", "instalment"}, {"promo", "coupon"}, {"discount", "coupon"}, {"voucher", "coupon"},
    {"receipt", "invoice"}, {"bill", "invoice"}, {"mail", "email"}, {"colour", "color"},
    {"cancelled", "cancel"}, {"canceled", "cancel"}, {"cancelling", "cancel"},
    {"canceling", "cancel"}, {"cancellation", "cancel"}, {"got", "receive"}, {"gotten", "receive"},
    {"bought", "buy"}, {"paid", "pay"}, {"payment", "pay"}, {"sent", "send"}, {"broke", "break"},
    {"broken", "break"}, {"came", "come"}, {"took", "take"}, {"gave", "give"}, {"lost", "lose"},
    {"went", "go"}, {"gone", "go"}, {"sold", "sell"}, {"made", "make"}, {"told", "tell"},
    {"brought", "bring"}, {"mobile", "phone"}, {"cellphone", "phone"}, {"telephone", "phone"},
    {"dont", "not"}, {"didnt", "not"}, {"doesnt", "not"}, {"cant", "not"}, {"couldnt", "not"},
    {"isnt", "not"}, {"wasnt", "not"}, {"arent", "not"}, {"werent", "not"}, {"havent", "not"},
    {"hasnt", "not"}, {"hadnt", "not"}, {"wont", "not"}, {"wouldnt", "not"}, {"aint", "not"},
    {"no", "not"}, {"never", "not"}, {"whats", "what"}, {"wheres", "where"}, {"hows", "how"},
    {"whens", "when"}, {"login", "log"}, {"reimburse", "refund"}, {"reimbursement", "refund"},
    {"swap", "exchange"}, {"faulty", "defective"}, {"arrival", "arrive"}, {"delivery", "deliver"},
    {"registration", "register"}, {"confirmation", "confirm"}, {"modification", "modify"},
    {"product", "item"}, {"guarantee", "warranty"}, {"which", "what"}, {"ship", "deliver"},
    {"dispatch", "deliver"},
    // concept groups of the shop's domain
    {"wait", "late"}, {"stuff", "item"}, {"thing", "item"}, {"goods", "item"}, {"make", "create"},
    {"article", "item"}, {"come", "arrive"}, {"modify", "change"}, {"edit", "change"},
    {"alter", "change"}, {"amend", "change"}, {"correct", "change"}, {"fix", "change"},
    {"incorrect", "wrong"}, {"mistaken", "wrong"}, {"break", "damage"}, {"crack", "damage"},
    {"cracked", "damage"}, {"shattered", "damage"}, {"smashed", "damage"}, {"dented", "damage"},
    {"scratched", "damage"}, {"torn", "damage"}, {"ripped", "damage"}, {"defective", "damage"},
    {"delayed", "late"}, {"delay", "late"}, {"overdue", "late"}, {"lost", "missing"},
    {"stolen", "missing"}, {"option", "method"}, {"mode", "method"}, {"call", "phone"},
    {"remove", "delete"}, {"erase", "delete"}, {"restock", "stock"}, {"timing", "hour"},
    {"purchase", "buy"}, {"inbox", "email"}, {"signup", "register"}, {"abroad", "international"},
    {"overseas", "international"}, {"worldwide", "international"}, {"foreign", "international"},
    {"internationally", "international"}, {"helpline", "support"}, {"hotline", "support"},
    {"service", "support"},
};
// clang-format on

// Two-word expressions that mean one thing; one other word may sit between
// them, so "how days" also reads "how many days".
// clang-format off
constexpr Synonym kPhrasesEn[] = {
    {"send back", "return"}, {"give back", "return"}, {"money back", "refund"},
    {"get here", "arrive"}, {"show up", "arrive"}, {"turn up", "arrive"}, {"sold out", "stock"},
    {"opt out", "unsubscribe"}, {"sign in", "log"}, {"log in", "log"}, {"sign up", "register"},
    {"e mail", "email"}, {"pay later", "instalment"}, {"look up", "track"}, {"how long", "when"},
    {"how days", "when"}, {"what time", "hour"}, {"too long", "late"},
};
// clang-format on

// clang-format off
constexpr Synonym kSynHi[] = {
    // Devanagari loanwords → the English word (Hindi visitors write both)
    {"ऑर्डर", "order"}, {"आर्डर", "order"}, {"ओर्डर", "order"}, {"रिफंड", "refund"},
    {"डिलीवरी", "deliver"}, {"डिलिवरी", "deliver"}, {"डिलीवर", "deliver"}, {"चीज़", "item"},
    {"आइटम", "item"}, {"फूटा", "damage"}, {"फटा", "damage"}, {"विलंब", "late"}, {"गुम", "missing"},
    {"खोया", "missing"}, {"चोरी", "missing"}, {"तरीका", "method"}, {"विकल्प", "method"},
    {"ऑप्शन", "method"}, {"विदेश", "international"}, {"विदेशी", "international"}, {"कॉल", "phone"},
    {"हटा", "delete"}, {"हटाना", "delete"}, {"मिटा", "delete"}, {"सुधार", "बदल"},
    {"एडिट", "change"}, {"इनबॉक्स", "email"}, {"हेल्पलाइन", "support"}, {"डिलीवर्ड", "deliver"},
    {"पेमेंट", "pay"}, {"भुगतान", "pay"}, {"कूपन", "coupon"}, {"डिस्काउंट", "coupon"},
    {"प्रोमो", "coupon"}, {"ऑफर", "coupon"}, {"वाउचर", "coupon"}, {"पासवर्ड", "password"},
    {"अकाउंट", "account"}, {"एकाउंट", "account"}, {"खाता", "account"}, {"रिटर्न", "return"},
    {"वापस", "return"}, {"लौटा", "return"}, {"लौटाना", "return"}, {"कैंसिल", "cancel"},
    {"कैंसल", "cancel"}, {"रद्द", "cancel"}, {"ट्रैक", "track"}, {"ट्रैकिंग", "track"},
    {"इनवॉइस", "invoice"}, {"इन्वॉइस", "invoice"}, {"बिल", "invoice"}, {"रसीद", "invoice"},
    {"एक्सचेंज", "exchange"}, {"वारंटी", "warranty"}, {"गारंटी", "warranty"}, {"साइज़", "size"},
    {"नाप", "size"}, {"स्टॉक", "stock"}, {"ईएमआई", "instalment"}, {"किस्त", "instalment"},
    {"किश्त", "instalment"}, {"कैश", "cash"}, {"नकद", "cash"}, {"गिफ्ट", "gift"}, {"कार्ड", "card"},
    {"ईमेल", "email"}, {"मेल", "email"}, {"प्रोडक्ट", "item"}, {"सामान", "item"},
    {"स्टेटस", "status"}, {"एड्रेस", "address"}, {"ऐड्रेस", "address"}, {"शिपिंग", "ship"},
    {"चार्ज", "cost"}, {"शुल्क", "cost"}, {"फ्री", "free"}, {"मुफ़्त", "free"}, {"लिंक", "link"},
    {"नंबर", "number"}, {"लॉगिन", "log"}, {"सपोर्ट", "support"}, {"कस्टमर", "customer"},
    {"ग्राहक", "customer"}, {"लेट", "late"}, {"देर", "late"}, {"देरी", "late"}, {"डैमेज", "damage"},
    {"डिफेक्टिव", "defective"}, {"डिफेक्ट", "defective"}, {"खराब", "damage"}, {"टूटा", "damage"},
    {"टूट", "damage"}, {"एक्सप्रेस", "express"}, {"इंटरनेशनल", "international"},
    {"पिकअप", "pickup"}, {"मोबाइल", "phone"}, {"फ़ोन", "phone"}, {"कन्फर्म", "confirm"},
    {"कंफर्म", "confirm"}, {"कन्फर्मेशन", "confirm"}, {"पुष्टि", "confirm"}, {"डिलीट", "delete"},
    {"अपडेट", "update"}, {"अनसब्सक्राइब", "unsubscribe"}, {"नोटिफ़िकेशन", "notification"},
    {"प्राइवेसी", "privacy"}, {"डेटा", "data"}, {"रजिस्टर", "register"}, {"गेस्ट", "guest"},
    {"टाइम", "time"}, {"समय", "time"}, {"फेल", "fail"}, {"क्रेडिट", "credit"}, {"डेबिट", "debit"},
    {"बैंक", "bank"}, {"वॉलेट", "wallet"}, {"बैलेंस", "balance"}, {"स्टोर", "store"},
    {"पार्सल", "package"}, {"पैकेट", "package"}, {"पैकेज", "package"}, {"कूरियर", "courier"},
    {"प्रोफ़ाइल", "profile"}, {"चेकआउट", "checkout"}, {"रंग", "color"}, {"कलर", "color"},
    {"यूपीआई", "upi"}, {"एसएमएस", "sms"}, {"मैसेज", "message"}, {"संदेश", "message"},
    {"किधर", "कहाँ"},
    // romanised Hindi → Devanagari
    {"kahan", "कहाँ"}, {"kaha", "कहाँ"}, {"kahaan", "कहाँ"}, {"kidhar", "कहाँ"}, {"kab", "कब"},
    {"kaise", "कैसे"}, {"kese", "कैसे"}, {"kitna", "कितना"}, {"kitne", "कितना"}, {"kitni", "कितना"},
    {"din", "दिन"}, {"paisa", "पैसा"}, {"paise", "पैसा"}, {"pese", "पैसा"}, {"wapas", "return"},
    {"vapas", "return"}, {"nahi", "नहीं"}, {"nahin", "नहीं"}, {"nhi", "नहीं"}, {"mila", "मिला"},
    {"mili", "मिला"}, {"milega", "मिला"}, {"milegi", "मिला"}, {"aaya", "आया"}, {"aya", "आया"},
    {"aayega", "आया"}, {"badalna", "बदलना"}, {"badlna", "बदलना"}, {"lagega", "लगेगा"},
    {"lagta", "लगेगा"}, {"jaldi", "जल्दी"}, {"galat", "गलत"}, {"saman", "item"}, {"samaan", "item"},
    {"kharab", "damage"}, {"tuta", "damage"}, {"toota", "damage"}, {"bhul", "भूल"},
    {"bhool", "भूल"}, {"kat", "कट"}, {"lena", "ले"}, {"le", "ले"},
};
// clang-format on

// clang-format off
constexpr Synonym kPhrasesHi[] = {
    {"पैसा वापस", "refund"}, {"पैसे वापस", "refund"}, {"paisa wapas", "refund"},
    {"paise wapas", "refund"}, {"paise vapas", "refund"}, {"आउट ऑफ", "stock"}, {"कितने दिन", "कब"},
    {"कितना समय", "कब"}, {"कितना टाइम", "कब"}, {"kitne din", "कब"},
};
// clang-format on

// clang-format off
constexpr Synonym kSynTr[] = {
    {"bedava", "ücretsiz"}, {"parola", "şifre"}, {"posta", "eposta"}, {"mail", "eposta"},
    {"email", "eposta"}, {"indirim", "kupon"}, {"promosyon", "kupon"}, {"fiş", "fatura"},
    {"makbuz", "fatura"}, {"üyelik", "hesap"}, {"paket", "kargo"}, {"koli", "kargo"},
    {"cep", "telefon"}, {"gsm", "telefon"},
    // concept groups of the shop's domain
    {"kırık", "hasar"}, {"hasarlı", "hasar"}, {"bozuk", "hasar"}, {"bozuldu", "hasar"},
    {"arızalı", "hasar"}, {"kusurlu", "hasar"}, {"çizik", "hasar"}, {"ezik", "hasar"},
    {"farklı", "yanlış"}, {"geç", "gecikme"}, {"gecikti", "gecikme"}, {"kayboldu", "kayıp"},
    {"çalındı", "kayıp"}, {"düzelt", "değiştir"}, {"düzenle", "değiştir"}, {"kaldır", "sil"},
    {"seçenek", "yöntem"}, {"şekil", "yöntem"}, {"mal", "ürün"}, {"eşya", "ürün"},
    {"yurtdışı", "yurt"}, {"uluslararası", "yurt"},
};
// clang-format on

// clang-format off
constexpr Synonym kPhrasesTr[] = {
    {"para geri", "iade"}, {"paramı geri", "iade"}, {"geri gönder", "iade"}, {"geri yolla", "iade"},
    {"yurt dışı", "yurt"}, {"e posta", "eposta"}, {"ne zaman", "zaman"}, {"kaç gün", "zaman"},
    {"kadar sürer", "zaman"},
};
// clang-format on

// Country and region names all read as "country": "do you ship to Canada" is
// the same question as "do you ship to other countries".
// clang-format off
constexpr std::string_view kCountriesEn[] = {
    "america", "usa", "canada", "mexico", "brazil", "uk", "england", "britain", "scotland",
    "ireland", "germany", "france", "spain", "portugal", "italy", "netherlands", "holland",
    "belgium", "switzerland", "austria", "sweden", "norway", "denmark", "finland", "poland",
    "greece", "russia", "turkey", "india", "pakistan", "bangladesh", "nepal", "srilanka", "dubai",
    "uae", "emirates", "saudi", "qatar", "kuwait", "oman", "bahrain", "egypt", "nigeria", "kenya",
    "singapore", "malaysia", "indonesia", "philippines", "thailand", "vietnam", "japan", "china",
    "korea", "australia", "zealand", "europe", "asia", "africa",
};
// clang-format on
// clang-format off
constexpr std::string_view kCountriesHi[] = {
    "देश", "अमेरिका", "कनाडा", "इंग्लैंड", "ब्रिटेन", "यूके", "जर्मनी", "फ्रांस", "इटली", "स्पेन",
    "रूस", "ऑस्ट्रेलिया", "न्यूज़ीलैंड", "दुबई", "यूएई", "सऊदी", "कतर", "कुवैत", "ओमान", "सिंगापुर",
    "मलेशिया", "जापान", "चीन", "नेपाल", "भूटान", "बांग्लादेश", "श्रीलंका", "पाकिस्तान", "यूरोप",
    "अफ्रीका",
};
// clang-format on
// clang-format off
constexpr std::string_view kCountriesTr[] = {
    "almanya", "hollanda", "ingiltere", "amerika", "abd", "kanada", "fransa", "italya", "ispanya",
    "portekiz", "belçika", "avusturya", "isviçre", "isveç", "norveç", "danimarka", "polonya",
    "yunanistan", "bulgaristan", "romanya", "rusya", "ukrayna", "gürcistan", "azerbaycan", "kıbrıs",
    "irak", "iran", "suriye", "katar", "dubai", "japonya", "çin", "hindistan", "avustralya",
    "avrupa", "asya", "afrika",
};
// clang-format on

constexpr std::span<const std::string_view> pick(Language l) {
    switch (l) {
        case Language::en:
            return kStopEn;
        case Language::hi:
            return kStopHi;
        case Language::tr:
            return kStopTr;
    }
    return kStopEn;
}

// The Hindi pipeline also sees English words written in Latin letters.
const std::vector<Synonym>& hindi_synonyms() {
    static const std::vector<Synonym> all = [] {
        std::vector<Synonym> v(std::begin(kSynHi), std::end(kSynHi));
        v.insert(v.end(), std::begin(kSynEn), std::end(kSynEn));
        return v;
    }();
    return all;
}

template <typename F>
void map_code_points(std::string& word, F&& f) {
    std::string out;
    out.reserve(word.size());
    const auto* s = reinterpret_cast<const std::uint8_t*>(word.data());
    const auto n = static_cast<std::int32_t>(word.size());
    for (std::int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(s, i, n, c);
        if (c < 0) c = 0xFFFD;
        c = f(c);
        if (c < 0) continue;  // dropped
        std::uint8_t buf[4];
        std::int32_t len = 0;
        U8_APPEND_UNSAFE(buf, len, c);
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
    }
    word.swap(out);
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

bool has_vowel(std::string_view s) {
    return std::any_of(s.begin(), s.end(), is_vowel);
}

// After the ASCII fold, so one list covers both vowel-harmony forms of each
// suffix (-ın/-in/-un/-ün are all "in"/"un"). Nominal endings (plural,
// possessive, case) plus a few long, unambiguous verbal ones; short verbal
// endings (-di, -tim, -ir) are left alone: stripping them merges unrelated
// nouns (kartıma → kar).
// clang-format off
constexpr std::string_view kTrSuffixes[] = {
    // verbal: ability, progressive, infinitive, verbal noun
    "abilirim", "ebilirim", "abilir", "ebilir", "iyorum", "uyorum", "iyoruz", "uyoruz", "iyor",
    "uyor", "mak", "mek", "masi", "mesi", "mayi", "meyi",
    // plural + possessive + case
    "larindan", "lerinden", "larinda", "lerinde", "larina", "lerine", "larini", "lerini", "larin",
    "lerin", "lari", "leri", "lar", "ler", "imizden", "umuzdan", "imizde", "umuzda", "imiz", "umuz",
    "iniz", "unuz", "sindan", "sinden", "sundan", "sunden", "sinda", "sinde", "sunda", "sina",
    "sine", "suna", "sini", "sunu", "ndan", "nden", "nda", "nde", "nin", "nun", "dan", "den", "tan",
    "ten", "yla", "yle", "na", "ne", "ni", "nu", "da", "de", "ta", "te", "ya", "ye", "yi", "yu",
    "la", "le", "si", "su", "im", "um", "in", "un", "a", "e", "i", "u", "m",
};
// clang-format on

const std::vector<std::string_view>& turkish_suffixes() {
    static const std::vector<std::string_view> v = [] {
        std::vector<std::string_view> s(std::begin(kTrSuffixes), std::end(kTrSuffixes));
        std::stable_sort(s.begin(), s.end(), [](auto a, auto b) { return a.size() > b.size(); });
        return s;
    }();
    return v;
}

constexpr std::size_t kTrMinStem = 4;

void strip_turkish_suffixes(std::string& w) {
    bool stripped = false;
    for (int round = 0; round < 3; ++round) {
        bool again = false;
        for (const auto suf : turkish_suffixes()) {
            // Long suffixes are unambiguous enough to leave a 3-letter root (gel-iyor);
            // one- and two-letter ones must leave 4 (kart-ı, not kar-tı).
            const std::size_t min_stem = suf.size() >= 3 ? kTrMinStem - 1 : kTrMinStem;
            if (w.size() >= suf.size() + min_stem && ends_with(w, suf)) {
                w.resize(w.size() - suf.size());
                again = stripped = true;
                break;
            }
        }
        if (!again) break;
    }
    // p softens to b before a vowel suffix: hesabım → hesab → hesap. (ğ → k can't
    // be undone here: the ASCII fold already made ğ a g; fuzzy matching covers it.)
    if (stripped && w.back() == 'b') w.back() = 'p';
}

// Ramanathan & Rao's light stemmer suffixes, longest first.
// clang-format off
constexpr std::string_view kHiSuffixes[] = {
    "ाएंगी", "ाएंगे", "ाऊंगी", "ाऊंगा", "ाइयाँ", "ाइयों", "ाइयां", "ाएगी", "ाएगा", "ाओगी", "ाओगे",
    "एंगी", "ेंगी", "एंगे", "ेंगे", "ूंगी", "ूंगा", "ातीं", "नाओं", "नाएं", "ताओं", "ताएं", "ियाँ",
    "ियों", "ियां", "ाकर", "ाइए", "ाईं", "ाया", "ेगी", "ेगा", "ोगी", "ोगे", "ाने", "ाना", "ाते",
    "ाती", "ाता", "तीं", "ाओं", "ाएं", "ुओं", "ुएं", "ुआं", "कर", "ाओ", "िए", "ाई", "ाए", "ने",
    "नी", "ना", "ते", "ीं", "ती", "ता", "ाँ", "ां", "ों", "ें", "ो", "े", "ू", "ु", "ी", "ि", "ा",
};
// clang-format on

const std::vector<std::string>& hindi_suffixes(bool loose_vowels) {
    static const auto build = [](bool loose) {
        std::vector<std::string> v;
        for (const auto s : kHiSuffixes) {
            std::string t(s);
            loosen_hindi(t, loose);
            if (!t.empty() && std::find(v.begin(), v.end(), t) == v.end()) v.push_back(t);
        }
        std::stable_sort(v.begin(), v.end(),
                         [](const auto& a, const auto& b) { return a.size() > b.size(); });
        return v;
    };
    static const std::vector<std::string> strict = build(false), loose = build(true);
    return loose_vowels ? loose : strict;
}

}  // namespace

std::span<const std::string_view> stop_words(Language lang) {
    return pick(lang);
}

std::span<const std::string_view> countries(Language lang, std::string_view& canonical) {
    switch (lang) {
        case Language::en:
            canonical = "country";
            return kCountriesEn;
        case Language::hi:
            canonical = "country";
            return kCountriesHi;
        case Language::tr:
            canonical = "ülke";
            return kCountriesTr;
    }
    canonical = "country";
    return kCountriesEn;
}

std::span<const Synonym> phrases(Language lang) {
    static const std::vector<Synonym> hindi = [] {
        std::vector<Synonym> v(std::begin(kPhrasesHi), std::end(kPhrasesHi));
        v.insert(v.end(), std::begin(kPhrasesEn), std::end(kPhrasesEn));
        return v;
    }();
    switch (lang) {
        case Language::en:
            return kPhrasesEn;
        case Language::hi:
            return hindi;
        case Language::tr:
            return kPhrasesTr;
    }
    return kPhrasesEn;
}

std::span<const Synonym> synonyms(Language lang) {
    switch (lang) {
        case Language::en:
            return kSynEn;
        case Language::hi:
            return hindi_synonyms();
        case Language::tr:
            return kSynTr;
    }
    return kSynEn;
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void fold_turkish_letters(std::string& word) {
    if (is_ascii(word)) return;
    map_code_points(word, [](UChar32 c) -> UChar32 {
        switch (c) {
            case 0x00E7:
                return 'c';  // ç
            case 0x011F:
                return 'g';  // ğ
            case 0x0131:
                return 'i';  // ı
            case 0x00F6:
                return 'o';  // ö
            case 0x015F:
                return 's';  // ş
            case 0x00FC:
                return 'u';  // ü
            case 0x00E2:
                return 'a';  // â
            case 0x00EE:
                return 'i';  // î
            case 0x00FB:
                return 'u';  // û
            case 0x0307:
                return -1;  // combining dot above (i̇ from default folding of İ)
            default:
                return c;
        }
    });
}

void loosen_hindi(std::string& word, bool loose_vowels) {
    if (is_ascii(word)) return;
    map_code_points(word, [loose_vowels](UChar32 c) -> UChar32 {
        switch (c) {
            case 0x093C:
                return -1;  // nukta: ज़ → ज
            case 0x200C:
                return -1;  // ZWNJ
            case 0x200D:
                return -1;  // ZWJ
            case 0x0901:
                return 0x0902;  // candrabindu → anusvara: कहाँ → कहां
            case 0x0911:
                return 0x0906;  // ऑ → आ
            case 0x0949:
                return 0x093E;  // ॉ → ा
            default:
                break;
        }
        if (loose_vowels) {
            switch (c) {
                case 0x0940:
                    return 0x093F;  // ी → ि
                case 0x0942:
                    return 0x0941;  // ू → ु
                case 0x0908:
                    return 0x0907;  // ई → इ
                case 0x090A:
                    return 0x0909;  // ऊ → उ
                default:
                    break;
            }
        }
        return c;
    });
}

void stem_english(std::string& w) {
    if (w.size() <= 3 || !is_ascii(w)) return;
    if (ends_with(w, "ies") && w.size() > 4) {
        w.replace(w.size() - 3, 3, "y");
    } else if (ends_with(w, "sses")) {
        w.resize(w.size() - 2);
    } else if (w.back() == 's' && !ends_with(w, "ss") && !ends_with(w, "us") &&
               !ends_with(w, "is")) {
        w.pop_back();
    }
    bool cut = false;
    if (ends_with(w, "ing") && w.size() >= 6 &&
        has_vowel(std::string_view(w).substr(0, w.size() - 3))) {
        w.resize(w.size() - 3);
        cut = true;
    } else if (ends_with(w, "ed") && w.size() >= 5 &&
               has_vowel(std::string_view(w).substr(0, w.size() - 2))) {
        w.resize(w.size() - 2);
        cut = true;
    } else if (ends_with(w, "ly") && w.size() >= 6) {
        w.resize(w.size() - 2);
    }
    if (cut) {
        // shipp → ship, but keep call, miss, buzz
        const auto n = w.size();
        if (n >= 3 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' &&
            w[n - 1] != 's' && w[n - 1] != 'z') {
            w.pop_back();
        }
    }
    if (w.size() > 4 && w.back() == 'e') w.pop_back();
}

void stem_turkish(std::string& w, TurkishStemming how, std::size_t prefix) {
    switch (how) {
        case TurkishStemming::none:
            return;
        case TurkishStemming::suffixes:
            strip_turkish_suffixes(w);
            return;
        case TurkishStemming::prefix:
            break;
        case TurkishStemming::suffixes_prefix:
            strip_turkish_suffixes(w);
            break;
    }
    // Truncate to `prefix` code points (words are ASCII after folding, but be safe).
    std::size_t cps = 0, i = 0;
    while (i < w.size()) {
        const auto c = static_cast<unsigned char>(w[i]);
        const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (++cps > prefix) {
            w.resize(i);
            return;
        }
        i += len;
    }
}

void stem_hindi(std::string& w, bool loose_vowels) {
    if (is_ascii(w)) return;
    for (const auto& suf : hindi_suffixes(loose_vowels)) {
        if (ends_with(w, suf) && code_points(w) >= code_points(suf) + 2) {
            w.resize(w.size() - suf.size());
            return;
        }
    }
}

}  // namespace sb::core::bot::lexicon
