// In-memory fakes of the core's ports (core/store.hpp, core/ports.hpp), for
// driving the Hub in unit tests: no sockets, no disk, no clock, no crypto.
//
// FakeStore keeps the whole Store contract (tests/unit/store_contract.hpp runs
// against it in core_fakes_test.cpp) and can be told to fail. FakeBus delivers
// synchronously like LocalBus and records every publish. FakeOutbox records
// what each session was sent. FakeSecurity is deterministic.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/ports.hpp"
#include "core/store.hpp"

namespace sb::core::fakes {

using json = nlohmann::json;

// ---- store ---------------------------------------------------------------------

class FakeStore final : public Store {
  public:
    // Failure switches. Each fail_next_* arms one failure, used up when it fires;
    // a failing call changes nothing. A failed commit leaves the batch open, as
    // SQLite does, so the caller must roll it back.
    void fail_next_commit() { fail_commit_ = true; }
    void fail_next_append() { fail_append_ = true; }
    // While down every call throws StoreError, except in_batch() and
    // rollback_batch(): an open batch can always be abandoned.
    void set_down(bool down) { down_ = down; }

    int commits() const { return commits_; }
    int rollbacks() const { return rollbacks_; }

    // What a crash right now would keep: the state before the open batch.
    std::vector<StoredMessage> durable_messages(std::string_view conv) const {
        const State& s = durable();
        auto it = s.logs.find(std::string(conv));
        return it == s.logs.end() ? std::vector<StoredMessage>{} : it->second;
    }
    std::optional<Conversation> durable_conversation(std::string_view id) const {
        return find(durable().convs, id);
    }
    std::optional<Visitor> durable_visitor(std::string_view id) const {
        return find(durable().visitors, id);
    }
    std::optional<OfflineMessage> durable_offline(std::string_view id) const {
        return find(durable().offline, id);
    }

    // ---- Store -----------------------------------------------------------------

    void begin_batch() override {
        check_up("begin_batch");
        if (snapshot_) throw StoreError("fake: begin_batch() while a batch is open");
        snapshot_ = state_;
    }
    void commit_batch() override {
        if (!snapshot_) throw StoreError("fake: commit_batch() without an open batch");
        if (fail_commit_) {
            fail_commit_ = false;
            throw StoreError("fake: commit failed");
        }
        check_up("commit_batch");
        snapshot_.reset();
        ++commits_;
    }
    void rollback_batch() override {
        if (!snapshot_) return;
        state_ = std::move(*snapshot_);
        snapshot_.reset();
        ++rollbacks_;
    }
    bool in_batch() const override { return snapshot_.has_value(); }

    void create_visitor(const Visitor& v) override {
        check_up("create_visitor");
        if (state_.visitors.count(v.id) || state_.token_hashes.count(v.token_hash))
            throw StoreError("fake: visitor id or token hash taken");
        state_.visitors.emplace(v.id, v);
        state_.token_hashes.emplace(v.token_hash, v.id);
    }
    std::optional<Visitor> visitor(std::string_view id) override {
        check_up("visitor");
        return find(state_.visitors, id);
    }
    std::optional<Visitor> visitor_by_token_hash(std::string_view token_hash) override {
        check_up("visitor_by_token_hash");
        auto it = state_.token_hashes.find(std::string(token_hash));
        if (it == state_.token_hashes.end()) return std::nullopt;
        return find(state_.visitors, it->second);
    }
    void update_visitor(const Visitor& v) override {
        check_up("update_visitor");
        auto it = state_.visitors.find(v.id);
        if (it == state_.visitors.end()) throw StoreError("fake: no such visitor");
        // Every field but id, token_hash and created.
        const Visitor kept = it->second;
        it->second = v;
        it->second.token_hash = kept.token_hash;
        it->second.created = kept.created;
    }

    void create_conversation(const Conversation& c) override {
        check_up("create_conversation");
        if (state_.convs.count(c.id)) throw StoreError("fake: conversation id taken");
        Conversation fresh = c;
        fresh.last_seq = 0;  // append() owns it
        state_.convs.emplace(c.id, std::move(fresh));
        state_.logs[c.id];
    }
    std::optional<Conversation> conversation(std::string_view id) override {
        check_up("conversation");
        return find(state_.convs, id);
    }
    void update_conversation(const Conversation& c) override {
        check_up("update_conversation");
        auto it = state_.convs.find(c.id);
        if (it == state_.convs.end()) throw StoreError("fake: no such conversation");
        // Every field but id, visitor_id, created and last_seq (append() owns it).
        Conversation& s = it->second;
        const Conversation kept = s;
        s = c;
        s.id = kept.id;
        s.visitor_id = kept.visitor_id;
        s.created = kept.created;
        s.last_seq = kept.last_seq;
    }
    std::vector<Conversation> conversations_of_visitor(std::string_view visitor_id) override {
        check_up("conversations_of_visitor");
        std::vector<Conversation> out;
        for (const auto& [id, c] : state_.convs)
            if (c.visitor_id == visitor_id) out.push_back(c);
        // Newest first, then by id (the map gives id order; keep it for ties).
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.created > b.created; });
        return out;
    }
    std::vector<Conversation> open_conversations() override {
        check_up("open_conversations");
        std::vector<Conversation> out;
        for (const auto& [id, c] : state_.convs)
            if (c.state != ConvState::closed) out.push_back(c);
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.created < b.created; });
        return out;
    }

    std::vector<Conversation> history_of_visitor(std::string_view visitor_id,
                                                 std::size_t limit) override {
        check_up("history_of_visitor");
        std::set<std::string> who{std::string(visitor_id)};
        if (auto me = find(state_.visitors, visitor_id); me && !me->external_id.empty()) {
            for (const auto& [id, v] : state_.visitors)
                if (v.external_id == me->external_id) who.insert(id);
        }
        std::vector<Conversation> out;
        for (const auto& [id, c] : state_.convs)
            if (who.count(c.visitor_id)) out.push_back(c);
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.created > b.created; });
        if (out.size() > limit) out.resize(limit);
        return out;
    }
    std::vector<Conversation> conversations_since(TimeMs since) override {
        check_up("conversations_since");
        std::vector<Conversation> out;
        for (const auto& [id, c] : state_.convs)
            if (c.created >= since) out.push_back(c);
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.created < b.created; });
        return out;
    }

    std::vector<CannedReply> canned_replies(std::string_view agent_id) override {
        check_up("canned_replies");
        std::vector<CannedReply> out;
        for (const auto& [id, r] : state_.canned)
            if (r.owner.empty() || r.owner == agent_id) out.push_back(r);
        // By shortcut, shared before personal, then id (the map's order).
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return std::tuple(a.shortcut, !a.owner.empty()) <
                   std::tuple(b.shortcut, !b.owner.empty());
        });
        return out;
    }
    std::optional<CannedReply> canned_reply(std::string_view id) override {
        check_up("canned_reply");
        return find(state_.canned, id);
    }
    bool save_canned(const CannedReply& r) override {
        check_up("save_canned");
        for (const auto& [id, other] : state_.canned)
            if (id != r.id && other.owner == r.owner && other.shortcut == r.shortcut) return false;
        auto it = state_.canned.find(r.id);
        if (it == state_.canned.end()) {
            state_.canned.emplace(r.id, r);
        } else {
            const TimeMs created = it->second.created;
            it->second = r;
            it->second.created = created;
        }
        return true;
    }
    bool delete_canned(std::string_view id) override {
        check_up("delete_canned");
        return state_.canned.erase(std::string(id)) > 0;
    }
    std::size_t canned_count(std::string_view owner) override {
        check_up("canned_count");
        return static_cast<std::size_t>(
            std::count_if(state_.canned.begin(), state_.canned.end(),
                          [&](const auto& kv) { return kv.second.owner == owner; }));
    }

    AppendOutcome append(const NewMessage& m) override {
        check_up("append");
        if (fail_append_) {
            fail_append_ = false;
            throw StoreError("fake: append failed");
        }
        auto conv = state_.convs.find(m.conv);
        if (conv == state_.convs.end()) throw StoreError("fake: append to unknown conversation");
        auto& log = state_.logs[m.conv];
        const ClientKey key{m.conv, m.author_id, m.client_id};
        if (!m.client_id.empty()) {
            auto seen = state_.client_ids.find(key);
            if (seen != state_.client_ids.end()) return {log.at(seen->second - 1), true};
        }
        StoredMessage sm{m.conv,        conv->second.last_seq + 1,
                         m.from,        m.author_id,
                         m.author_name, m.client_id,
                         m.text,        m.ts,
                         m.internal};
        conv->second.last_seq = sm.seq;
        log.push_back(sm);
        if (!m.client_id.empty()) state_.client_ids.emplace(key, sm.seq);
        return {sm, false};
    }
    void create_offline_message(const OfflineMessage& m) override {
        check_up("create_offline_message");
        if (!state_.offline.emplace(m.id, m).second)
            throw StoreError("fake: offline message id taken");
    }
    std::vector<OfflineMessage> offline_messages(bool include_handled, std::size_t limit) override {
        check_up("offline_messages");
        std::vector<OfflineMessage> out;
        for (const auto& [id, m] : state_.offline)
            if (include_handled || m.handled == 0) out.push_back(m);
        // Newest first, then by id (the map gives id order; keep it for ties).
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.created > b.created; });
        if (out.size() > limit) out.resize(limit);
        return out;
    }
    bool mark_offline_handled(std::string_view id, std::string_view agent_id, TimeMs now) override {
        check_up("mark_offline_handled");
        auto it = state_.offline.find(std::string(id));
        if (it == state_.offline.end() || it->second.handled != 0) return false;
        it->second.handled = now;
        it->second.handled_by = std::string(agent_id);
        return true;
    }
    std::vector<StoredMessage> messages_after(std::string_view conv, std::uint64_t after_seq,
                                              std::size_t limit) override {
        check_up("messages_after");
        std::vector<StoredMessage> out;
        auto it = state_.logs.find(std::string(conv));
        if (it == state_.logs.end()) return out;
        const auto& log = it->second;  // log[i].seq == i + 1
        for (std::uint64_t i = after_seq; i < log.size() && out.size() < limit; ++i)
            out.push_back(log[i]);
        return out;
    }

  private:
    using ClientKey = std::tuple<std::string, std::string, std::string>;  // conv, author, id
    struct State {
        std::map<std::string, Visitor> visitors;
        std::map<std::string, std::string> token_hashes;  // hash -> visitor id
        std::map<std::string, Conversation> convs;
        std::map<std::string, std::vector<StoredMessage>> logs;
        std::map<ClientKey, std::uint64_t> client_ids;  // -> seq
        std::map<std::string, OfflineMessage> offline;
        std::map<std::string, CannedReply> canned;
    };

    template <class T>
    static std::optional<T> find(const std::map<std::string, T>& m, std::string_view key) {
        auto it = m.find(std::string(key));
        if (it == m.end()) return std::nullopt;
        return it->second;
    }
    const State& durable() const { return snapshot_ ? *snapshot_ : state_; }
    void check_up(const char* what) const {
        if (down_) throw StoreError(std::string("fake: store is down: ") + what);
    }

    State state_;
    std::optional<State> snapshot_;  // the state at begin_batch(), while a batch is open
    bool fail_commit_ = false;
    bool fail_append_ = false;
    bool down_ = false;
    int commits_ = 0;
    int rollbacks_ = 0;
};

// ---- bus -----------------------------------------------------------------------

// One node's bus, like bus/LocalBus: a publish reaches the handler at once when
// the channel is subscribed. Every publish is recorded, subscribed or not.
class FakeBus final : public Bus {
  public:
    struct Published {
        std::string channel;
        Envelope envelope;
        json frame() const { return json::parse(*envelope.frame); }
    };

    void set_handler(Handler h) override { handler_ = std::move(h); }
    void subscribe(const std::string& channel) override { channels_.insert(channel); }
    void unsubscribe(const std::string& channel) override { channels_.erase(channel); }
    void publish(const std::string& channel, const Envelope& e) override {
        published_.push_back({channel, e});
        if (handler_ && channels_.count(channel)) handler_(channel, e);
    }

    bool subscribed(const std::string& channel) const { return channels_.count(channel) > 0; }
    const std::vector<Published>& published() const { return published_; }
    // Frames published on one channel, in order.
    std::vector<json> published_on(const std::string& channel) const {
        std::vector<json> out;
        for (const auto& p : published_)
            if (p.channel == channel) out.push_back(p.frame());
        return out;
    }
    void clear() { published_.clear(); }

  private:
    Handler handler_;
    std::set<std::string> channels_;
    std::vector<Published> published_;
};

// ---- outbox --------------------------------------------------------------------

class FakeOutbox final : public Outbox {
  public:
    // One thing done to a socket, in the order the hub did it.
    struct Event {
        SessionId sid = 0;
        std::string frame;       // empty for a close
        std::uint16_t code = 0;  // non-zero for a close
    };

    // Called on every send, before it is recorded: lets a test check what was
    // true when a frame left (e.g. that its append was committed).
    std::function<void(SessionId, const json&)> on_send;

    void send(SessionId sid, const Frame& frame) override {
        if (on_send) on_send(sid, json::parse(*frame));
        log_.push_back({sid, *frame, 0});
    }
    void close(SessionId sid, std::uint16_t code) override { log_.push_back({sid, {}, code}); }

    const std::vector<Event>& log() const { return log_; }
    bool empty() const { return log_.empty(); }
    void clear() { log_.clear(); }

    // Frames sent to one session, parsed, in order.
    std::vector<json> frames(SessionId sid) const {
        std::vector<json> out;
        for (const auto& e : log_)
            if (e.sid == sid && e.code == 0) out.push_back(json::parse(e.frame));
        return out;
    }
    std::vector<json> of_type(SessionId sid, std::string_view type) const {
        std::vector<json> out;
        for (auto& f : frames(sid))
            if (f.value("type", "") == type) out.push_back(std::move(f));
        return out;
    }
    // The "type" of every frame sent to the session, in order.
    std::vector<std::string> types(SessionId sid) const {
        std::vector<std::string> out;
        for (const auto& f : frames(sid)) out.push_back(f.value("type", ""));
        return out;
    }
    // The "code" of every error frame sent to the session, in order.
    std::vector<std::string> error_codes(SessionId sid) const {
        std::vector<std::string> out;
        for (const auto& f : of_type(sid, "error")) out.push_back(f.value("code", ""));
        return out;
    }
    std::vector<std::uint16_t> closes(SessionId sid) const {
        std::vector<std::uint16_t> out;
        for (const auto& e : log_)
            if (e.sid == sid && e.code != 0) out.push_back(e.code);
        return out;
    }

  private:
    std::vector<Event> log_;
};

// ---- security ------------------------------------------------------------------

// Agent tokens are "agent:<id>:<name>"; ids and tokens count up from `first`.
// What the token cannot say (supervisor, departments, capacity) comes from the
// account the test set for that agent id with set_account(); without one the
// agent is a plain agent of every department with the default capacity.
class FakeSecurity final : public Security {
  public:
    explicit FakeSecurity(std::uint64_t first = 1) : next_(first) {}

    // Tokens of this agent are refused from `at` on.
    void expire(const std::string& agent_id, TimeMs at) { expires_[agent_id] = at; }
    // The account behind `who.id`'s tokens; the name still comes from the token.
    void set_account(const AgentIdentity& who) { accounts_[who.id] = who; }

    std::optional<AgentIdentity> verify_agent_token(std::string_view token, TimeMs now) override {
        constexpr std::string_view prefix = "agent:";
        if (token.substr(0, prefix.size()) != prefix) return std::nullopt;
        token.remove_prefix(prefix.size());
        const auto colon = token.find(':');
        if (colon == std::string_view::npos || colon == 0) return std::nullopt;
        AgentIdentity who;
        who.id = std::string(token.substr(0, colon));
        if (auto acc = accounts_.find(who.id); acc != accounts_.end()) who = acc->second;
        who.name = std::string(token.substr(colon + 1));
        auto exp = expires_.find(who.id);
        if (exp != expires_.end() && now >= exp->second) return std::nullopt;
        return who;
    }
    // 32 hex digits, so ids sort in the order they were made.
    std::string random_id() override {
        char buf[33];
        std::snprintf(buf, sizeof buf, "%032llx", static_cast<unsigned long long>(next_++));
        return buf;
    }
    std::string random_token() override { return "tok" + std::to_string(next_++); }
    std::string hash_token(std::string_view token) override {
        return "h(" + std::string(token) + ")";
    }
    // The signature of user u is u's bytes in hex, padded with '0' to 64
    // digits (the shape of a real one); it verifies once the test set a secret.
    void set_identity_secret(bool on) { identity_ = on; }
    static std::string sign(std::string_view user_id) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (unsigned char c : user_id) {
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
        out.resize(64, '0');
        return out;
    }
    bool verify_identity(std::string_view user_id, std::string_view signature) override {
        return identity_ && signature == sign(user_id);
    }

  private:
    std::uint64_t next_;
    std::map<std::string, TimeMs> expires_;
    std::map<std::string, AgentIdentity> accounts_;
    bool identity_ = false;
};

}  // namespace sb::core::fakes
