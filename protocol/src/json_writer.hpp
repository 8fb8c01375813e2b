// A small append-only JSON writer for the encoders: they run once per outgoing
// event, so they write straight into one string instead of building a DOM.
// Strings that are not valid UTF-8 have each ill-formed subpart replaced with
// U+FFFD, so encoding never fails. Private to the protocol library.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "utf8.hpp"

namespace sb::proto::detail {

class JsonWriter {
  public:
    explicit JsonWriter(std::size_t reserve = 128) { out_.reserve(reserve); }

    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }

    // Start a member; the next value (or object/array) belongs to it.
    JsonWriter& key(std::string_view k) {
        comma();
        append_string(k);
        out_ += ':';
        need_comma_ = false;
        return *this;
    }

    JsonWriter& string(std::string_view v) {
        comma();
        append_string(v);
        need_comma_ = true;
        return *this;
    }
    JsonWriter& uint(std::uint64_t v) { return number(v); }
    JsonWriter& sint(std::int64_t v) { return number(v); }
    JsonWriter& boolean(bool v) {
        comma();
        out_ += v ? "true" : "false";
        need_comma_ = true;
        return *this;
    }

    // key + value in one call; distinct names keep a string literal from
    // silently converting to bool.
    JsonWriter& str(std::string_view k, std::string_view v) { return key(k).string(v); }
    JsonWriter& u64(std::string_view k, std::uint64_t v) { return key(k).uint(v); }
    JsonWriter& i64(std::string_view k, std::int64_t v) { return key(k).sint(v); }
    JsonWriter& flag(std::string_view k, bool v) { return key(k).boolean(v); }
    // Only when non-empty: for optional string members.
    JsonWriter& str_if(std::string_view k, std::string_view v) {
        return v.empty() ? *this : str(k, v);
    }

    std::string take() { return std::move(out_); }

  private:
    JsonWriter& open(char c) {
        comma();
        out_ += c;
        need_comma_ = false;
        return *this;
    }
    JsonWriter& close(char c) {
        out_ += c;
        need_comma_ = true;
        return *this;
    }
    void comma() {
        if (need_comma_) out_ += ',';
    }
    template <class Int>
    JsonWriter& number(Int v) {
        comma();
        char buf[24];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, res.ptr);
        need_comma_ = true;
        return *this;
    }

    void append_string(std::string_view s) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_ += '"';
        std::size_t i = 0;
        std::size_t run = 0;  // start of the pending run of bytes copied as-is
        auto flush = [&] { out_.append(s.data() + run, i - run); };
        while (i < s.size()) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                ++i;
                continue;
            }
            if (c >= 0x80) {
                const auto step = utf8_step(s, i);
                if (step.ok) {
                    i += step.length;
                    continue;
                }
                flush();
                out_ += "\xEF\xBF\xBD";  // U+FFFD
                i += step.length;
                run = i;
                continue;
            }
            flush();
            switch (c) {
                case '"':
                    out_ += "\\\"";
                    break;
                case '\\':
                    out_ += "\\\\";
                    break;
                case '\b':
                    out_ += "\\b";
                    break;
                case '\f':
                    out_ += "\\f";
                    break;
                case '\n':
                    out_ += "\\n";
                    break;
                case '\r':
                    out_ += "\\r";
                    break;
                case '\t':
                    out_ += "\\t";
                    break;
                default:
                    out_ += "\\u00";
                    out_ += kHex[c >> 4];
                    out_ += kHex[c & 0xF];
            }
            ++i;
            run = i;
        }
        flush();
        out_ += '"';
    }

    std::string out_;
    bool need_comma_ = false;
};

}  // namespace sb::proto::detail
