#include "bus/redis_bus.hpp"

#include <algorithm>
#include <chrono>

namespace sb::bus {

std::string encode_envelope(const core::Envelope& e) {
    std::string out;
    out.reserve(e.frame->size() + 1);
    out += !e.skip_role ? '-' : *e.skip_role == proto::Role::visitor ? 'v' : 'a';
    out += *e.frame;
    return out;
}

std::optional<core::Envelope> decode_envelope(std::string_view payload) {
    if (payload.empty()) return std::nullopt;
    core::Envelope e;
    switch (payload[0]) {
        case '-':
            break;
        case 'v':
            e.skip_role = proto::Role::visitor;
            break;
        case 'a':
            e.skip_role = proto::Role::agent;
            break;
        default:
            return std::nullopt;
    }
    e.frame = std::make_shared<const std::string>(payload.substr(1));
    return e;
}

RedisBus::RedisBus(boost::asio::io_context& ioc, RedisBusSettings settings)
    : ioc_(ioc),
      settings_(std::move(settings)),
      pub_(ioc, settings_.ip, settings_.port),
      sub_(ioc, settings_.ip, settings_.port),
      pub_link_{&pub_, boost::asio::steady_timer(ioc)},
      sub_link_{&sub_, boost::asio::steady_timer(ioc)} {}

void RedisBus::start() {
    watch(pub_link_, false);
    watch(sub_link_, true);
    pub_.connect();
    sub_.connect();
}

void RedisBus::watch(Link& link, bool subscriber) {
    link.conn->on_state([this, &link, subscriber](bool up) {
        if (!up) {
            if (subscriber) {
                live_.clear();                        // nothing is subscribed on a new connection
                if (link.up && on_lost_) on_lost_();  // once per loss, not per retry
            }
            link.up = false;
            return retry(link);
        }
        link.up = true;
        link.attempt = 0;
        if (!subscriber) return;
        for (const auto& ch : channels_) send_subscribe(ch);
        const bool again = link.ever_up;
        link.ever_up = true;
        if (again && on_resubscribed_) on_resubscribed_();
    });
}

// Exponential backoff with jitter, so nodes that lost Redis together do not
// all come back in the same millisecond.
void RedisBus::retry(Link& link) {
    const std::uint32_t shift = std::min<std::uint32_t>(link.attempt++, 16);
    const std::uint64_t base = std::min<std::uint64_t>(
        settings_.reconnect_max_ms, std::uint64_t{settings_.reconnect_min_ms} << shift);
    jitter_ ^= jitter_ << 13;
    jitter_ ^= jitter_ >> 7;
    jitter_ ^= jitter_ << 17;
    const std::uint64_t delay = base / 2 + jitter_ % (base / 2 + 1);
    link.timer.expires_after(std::chrono::milliseconds(delay));
    link.timer.async_wait([&link](const boost::system::error_code& ec) {
        if (!ec) link.conn->connect();
    });
}

// Once per channel and connection: one channel per SUBSCRIBE (hiredis keeps
// one callback per channel), never twice (a second would replace the first's
// callback), and never UNSUBSCRIBE (see redis_connection.hpp).
void RedisBus::send_subscribe(const std::string& channel) {
    if (live_.count(channel)) return;
    if (sub_.command({"SUBSCRIBE", channel}, [this](redisReply* r) { on_message(r); })) {
        live_.insert(channel);
    }
}

void RedisBus::subscribe(const std::string& channel) {
    if (!channels_.insert(channel).second) return;
    if (sub_.up()) send_subscribe(channel);
}

// Delivery stops at once (on_message drops channels not followed); the
// Redis subscription itself ends with the connection.
void RedisBus::unsubscribe(const std::string& channel) {
    channels_.erase(channel);
}

void RedisBus::publish(const std::string& channel, const core::Envelope& e) {
    const std::string payload = encode_envelope(e);
    if (!pub_.command({"PUBLISH", channel, payload})) ++dropped_;
}

void RedisBus::on_message(redisReply* r) {
    // ["message", channel, payload]; "subscribe"/"unsubscribe" confirmations
    // and the nullptr of a lost connection carry nothing to deliver.
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
    auto str = [&](std::size_t i) {
        const redisReply* e = r->element[i];
        return e->type == REDIS_REPLY_STRING ? std::string_view(e->str, e->len)
                                             : std::string_view();
    };
    if (str(0) != "message") return;
    const std::string channel(str(1));
    // A message for a channel dropped meanwhile is not for us any more.
    if (!channels_.count(channel)) return;
    auto e = decode_envelope(str(2));
    if (e && handler_) handler_(channel, *e);
}

}  // namespace sb::bus
