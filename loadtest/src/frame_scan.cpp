#include "frame_scan.hpp"

#include <charconv>

namespace sb::loadtest {

namespace {

void skip_ws(std::string_view t, std::size_t& i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) ++i;
}

// At an opening quote: returns the raw contents and moves past the closing quote.
bool read_string(std::string_view t, std::size_t& i, std::string_view& out) {
    if (i >= t.size() || t[i] != '"') return false;
    std::size_t start = ++i;
    while (i < t.size()) {
        char c = t[i];
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '"') {
            out = t.substr(start, i - start);
            ++i;
            return true;
        }
        ++i;
    }
    return false;
}

// Skips one value of any kind; nested arrays and objects by bracket depth.
bool skip_value(std::string_view t, std::size_t& i, std::string_view& raw) {
    std::size_t start = i;
    if (i >= t.size()) return false;
    if (t[i] == '"') {
        std::string_view s;
        if (!read_string(t, i, s)) return false;
        raw = t.substr(start, i - start);
        return true;
    }
    if (t[i] == '[' || t[i] == '{') {
        int depth = 0;
        while (i < t.size()) {
            char c = t[i];
            if (c == '"') {
                std::string_view s;
                if (!read_string(t, i, s)) return false;
                continue;
            }
            if (c == '[' || c == '{') ++depth;
            if (c == ']' || c == '}') {
                if (--depth == 0) {
                    ++i;
                    raw = t.substr(start, i - start);
                    return true;
                }
            }
            ++i;
        }
        return false;
    }
    while (i < t.size() && t[i] != ',' && t[i] != '}') ++i;
    raw = t.substr(start, i - start);
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n')) raw.remove_suffix(1);
    return true;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

bool scan_frame(std::string_view t, ServerFrame& out) {
    out = ServerFrame{};
    std::size_t i = 0;
    skip_ws(t, i);
    if (i >= t.size() || t[i] != '{') return false;
    ++i;
    for (;;) {
        skip_ws(t, i);
        if (i < t.size() && t[i] == '}') return true;
        std::string_view key;
        if (!read_string(t, i, key)) return false;
        skip_ws(t, i);
        if (i >= t.size() || t[i] != ':') return false;
        ++i;
        skip_ws(t, i);
        std::string_view raw;
        bool is_string = i < t.size() && t[i] == '"';
        if (!skip_value(t, i, raw)) return false;
        std::string_view str = is_string ? raw.substr(1, raw.size() - 2) : std::string_view{};
        switch (key.size()) {
            case 3:
                if (key == "seq") out.seq = to_u64(raw);
                break;
            case 4:
                if (key == "type")
                    out.type = str;
                else if (key == "conv")
                    out.conv = str;
                else if (key == "from")
                    out.from = str;
                else if (key == "code")
                    out.code = str;
                break;
            case 5:
                if (key == "state") out.state = str;
                break;
            case 7:
                if (key == "waiting") out.waiting = raw;
                break;
            case 9:
                if (key == "client_id")
                    out.client_id = str;
                else if (key == "duplicate")
                    out.duplicate = raw == "true";
                break;
            case 12:
                if (key == "visitor_name") out.visitor_name = str;
                break;
            default:
                break;
        }
        skip_ws(t, i);
        if (i < t.size() && t[i] == ',') {
            ++i;
            continue;
        }
        if (i < t.size() && t[i] == '}') return true;
        return false;
    }
}

namespace detail {

std::string_view string_after(std::string_view text, std::string_view key, std::size_t& pos) {
    auto at = text.find(key, pos);
    if (at == std::string_view::npos) return {};
    std::size_t start = at + key.size();
    std::size_t i = start;
    while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
    if (i >= text.size()) return {};
    pos = i + 1;
    return text.substr(start, i - start);
}

}  // namespace detail

std::optional<MessageId> parse_message_id(std::string_view id) {
    if (id.size() < 4 || (id[0] != 'v' && id[0] != 'a')) return std::nullopt;
    auto dot = id.find('.', 1);
    if (dot == std::string_view::npos) return std::nullopt;
    MessageId m;
    m.side = id[0];
    auto a = std::from_chars(id.data() + 1, id.data() + dot, m.pair);
    auto b = std::from_chars(id.data() + dot + 1, id.data() + id.size(), m.n);
    if (a.ec != std::errc{} || a.ptr != id.data() + dot) return std::nullopt;
    if (b.ec != std::errc{} || b.ptr != id.data() + id.size()) return std::nullopt;
    return m;
}

std::optional<std::uint32_t> parse_indexed(std::string_view text, std::string_view prefix) {
    if (text.size() <= prefix.size() || text.substr(0, prefix.size()) != prefix) {
        return std::nullopt;
    }
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(text.data() + prefix.size(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
    return v;
}

}  // namespace sb::loadtest
