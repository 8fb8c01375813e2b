// SqliteStore over the raw sqlite3 C API: the schema, a small statement cache
// and the Store operations.
#include "store/sqlite_store.hpp"

#include "store/records.hpp"
#include "store/sqlite_checkpointer.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

namespace sb::store {

using core::AppendOutcome;
using core::CannedReply;
using core::Conversation;
using core::ConvState;
using core::NewMessage;
using core::OfflineMessage;
using core::Sender;
using core::StoredMessage;
using core::StoreError;
using core::Visitor;

namespace {

// Bump when the schema changes, and add a migration step to create_schema().
// 1: visitors, conversations, messages.
// 2: conversations gain department, priority, queued and first_reply; messages
//    gain internal; offline_messages.
// 3: visitors gain external_id, verified, attributes, page, language,
//    user_agent and last_seen; conversations gain resolution, csat_score,
//    csat_comment and rated; canned_replies.
constexpr int kSchemaVersion = 3;
// How long a statement waits for another connection (a backup, the sqlite3
// shell) to release the database before it fails with "database is locked".
constexpr int kBusyTimeoutMs = 5000;

// The current schema, for a fresh file. Enums are stored as their protocol
// names (proto::to_string). The literal 'closed' below is
// proto::to_string(ConvState::closed); it has to be a literal for SQLite to use
// the partial index.
//
// Columns added by a migration come last here too, in the migration's order,
// so that a fresh and a migrated database have the very same tables (a test
// compares them).
constexpr const char* kSchema = R"sql(
CREATE TABLE visitors (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT UNIQUE NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    created     INTEGER NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    verified    INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    attributes  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attributes)),
    page        TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    last_seen   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE conversations (
    id                TEXT PRIMARY KEY NOT NULL,
    visitor_id        TEXT NOT NULL REFERENCES visitors(id),
    visitor_name      TEXT NOT NULL,
    agent_id          TEXT NOT NULL,
    agent_name        TEXT NOT NULL,
    state             TEXT NOT NULL,
    created           INTEGER NOT NULL,
    assigned          INTEGER NOT NULL,
    closed            INTEGER NOT NULL,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    visitor_read_seq  INTEGER NOT NULL,
    agent_read_seq    INTEGER NOT NULL,
    department        TEXT NOT NULL DEFAULT '',
    priority          INTEGER NOT NULL DEFAULT 0,
    queued            INTEGER NOT NULL DEFAULT 0,
    first_reply       INTEGER NOT NULL DEFAULT 0,
    resolution        TEXT NOT NULL DEFAULT '',
    csat_score        INTEGER NOT NULL DEFAULT 0,
    csat_comment      TEXT NOT NULL DEFAULT '',
    rated             INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX conversations_open
    ON conversations(created, id) WHERE state <> 'closed';
CREATE INDEX conversations_by_visitor
    ON conversations(visitor_id, created);

CREATE TABLE messages (
    conv         TEXT NOT NULL REFERENCES conversations(id),
    seq          INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    internal     INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    PRIMARY KEY (conv, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX messages_client_id
    ON messages(conv, author_id, client_id) WHERE client_id <> '';
)sql";

// New in version 2: created as is by both a fresh schema and the migration.
// The partial index serves the usual listing, the unhandled ones.
constexpr const char* kOfflineMessages = R"sql(
CREATE TABLE offline_messages (
    id          TEXT PRIMARY KEY NOT NULL,
    visitor_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    department  TEXT NOT NULL,
    text        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    handled     INTEGER NOT NULL,
    handled_by  TEXT NOT NULL
) STRICT;
CREATE INDEX offline_messages_newest
    ON offline_messages(created DESC, id);
CREATE INDEX offline_messages_unhandled
    ON offline_messages(created DESC, id) WHERE handled = 0;
)sql";

// Version 1 to 2. ADD COLUMN needs a default for a NOT NULL column; existing
// rows take it, except where the old data says better: a conversation entered
// the queue when it was created (version 1 never requeued), and its first
// reply is its first agent message. 'agent' is proto::to_string(Sender::agent).
constexpr const char* kMigrateTo2 = R"sql(
ALTER TABLE conversations ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN first_reply INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN internal INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1));
UPDATE conversations SET
    queued = created,
    first_reply = coalesce((SELECT min(ts) FROM messages
                            WHERE conv = conversations.id AND sender = 'agent'), 0);
)sql";

// New in version 3: created as is by both a fresh schema and the migration.
// UNIQUE (owner, shortcut) is the clash rule of save_canned() and its index
// serves the listings by owner. The partial index finds the other devices of
// a verified user (history_of_visitor); most visitors have no external_id, so
// they stay out of it. conversations_by_created serves conversations_since().
constexpr const char* kAddedIn3 = R"sql(
CREATE TABLE canned_replies (
    id        TEXT PRIMARY KEY NOT NULL,
    owner     TEXT NOT NULL,
    shortcut  TEXT NOT NULL,
    text      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    updated   INTEGER NOT NULL,
    UNIQUE (owner, shortcut)
) STRICT;
CREATE INDEX visitors_by_external_id
    ON visitors(external_id) WHERE external_id <> '';
CREATE INDEX conversations_by_created
    ON conversations(created, id);
)sql";

// Version 2 to 3. The new columns take their defaults, except last_seen: a
// visitor was last seen no earlier than its creation or its latest message.
// 'visitor' is proto::to_string(Sender::visitor).
constexpr const char* kMigrateTo3 = R"sql(
ALTER TABLE visitors ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1));
ALTER TABLE visitors ADD COLUMN attributes TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(attributes));
ALTER TABLE visitors ADD COLUMN page TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN csat_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN csat_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN rated INTEGER NOT NULL DEFAULT 0;
UPDATE visitors SET last_seen = max(created, coalesce(
    (SELECT max(m.ts) FROM conversations AS c JOIN messages AS m ON m.conv = c.id
     WHERE c.visitor_id = visitors.id AND m.sender = 'visitor'), 0));
)sql";

[[noreturn]] void fail(sqlite3* db, std::string_view context) {
    std::string what = "sqlite: ";
    what += sqlite3_errmsg(db);
    what += " [";
    what += context;
    what += "]";
    throw StoreError(what);
}

// A statement compiled once and reused for the connection's lifetime.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
            SQLITE_OK)
            fail(db, sql);
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    sqlite3_stmt* get() const { return stmt_; }

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

// One execution of a Statement: bind parameters in order, step, read columns.
// Text is bound without a copy, so bound strings must outlive the Query; the
// destructor resets the statement and clears its bindings.
class Query {
  public:
    explicit Query(Statement& s) : stmt_(s.get()) {}
    ~Query() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& bind(std::string_view text) {
        // A null data() (a default string_view) would bind SQL NULL.
        const char* bytes = text.data() != nullptr ? text.data() : "";
        return check(
            sqlite3_bind_text64(stmt_, ++param_, bytes, text.size(), SQLITE_STATIC, SQLITE_UTF8));
    }
    Query& bind(std::int64_t v) { return check(sqlite3_bind_int64(stmt_, ++param_, v)); }
    // SQLite integers are signed; anything above INT64_MAX means "no bound".
    Query& bind(std::uint64_t v) {
        constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
        return bind(static_cast<std::int64_t>(std::min(v, kMax)));
    }

    // True when a row is ready, false when the statement has finished.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) fail(sqlite3_db_handle(stmt_), sqlite3_sql(stmt_));
        return false;
    }
    // Runs to the end, ignoring rows.
    void run() {
        while (step()) {
        }
    }

    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::uint64_t uint64(int col) const { return static_cast<std::uint64_t>(int64(col)); }
    std::string text(int col) const {
        // Byte-exact, embedded NULs included: the length comes from column_bytes.
        const auto* bytes = sqlite3_column_text(stmt_, col);
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
        if (bytes == nullptr) {
            if (sqlite3_column_type(stmt_, col) != SQLITE_NULL)  // out of memory
                fail(sqlite3_db_handle(stmt_), sqlite3_sql(stmt_));
            return {};
        }
        return {reinterpret_cast<const char*>(bytes), size};
    }

  private:
    Query& check(int rc) {
        if (rc != SQLITE_OK) fail(sqlite3_db_handle(stmt_), sqlite3_sql(stmt_));
        return *this;
    }

    sqlite3_stmt* stmt_;
    int param_ = 0;
};

struct CloseDb {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

void exec(sqlite3* db, const char* sql, std::string_view context = {}) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
        fail(db, context.empty() ? sql : context);
}

std::int64_t query_int(sqlite3* db, const char* sql) {
    Statement s(db, sql);
    Query q(s);
    return q.step() ? q.int64(0) : 0;
}

std::string query_text(sqlite3* db, const char* sql) {
    Statement s(db, sql);
    Query q(s);
    return q.step() ? q.text(0) : std::string();
}

void create_schema(sqlite3* db) {
    // IMMEDIATE: two processes opening the same file do not race on the schema,
    // and a migration is all or nothing.
    exec(db, "BEGIN IMMEDIATE");
    try {
        const auto version = query_int(db, "PRAGMA user_version");
        if (version > kSchemaVersion)
            throw StoreError("sqlite: the database has schema version " + std::to_string(version) +
                             ", newer than this build's " + std::to_string(kSchemaVersion));
        if (version < 0)
            throw StoreError("sqlite: the database has no schema version this build knows (" +
                             std::to_string(version) + ")");
        if (version == 0) {  // a fresh file
            exec(db, kSchema, "creating the schema");
            exec(db, kOfflineMessages, "creating the schema");
            exec(db, kAddedIn3, "creating the schema");
        } else {  // one step at a time, up to the current version
            if (version < 2) {
                exec(db, kMigrateTo2, "migrating the schema from version 1 to 2");
                exec(db, kOfflineMessages, "migrating the schema from version 1 to 2");
            }
            if (version < 3) {
                exec(db, kMigrateTo3, "migrating the schema from version 2 to 3");
                exec(db, kAddedIn3, "migrating the schema from version 2 to 3");
            }
        }
        if (version < kSchemaVersion)
            exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
        exec(db, "COMMIT");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

// A database file, not ":memory:" (tests): locked, in WAL mode, checkpointed.
bool on_disk(const std::string& path) {
    return !path.empty() && path != ":memory:";
}

// One process owns a database file: an flock on "<path>.lock", held while
// the store is open. (Not SQLite's locking_mode=EXCLUSIVE, which would also
// shut out the store's own checkpoint connection.)
class FileLock {
  public:
    FileLock() = default;
    void acquire(const std::string& path) {
        if (!on_disk(path)) return;
        // One name per file, however the path is spelled (symlinks, "..").
        std::error_code ec;
        const auto real = std::filesystem::weakly_canonical(path, ec);
        const std::string lock_path = (ec ? path : real.string()) + ".lock";
        fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) throw StoreError("sqlite: cannot open the lock file '" + lock_path + "'");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            fd_ = -1;
            throw StoreError("sqlite: '" + path + "' is in use by another process (" + lock_path +
                             " is locked)");
        }
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    int fd_ = -1;
};

// Takes `lock` once the file opened (so that SQLite gives the reason if it
// cannot) and before anything is written.
Db open_database(const std::string& path, const SqliteOptions& options, FileLock& lock) {
    sqlite3* raw = nullptr;
    // NOMUTEX: the store is used by one thread at a time, so skip SQLite's locks.
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    Db db(raw);  // a handle comes back even on failure and must be closed
    if (rc != SQLITE_OK)
        throw StoreError("sqlite: cannot open '" + path +
                         "': " + (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));

    lock.acquire(path);
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
    if (on_disk(path)) {
        // WAL is a property of the file and persists; a file system that cannot
        // do WAL (no shared memory) leaves the old mode in place.
        const std::string mode = query_text(raw, "PRAGMA journal_mode=WAL");
        if (mode != "wal")
            throw StoreError("sqlite: cannot put '" + path + "' in WAL mode (journal_mode is '" +
                             mode + "')");
        // The checkpointer's thread does it (see SqliteStore::Impl).
        if (options.checkpoint_pages > 0) exec(raw, "PRAGMA wal_autocheckpoint=0");
    }
    // See Durability in the header for what each level survives.
    exec(raw, options.durability == Durability::full ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL");
    exec(raw, "PRAGMA foreign_keys=ON");
    if (options.cache_mb > 0) {
        // Negative: a size in KiB rather than in pages.
        const std::string sql =
            "PRAGMA cache_size=-" + std::to_string(std::uint64_t{options.cache_mb} * 1024);
        exec(raw, sql.c_str());
    }
    create_schema(raw);
    return db;
}

Sender sender_named(const std::string& name) {
    return store::sender_named(name, "sqlite", "table messages");
}
ConvState state_named(const std::string& name) {
    return store::state_named(name, "sqlite", "table conversations");
}
std::string attributes_to_json(const proto::Attributes& attributes) {
    return store::attributes_to_json(attributes, "sqlite");
}
proto::Attributes attributes_from_json(const std::string& text) {
    return store::attributes_from_json(text, "sqlite", "attributes in table visitors");
}

// Column orders shared by the SELECTs below and the readers that follow.
#define SB_VISITOR_COLUMNS                                                            \
    "id, token_hash, name, email, created, external_id, verified, attributes, page, " \
    "language, user_agent, last_seen"
// last_seq is read from the messages, not from the column: append() does not
// write the column (see SqliteStore::Impl::last_seq). The primary key
// (conv, seq) makes the max() one index descent.
#define SB_CONVERSATION_COLUMNS                                                              \
    "id, visitor_id, visitor_name, agent_id, agent_name, state, created, assigned, closed, " \
    "coalesce((SELECT max(seq) FROM messages WHERE conv = conversations.id), 0), "           \
    "visitor_read_seq, agent_read_seq, department, priority, queued, first_reply, "          \
    "resolution, csat_score, csat_comment, rated"
#define SB_MESSAGE_COLUMNS \
    "conv, seq, sender, author_id, author_name, client_id, text, ts, internal"
#define SB_OFFLINE_COLUMNS \
    "id, visitor_id, name, email, department, text, created, handled, handled_by"
#define SB_CANNED_COLUMNS "id, owner, shortcut, text, created, updated"

Visitor read_visitor(const Query& q) {
    Visitor v;
    v.id = q.text(0);
    v.token_hash = q.text(1);
    v.name = q.text(2);
    v.email = q.text(3);
    v.created = q.int64(4);
    v.external_id = q.text(5);
    v.verified = q.int64(6) != 0;
    v.attributes = attributes_from_json(q.text(7));
    v.page = q.text(8);
    v.language = q.text(9);
    v.user_agent = q.text(10);
    v.last_seen = q.int64(11);
    return v;
}

Conversation read_conversation(const Query& q) {
    Conversation c;
    c.id = q.text(0);
    c.visitor_id = q.text(1);
    c.visitor_name = q.text(2);
    c.agent_id = q.text(3);
    c.agent_name = q.text(4);
    c.state = state_named(q.text(5));
    c.created = q.int64(6);
    c.assigned = q.int64(7);
    c.closed = q.int64(8);
    c.last_seq = q.uint64(9);
    c.visitor_read_seq = q.uint64(10);
    c.agent_read_seq = q.uint64(11);
    c.department = q.text(12);
    c.priority = static_cast<int>(q.int64(13));
    c.queued = q.int64(14);
    c.first_reply = q.int64(15);
    c.resolution = q.text(16);
    c.csat_score = static_cast<int>(q.int64(17));
    c.csat_comment = q.text(18);
    c.rated = q.int64(19);
    return c;
}

StoredMessage read_message(const Query& q) {
    StoredMessage m;
    m.conv = q.text(0);
    m.seq = q.uint64(1);
    m.from = sender_named(q.text(2));
    m.author_id = q.text(3);
    m.author_name = q.text(4);
    m.client_id = q.text(5);
    m.text = q.text(6);
    m.ts = q.int64(7);
    m.internal = q.int64(8) != 0;
    return m;
}

OfflineMessage read_offline(const Query& q) {
    OfflineMessage m;
    m.id = q.text(0);
    m.visitor_id = q.text(1);
    m.name = q.text(2);
    m.email = q.text(3);
    m.department = q.text(4);
    m.text = q.text(5);
    m.created = q.int64(6);
    m.handled = q.int64(7);
    m.handled_by = q.text(8);
    return m;
}

CannedReply read_canned(const Query& q) {
    CannedReply r;
    r.id = q.text(0);
    r.owner = q.text(1);
    r.shortcut = q.text(2);
    r.text = q.text(3);
    r.created = q.int64(4);
    r.updated = q.int64(5);
    return r;
}

// Create and update write the same fields, in the order the bind_*_fields()
// below bind them; a create first binds the keys, which are never updated.
constexpr std::array kVisitorKeys{"id", "token_hash", "created"};
constexpr std::array kVisitorFields{"name", "email",    "external_id", "verified", "attributes",
                                    "page", "language", "user_agent",  "last_seen"};
// last_seq is missing on purpose: it takes its default, 0, and belongs to
// append(); update_conversation() writes it back separately.
constexpr std::array kConversationKeys{"id", "visitor_id", "created"};
constexpr std::array kConversationFields{
    "visitor_name", "agent_id",   "agent_name",   "state",  "department",       "priority",
    "queued",       "assigned",   "first_reply",  "closed", "visitor_read_seq", "agent_read_seq",
    "resolution",   "csat_score", "csat_comment", "rated"};

// `attributes` is the visitor's attributes as JSON; it must outlive the Query.
void bind_visitor_fields(Query& q, const Visitor& v, const std::string& attributes) {
    q.bind(v.name)
        .bind(v.email)
        .bind(v.external_id)
        .bind(std::int64_t{v.verified ? 1 : 0})
        .bind(attributes)
        .bind(v.page)
        .bind(v.language)
        .bind(v.user_agent)
        .bind(v.last_seen);
}

void bind_conversation_fields(Query& q, const Conversation& c) {
    q.bind(c.visitor_name)
        .bind(c.agent_id)
        .bind(c.agent_name)
        .bind(proto::to_string(c.state))
        .bind(c.department)
        .bind(std::int64_t{c.priority})
        .bind(c.queued)
        .bind(c.assigned)
        .bind(c.first_reply)
        .bind(c.closed)
        .bind(c.visitor_read_seq)
        .bind(c.agent_read_seq)
        .bind(c.resolution)
        .bind(std::int64_t{c.csat_score})
        .bind(c.csat_comment)
        .bind(c.rated);
}

using Columns = std::span<const char* const>;

// "INSERT INTO table (keys..., fields...) VALUES (?, ...)"
std::string insert_sql(std::string_view table, Columns keys, Columns fields) {
    std::string names, params;
    for (const Columns list : {keys, fields}) {
        for (const char* column : list) {
            if (!names.empty()) {
                names += ", ";
                params += ", ";
            }
            names += column;
            params += '?';
        }
    }
    return "INSERT INTO " + std::string(table) + " (" + names + ") VALUES (" + params + ")";
}

// "UPDATE table SET field = ?, ..., extra WHERE id = ?"; `extra` is more
// assignments without parameters, or empty.
std::string update_sql(std::string_view table, Columns fields, std::string_view extra = {}) {
    std::string sets;
    for (const char* column : fields) {
        if (!sets.empty()) sets += ", ";
        sets += column;
        sets += " = ?";
    }
    if (!extra.empty()) {
        sets += ", ";
        sets += extra;
    }
    return "UPDATE " + std::string(table) + " SET " + sets + " WHERE id = ?";
}

// Heterogeneous lookup, so that a string_view finds a std::string key.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// Runs a statement whose failure must not hide the error being handled.
void run_quietly(Statement& s) noexcept {
    sqlite3_step(s.get());
    sqlite3_reset(s.get());
}

}  // namespace

struct SqliteStore::Impl {
    Impl(const std::string& path, const SqliteOptions& options)
        : db(open_database(path, options, lock)) {
        if (!on_disk(path) || options.checkpoint_pages == 0) return;
        checkpointer = std::make_unique<SqliteCheckpointer>(
            path, options.checkpoint_pages,
            std::max(options.restart_pages, options.checkpoint_pages), kBusyTimeoutMs);
        sqlite3_wal_hook(
            db.get(),
            [](void* c, sqlite3* writer, const char*, int pages) {
                static_cast<SqliteCheckpointer*>(c)->log_grew(writer, pages);
                return SQLITE_OK;
            },
            checkpointer.get());
    }
    ~Impl() {
        if (checkpointer) sqlite3_wal_hook(db.get(), nullptr, nullptr);
    }

    // Throws if SQLite ended the open batch by itself (it rolls back after some
    // I/O and out-of-memory errors): later writes would silently autocommit.
    void check_batch() const {
        if (in_batch && sqlite3_get_autocommit(db.get()) != 0)
            throw StoreError(
                "sqlite: the open batch was rolled back after an earlier error; "
                "call rollback_batch()");
    }

    // Runs `write` as one atomic step: a savepoint inside a batch, so that a
    // failure leaves the batch as it was, or its own transaction outside one.
    template <class Write>
    auto atomically(Write&& write) {
        check_batch();
        Statement& open = in_batch ? savepoint : begin;
        Statement& done = in_batch ? release : commit;
        Query(open).run();
        try {
            auto result = write();
            Query(done).run();
            return result;
        } catch (...) {
            if (in_batch) {
                run_quietly(rollback_to);
                run_quietly(release);
            } else {
                run_quietly(rollback);
            }
            throw;
        }
    }

    // The conversation's last_seq as append() left it, loaded on first use
    // from the messages themselves. The counter lives here rather than in
    // conversations.last_seq: an UPDATE of that column per message dirtied
    // the conversations B-tree (a WAL page or more) on every append. Readers
    // take max(seq) from the messages, so they never depend on this map, and
    // the map is dropped whenever the database may have moved under it (a
    // rolled-back or failed batch): max(seq) is the truth, so a reload can
    // neither leave a gap nor reuse a number.
    std::uint64_t& counter(std::string_view conv) {
        if (auto it = last_seq.find(conv); it != last_seq.end()) return it->second;
        Query q(load_last_seq);
        q.bind(conv);
        if (!q.step())
            throw StoreError("sqlite: append to unknown conversation '" + std::string(conv) + "'");
        return last_seq.emplace(std::string(conv), q.uint64(0)).first->second;
    }
    void forget_counters() noexcept { last_seq.clear(); }

    FileLock lock;  // first: released after the database is closed
    Db db;          // destroyed after the statements compiled on it
    // Stopped before the connection closes; closing the last connection
    // checkpoints what is left and removes the log.
    std::unique_ptr<SqliteCheckpointer> checkpointer;
    bool in_batch = false;
    // Open conversations only: closing one drops its entry (update_conversation).
    std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>> last_seq;

    // IMMEDIATE takes the write lock up front: a deferred transaction that
    // reads then writes can fail with SQLITE_BUSY_SNAPSHOT, which no busy
    // timeout cures.
    Statement begin{db.get(), "BEGIN IMMEDIATE"};
    Statement commit{db.get(), "COMMIT"};
    Statement rollback{db.get(), "ROLLBACK"};
    Statement savepoint{db.get(), "SAVEPOINT sb_write"};
    Statement release{db.get(), "RELEASE sb_write"};
    Statement rollback_to{db.get(), "ROLLBACK TO sb_write"};

    Statement insert_visitor{db.get(),
                             insert_sql("visitors", kVisitorKeys, kVisitorFields).c_str()};
    Statement update_visitor{db.get(), update_sql("visitors", kVisitorFields).c_str()};
    Statement visitor_by_id{db.get(), "SELECT " SB_VISITOR_COLUMNS " FROM visitors WHERE id = ?"};
    Statement visitor_by_token{db.get(),
                               "SELECT " SB_VISITOR_COLUMNS " FROM visitors WHERE token_hash = ?"};

    Statement insert_conversation{
        db.get(), insert_sql("conversations", kConversationKeys, kConversationFields).c_str()};
    Statement conversation_by_id{
        db.get(), "SELECT " SB_CONVERSATION_COLUMNS " FROM conversations WHERE id = ?"};
    // Writes last_seq back, from the messages, so that the column stays a
    // fair record for anyone reading the file (the store itself does not).
    Statement update_conversation{db.get(),
                                  update_sql("conversations", kConversationFields,
                                             "last_seq = coalesce((SELECT max(seq) FROM messages "
                                             "WHERE conv = conversations.id), 0)")
                                      .c_str()};
    Statement conversations_of_visitor{db.get(), "SELECT " SB_CONVERSATION_COLUMNS
                                                 " FROM conversations WHERE visitor_id = ? "
                                                 "ORDER BY created DESC, id"};
    Statement open_conversations{db.get(), "SELECT " SB_CONVERSATION_COLUMNS
                                           " FROM conversations WHERE state <> 'closed' "
                                           "ORDER BY created, id"};
    // The visitor itself, plus every visitor sharing its non-empty external_id.
    // The `<> ''` terms repeat the partial index's WHERE so SQLite can use it.
    Statement history_of_visitor{
        db.get(), "SELECT " SB_CONVERSATION_COLUMNS
                  " FROM conversations WHERE visitor_id IN ("
                  "SELECT ?1 UNION SELECT other.id FROM visitors AS self JOIN visitors AS other "
                  "ON other.external_id = self.external_id "
                  "WHERE self.id = ?1 AND self.external_id <> '' AND other.external_id <> '') "
                  "ORDER BY created DESC, id LIMIT ?2"};
    Statement conversations_since{db.get(), "SELECT " SB_CONVERSATION_COLUMNS
                                            " FROM conversations WHERE created >= ? "
                                            "ORDER BY created, id"};

    // The `client_id <> ''` term repeats the partial index's WHERE so SQLite can use it.
    Statement message_by_client_id{db.get(), "SELECT " SB_MESSAGE_COLUMNS
                                             " FROM messages WHERE conv = ? AND author_id = ? "
                                             "AND client_id = ? AND client_id <> ''"};
    // No row: no such conversation.
    Statement load_last_seq{db.get(),
                            "SELECT coalesce((SELECT max(seq) FROM messages WHERE conv = ?1), 0) "
                            "FROM conversations WHERE id = ?1"};
    Statement insert_message{db.get(), "INSERT INTO messages (" SB_MESSAGE_COLUMNS
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"};
    Statement messages_after{db.get(),
                             "SELECT " SB_MESSAGE_COLUMNS
                             " FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?"};

    Statement insert_offline{db.get(), "INSERT INTO offline_messages (" SB_OFFLINE_COLUMNS
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"};
    // Two statements rather than one with "? OR handled = 0": a bound
    // parameter would keep SQLite from using the partial index.
    Statement offline_all{db.get(), "SELECT " SB_OFFLINE_COLUMNS
                                    " FROM offline_messages ORDER BY created DESC, id LIMIT ?"};
    Statement offline_unhandled{db.get(), "SELECT " SB_OFFLINE_COLUMNS
                                          " FROM offline_messages WHERE handled = 0 "
                                          "ORDER BY created DESC, id LIMIT ?"};
    Statement mark_offline_handled{db.get(),
                                   "UPDATE offline_messages SET handled = ?, handled_by = ? "
                                   "WHERE id = ? AND handled = 0"};

    // Shared ones have owner '', which sorts before any agent id.
    Statement canned_for_agent{db.get(), "SELECT " SB_CANNED_COLUMNS
                                         " FROM canned_replies WHERE owner = '' OR owner = ? "
                                         "ORDER BY shortcut, owner, id"};
    Statement canned_by_id{db.get(),
                           "SELECT " SB_CANNED_COLUMNS " FROM canned_replies WHERE id = ?"};
    Statement canned_clash{db.get(),
                           "SELECT 1 FROM canned_replies WHERE owner = ? AND shortcut = ? "
                           "AND id <> ?"};
    // An edit keeps the stored created.
    Statement upsert_canned{db.get(), "INSERT INTO canned_replies (" SB_CANNED_COLUMNS
                                      ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                                      "SET owner = excluded.owner, shortcut = excluded.shortcut, "
                                      "text = excluded.text, updated = excluded.updated"};
    Statement delete_canned{db.get(), "DELETE FROM canned_replies WHERE id = ?"};
    Statement canned_count{db.get(), "SELECT count(*) FROM canned_replies WHERE owner = ?"};
};

SqliteStore::SqliteStore(const std::string& path, SqliteOptions options)
    : impl_(std::make_unique<Impl>(path, options)) {}

// Closing the connection rolls back a batch still open.
SqliteStore::~SqliteStore() = default;

std::uint64_t SqliteStore::checkpoint_passes() const {
    return impl_->checkpointer ? impl_->checkpointer->passes() : 0;
}
std::uint64_t SqliteStore::log_restarts() const {
    return impl_->checkpointer ? impl_->checkpointer->restarts() : 0;
}

// ---- batches ---------------------------------------------------------------

void SqliteStore::begin_batch() {
    Impl& s = *impl_;
    if (s.in_batch) throw StoreError("sqlite: begin_batch() while a batch is open");
    Query(s.begin).run();
    s.in_batch = true;
}

void SqliteStore::commit_batch() {
    Impl& s = *impl_;
    if (!s.in_batch) throw StoreError("sqlite: commit_batch() without an open batch");
    try {
        s.check_batch();
        Query(s.commit).run();
    } catch (const StoreError&) {
        // A failed COMMIT may leave the transaction open (to be rolled back) or gone.
        s.in_batch = sqlite3_get_autocommit(s.db.get()) == 0;
        s.forget_counters();
        throw;
    }
    s.in_batch = false;
}

void SqliteStore::rollback_batch() {
    Impl& s = *impl_;
    if (!s.in_batch) return;
    // The batch's appends moved counters that the database is about to forget.
    s.forget_counters();
    if (sqlite3_get_autocommit(s.db.get()) != 0) {  // SQLite already rolled it back
        s.in_batch = false;
        return;
    }
    try {
        Query(s.rollback).run();
    } catch (const StoreError&) {
        s.in_batch = sqlite3_get_autocommit(s.db.get()) == 0;
        throw;
    }
    s.in_batch = false;
}

bool SqliteStore::in_batch() const {
    return impl_->in_batch;
}

// ---- visitors --------------------------------------------------------------

void SqliteStore::create_visitor(const Visitor& v) {
    impl_->check_batch();
    const std::string attributes = attributes_to_json(v.attributes);
    Query q(impl_->insert_visitor);
    q.bind(v.id).bind(v.token_hash).bind(v.created);
    bind_visitor_fields(q, v, attributes);
    q.run();
}

std::optional<Visitor> SqliteStore::visitor(std::string_view id) {
    impl_->check_batch();
    Query q(impl_->visitor_by_id);
    q.bind(id);
    if (!q.step()) return std::nullopt;
    return read_visitor(q);
}

std::optional<Visitor> SqliteStore::visitor_by_token_hash(std::string_view token_hash) {
    impl_->check_batch();
    Query q(impl_->visitor_by_token);
    q.bind(token_hash);
    if (!q.step()) return std::nullopt;
    return read_visitor(q);
}

void SqliteStore::update_visitor(const Visitor& v) {
    Impl& s = *impl_;
    s.check_batch();
    const std::string attributes = attributes_to_json(v.attributes);
    Query q(s.update_visitor);
    bind_visitor_fields(q, v, attributes);
    q.bind(v.id).run();
    if (sqlite3_changes(s.db.get()) == 0)
        throw StoreError("sqlite: update of unknown visitor '" + v.id + "'");
}

// ---- conversations ---------------------------------------------------------

void SqliteStore::create_conversation(const Conversation& c) {
    Impl& s = *impl_;
    s.check_batch();
    Query q(s.insert_conversation);
    q.bind(c.id).bind(c.visitor_id).bind(c.created);
    bind_conversation_fields(q, c);
    q.run();
    // Messages may already name the id (inserted behind the store's back), so
    // the counter is loaded on the first append rather than set to 0 here.
}

std::optional<Conversation> SqliteStore::conversation(std::string_view id) {
    impl_->check_batch();
    Query q(impl_->conversation_by_id);
    q.bind(id);
    if (!q.step()) return std::nullopt;
    return read_conversation(q);
}

void SqliteStore::update_conversation(const Conversation& c) {
    Impl& s = *impl_;
    s.check_batch();
    Query q(s.update_conversation);
    bind_conversation_fields(q, c);
    q.bind(c.id).run();
    if (sqlite3_changes(s.db.get()) == 0)
        throw StoreError("sqlite: update of unknown conversation '" + c.id + "'");
    // Keep the counters to open conversations; a later append reloads it.
    if (c.state == ConvState::closed) s.last_seq.erase(c.id);
}

std::vector<Conversation> SqliteStore::conversations_of_visitor(std::string_view visitor_id) {
    impl_->check_batch();
    Query q(impl_->conversations_of_visitor);
    q.bind(visitor_id);
    std::vector<Conversation> out;
    while (q.step()) out.push_back(read_conversation(q));
    return out;
}

std::vector<Conversation> SqliteStore::open_conversations() {
    impl_->check_batch();
    Query q(impl_->open_conversations);
    std::vector<Conversation> out;
    while (q.step()) out.push_back(read_conversation(q));
    return out;
}

std::vector<Conversation> SqliteStore::history_of_visitor(std::string_view visitor_id,
                                                          std::size_t limit) {
    impl_->check_batch();
    Query q(impl_->history_of_visitor);
    q.bind(visitor_id).bind(std::uint64_t{limit});
    std::vector<Conversation> out;
    while (q.step()) out.push_back(read_conversation(q));
    return out;
}

std::vector<Conversation> SqliteStore::conversations_since(core::TimeMs since) {
    impl_->check_batch();
    Query q(impl_->conversations_since);
    q.bind(since);
    std::vector<Conversation> out;
    while (q.step()) out.push_back(read_conversation(q));
    return out;
}

// ---- messages --------------------------------------------------------------

AppendOutcome SqliteStore::append(const NewMessage& m) {
    Impl& s = *impl_;
    // The counter moves only once the message is stored for good (the
    // savepoint released or the transaction committed), so a failed append
    // leaves it as it was.
    std::uint64_t* counter = nullptr;
    auto out = s.atomically([&] {
        if (!m.client_id.empty()) {
            Query q(s.message_by_client_id);
            q.bind(m.conv).bind(m.author_id).bind(m.client_id);
            if (q.step()) return AppendOutcome{read_message(q), true};
        }
        counter = &s.counter(m.conv);
        StoredMessage stored{m.conv,      *counter + 1, m.from, m.author_id, m.author_name,
                             m.client_id, m.text,       m.ts,   m.internal};
        Query q(s.insert_message);
        q.bind(stored.conv)
            .bind(stored.seq)
            .bind(proto::to_string(stored.from))
            .bind(stored.author_id)
            .bind(stored.author_name)
            .bind(stored.client_id)
            .bind(stored.text)
            .bind(stored.ts)
            .bind(std::int64_t{stored.internal ? 1 : 0})
            .run();
        return AppendOutcome{std::move(stored), false};
    });
    if (!out.duplicate) *counter = out.message.seq;
    return out;
}

std::vector<StoredMessage> SqliteStore::messages_after(std::string_view conv,
                                                       std::uint64_t after_seq, std::size_t limit) {
    impl_->check_batch();
    Query q(impl_->messages_after);
    q.bind(conv).bind(after_seq).bind(std::uint64_t{limit});
    std::vector<StoredMessage> out;
    while (q.step()) out.push_back(read_message(q));
    return out;
}

// ---- offline messages ------------------------------------------------------

void SqliteStore::create_offline_message(const OfflineMessage& m) {
    impl_->check_batch();
    Query q(impl_->insert_offline);
    q.bind(m.id)
        .bind(m.visitor_id)
        .bind(m.name)
        .bind(m.email)
        .bind(m.department)
        .bind(m.text)
        .bind(m.created)
        .bind(m.handled)
        .bind(m.handled_by)
        .run();
}

std::vector<OfflineMessage> SqliteStore::offline_messages(bool include_handled, std::size_t limit) {
    Impl& s = *impl_;
    s.check_batch();
    Query q(include_handled ? s.offline_all : s.offline_unhandled);
    q.bind(std::uint64_t{limit});
    std::vector<OfflineMessage> out;
    while (q.step()) out.push_back(read_offline(q));
    return out;
}

bool SqliteStore::mark_offline_handled(std::string_view id, std::string_view agent_id,
                                       core::TimeMs now) {
    Impl& s = *impl_;
    s.check_batch();
    Query q(s.mark_offline_handled);
    q.bind(now).bind(agent_id).bind(id).run();
    return sqlite3_changes(s.db.get()) > 0;
}

// ---- canned replies --------------------------------------------------------

std::vector<CannedReply> SqliteStore::canned_replies(std::string_view agent_id) {
    impl_->check_batch();
    Query q(impl_->canned_for_agent);
    q.bind(agent_id);
    std::vector<CannedReply> out;
    while (q.step()) out.push_back(read_canned(q));
    return out;
}

std::optional<CannedReply> SqliteStore::canned_reply(std::string_view id) {
    impl_->check_batch();
    Query q(impl_->canned_by_id);
    q.bind(id);
    if (!q.step()) return std::nullopt;
    return read_canned(q);
}

bool SqliteStore::save_canned(const CannedReply& r) {
    Impl& s = *impl_;
    // The clash is looked up rather than left to the UNIQUE constraint: it is
    // an expected answer, not an error, and the lookup and the write share
    // one savepoint or transaction.
    return s.atomically([&] {
        {
            Query q(s.canned_clash);
            q.bind(r.owner).bind(r.shortcut).bind(r.id);
            if (q.step()) return false;
        }
        Query q(s.upsert_canned);
        q.bind(r.id).bind(r.owner).bind(r.shortcut).bind(r.text).bind(r.created).bind(r.updated);
        q.run();
        return true;
    });
}

bool SqliteStore::delete_canned(std::string_view id) {
    Impl& s = *impl_;
    s.check_batch();
    Query q(s.delete_canned);
    q.bind(id).run();
    return sqlite3_changes(s.db.get()) > 0;
}

std::size_t SqliteStore::canned_count(std::string_view owner) {
    impl_->check_batch();
    Query q(impl_->canned_count);
    q.bind(owner);
    return q.step() ? static_cast<std::size_t>(q.int64(0)) : 0;
}

#undef SB_VISITOR_COLUMNS
#undef SB_CONVERSATION_COLUMNS
#undef SB_MESSAGE_COLUMNS
#undef SB_OFFLINE_COLUMNS
#undef SB_CANNED_COLUMNS

}  // namespace sb::store
