#include "bus/local_bus.hpp"

namespace sb::bus {

void LocalBus::publish(const std::string& channel, const core::Envelope& e) {
    if (handler_ && channels_.count(channel)) handler_(channel, e);
}

}  // namespace sb::bus
