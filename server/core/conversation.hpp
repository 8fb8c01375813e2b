// The conversation state machine: waiting -> active -> closed.
// Pure functions over a Conversation record; the caller stores the result.
#pragma once

#include <optional>
#include <string_view>

#include "core/model.hpp"

namespace sb::core {

enum class Transition {
    ok,
    already_assigned,  // assign on a conversation that is not waiting
    closed,            // any change to a closed conversation
};

// waiting -> active, owned by the agent.
Transition assign(Conversation& c, std::string_view agent_id, std::string_view agent_name,
                  TimeMs now);
// waiting|active -> closed.
Transition close(Conversation& c, TimeMs now);

// Who may write to (send, type, receipt, resume) a conversation.
bool is_participant(const Conversation& c, proto::Role role, std::string_view principal_id);

// Read receipts only move forward and never past the last stored message.
void mark_read(Conversation& c, proto::Role reader, std::uint64_t seq);

}  // namespace sb::core
