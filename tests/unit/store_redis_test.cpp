// RedisStore against a real redis-server (started here once, on a free
// loopback port): the Store contract, every store under a fresh key prefix,
// plus what only Redis has: fencing, Redis going away, type errors, the key
// layout and the weaker rollback. CTest label: integration.
#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "redis_server.hpp"
#include "store/redis_store.hpp"
#include "store_contract.hpp"

namespace {

using sb::core::StoreError;
using sb::store::RedisFence;
using sb::store::RedisStore;
using sb::store::RedisStoreSettings;
using sb::store_contract::make_canned;
using sb::store_contract::make_conversation;
using sb::store_contract::make_message;
using sb::store_contract::make_offline;
using sb::store_contract::make_visitor;
using sb::store_contract::seqs;

// One server for the whole binary; a store that loses its connection must
// not kill the test with SIGPIPE.
sb::test::RedisServer& shared_redis() {
    static sb::test::RedisServer server((std::signal(SIGPIPE, SIG_IGN), sb::test::free_port()));
    static const bool up = server.wait_accepting();
    if (!up) throw std::runtime_error("redis-server did not start");
    return server;
}

std::string fresh_prefix() {
    static int n = 0;
    return "t" + std::to_string(++n) + ":";
}

RedisStoreSettings settings_for(int port, std::string prefix) {
    RedisStoreSettings s;
    s.port = port;
    s.prefix = std::move(prefix);
    s.timeout_ms = 1'000;
    return s;
}

// A plain hiredis connection, to look behind the store's back.
class Raw {
  public:
    explicit Raw(int port) : c_(redisConnect("127.0.0.1", port)) {
        if (c_ == nullptr || c_->err != 0) throw std::runtime_error("raw connection failed");
    }
    ~Raw() { redisFree(c_); }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;

    // The reply as text: strings as is, integers in decimal, nil as "(nil)",
    // errors as "ERR: ...", arrays as their elements joined by ",".
    std::string operator()(const std::vector<std::string>& words) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& w : words) {
            argv.push_back(w.data());
            lens.push_back(w.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
        if (r == nullptr) throw std::runtime_error("raw command failed");
        std::string out = render(r);
        freeReplyObject(r);
        return out;
    }

  private:
    static std::string render(const redisReply* r) {
        switch (r->type) {
            case REDIS_REPLY_INTEGER:
                return std::to_string(r->integer);
            case REDIS_REPLY_NIL:
                return "(nil)";
            case REDIS_REPLY_ERROR:
                return "ERR: " + std::string(r->str, r->len);
            case REDIS_REPLY_ARRAY: {
                std::string out;
                for (size_t i = 0; i < r->elements; ++i)
                    out += (i == 0 ? "" : ",") + render(r->element[i]);
                return out;
            }
            default:
                return std::string(r->str, r->len);
        }
    }
    redisContext* c_;
};

// Every key under `prefix` with its serialized value: equal snapshots mean
// nothing changed.
std::string snapshot(Raw& raw, const std::string& prefix) {
    std::string keys = raw({"KEYS", prefix + "*"});
    std::vector<std::string> names;
    for (std::size_t start = 0; !keys.empty() && start <= keys.size();) {
        const auto comma = std::min(keys.find(',', start), keys.size());
        names.push_back(keys.substr(start, comma - start));
        start = comma + 1;
    }
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& k : names) out += k + "=" + raw({"DUMP", k}) + ";";
    return out;
}

// Visitor v1, conversation c1 with one message, a canned reply, an offline message.
void seed(RedisStore& s) {
    s.create_visitor(make_visitor("v1"));
    s.create_conversation(make_conversation("c1", "v1"));
    s.append(make_message("c1", "v1", "k1"));
    s.save_canned(make_canned("r1", "a1", "hi"));
    s.create_offline_message(make_offline("o1", 100));
}

}  // namespace

struct RedisFresh {
    static std::unique_ptr<sb::core::Store> make() {
        return std::make_unique<RedisStore>(settings_for(shared_redis().port, fresh_prefix()));
    }
};

SB_STORE_CONTRACT(RedisFresh);

TEST_CASE("RedisStore: a stale fencing token is refused and changes nothing") {
    const int port = shared_redis().port;
    Raw raw(port);
    const std::string prefix = fresh_prefix();
    const std::string fence_key = prefix + "lease-token";  // under the prefix only to stay apart
    REQUIRE(raw({"SET", fence_key, "tok-1"}) == "OK");
    auto settings = settings_for(port, prefix);
    settings.fence = RedisFence{fence_key, "tok-1"};
    RedisStore s(settings);
    seed(s);

    REQUIRE(raw({"SET", fence_key, "tok-2"}) == "OK");  // another node took the lease
    const auto before = snapshot(raw, prefix);
    auto v1 = *s.visitor("v1");
    v1.name = "changed";
    auto c1 = *s.conversation("c1");
    c1.state = sb::core::ConvState::closed;
    const auto fenced = doctest::Contains("fenced");
    CHECK_THROWS_WITH_AS(s.create_visitor(make_visitor("v2")), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.update_visitor(v1), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.create_conversation(make_conversation("c2", "v1")), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.update_conversation(c1), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.append(make_message("c1", "v1", "k2")), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.append(make_message("c1", "v1", "k1")), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.create_offline_message(make_offline("o2", 5)), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.mark_offline_handled("o1", "a1", 9), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.save_canned(make_canned("r2", "a1", "bye")), fenced, StoreError);
    CHECK_THROWS_WITH_AS(s.delete_canned("r1"), fenced, StoreError);
    CHECK(snapshot(raw, prefix) == before);
    CHECK(s.conversation("c1")->last_seq == 1);  // reads still work

    SUBCASE("the new token lets writes through again") {
        s.set_fence_token("tok-2");
        CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
    }
    SUBCASE("no fence key at all is fenced too") {
        raw({"DEL", fence_key});
        CHECK_THROWS_WITH_AS(s.append(make_message("c1", "v1", "k2")), fenced, StoreError);
    }
    SUBCASE("a rollback after losing the lease ends the batch, and says so") {
        s.set_fence_token("tok-2");
        s.begin_batch();
        CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
        raw({"SET", fence_key, "tok-3"});
        CHECK_THROWS_WITH_AS(s.rollback_batch(), fenced, StoreError);
        CHECK_FALSE(s.in_batch());
        CHECK(seqs(s.messages_after("c1", 0, 10)) == "1,2");  // written under the lease
    }
}

TEST_CASE("RedisStore: Redis going away is a StoreError; the next call reconnects") {
    std::signal(SIGPIPE, SIG_IGN);
    sb::test::RedisServer redis(sb::test::free_port());
    REQUIRE(redis.wait_accepting());
    RedisStore s(settings_for(redis.port, "sb:"));
    s.create_visitor(make_visitor("v1"));

    redis.stop();
    CHECK_THROWS_AS(s.visitor("v1"), StoreError);
    CHECK_THROWS_AS(s.create_visitor(make_visitor("v2")), StoreError);  // a refused reconnect
    CHECK_THROWS_WITH_AS(RedisStore(settings_for(redis.port, "sb:")),
                         doctest::Contains("cannot connect"), StoreError);

    redis.start();
    REQUIRE(redis.wait_accepting());
    CHECK_FALSE(s.visitor("v1"));  // nothing was persisted; the scripts are loaded again
    s.create_visitor(make_visitor("v2"));
    s.create_conversation(make_conversation("c1", "v2"));
    CHECK(s.append(make_message("c1", "v2", "k1")).message.seq == 1);
}

TEST_CASE("RedisStore: a Redis that stops answering times out; the next call reconnects") {
    std::signal(SIGPIPE, SIG_IGN);
    sb::test::RedisServer redis(sb::test::free_port());
    REQUIRE(redis.wait_accepting());
    auto settings = settings_for(redis.port, "sb:");
    settings.timeout_ms = 200;
    RedisStore s(settings);
    s.create_visitor(make_visitor("v1"));

    ::kill(redis.pid, SIGSTOP);
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(s.visitor("v1"), doctest::Contains("no answer within 200 ms"), StoreError);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    ::kill(redis.pid, SIGCONT);
    CHECK(s.visitor("v1"));
}

TEST_CASE("RedisStore: a key of the wrong type is a StoreError, and an append stays whole") {
    const int port = shared_redis().port;
    Raw raw(port);
    const std::string prefix = fresh_prefix();
    RedisStore s(settings_for(port, prefix));
    s.create_visitor(make_visitor("v1"));
    s.create_conversation(make_conversation("c1", "v1"));
    raw({"SET", prefix + "conv-log:c1", "not a stream"});

    CHECK_THROWS_WITH_AS(s.append(make_message("c1", "v1", "k1")), doctest::Contains("WRONGTYPE"),
                         StoreError);
    CHECK(s.conversation("c1")->last_seq == 0);
    CHECK(raw({"HGET", prefix + "conv-client-ids:c1", "2:v1k1"}) == "(nil)");
    CHECK_THROWS_WITH_AS(s.messages_after("c1", 0, 10), doctest::Contains("WRONGTYPE"), StoreError);

    raw({"DEL", prefix + "conv-log:c1"});
    CHECK(s.append(make_message("c1", "v1", "k1")).message.seq == 1);
    raw({"SET", prefix + "visitor:v9", "x"});
    CHECK_THROWS_WITH_AS(s.visitor("v9"), doctest::Contains("WRONGTYPE"), StoreError);
}

TEST_CASE("RedisStore: the key layout") {
    const int port = shared_redis().port;
    Raw raw(port);
    const std::string prefix = fresh_prefix();
    RedisStore s(settings_for(port, prefix));
    auto v = make_visitor("v1");
    v.attributes = {{"plan", "pro"}, {"order", "A-17"}};
    s.create_visitor(v);
    s.create_conversation(make_conversation("c1", "v1"));
    s.append(make_message("c1", "v1", "k1"));
    s.append(make_message("c1", "v1", "k2"));

    CHECK(raw({"HGET", prefix + "visitor:v1", "attributes"}) ==
          R"([["plan","pro"],["order","A-17"]])");
    CHECK(raw({"HGET", prefix + "visitors-by-token", "hash-v1"}) == "v1");
    CHECK(raw({"XLEN", prefix + "conv-log:c1"}) == "2");
    const auto entries = raw({"XRANGE", prefix + "conv-log:c1", "-", "+"});
    CHECK(entries.starts_with("1-0,from,visitor,"));
    CHECK(entries.find(",2-0,") != std::string::npos);
    CHECK(raw({"HGET", prefix + "conv:c1", "last_seq"}) == "2");
    CHECK(raw({"HGET", prefix + "conv-client-ids:c1", "2:v1k2"}) == "2");
    CHECK(raw({"ZRANGE", prefix + "convs-open", "0", "-1"}) == "c1");
    CHECK(raw({"KEYS", "sb:*"}) == "");  // nothing outside the prefix
}

TEST_CASE("RedisStore: a rollback past another node's append leaves a gap, never a reuse") {
    const int port = shared_redis().port;
    const std::string prefix = fresh_prefix();
    RedisStore a(settings_for(port, prefix));
    RedisStore b(settings_for(port, prefix));
    a.create_visitor(make_visitor("v1"));
    a.create_conversation(make_conversation("c1", "v1"));

    a.begin_batch();
    CHECK(a.append(make_message("c1", "v1", "k1")).message.seq == 1);
    CHECK(b.append(make_message("c1", "a1", "b1", "agent", sb::core::Sender::agent)).message.seq ==
          2);
    a.rollback_batch();
    CHECK(seqs(b.messages_after("c1", 0, 10)) == "2");
    CHECK(b.conversation("c1")->last_seq == 2);
    auto again = a.append(make_message("c1", "v1", "k1"));  // its client_id is free again
    CHECK_FALSE(again.duplicate);
    CHECK(again.message.seq == 3);
    CHECK(seqs(a.messages_after("c1", 0, 10)) == "2,3");
}

TEST_CASE("RedisStore: batch misuse, and a store dropped mid-batch rolls back") {
    const int port = shared_redis().port;
    const std::string prefix = fresh_prefix();
    auto s = std::make_unique<RedisStore>(settings_for(port, prefix));
    s->create_visitor(make_visitor("v1"));
    s->create_conversation(make_conversation("c1", "v1"));

    CHECK_THROWS_AS(s->commit_batch(), StoreError);
    s->rollback_batch();  // nothing to do
    CHECK_FALSE(s->in_batch());
    s->begin_batch();
    s->append(make_message("c1", "v1", "k1"));
    CHECK_THROWS_AS(s->begin_batch(), StoreError);
    CHECK(s->in_batch());
    s->append(make_message("c1", "v1", "k2"));
    s.reset();

    RedisStore again(settings_for(port, prefix));
    CHECK(again.messages_after("c1", 0, 10).empty());
    CHECK(again.conversation("c1")->last_seq == 0);
    CHECK(again.append(make_message("c1", "v1", "k1")).message.seq == 1);
}
