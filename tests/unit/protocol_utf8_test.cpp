// The strict UTF-8 validator, id syntax and the enum wire names.
#include <doctest/doctest.h>

#include <string>

#include <switchboard/protocol.hpp>

using namespace sb::proto;

TEST_CASE("utf8: well-formed text is accepted") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ASCII, long enough to use the eight-byte fast path"));
    CHECK(is_valid_utf8(std::string("nul \0 inside", 12)));
    CHECK(is_valid_utf8("caf\xC3\xA9"));                // é, 2 bytes
    CHECK(is_valid_utf8("\xE2\x82\xAC"));               // €, 3 bytes
    CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));           // 😀, 4 bytes
    CHECK(is_valid_utf8("नमस्ते दुनिया"));                 // Devanagari with virama and matras
    CHECK(is_valid_utf8("İstanbul'da ığüşöç IĞÜŞÖÇ"));  // Turkish dotted/dotless i
    CHECK(is_valid_utf8("mixed: abc नमस्ते 😀 İı €"));
}

TEST_CASE("utf8: boundaries of every sequence length") {
    CHECK(is_valid_utf8("\x7F"));              // U+007F
    CHECK(is_valid_utf8("\xC2\x80"));          // U+0080, smallest 2-byte
    CHECK(is_valid_utf8("\xDF\xBF"));          // U+07FF
    CHECK(is_valid_utf8("\xE0\xA0\x80"));      // U+0800, smallest 3-byte
    CHECK(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
    CHECK(is_valid_utf8("\xEE\x80\x80"));      // U+E000, just above them
    CHECK(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
    CHECK(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000, smallest 4-byte
    CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
}

TEST_CASE("utf8: overlong forms are rejected") {
    CHECK_FALSE(is_valid_utf8("\xC0\x80"));          // U+0000 in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // '/' in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xC1\xBF"));          // U+007F in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xE0\x80\x80"));      // U+0000 in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xF0\x80\x80\x80"));  // U+0000 in 4 bytes
    CHECK_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
}

TEST_CASE("utf8: surrogates and code points above U+10FFFF are rejected") {
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));              // U+D800
    CHECK_FALSE(is_valid_utf8("\xED\xBF\xBF"));              // U+DFFF
    CHECK_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 pair for U+1F600
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));          // U+110000
    CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xF7\xBF\xBF\xBF"));
    CHECK_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));  // old 5-byte form
    CHECK_FALSE(is_valid_utf8("\xFE"));
    CHECK_FALSE(is_valid_utf8("\xFF"));
}

TEST_CASE("utf8: stray and truncated sequences are rejected") {
    CHECK_FALSE(is_valid_utf8("\x80"));  // continuation without a lead
    CHECK_FALSE(
        is_valid_utf8("a\xBF"
                      "b"));
    CHECK_FALSE(is_valid_utf8("\xC3"));                  // 2-byte lead at the end
    CHECK_FALSE(is_valid_utf8("\xE2\x82"));              // 3-byte sequence cut short
    CHECK_FALSE(is_valid_utf8("\xF0\x9F\x98"));          // 4-byte sequence cut short
    CHECK_FALSE(is_valid_utf8("\xE2\x82z"));             // cut short by an ASCII byte
    CHECK_FALSE(is_valid_utf8("\xC3\xC3\xA9"));          // lead followed by a lead
    CHECK_FALSE(is_valid_utf8("\xF0\x9F\x98\x80\x80"));  // one continuation too many
}

TEST_CASE("utf8: a bad byte is found wherever it sits relative to the fast path") {
    for (std::size_t len = 1; len <= 24; ++len) {
        for (std::size_t pos = 0; pos < len; ++pos) {
            std::string s(len, 'a');
            s[pos] = '\x80';
            CAPTURE(len);
            CAPTURE(pos);
            CHECK_FALSE(is_valid_utf8(s));
            // A well-formed 2-byte character at the same place is fine.
            s.replace(pos, 1, "\xC3\xA9");
            CHECK(is_valid_utf8(s));
        }
    }
}

TEST_CASE("ids: 1..max bytes of [A-Za-z0-9._:-]") {
    CHECK(is_valid_id("c_01HZX.9:abc-DEF", 64));
    CHECK(is_valid_id(std::string(64, 'a'), 64));
    CHECK_FALSE(is_valid_id(std::string(65, 'a'), 64));
    CHECK_FALSE(is_valid_id("", 64));
    for (const char* bad : {"a b", "a/b", "a\"b", "a\\b", "a\x01", "caf\xC3\xA9", "a+b", "a#"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_valid_id(bad, 64));
    }
}

TEST_CASE("names: every enum value round-trips through its wire name") {
    for (auto r : {Role::visitor, Role::agent}) CHECK(role_from(to_string(r)) == r);
    for (auto s : {Sender::visitor, Sender::agent, Sender::bot, Sender::system})
        CHECK(sender_from(to_string(s)) == s);
    for (auto s : {ConvState::waiting, ConvState::active, ConvState::closed, ConvState::bot})
        CHECK(conv_state_from(to_string(s)) == s);
    for (auto k : {ReceiptKind::delivered, ReceiptKind::read})
        CHECK(receipt_kind_from(to_string(k)) == k);
    for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
        const auto code = static_cast<ErrorCode>(i);
        CAPTURE(i);
        CHECK(to_string(code) != "unknown");
        CHECK(error_code_from(to_string(code)) == code);
    }
    CHECK(to_string(ErrorCode::bad_json) == "bad_json");
    CHECK(to_string(ErrorCode::store_unavailable) == "store_unavailable");
    CHECK(to_string(Sender::bot) == "bot");
    CHECK(to_string(ConvState::active) == "active");
    CHECK(to_string(ConvState::bot) == "bot");
    CHECK(conv_state_from("bot") == ConvState::bot);
    CHECK_FALSE(conv_state_from("Bot").has_value());
    CHECK_FALSE(role_from("Agent").has_value());
    CHECK_FALSE(sender_from("").has_value());
    CHECK_FALSE(conv_state_from("open").has_value());
    CHECK_FALSE(receipt_kind_from("seen").has_value());
    CHECK_FALSE(error_code_from("nope").has_value());
}
