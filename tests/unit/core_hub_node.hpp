// A node for Hub tests: the Hub on its fakes (core_fakes.hpp), helpers that
// build client frames, and readers of what came out. Shared by the hub test
// files.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/hub.hpp"
#include "core_fakes.hpp"

namespace sb::core::hubtest {

using namespace sb::core;
using namespace sb::core::fakes;

inline constexpr TimeMs kT0 = 1'700'000'000'000;

// ---- frames a client sends -----------------------------------------------------

inline json hello_visitor(const std::string& token = "", const std::string& name = "Asha") {
    json j{{"type", "hello"}, {"version", 1}, {"role", "visitor"}};
    if (!token.empty()) j["token"] = token;
    if (!name.empty()) j["name"] = name;
    return j;
}
inline json hello_agent(const std::string& token) {
    return {{"type", "hello"}, {"version", 1}, {"role", "agent"}, {"token", token}};
}
inline json start_frame(const std::string& client_id, const std::string& text = "",
                        const std::string& department = "") {
    json j{{"type", "start"}, {"client_id", client_id}};
    if (!text.empty()) j["text"] = text;
    if (!department.empty()) j["department"] = department;
    return j;
}
inline json message(const std::string& conv, const std::string& client_id,
                    const std::string& text = "hi") {
    return {{"type", "message"}, {"conv", conv}, {"client_id", client_id}, {"text", text}};
}
inline json resume(const std::string& conv, std::uint64_t after = 0) {
    return {{"type", "resume"}, {"conv", conv}, {"after", after}};
}
inline json close_frame(const std::string& conv) {
    return {{"type", "close"}, {"conv", conv}};
}
inline json presence(const std::string& status) {
    return {{"type", "presence"}, {"status", status}};
}
inline json accept(const std::string& conv) {
    return {{"type", "accept"}, {"conv", conv}};
}
inline json decline(const std::string& conv) {
    return {{"type", "decline"}, {"conv", conv}};
}
inline json transfer_to_agent(const std::string& conv, const std::string& agent,
                              const std::string& note = "") {
    json j{{"type", "transfer"}, {"conv", conv}, {"to_agent", agent}};
    if (!note.empty()) j["note"] = note;
    return j;
}
inline json transfer_to_department(const std::string& conv, const std::string& department,
                                   const std::string& note = "") {
    json j{{"type", "transfer"}, {"conv", conv}, {"to_department", department}};
    if (!note.empty()) j["note"] = note;
    return j;
}
inline json leave_message(const std::string& client_id, const std::string& text,
                          const std::string& department = "") {
    json j{{"type", "leave_message"},
           {"client_id", client_id},
           {"name", "Ayşe"},
           {"email", "ayse@example.com"},
           {"text", text}};
    if (!department.empty()) j["department"] = department;
    return j;
}
inline json offline_list() {
    return {{"type", "offline_list"}};
}
inline json offline_handled(const std::string& id) {
    return {{"type", "offline_handled"}, {"id", id}};
}

// ---- reading what came out -------------------------------------------------------

inline std::string seqs(const std::vector<json>& frames) {
    std::string out;
    for (const auto& f : frames) out += (out.empty() ? "" : ",") + f["seq"].dump();
    return out;
}

// "conv:state:reason" of each conversation event, in order.
inline std::string states(const std::vector<json>& events) {
    std::string out;
    for (const auto& e : events)
        out +=
            (out.empty() ? "" : ",") + e["state"].get<std::string>() + ":" + e.value("reason", "");
    return out;
}

// The convs of a queue frame, in order, as "conv/department#position,...".
inline std::string queue_of(const json& q) {
    std::string out;
    for (const auto& e : q["waiting"])
        out += (out.empty() ? "" : ",") + e["conv"].get<std::string>() + "/" +
               e["department"].get<std::string>() + "#" + e["position"].dump();
    return out;
}

template <class Enum>
inline std::string name(Enum e) {
    return std::string(sb::proto::to_string(e));
}

// ---- one node ----------------------------------------------------------------------

inline HubSettings routing(AssignMode mode, bool queue_without_agents = false) {
    HubSettings s;
    s.routing.mode = mode;
    s.routing.queue_without_agents = queue_without_agents;
    return s;
}

struct VisitorSession {
    SessionId sid = 0;
    std::string id;
    std::string token;
};

struct Node {
    explicit Node(FakeStore& s, HubSettings settings, std::uint64_t first_id = 1)
        : store(s), sec(first_id), hub(settings, store, bus, out, sec) {
        hub.start(now);
        hub.flush(now);
    }

    FakeStore& store;
    FakeBus bus;
    FakeOutbox out;
    FakeSecurity sec;
    TimeMs now = kT0;
    Hub hub;
    SessionId next_sid = 1;

    SessionId connect() {
        SessionId sid = next_sid++;
        hub.on_open(sid, now);
        return sid;
    }
    void frame(SessionId sid, const json& j) { hub.on_frame(sid, j.dump(), now); }
    void flush() { hub.flush(now); }
    void turn(SessionId sid, const json& j) {
        frame(sid, j);
        flush();
    }
    // The socket went away (one loop turn).
    void disconnect(SessionId sid) {
        hub.on_close(sid, now);
        flush();
    }
    // The timer fired (one loop turn).
    void tick() {
        hub.tick(now);
        flush();
    }
    void advance(TimeMs ms) { now += ms; }

    // The account behind an agent's tokens.
    void account(const std::string& id, int capacity, std::vector<std::string> departments = {}) {
        AgentIdentity who;
        who.id = id;
        who.capacity = capacity;
        who.departments = std::move(departments);
        sec.set_account(who);
    }
    VisitorSession visitor(const std::string& visitor_name = "Asha",
                           const std::string& token = "") {
        SessionId sid = connect();
        turn(sid, hello_visitor(token, visitor_name));
        auto w = out.of_type(sid, "welcome");
        REQUIRE(w.size() == 1);
        return {sid, w[0]["id"].get<std::string>(),
                token.empty() ? w[0]["token"].get<std::string>() : token};
    }
    SessionId agent(const std::string& id, const std::string& agent_name = "Deniz") {
        SessionId sid = connect();
        turn(sid, hello_agent("agent:" + id + ":" + agent_name));
        REQUIRE(out.of_type(sid, "welcome").size() == 1);
        return sid;
    }
    // The visitor's start, answered with a conversation; returns its id.
    std::string start(SessionId sid, const std::string& client_id = "s1",
                      const std::string& text = "", const std::string& department = "") {
        turn(sid, start_frame(client_id, text, department));
        for (const auto& ev : out.of_type(sid, "conversation"))
            if (ev.value("client_id", "") == client_id) return ev["conv"].get<std::string>();
        FAIL("start was not answered with a conversation");
        return {};
    }
    std::vector<json> got(SessionId sid, std::string_view type) const {
        return out.of_type(sid, type);
    }
    json last(SessionId sid, std::string_view type) const {
        auto all = out.of_type(sid, type);
        REQUIRE_FALSE(all.empty());
        return all.back();
    }
    std::vector<std::string> errors(SessionId sid) const { return out.error_codes(sid); }
    void forget_output() {
        out.clear();
        bus.clear();
    }
};

}  // namespace sb::core::hubtest
