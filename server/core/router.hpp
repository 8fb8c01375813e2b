// Router: which waiting conversation goes to which agent.
// Today the seam holds the simplest rule (oldest waiting first); the routing
// work (presence, capacity, departments, priorities) fills it in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/model.hpp"

namespace sb::core {

struct WaitingConversation {
    std::string conv;
    std::string visitor_name;
    TimeMs since = 0;
};

class Router {
public:
    void enqueue(const WaitingConversation& w);
    // Removes it from the queue; false if it was not waiting.
    bool dequeue(std::string_view conv);
    // The conversation this agent should get next, if any (not dequeued).
    std::optional<std::string> next_for(std::string_view agent_id, TimeMs now) const;
    // Oldest first.
    std::vector<WaitingConversation> waiting() const;
    std::size_t size() const { return by_id_.size(); }
    void clear();

private:
    using Key = std::pair<TimeMs, std::string>;  // (since, conv): FIFO, ties by id
    std::map<Key, WaitingConversation> queue_;
    std::unordered_map<std::string, Key> by_id_;
};

}  // namespace sb::core
