#include "core/router.hpp"

namespace sb::core {

void Router::enqueue(const WaitingConversation& w) {
    if (by_id_.count(w.conv)) return;
    Key key{w.since, w.conv};
    queue_.emplace(key, w);
    by_id_.emplace(w.conv, std::move(key));
}

bool Router::dequeue(std::string_view conv) {
    auto it = by_id_.find(std::string(conv));
    if (it == by_id_.end()) return false;
    queue_.erase(it->second);
    by_id_.erase(it);
    return true;
}

std::optional<std::string> Router::next_for(std::string_view /*agent_id*/, TimeMs /*now*/) const {
    if (queue_.empty()) return std::nullopt;
    return queue_.begin()->second.conv;
}

std::vector<WaitingConversation> Router::waiting() const {
    std::vector<WaitingConversation> out;
    out.reserve(queue_.size());
    for (const auto& [key, w] : queue_) out.push_back(w);
    return out;
}

void Router::clear() {
    queue_.clear();
    by_id_.clear();
}

}  // namespace sb::core
