// DayStats: the day's figures on the supervisors' dashboard (conversations
// created today, waits, first responses, CSAT). I/O-free: the hub feeds it
// every conversation record it writes and asks for the totals.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "core/model.hpp"

namespace sb::core {

// Local midnight (in the IANA zone, ICU; unknown = UTC) of the day holding `now`.
TimeMs day_start(std::string_view time_zone, TimeMs now);

class DayStats {
  public:
    // Forgets everything: a new day starts at `start`.
    void reset(TimeMs start);
    TimeMs start() const { return start_; }
    // The latest record of a conversation (created, assigned, replied, closed,
    // rated …). Conversations created before the day's start are ignored.
    // The wait is taken at the first assignment seen, the first response at
    // the first agent message.
    void note(const Conversation& c);
    proto::DashboardToday today() const;

  private:
    struct Entry {
        TimeMs wait = -1;            // queued → first assignment; -1 = not assigned yet
        TimeMs first_response = -1;  // assignment → first agent message
        bool closed = false;
        int csat = 0;
    };
    TimeMs start_ = 0;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace sb::core
