// LocalBus: the bus of a single node. A publish reaches this process's
// subscribers at once; there is no one else to tell.
#pragma once

#include <string>
#include <unordered_set>

#include "core/ports.hpp"

namespace sb::bus {

class LocalBus final : public core::Bus {
  public:
    void set_handler(Handler h) override { handler_ = std::move(h); }
    void subscribe(const std::string& channel) override { channels_.insert(channel); }
    void unsubscribe(const std::string& channel) override { channels_.erase(channel); }
    void publish(const std::string& channel, const core::Envelope& e) override;

  private:
    Handler handler_;
    std::unordered_set<std::string> channels_;
};

}  // namespace sb::bus
