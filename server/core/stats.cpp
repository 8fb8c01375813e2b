#include "core/stats.hpp"

#include <algorithm>

#include "core/router.hpp"

namespace sb::core {

TimeMs day_start(std::string_view time_zone, TimeMs now) {
    constexpr TimeMs kDay = 86'400'000;
    const TimeMs offset = utc_offset_ms(time_zone, now);
    const TimeMs local = now + offset;
    const TimeMs days = local / kDay - (local % kDay < 0 ? 1 : 0);  // floor
    return days * kDay - offset;
}

void DayStats::reset(TimeMs start) {
    start_ = start;
    entries_.clear();
}

void DayStats::note(const Conversation& c) {
    if (c.created < start_) return;
    Entry& e = entries_[c.id];
    if (e.wait < 0 && c.assigned > 0) {
        const TimeMs queued = c.queued > 0 ? c.queued : c.created;
        e.wait = std::max<TimeMs>(0, c.assigned - queued);
    }
    if (e.first_response < 0 && c.first_reply > 0 && c.assigned > 0) {
        e.first_response = std::max<TimeMs>(0, c.first_reply - c.assigned);
    }
    e.closed = c.state == ConvState::closed;
    e.csat = c.csat_score;
}

proto::DashboardToday DayStats::today() const {
    proto::DashboardToday t;
    t.day_start = start_;
    t.conversations = entries_.size();
    TimeMs waits = 0, responses = 0;
    for (const auto& [id, e] : entries_) {
        if (e.closed) ++t.closed;
        if (e.wait >= 0) {
            ++t.assigned;
            waits += e.wait;
        }
        if (e.first_response >= 0) {
            ++t.responded;
            responses += e.first_response;
        }
        if (e.csat > 0) {
            ++t.csat_count;
            t.csat_total += e.csat;
        }
    }
    if (t.assigned > 0) t.avg_wait_ms = waits / static_cast<TimeMs>(t.assigned);
    if (t.responded > 0) t.avg_first_response_ms = responses / static_cast<TimeMs>(t.responded);
    return t;
}

}  // namespace sb::core
