// Just enough JSON reading for the frames the server sends, on the harness's
// hot path: the top-level fields of one object, strings left raw (the ids and
// names the harness makes never need unescaping). A full JSON parser per
// frame would cost more than the server's own work at these rates.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sb::loadtest {

struct ServerFrame {
    std::string_view type;
    std::string_view conv;
    std::string_view client_id;
    std::string_view from;
    std::string_view state;
    std::string_view visitor_name;
    std::string_view code;     // error code
    std::string_view waiting;  // queue: the raw array, brackets included
    std::optional<std::uint64_t> seq;
    bool duplicate = false;
};

// False when the text is not one JSON object (nothing else is promised: a
// frame that scans may still be invalid JSON inside values it skipped).
bool scan_frame(std::string_view text, ServerFrame& out);

// Calls fn(conv, visitor_name) for every entry of a queue frame's "waiting"
// array, in order.
template <class Fn>
void for_each_waiting(std::string_view waiting, Fn&& fn);

// Parses the harness's own message ids: "<side><pair>.<n>", side 'v' or 'a'.
struct MessageId {
    char side = 0;
    std::uint32_t pair = 0;
    std::uint32_t n = 0;
};
std::optional<MessageId> parse_message_id(std::string_view client_id);

// Parses "<prefix><number>" (e.g. visitor names "p17"); nullopt when it does not match.
std::optional<std::uint32_t> parse_indexed(std::string_view text, std::string_view prefix);

// ---- implementation of the template ------------------------------------------------

namespace detail {
std::string_view string_after(std::string_view text, std::string_view key, std::size_t& pos);
}

template <class Fn>
void for_each_waiting(std::string_view waiting, Fn&& fn) {
    std::size_t pos = 0;
    for (;;) {
        auto conv = detail::string_after(waiting, "\"conv\":\"", pos);
        if (conv.data() == nullptr) return;
        auto name = detail::string_after(waiting, "\"visitor_name\":\"", pos);
        fn(conv, name);
    }
}

}  // namespace sb::loadtest
