// SqliteStore: the embedded Store. One SQLite database file in WAL mode, or
// ":memory:" for tests. One connection, used by one thread at a time (the
// event-loop thread that runs the core).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/store.hpp"

namespace sb::store {

// How far a commit goes before it returns.
//
// normal: PRAGMA synchronous=NORMAL. In WAL mode a commit write()s its pages to
//   the -wal file but does not fsync it; fsync happens at checkpoints. Once
//   write() has returned, the data sits in the kernel's page cache, which
//   outlives the process: a committed (acked) message survives SIGKILL, a crash
//   or the OOM killer. An OS crash or power loss can lose the last commits
//   since the previous checkpoint; the database stays consistent either way.
// full: PRAGMA synchronous=FULL. The WAL is fsynced at every commit, so a
//   commit also survives power loss and kernel panics, at the price of one
//   fsync per commit (one per event-loop turn, thanks to batching).
enum class Durability { normal, full };

struct SqliteOptions {
    Durability durability = Durability::normal;
    // Checkpoints run on a thread of their own (SqliteCheckpointer) once the
    // write-ahead log holds this many pages; 0 leaves them to SQLite, inside
    // the commit that crosses its 1,000 pages, on the writer's thread.
    std::uint32_t checkpoint_pages = 1000;
    // Past this many pages that thread makes the log start over, holding the
    // writer back for the little the background passes left (see
    // SqliteCheckpointer). At least checkpoint_pages.
    std::uint32_t restart_pages = 10000;
    // The writer's page cache. SQLite's default (2 MiB) made the indexes of
    // a growing database come from pread(): 14 % of the server's CPU at
    // capacity (BENCHMARKS.md). 0 = SQLite's default.
    std::uint32_t cache_mb = 64;
};

class SqliteStore final : public core::Store {
  public:
    // Opens (creating if needed) the database at `path` and its schema. A file
    // with an older schema is migrated in place, in one transaction (version 1
    // to 2 to 3: see sqlite_store.cpp). Throws core::StoreError carrying
    // SQLite's message if it cannot, or if the file's schema is newer than this
    // build knows, or if another process has the file open (`path` + ".lock"
    // holds an exclusive lock while a store is open).
    explicit SqliteStore(const std::string& path, SqliteOptions options = {});
    ~SqliteStore() override;  // an open batch is rolled back

    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // begin_batch() while a batch is open and commit_batch() without one throw
    // StoreError (programming errors). rollback_batch() without one does
    // nothing, so error paths may call it unconditionally. If SQLite itself
    // rolled the batch back after an I/O error, every call until
    // rollback_batch() throws, and so does commit_batch().
    void begin_batch() override;
    void commit_batch() override;
    void rollback_batch() override;
    bool in_batch() const override;

    // Background checkpoints so far (both 0 without a checkpointer): passes
    // that copied the log into the file, and restarts of the log.
    std::uint64_t checkpoint_passes() const;
    std::uint64_t log_restarts() const;

    // Attributes are kept as JSON text, so they must be valid UTF-8 (the
    // protocol checks it): if not, the write throws StoreError and stores
    // nothing. Other text round-trips byte for byte.
    void create_visitor(const core::Visitor& v) override;
    std::optional<core::Visitor> visitor(std::string_view id) override;
    std::optional<core::Visitor> visitor_by_token_hash(std::string_view token_hash) override;
    void update_visitor(const core::Visitor& v) override;

    // A new conversation starts with last_seq = 0 whatever the record says; its
    // visitor must exist (foreign key). update_conversation() writes every field
    // but id, visitor_id, created and last_seq; an unknown id throws StoreError.
    void create_conversation(const core::Conversation& c) override;
    std::optional<core::Conversation> conversation(std::string_view id) override;
    void update_conversation(const core::Conversation& c) override;
    // Newest first: created descending, then id ascending.
    std::vector<core::Conversation> conversations_of_visitor(std::string_view visitor_id) override;
    // Oldest first: created ascending, then id ascending.
    std::vector<core::Conversation> open_conversations() override;
    // Newest first: created descending, then id ascending (as
    // conversations_of_visitor).
    std::vector<core::Conversation> history_of_visitor(std::string_view visitor_id,
                                                       std::size_t limit) override;
    // Oldest first: created ascending, then id ascending.
    std::vector<core::Conversation> conversations_since(core::TimeMs since) override;

    // Atomic on its own: inside a batch a failed append leaves the batch as it
    // was (a savepoint), outside one it is its own transaction.
    core::AppendOutcome append(const core::NewMessage& m) override;
    std::vector<core::StoredMessage> messages_after(std::string_view conv, std::uint64_t after_seq,
                                                    std::size_t limit) override;

    // Newest first: created descending, then id ascending. A taken id throws
    // StoreError. handled = 0 means not handled, so mark_offline_handled()
    // wants a non-zero `now`.
    void create_offline_message(const core::OfflineMessage& m) override;
    std::vector<core::OfflineMessage> offline_messages(bool include_handled,
                                                       std::size_t limit) override;
    bool mark_offline_handled(std::string_view id, std::string_view agent_id,
                              core::TimeMs now) override;

    // Shortcuts compare and sort byte for byte ("Hi" and "hi" are two).
    // save_canned() is atomic like append(): a clash or an error leaves an
    // open batch as it was.
    std::vector<core::CannedReply> canned_replies(std::string_view agent_id) override;
    std::optional<core::CannedReply> canned_reply(std::string_view id) override;
    bool save_canned(const core::CannedReply& r) override;
    bool delete_canned(std::string_view id) override;
    std::size_t canned_count(std::string_view owner) override;

  private:
    struct Impl;  // the connection and its cached statements; keeps sqlite3.h out of here
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb::store
