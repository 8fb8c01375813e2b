#include "net/cluster.hpp"

#include <hiredis/hiredis.h>
#include <sodium.h>

#include <charconv>
#include <chrono>
#include <iostream>
#include <stdexcept>

namespace sb::net {

namespace {

core::TimeMs clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Renews or takes the router lease, refreshes this node's heartbeat and
// names the nodes (among those asked about) whose heartbeat lapsed.
// KEYS: lease, fence counter, my heartbeat. ARGV: node, lease_ms, my lease
// value or "", heartbeat_ms, prefix, nodes to check…
// Returns {my lease value or "", the lease value now, {dead nodes}}.
constexpr const char* kLeaseScript = R"lua(
redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
local cur = redis.call('GET', KEYS[1])
local mine = ''
if cur and ARGV[3] ~= '' and cur == ARGV[3] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  mine = cur
elseif not cur then
  local tok = redis.call('INCR', KEYS[2])
  cur = ARGV[1] .. ':' .. tok
  redis.call('SET', KEYS[1], cur, 'PX', ARGV[2])
  mine = cur
end
local dead = {}
for i = 6, #ARGV do
  if redis.call('EXISTS', ARGV[5] .. 'alive:' .. ARGV[i]) == 0 then dead[#dead + 1] = ARGV[i] end
end
return {mine, cur, dead}
)lua";

// A node's number, fixed by its id the first time it joins.
constexpr const char* kNodeScript = R"lua(
local n = redis.call('HGET', KEYS[1], ARGV[1])
if not n then
  n = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], ARGV[1], n)
end
return tonumber(n)
)lua";

struct ReplyDeleter {
    void operator()(redisReply* r) const {
        if (r) freeReplyObject(r);
    }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply run(redisContext* c, std::initializer_list<std::string_view> argv) {
    std::vector<const char*> a;
    std::vector<std::size_t> l;
    for (auto s : argv) {
        a.push_back(s.data());
        l.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
    if (!r) throw std::runtime_error(std::string("redis: ") + c->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
        std::string e(r->str, r->len);
        freeReplyObject(r);
        throw std::runtime_error("redis: " + e);
    }
    return Reply(r);
}

// Splits `n` words separated by single spaces off `s`. With `rest`, the
// words must be followed by a space and `rest` gets all that follows (spaces
// included); without, the last word ends the text.
bool words(std::string_view s, std::string_view* out, int n, std::string_view* rest) {
    for (int i = 0; i < n; ++i) {
        const auto sp = s.find(' ');
        const bool last = i == n - 1;
        if (sp == std::string_view::npos) {
            if (!last || rest) return false;
            out[i] = s;
            s = {};
        } else {
            if (last && !rest) return false;
            out[i] = s.substr(0, sp);
            s.remove_prefix(sp + 1);
        }
    }
    if (rest) *rest = s;
    return true;
}

template <class T>
bool number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

constexpr core::SessionId kLocalMask = (core::SessionId{1} << 40) - 1;

}  // namespace

ClusterIdentity join_cluster(const ClusterSettings& s) {
    timeval tv{static_cast<time_t>(s.redis_timeout_ms / 1000),
               static_cast<suseconds_t>(s.redis_timeout_ms % 1000) * 1000};
    redisContext* c = redisConnectWithTimeout(s.redis_ip.c_str(), s.redis_port, tv);
    if (!c || c->err) {
        std::string why = c ? c->errstr : "out of memory";
        if (c) redisFree(c);
        throw std::runtime_error("cannot reach Redis at " + s.redis_ip + ":" +
                                 std::to_string(s.redis_port) + ": " + why);
    }
    std::unique_ptr<redisContext, decltype(&redisFree)> guard(c, &redisFree);
    redisSetTimeout(c, tv);
    ClusterIdentity id;
    auto n =
        run(c, {"EVAL", kNodeScript, "2", s.prefix + "nodes", s.prefix + "node_seq", s.node_id});
    if (n->type != REDIS_REPLY_INTEGER || n->integer <= 0 || n->integer >= (1 << 23)) {
        throw std::runtime_error("redis: no node number for " + s.node_id);
    }
    id.node = static_cast<std::uint32_t>(n->integer);
    // The sign-in token key: the first node makes it, every node uses it.
    unsigned char fresh[32];
    randombytes_buf(fresh, sizeof fresh);
    run(c, {"SET", s.prefix + "token_key",
            std::string_view(reinterpret_cast<const char*>(fresh), sizeof fresh), "NX"});
    auto key = run(c, {"GET", s.prefix + "token_key"});
    if (key->type != REDIS_REPLY_STRING || key->len != 32) {
        throw std::runtime_error("redis: " + s.prefix + "token_key is not 32 bytes");
    }
    id.token_key.assign(key->str, key->len);
    auto epoch = run(c, {"INCR", s.prefix + "epoch:" + std::to_string(id.node)});
    if (epoch->type != REDIS_REPLY_INTEGER) throw std::runtime_error("redis: no start epoch");
    // 12 bits of epoch above 28 bits of sessions, inside the 40 local bits.
    id.first_session = ((static_cast<std::uint64_t>(epoch->integer) & 0xFFF) << 28) | 1;
    return id;
}

struct ClusterEngine::Term {
    Term(const core::HubSettings& s, core::Store& store, core::Outbox& out, core::Security& sec)
        : hub(s, store, bus, out, sec) {}
    bus::LocalBus bus;
    core::Hub hub;
};

ClusterEngine::ClusterEngine(boost::asio::io_context& ioc, ClusterSettings settings,
                             ClusterIdentity id, const core::HubSettings& hub_settings,
                             core::Store& store, core::Outbox& sockets, core::Security& security,
                             ClusterHooks hooks)
    : ioc_(ioc),
      settings_(std::move(settings)),
      id_(std::move(id)),
      hub_settings_(hub_settings),
      store_(store),
      sockets_(sockets),
      security_(security),
      hooks_(std::move(hooks)),
      transport_(ioc, bus::RedisBusSettings{settings_.redis_ip, settings_.redis_port}),
      control_(ioc, settings_.redis_ip, settings_.redis_port),
      renew_timer_(ioc),
      leader_channel_(settings_.prefix + "leader"),
      my_channel_(settings_.prefix + "node:" + std::to_string(id_.node)) {
    outbox_.engine = this;
    transport_.set_handler(
        [this](const std::string& ch, const core::Envelope& e) { on_transport(ch, e); });
    // A node cut off from pub/sub hears nothing the router sends: its
    // clients start over (on another node, or here once it is announced
    // again; on_open refuses until then), so none is closed twice. The
    // router's own sessions never cross pub/sub and stay.
    transport_.on_lost([this] {
        if (term_) return;
        announced_ = false;
        hooks_.close_local(proto::close_code::service_restart);
    });
    // Normally nobody is left by then; a loss that went unnoticed is not.
    transport_.on_resubscribed([this] {
        if (!term_) hooks_.close_local(proto::close_code::service_restart);
    });
}

ClusterEngine::~ClusterEngine() = default;

void ClusterEngine::start(core::TimeMs) {
    transport_.subscribe(my_channel_);
    transport_.start();
    control_.connect();
    renew_timer_.expires_after(std::chrono::milliseconds(50));
    renew_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) renew();
    });
}

// ---- the lease -------------------------------------------------------------------

void ClusterEngine::renew() {
    renew_timer_.expires_after(std::chrono::milliseconds(settings_.renew_ms));
    renew_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) renew();
    });
    const core::TimeMs now = clock_ms();
    // A router that has not renewed for a lease less one period stops before
    // the lease can lapse and another node take it — whatever Redis says or
    // does not say (an answer may never come).
    if (term_ && now - renewed_ >= static_cast<core::TimeMs>(settings_.lease_ms) -
                                       static_cast<core::TimeMs>(settings_.renew_ms)) {
        std::cerr << "switchboard: the router lease was not renewed in time; stepping down\n";
        step_down();
    }
    if (!control_.up()) {
        control_.connect();
        return;
    }
    const std::string lease = settings_.prefix + "lease";
    const std::string fence = settings_.prefix + "fence";
    const std::string alive = settings_.prefix + "alive:" + std::to_string(id_.node);
    const std::string node = std::to_string(id_.node);
    const std::string lease_ms = std::to_string(settings_.lease_ms);
    const std::string ttl = std::to_string(settings_.node_ttl_ms);
    std::vector<std::string> others;
    for (const auto& [n, sids] : remote_) others.push_back(std::to_string(n));
    std::vector<std::string_view> argv{"EVAL", kLeaseScript, "3",    lease, fence,           alive,
                                       node,   lease_ms,     token_, ttl,   settings_.prefix};
    for (const auto& o : others) argv.push_back(o);
    control_.command(argv, [this, now](redisReply* r) { on_lease(r, now); });
}

// `sent`: when the request left; a renewed lease runs from then at the latest.
void ClusterEngine::on_lease(redisReply* r, core::TimeMs sent) {
    const core::TimeMs now = clock_ms();
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;  // renew() decides
    auto str = [](const redisReply* e) {
        return e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : std::string();
    };
    const std::string mine = str(r->element[0]);
    const std::string current = str(r->element[1]);
    if (!announced_) {
        // A restarted (or resynced) node's old sessions are gone: the router
        // forgets them. Sent on the transport, ahead of any new session's "O".
        announced_ = forward("B " + std::to_string(id_.node), true);
    }
    if (current != leader_) {
        const bool first = leader_.empty() && !term_;
        leader_ = current;
        // Sessions registered with the previous router mean nothing to the
        // next one: clients reconnect and resume.
        if (!first) hooks_.close_local(proto::close_code::service_restart);
    }
    if (!mine.empty()) {
        renewed_ = sent;
        if (!term_ || mine != token_) become_router(mine, now);
    } else if (term_) {
        std::cerr << "switchboard: the router lease went to " << current << "; stepping down\n";
        step_down();
    }
    if (term_) {
        const redisReply* dead = r->element[2];
        for (std::size_t i = 0; dead->type == REDIS_REPLY_ARRAY && i < dead->elements; ++i) {
            std::uint32_t n = 0;
            if (number(str(dead->element[i]), n)) forget_node(n, now);
        }
        if (hooks_.wake) hooks_.wake();
    }
}

void ClusterEngine::become_router(const std::string& token, core::TimeMs now) {
    step_down();
    token_ = token;
    hooks_.fence(token_);
    auto term = std::make_unique<Term>(hub_settings_, store_, outbox_, security_);
    term->hub.set_bot(bot_);
    try {
        term->hub.start(now);
    } catch (const core::StoreError& e) {
        // token_ stays: the next renewal keeps the lease and tries again.
        std::cerr << "switchboard: cannot rebuild from the store (" << e.what() << "); retrying\n";
        return;
    }
    term_ = std::move(term);
    remote_.clear();
    transport_.subscribe(leader_channel_);
    std::cerr << "switchboard: node " << settings_.node_id << " routes (lease " << token_ << ")\n";
    if (hooks_.wake) hooks_.wake();
}

void ClusterEngine::step_down() {
    if (!term_) return;
    transport_.unsubscribe(leader_channel_);
    term_.reset();
    token_.clear();
    remote_.clear();
    hooks_.close_local(proto::close_code::service_restart);
}

void ClusterEngine::forget_node(std::uint32_t node, core::TimeMs now) {
    auto it = remote_.find(node);
    if (it == remote_.end()) return;
    auto sids = std::move(it->second);
    remote_.erase(it);
    for (auto gsid : sids) term_->hub.on_close(gsid, now);
}

// ---- the transport ---------------------------------------------------------------

bool ClusterEngine::forward(std::string payload, bool announce) {
    if (!transport_.up() || (leader_.empty() && !announce)) {
        if (!announce) resync();
        return false;
    }
    const auto before = transport_.dropped();
    transport_.publish(leader_channel_,
                       core::Envelope{std::make_shared<const std::string>(std::move(payload)), {}});
    if (transport_.dropped() == before) return true;
    if (!announce) resync();
    return false;
}

// Until the router has heard "B" again, new sessions are refused (see
// on_open), so closing once per episode is enough.
void ClusterEngine::resync() {
    if (term_ || !announced_) return;  // the router's own sessions never cross
    announced_ = false;
    hooks_.close_local(proto::close_code::service_restart);
}

// A node that cannot reach the router says so and lets the client come back.
void ClusterEngine::refuse(core::SessionId sid) {
    sockets_.send(sid, std::make_shared<const std::string>(proto::encode(
                           proto::ErrorEvent{proto::ErrorCode::store_unavailable,
                                             "the service is unavailable; reconnect and resume",
                                             {},
                                             {}})));
    sockets_.close(sid, proto::close_code::internal_error);
}

void ClusterEngine::on_transport(const std::string& channel, const core::Envelope& e) {
    const std::string_view msg = *e.frame;
    if (msg.size() < 2) return;
    const char op = msg[0];
    const std::string_view body = msg.substr(2);
    const core::TimeMs now = clock_ms();
    if (channel == my_channel_) {
        std::string_view w[2], rest;
        core::SessionId sid = 0;
        if (op == 'S' && words(body, w, 1, &rest) && number(w[0], sid)) {
            sockets_.send(sid, std::make_shared<const std::string>(rest));
        } else if (op == 'X' && words(body, w, 2, nullptr) && number(w[0], sid)) {
            std::uint16_t code = 0;
            if (number(w[1], code)) sockets_.close(sid, code);
        }
        return;
    }
    if (channel != leader_channel_ || !term_) return;
    std::string_view w[2], rest;
    std::uint32_t node = 0;
    core::SessionId sid = 0;
    if (op == 'B') {
        if (number(body, node) && node != id_.node) forget_node(node, now);
    } else if (op == 'F' && words(body, w, 2, &rest) && number(w[0], node) && number(w[1], sid)) {
        term_->hub.on_frame(global(node, sid), rest, now);
    } else if ((op == 'O' || op == 'C') && words(body, w, 2, nullptr) && number(w[0], node) &&
               number(w[1], sid)) {
        if (op == 'O') {
            remote_[node].insert(global(node, sid));
            term_->hub.on_open(global(node, sid), now);
        } else {
            remote_[node].erase(global(node, sid));
            term_->hub.on_close(global(node, sid), now);
        }
    } else {
        return;
    }
    if (hooks_.wake) hooks_.wake();
}

void ClusterEngine::RouterOutbox::send(core::SessionId gsid, const core::Frame& frame) {
    const auto node = static_cast<std::uint32_t>(gsid >> 40);
    const core::SessionId sid = gsid & kLocalMask;
    if (node == engine->id_.node) return engine->sockets_.send(sid, frame);
    std::string payload = "S " + std::to_string(sid) + " ";
    payload += *frame;
    engine->transport_.publish(
        engine->settings_.prefix + "node:" + std::to_string(node),
        core::Envelope{std::make_shared<const std::string>(std::move(payload)), {}});
}

void ClusterEngine::RouterOutbox::close(core::SessionId gsid, std::uint16_t code) {
    const auto node = static_cast<std::uint32_t>(gsid >> 40);
    const core::SessionId sid = gsid & kLocalMask;
    if (node == engine->id_.node) return engine->sockets_.close(sid, code);
    engine->transport_.publish(
        engine->settings_.prefix + "node:" + std::to_string(node),
        core::Envelope{std::make_shared<const std::string>("X " + std::to_string(sid) + " " +
                                                           std::to_string(code)),
                       {}});
}

// ---- sessions ----------------------------------------------------------------------

void ClusterEngine::on_open(core::SessionId sid, core::TimeMs now) {
    if (term_) return term_->hub.on_open(global(id_.node, sid), now);
    // Not announced (starting, or resyncing): the router could still hold
    // sessions of ours that "B" is about to drop; come back in a moment.
    if (!announced_) return sockets_.close(sid, proto::close_code::service_restart);
    if (!forward("O " + std::to_string(id_.node) + " " + std::to_string(sid))) {
        sockets_.close(sid, proto::close_code::internal_error);
    }
}

void ClusterEngine::on_frame(core::SessionId sid, std::string_view text, core::TimeMs now) {
    if (term_) return term_->hub.on_frame(global(id_.node, sid), text, now);
    std::string payload = "F " + std::to_string(id_.node) + " " + std::to_string(sid) + " ";
    payload += text;
    if (!forward(std::move(payload))) refuse(sid);
}

void ClusterEngine::on_close(core::SessionId sid, core::TimeMs now) {
    if (term_) return term_->hub.on_close(global(id_.node, sid), now);
    forward("C " + std::to_string(id_.node) + " " + std::to_string(sid));
}

void ClusterEngine::tick(core::TimeMs now) {
    if (term_) term_->hub.tick(now);
}

void ClusterEngine::flush(core::TimeMs now) {
    if (term_) term_->hub.flush(now);
}

bool ClusterEngine::dirty() const {
    return term_ && term_->hub.dirty();
}

void ClusterEngine::set_bot(std::shared_ptr<const core::bot::Bot> bot) {
    bot_ = std::move(bot);
    if (term_) term_->hub.set_bot(bot_);
}

std::size_t ClusterEngine::waiting_count() const {
    return term_ ? term_->hub.waiting_count() : 0;
}

}  // namespace sb::net
