// RedisBus against a real redis-server (started here on a free loopback
// port): delivery between two buses, the skip role, unsubscribe, and a Redis
// restart (publishes while down are dropped and counted, the subscriber comes
// back by itself, resubscribes and says so). CTest label: integration.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "bus/redis_bus.hpp"
#include "redis_server.hpp"

namespace {

using namespace sb;
namespace asio = boost::asio;

using sb::test::free_port;
using Redis = sb::test::RedisServer;

// Runs the loop until `done` holds or `ms` pass.
bool run_until(asio::io_context& ioc, const std::function<bool()>& done, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!done() && std::chrono::steady_clock::now() < end) {
        ioc.restart();
        ioc.run_for(std::chrono::milliseconds(10));
    }
    return done();
}

struct Got {
    std::string channel, frame;
    std::optional<proto::Role> skip;
};

core::Envelope env(std::string frame, std::optional<proto::Role> skip = std::nullopt) {
    return {std::make_shared<const std::string>(std::move(frame)), skip};
}

}  // namespace

TEST_CASE("envelopes keep the frame and the skipped role") {
    for (auto skip : {std::optional<proto::Role>{}, std::optional(proto::Role::visitor),
                      std::optional(proto::Role::agent)}) {
        auto back = bus::decode_envelope(bus::encode_envelope(env("{\"a\":\"ı\"}", skip)));
        REQUIRE(back);
        CHECK(*back->frame == "{\"a\":\"ı\"}");
        CHECK(back->skip_role == skip);
    }
    CHECK_FALSE(bus::decode_envelope(""));
    CHECK_FALSE(bus::decode_envelope("x{}"));
}

TEST_CASE("two buses: subscribe, publish, unsubscribe, and a Redis restart") {
    Redis redis(free_port());
    asio::io_context ioc;
    bus::RedisBusSettings s;
    s.port = redis.port;
    s.reconnect_min_ms = 20;
    s.reconnect_max_ms = 200;
    bus::RedisBus a(ioc, s), b(ioc, s);
    std::vector<Got> got;
    a.set_handler([&](const std::string& ch, const core::Envelope& e) {
        got.push_back({ch, *e.frame, e.skip_role});
    });
    int resubscribed = 0;
    a.on_resubscribed([&] { ++resubscribed; });
    a.subscribe("conv:c1");  // before the connection is up: sent once it is
    a.start();
    b.start();
    REQUIRE(run_until(ioc, [&] { return a.up() && b.up(); }));

    // A SUBSCRIBE is confirmed before messages flow: publish until one lands.
    REQUIRE(run_until(ioc, [&] {
        if (got.empty()) b.publish("conv:c1", env("{\"n\":0}"));
        ioc.run_for(std::chrono::milliseconds(20));
        return !got.empty();
    }));
    got.clear();
    b.publish("conv:c1", env("{\"n\":1}", proto::Role::visitor));
    b.publish("conv:other", env("{\"n\":2}"));
    b.publish("conv:c1", env("{\"n\":3}"));
    REQUIRE(run_until(ioc, [&] { return got.size() >= 2; }));
    run_until(
        ioc, [] { return false; }, 100);
    REQUIRE(got.size() == 2);  // nothing of conv:other
    CHECK(got[0].channel == "conv:c1");
    CHECK(got[0].frame == "{\"n\":1}");
    CHECK(got[0].skip == proto::Role::visitor);
    CHECK(got[1].frame == "{\"n\":3}");
    CHECK_FALSE(got[1].skip);

    a.unsubscribe("conv:c1");
    run_until(
        ioc, [] { return false; }, 100);
    got.clear();
    b.publish("conv:c1", env("{\"n\":4}"));
    run_until(
        ioc, [] { return false; }, 200);
    CHECK(got.empty());

    a.subscribe("agent:a1");
    redis.stop();
    REQUIRE(run_until(ioc, [&] { return !a.up() && !b.up(); }));
    b.publish("agent:a1", env("{\"lost\":true}"));
    CHECK(b.dropped() == 1);  // not queued: the store is the truth

    redis.start();
    REQUIRE(run_until(
        ioc, [&] { return a.up() && b.up() && resubscribed == 1; }, 10000));
    REQUIRE(run_until(ioc, [&] {
        if (got.empty()) b.publish("agent:a1", env("{\"back\":true}"));
        ioc.run_for(std::chrono::milliseconds(20));
        return !got.empty();
    }));
    CHECK(got[0].channel == "agent:a1");
    CHECK(got[0].frame == "{\"back\":true}");
}
