#include "core/conversation.hpp"

#include <algorithm>

namespace sb::core {

Transition assign(Conversation& c, std::string_view agent_id, std::string_view agent_name,
                  TimeMs now) {
    if (c.state == ConvState::closed) return Transition::closed;
    if (c.state != ConvState::waiting) return Transition::already_assigned;
    c.state = ConvState::active;
    c.agent_id = agent_id;
    c.agent_name = agent_name;
    c.assigned = now;
    return Transition::ok;
}

Transition close(Conversation& c, TimeMs now) {
    if (c.state == ConvState::closed) return Transition::closed;
    c.state = ConvState::closed;
    c.closed = now;
    return Transition::ok;
}

bool is_participant(const Conversation& c, proto::Role role, std::string_view principal_id) {
    if (principal_id.empty()) return false;
    if (role == proto::Role::visitor) return c.visitor_id == principal_id;
    return c.agent_id == principal_id;
}

void mark_read(Conversation& c, proto::Role reader, std::uint64_t seq) {
    seq = std::min(seq, c.last_seq);
    auto& mark = reader == proto::Role::visitor ? c.visitor_read_seq : c.agent_read_seq;
    mark = std::max(mark, seq);
}

}  // namespace sb::core
