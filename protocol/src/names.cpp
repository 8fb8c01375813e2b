// Wire names of the protocol's enums. Each table is the single source for
// both directions.
#include <array>
#include <utility>

#include "switchboard/protocol.hpp"

namespace sb::proto {
namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Role, 2> kRoles{{{Role::visitor, "visitor"}, {Role::agent, "agent"}}};
constexpr Names<Sender, 4> kSenders{{{Sender::visitor, "visitor"},
                                     {Sender::agent, "agent"},
                                     {Sender::bot, "bot"},
                                     {Sender::system, "system"}}};
constexpr Names<ConvState, 4> kStates{{{ConvState::waiting, "waiting"},
                                       {ConvState::active, "active"},
                                       {ConvState::closed, "closed"},
                                       {ConvState::bot, "bot"}}};
constexpr Names<ReceiptKind, 2> kReceiptKinds{
    {{ReceiptKind::delivered, "delivered"}, {ReceiptKind::read, "read"}}};
constexpr Names<AgentStatus, 3> kAgentStatuses{{{AgentStatus::online, "online"},
                                                {AgentStatus::away, "away"},
                                                {AgentStatus::offline, "offline"}}};
constexpr Names<ErrorCode, 23> kErrorCodes{{
    {ErrorCode::bad_json, "bad_json"},
    {ErrorCode::unknown_type, "unknown_type"},
    {ErrorCode::missing_field, "missing_field"},
    {ErrorCode::bad_field, "bad_field"},
    {ErrorCode::too_long, "too_long"},
    {ErrorCode::bad_utf8, "bad_utf8"},
    {ErrorCode::unsupported_version, "unsupported_version"},
    {ErrorCode::hello_required, "hello_required"},
    {ErrorCode::already_hello, "already_hello"},
    {ErrorCode::bad_token, "bad_token"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::conv_closed, "conv_closed"},
    {ErrorCode::nothing_waiting, "nothing_waiting"},
    {ErrorCode::rate_limited, "rate_limited"},
    {ErrorCode::store_unavailable, "store_unavailable"},
    {ErrorCode::internal, "internal"},
    {ErrorCode::no_room, "no_room"},
    {ErrorCode::not_offered, "not_offered"},
    {ErrorCode::unavailable, "unavailable"},
    {ErrorCode::bad_signature, "bad_signature"},
    {ErrorCode::conflict, "conflict"},
    {ErrorCode::too_many, "too_many"},
}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E value) {
    for (const auto& [v, name] : names)
        if (v == value) return name;
    return "unknown";
}

template <class E, std::size_t N>
std::optional<E> value_of(const Names<E, N>& names, std::string_view name) {
    for (const auto& [v, n] : names)
        if (n == name) return v;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Role v) {
    return name_of(kRoles, v);
}
std::string_view to_string(Sender v) {
    return name_of(kSenders, v);
}
std::string_view to_string(ConvState v) {
    return name_of(kStates, v);
}
std::string_view to_string(ReceiptKind v) {
    return name_of(kReceiptKinds, v);
}
std::string_view to_string(AgentStatus v) {
    return name_of(kAgentStatuses, v);
}
std::string_view to_string(ErrorCode v) {
    return name_of(kErrorCodes, v);
}

std::optional<Role> role_from(std::string_view s) {
    return value_of(kRoles, s);
}
std::optional<Sender> sender_from(std::string_view s) {
    return value_of(kSenders, s);
}
std::optional<ConvState> conv_state_from(std::string_view s) {
    return value_of(kStates, s);
}
std::optional<ReceiptKind> receipt_kind_from(std::string_view s) {
    return value_of(kReceiptKinds, s);
}
std::optional<AgentStatus> agent_status_from(std::string_view s) {
    return value_of(kAgentStatuses, s);
}
std::optional<ErrorCode> error_code_from(std::string_view s) {
    return value_of(kErrorCodes, s);
}

}  // namespace sb::proto
