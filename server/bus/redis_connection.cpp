#include "bus/redis_connection.hpp"

#include <boost/asio/post.hpp>

namespace sb::bus {

namespace asio = boost::asio;

// Readiness waits for hiredis's socket. hiredis says what it wants through
// the add/del hooks; a wait is armed while wanted and re-armed after each
// readiness until hiredis frees the context (cleanup: ac becomes null).
struct RedisConnection::Watch : std::enable_shared_from_this<Watch> {
    explicit Watch(asio::io_context& ioc) : sd(ioc) {}
    asio::posix::stream_descriptor sd;
    redisAsyncContext* ac = nullptr;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;

    void arm_read() {
        if (reading || !want_read || !ac) return;
        reading = true;
        sd.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->reading = false;
                          if (ec || !self->ac || !self->want_read) return;
                          redisAsyncHandleRead(self->ac);
                          self->arm_read();
                      });
    }
    void arm_write() {
        if (writing || !want_write || !ac) return;
        writing = true;
        sd.async_wait(asio::posix::stream_descriptor::wait_write,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->writing = false;
                          if (ec || !self->ac || !self->want_write) return;
                          redisAsyncHandleWrite(self->ac);
                          self->arm_write();
                      });
    }

    static Watch* of(void* p) { return static_cast<Watch*>(p); }
    static void add_read(void* p) {
        of(p)->want_read = true;
        of(p)->arm_read();
    }
    static void del_read(void* p) { of(p)->want_read = false; }
    static void add_write(void* p) {
        of(p)->want_write = true;
        of(p)->arm_write();
    }
    static void del_write(void* p) { of(p)->want_write = false; }
    // hiredis frees the context and closes the fd itself: let go of it.
    static void cleanup(void* p) {
        Watch* w = of(p);
        w->ac = nullptr;
        w->want_read = w->want_write = false;
        boost::system::error_code ignored;
        w->sd.cancel(ignored);
        (void)w->sd.release();
    }
};

namespace {
// A command's callback. One-shot ones are deleted after their reply;
// subscriptions stay until the connection is gone.
struct Pending {
    RedisConnection::ReplyFn fn;
    bool persistent = false;
};
}  // namespace

RedisConnection::RedisConnection(asio::io_context& ioc, std::string ip, int port)
    : ioc_(ioc), ip_(std::move(ip)), port_(port) {}

RedisConnection::~RedisConnection() {
    on_state_ = nullptr;
    if (ac_) {
        ac_->data = nullptr;  // callbacks during the free must not touch us
        redisAsyncFree(ac_);
        ac_ = nullptr;
    }
}

void RedisConnection::connect() {
    if (ac_) return;
    redisAsyncContext* ac = redisAsyncConnect(ip_.c_str(), port_);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        asio::post(ioc_, [this] { lost(); });
        return;
    }
    ac_ = ac;
    ac_->data = this;
    watch_ = std::make_shared<Watch>(ioc_);
    watch_->ac = ac_;
    watch_->sd.assign(ac_->c.fd);
    // Hooks before the connect callback: hiredis arms a write for the connect.
    ac_->ev.data = watch_.get();
    ac_->ev.addRead = &Watch::add_read;
    ac_->ev.delRead = &Watch::del_read;
    ac_->ev.addWrite = &Watch::add_write;
    ac_->ev.delWrite = &Watch::del_write;
    ac_->ev.cleanup = &Watch::cleanup;
    redisAsyncSetConnectCallback(ac_, &RedisConnection::on_connect);
    redisAsyncSetDisconnectCallback(ac_, &RedisConnection::on_disconnect);
}

void RedisConnection::on_connect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<RedisConnection*>(ac->data);
    if (!self) return;
    if (status != REDIS_OK) {
        self->ac_ = nullptr;  // hiredis frees it after this callback
        self->lost();
        return;
    }
    self->up_ = true;
    asio::post(self->ioc_, [self] {
        if (self->up_ && self->on_state_) self->on_state_(true);
    });
}

void RedisConnection::on_disconnect(const redisAsyncContext* ac, int) {
    auto* self = static_cast<RedisConnection*>(ac->data);
    if (!self) return;
    self->ac_ = nullptr;  // hiredis frees it after this callback
    self->lost();
}

void RedisConnection::lost() {
    up_ = false;
    // Told from a fresh handler: the caller may connect() again at once, and
    // hiredis must be done freeing the old context first.
    asio::post(ioc_, [this] {
        if (!up_ && on_state_) on_state_(false);
    });
}

void RedisConnection::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* p = static_cast<Pending*>(privdata);
    if (!p) return;
    auto* r = static_cast<redisReply*>(reply);
    // While the owner is being destroyed (ac->data cleared) nobody listens.
    if (p->fn && ac->data) p->fn(r);
    // A subscription's callback lives as long as the connection: hiredis
    // calls it a last time with nullptr when the connection goes away. (The
    // bus never unsubscribes: hiredis 0.14 would hand the "unsubscribe" reply
    // to a newer SUBSCRIBE's callback of the same channel.)
    if (!p->persistent || !r) delete p;
}

bool RedisConnection::command(const std::vector<std::string_view>& argv, ReplyFn fn) {
    if (!ac_ || !up_ || argv.empty()) return false;
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
    }
    const bool subscribe = argv[0] == "SUBSCRIBE";
    auto* p = new Pending{std::move(fn), subscribe};
    int rc = redisAsyncCommandArgv(ac_, &RedisConnection::on_reply, p,
                                   static_cast<int>(args.size()), args.data(), lens.data());
    if (rc != REDIS_OK) {
        delete p;
        return false;
    }
    return true;
}

}  // namespace sb::bus
