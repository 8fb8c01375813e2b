// The harness's plain parts: histogram, frame scanner, options.
#include <doctest/doctest.h>

#include <random>

#include "frame_scan.hpp"
#include "histogram.hpp"
#include "options.hpp"
#include "switchboard/protocol.hpp"

using namespace sb::loadtest;

TEST_CASE("histogram buckets are contiguous and within 1/64 of the value") {
    int prev = -1;
    for (std::uint64_t v = 0; v < 1'000'000; v += (v < 4096 ? 1 : 97)) {
        int b = Histogram::bucket_of(v);
        CHECK(b >= prev);
        prev = b;
        auto high = Histogram::bucket_high(b);
        CHECK(high >= v);
        CHECK(static_cast<double>(high - v) <= static_cast<double>(v) / 64.0 + 1.0);
    }
    CHECK(Histogram::bucket_of(UINT64_MAX) == Histogram::kBuckets - 1);
}

TEST_CASE("histogram percentiles") {
    Histogram h;
    CHECK(h.percentile(0.99) == 0);
    for (std::uint64_t v = 1; v <= 10'000; ++v) h.record(v * 1000);  // 1 us .. 10 ms
    CHECK(h.count() == 10'000);
    CHECK(h.min() == 1000);
    CHECK(h.max() == 10'000'000);
    auto near = [](std::uint64_t got, double want) {
        return std::abs(static_cast<double>(got) - want) <= want / 50.0;
    };
    CHECK(near(h.percentile(0.5), 5'000'000));
    CHECK(near(h.percentile(0.9), 9'000'000));
    CHECK(near(h.percentile(0.99), 9'900'000));
    CHECK(h.percentile(1.0) == 10'000'000);
    Histogram other;
    other.record(20'000'000);
    h.merge(other);
    CHECK(h.max() == 20'000'000);
    CHECK(h.count() == 10'001);
}

TEST_CASE("scanner reads the server's own message, ack and conversation frames") {
    namespace proto = sb::proto;
    ServerFrame f;
    auto msg = proto::encode(proto::MessageEvent{"c_1", 42, proto::Sender::agent, "Deniz \"D\"",
                                                 "a3.17", "hi, {\"x\":[1]}", 1767225600123});
    REQUIRE(scan_frame(msg, f));
    CHECK(f.type == "message");
    CHECK(f.conv == "c_1");
    CHECK(f.seq == 42u);
    CHECK(f.from == "agent");
    CHECK(f.client_id == "a3.17");

    auto ack = proto::encode(proto::Ack{"c_1", "v3.18", 43, 1, true});
    REQUIRE(scan_frame(ack, f));
    CHECK(f.type == "ack");
    CHECK(f.seq == 43u);
    CHECK(f.duplicate);

    proto::ConversationEvent ce;
    ce.summary.conv = "c_9";
    ce.summary.state = proto::ConvState::active;
    ce.summary.agent_name = "Demo";
    ce.summary.visitor_name = "lt1p7";
    ce.client_id = "s7";
    auto conv = proto::encode(ce);  // the scanner's views point into it
    REQUIRE(scan_frame(conv, f));
    CHECK(f.type == "conversation");
    CHECK(f.state == "active");
    CHECK(f.visitor_name == "lt1p7");
    CHECK(f.client_id == "s7");
}

TEST_CASE("scanner lists the waiting conversations of a queue frame") {
    namespace proto = sb::proto;
    proto::QueueEvent q;
    proto::QueueEntry a, b;
    a.conv = "c_a";
    a.visitor_name = "conv \"conv\":\"x\"";
    b.conv = "c_b";
    b.visitor_name = "p2";
    q.waiting = {a, b};
    ServerFrame f;
    auto queue = proto::encode(q);
    REQUIRE(scan_frame(queue, f));
    CHECK(f.type == "queue");
    std::vector<std::string> convs, names;
    for_each_waiting(f.waiting, [&](std::string_view c, std::string_view n) {
        convs.emplace_back(c);
        names.emplace_back(n);
    });
    CHECK(convs == std::vector<std::string>{"c_a", "c_b"});
    CHECK(names[1] == "p2");
    CHECK_FALSE(scan_frame("[1,2]", f));
    CHECK_FALSE(scan_frame("{\"type\":\"x\"", f));
}

TEST_CASE("message ids and indexed names") {
    auto id = parse_message_id("v12.345");
    REQUIRE(id);
    CHECK(id->side == 'v');
    CHECK(id->pair == 12u);
    CHECK(id->n == 345u);
    CHECK_FALSE(parse_message_id("x1.2"));
    CHECK_FALSE(parse_message_id("v1-2"));
    CHECK_FALSE(parse_message_id(""));
    CHECK(parse_indexed("lt9p17", "lt9p") == 17u);
    CHECK_FALSE(parse_indexed("lt8p17", "lt9p"));
    CHECK_FALSE(parse_indexed("lt9p", "lt9p"));
}

TEST_CASE("options: presets, url, nodes, errors") {
    auto parse = [](std::vector<const char*> args) {
        args.insert(args.begin(), "switchboard-loadtest");
        return parse_options(static_cast<int>(args.size()), args.data());
    };
    auto r =
        parse({"conversations", "--url", "ws://127.0.0.1:9000/ws", "--pairs", "8", "--rate=50"});
    REQUIRE(r.options);
    CHECK(r.options->nodes[0].port == 9000);
    CHECK(r.options->pairs == 8);
    CHECK(r.options->rate == 50);
    CHECK(r.options->agent_conns == 2);

    r = parse({"cluster", "--host", "127.0.0.1", "--port", "8081"});
    REQUIRE(r.options);
    CHECK(r.options->nodes.size() == 2);  // one node named twice
    r = parse({"cluster", "--nodes", "127.0.0.1:1,127.0.0.1:2"});
    REQUIRE(r.options);
    CHECK(r.options->nodes[1].port == 2);

    CHECK_FALSE(parse({"nope"}).options);
    CHECK_FALSE(parse({"idle", "--connections"}).options);
    CHECK_FALSE(parse({"idle", "--connections", "-3"}).options);
    CHECK_FALSE(parse({"idle", "--bogus", "1"}).options);
    CHECK(parse({"idle", "--help"}).help);
}
