// RedisStore: the cluster Store, on Redis 7 through hiredis's synchronous
// API. Like SqliteStore it runs on the event-loop thread that runs the core:
// one connection, one command at a time, each bounded by a timeout.
//
// Layout, every key under the prefix P (default "sb:"):
//   P visitor:<id>               hash, the visitor's fields (attributes as a
//                                JSON array of [key, value] pairs, in order)
//   P visitors-by-token          hash, token_hash -> visitor id
//   P visitors-by-external:<x>   set, the visitors with external_id x
//   P visitor-convs:<id>         zset, the visitor's conversations, score -created
//   P conv:<id>                  hash, the conversation's fields and last_seq
//   P conv-log:<id>              stream, the messages; entry id "<seq>-0"
//   P conv-client-ids:<id>       hash, "<len(author)>:<author><client_id>" -> seq
//   P convs-open                 zset, conversations not closed, score created
//   P convs-by-created           zset, every conversation, score created
//   P offline:<id>               hash, an offline message
//   P offline-all, offline-unhandled   zsets, score -created
//   P canned:<id>                hash, a canned reply
//   P canned-shortcuts:<owner>   hash, shortcut -> reply id ("" = shared)
// A zset orders equal scores by member, byte for byte, which gives the
// contract's "then by id" for free; newest-first sets use -created as score.
// Scores are doubles: times beyond 2^53 ms would lose their order.
//
// Every write is one Lua script: it checks the fence (below), validates, and
// only then writes, so a write either happens whole or not at all. append()
// de-duplicates by (conv, author_id, client_id), takes the next sequence
// number and XADDs in one script. Publishing is the caller's business. The
// scripts build key names from the prefix, so the store wants a single Redis
// (or a replicated primary), not Redis Cluster.
//
// Fencing: with a fence {key, token}, every write first checks that
// GET(key) == token and otherwise changes nothing and throws
// StoreError("fenced: ..."). The key is used as is, outside the prefix.
//
// Batches are weaker than SQLite's transactions, since Redis has no rollback:
// each write is applied at once (so reads inside a batch see it) and records
// how to undo itself; rollback_batch() applies those undo steps in reverse,
// in one script; commit_batch() forgets them. What this does not give:
//   - A crash of this process in the middle of a batch leaves the batch's
//     earlier writes in Redis. No ack was sent for them (acks follow the
//     commit), and a client's resend by client_id is then a duplicate that
//     returns the stored message, so nothing is lost or doubled.
//   - Other nodes see a batch's writes before it commits.
//   - Rolling back an append gives its sequence number back only if it is
//     still the conversation's newest; if another node appended meanwhile,
//     the rolled-back number stays a gap (numbers still only increase).
//   - Undo restores the fields a write changed; a field changed by another
//     node in between takes the value from before the batch.
//   - A write that timed out or lost its connection may still have been
//     applied; it throws, records no undo, and a rollback cannot take it back.
// Durability is Redis's (appendonly/fsync settings): commit_batch() waits
// for nothing more.
//
// Errors (connection refused, timeout, Redis down, WRONGTYPE, fenced) throw
// core::StoreError. After a lost connection the next call tries once to
// reconnect, without sleeping.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/store.hpp"

namespace sb::store {

// The lease's fencing token: writes go through only while GET(key) == token.
struct RedisFence {
    std::string key;
    std::string token;
};

struct RedisStoreSettings {
    std::string ip = "127.0.0.1";  // an address: hiredis resolves names blocking
    int port = 6379;
    std::string prefix = "sb:";
    int timeout_ms = 2'000;  // connect, and every command; > 0
    std::optional<RedisFence> fence;
};

class RedisStore final : public core::Store {
  public:
    // Connects; throws StoreError if Redis cannot be reached.
    explicit RedisStore(RedisStoreSettings settings);
    ~RedisStore() override;  // an open batch is rolled back, if Redis lets it

    RedisStore(const RedisStore&) = delete;
    RedisStore& operator=(const RedisStore&) = delete;

    // The lease was renewed under a new token. Without a fence configured,
    // throws StoreError.
    void set_fence_token(std::string token);

    // begin_batch() while a batch is open and commit_batch() without one
    // throw StoreError; rollback_batch() without one does nothing. If the
    // undo fails (Redis down, fenced), rollback_batch() still ends the batch,
    // then throws StoreError: some of its writes may remain.
    void begin_batch() override;
    void commit_batch() override;
    void rollback_batch() override;
    bool in_batch() const override;

    // Attributes must be valid UTF-8 (they are kept as JSON): if not, the
    // write throws StoreError and stores nothing.
    void create_visitor(const core::Visitor& v) override;
    std::optional<core::Visitor> visitor(std::string_view id) override;
    std::optional<core::Visitor> visitor_by_token_hash(std::string_view token_hash) override;
    void update_visitor(const core::Visitor& v) override;

    // The visitor is not checked (there are no foreign keys).
    void create_conversation(const core::Conversation& c) override;
    std::optional<core::Conversation> conversation(std::string_view id) override;
    void update_conversation(const core::Conversation& c) override;
    std::vector<core::Conversation> conversations_of_visitor(std::string_view visitor_id) override;
    std::vector<core::Conversation> open_conversations() override;
    std::vector<core::Conversation> history_of_visitor(std::string_view visitor_id,
                                                       std::size_t limit) override;
    std::vector<core::Conversation> conversations_since(core::TimeMs since) override;

    core::AppendOutcome append(const core::NewMessage& m) override;
    std::vector<core::StoredMessage> messages_after(std::string_view conv, std::uint64_t after_seq,
                                                    std::size_t limit) override;

    void create_offline_message(const core::OfflineMessage& m) override;
    std::vector<core::OfflineMessage> offline_messages(bool include_handled,
                                                       std::size_t limit) override;
    bool mark_offline_handled(std::string_view id, std::string_view agent_id,
                              core::TimeMs now) override;

    std::vector<core::CannedReply> canned_replies(std::string_view agent_id) override;
    std::optional<core::CannedReply> canned_reply(std::string_view id) override;
    bool save_canned(const core::CannedReply& r) override;
    bool delete_canned(std::string_view id) override;
    std::size_t canned_count(std::string_view owner) override;

  private:
    struct Impl;  // the connection, the scripts and the undo log; keeps hiredis.h out of here
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::store
