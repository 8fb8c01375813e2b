// SqliteStore: the Store contract, in memory and on a WAL file, plus what only
// a file-backed SQLite store promises (reopen, crash, schema, misuse).
#include <doctest/doctest.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "store/sqlite_store.hpp"
#include "store_contract.hpp"

namespace fs = std::filesystem;

using sb::core::ConvState;
using sb::core::Sender;
using sb::core::StoreError;
using sb::store::Durability;
using sb::store::SqliteStore;
using sb::store_contract::make_conversation;
using sb::store_contract::make_message;
using sb::store_contract::make_visitor;
using sb::store_contract::seqs;

namespace {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "sb-store-XXXXXX").string();
        if (mkdtemp(templ.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    fs::path path_;
};

// Reads one value through a separate raw connection: what is really on disk.
std::string raw_query(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW)
        out.assign(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                   static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

void raw_exec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

// Tables, columns, foreign keys and indexes, one per line, in a fixed order:
// what two databases must share to count as the same schema. (A table's CREATE
// text is left out: ALTER TABLE appends to it in its own layout.)
std::string schema_of(const std::string& path) {
    return raw_query(path, R"sql(
        SELECT group_concat(line, char(10)) FROM (
            SELECT 'table ' || name || ' ' || type || ' ncol=' || ncol || ' wr=' || wr ||
                   ' strict=' || strict AS line
                FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'
            UNION ALL
            SELECT 'column ' || t.name || ' ' || c.cid || ' ' || c.name || ' ' || c.type ||
                   ' notnull=' || c."notnull" || ' default=' || ifnull(c.dflt_value, '-') ||
                   ' pk=' || c.pk || ' hidden=' || c.hidden
                FROM sqlite_schema t, pragma_table_xinfo(t.name) c WHERE t.type = 'table'
            UNION ALL
            SELECT 'fk ' || t.name || ' ' || f."from" || ' -> ' || f."table" || '.' ||
                   ifnull(f."to", '-')
                FROM sqlite_schema t, pragma_foreign_key_list(t.name) f WHERE t.type = 'table'
            UNION ALL
            SELECT 'index ' || l.name || ' on ' || t.name || ' unique=' || l."unique" ||
                   ' origin=' || l.origin || ' partial=' || l.partial
                FROM sqlite_schema t, pragma_index_list(t.name) l WHERE t.type = 'table'
            UNION ALL
            SELECT 'index column ' || i.name || ' ' || x.seqno || ' ' || ifnull(x.name, '-') ||
                   ' desc=' || x."desc" || ' key=' || x.key
                FROM sqlite_schema i, pragma_index_xinfo(i.name) x WHERE i.type = 'index'
            UNION ALL
            SELECT 'index sql ' || name || ': ' || sql
                FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
            ORDER BY line))sql");
}

// The schema of version 1, as SqliteStore created it (git history of
// server/store/sqlite_store.cpp), to test the migration from it.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS visitors (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT UNIQUE NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    created     INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS conversations (
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
    agent_read_seq    INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS conversations_open
    ON conversations(created, id) WHERE state <> 'closed';
CREATE INDEX IF NOT EXISTS conversations_by_visitor
    ON conversations(visitor_id, created);

CREATE TABLE IF NOT EXISTS messages (
    conv         TEXT NOT NULL REFERENCES conversations(id),
    seq          INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    PRIMARY KEY (conv, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
    ON messages(conv, author_id, client_id) WHERE client_id <> '';
)sql";

// The schema of version 2, as SqliteStore created it.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE visitors (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT UNIQUE NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    created     INTEGER NOT NULL
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
    first_reply       INTEGER NOT NULL DEFAULT 0
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

// A database file of an older version, in WAL mode as that version left it.
void make_old_database(const std::string& path, const char* schema, int version) {
    raw_exec(path, "PRAGMA journal_mode=WAL");
    raw_exec(path, (std::string("BEGIN;") + schema +
                    "PRAGMA user_version = " + std::to_string(version) + "; COMMIT;")
                       .c_str());
}

void make_v1_database(const std::string& path) {
    make_old_database(path, kSchemaV1, 1);
}

void make_v2_database(const std::string& path) {
    make_old_database(path, kSchemaV2, 2);
}

// The schema a fresh database of the current version has.
std::string fresh_schema(const TempDir& dir) {
    const auto path = dir.file("fresh.db");
    { SqliteStore s(path); }
    return schema_of(path);
}

void seed(SqliteStore& s) {
    s.create_visitor(make_visitor("v1"));
    s.create_conversation(make_conversation("c1", "v1"));
}

}  // namespace

// ---- the contract -------------------------------------------------------------

struct SqliteMemory {
    static std::unique_ptr<sb::core::Store> make() {
        return std::make_unique<SqliteStore>(":memory:");
    }
};

// The same cases on a real file in WAL mode, one file per case.
struct SqliteWalFile {
    static std::unique_ptr<sb::core::Store> make() {
        static TempDir dir;
        static int count = 0;
        return std::make_unique<SqliteStore>(
            dir.file("contract-" + std::to_string(++count) + ".db"));
    }
};

SB_STORE_CONTRACT(SqliteMemory);
SB_STORE_CONTRACT(SqliteWalFile);

// ---- durability -----------------------------------------------------------------

TEST_CASE("SqliteStore: a file store keeps everything across close and reopen") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        seed(s);
        s.append(make_message("c1", "v1", "k1", "before the batch"));
        s.begin_batch();
        s.append(make_message("c1", "v1", "k2", "in the batch"));
        s.append(make_message("c1", "bot", "k3", "a bot answer", Sender::bot));
        auto c = *s.conversation("c1");
        c.state = ConvState::active;
        c.agent_id = "a1";
        c.assigned = 42;
        s.update_conversation(c);
        s.commit_batch();
    }

    // On disk: WAL mode, schema version 3, enums under their protocol names.
    CHECK(raw_query(path, "PRAGMA journal_mode") == "wal");
    CHECK(raw_query(path, "PRAGMA user_version") == "3");
    CHECK(raw_query(path, "SELECT state FROM conversations WHERE id = 'c1'") == "active");
    CHECK(raw_query(path, "SELECT sender FROM messages WHERE seq = 3") == "bot");

    SqliteStore s(path);
    auto v = s.visitor("v1");
    REQUIRE(v);
    CHECK(v->token_hash == "hash-v1");
    auto c = s.conversation("c1");
    REQUIRE(c);
    CHECK(c->state == ConvState::active);
    CHECK(c->agent_id == "a1");
    CHECK(c->assigned == 42);
    CHECK(c->last_seq == 3);
    auto ms = s.messages_after("c1", 0, 100);
    REQUIRE(ms.size() == 3);
    CHECK(ms[0].text == "before the batch");
    CHECK(ms[2].from == Sender::bot);
    CHECK(s.append(make_message("c1", "v1", "k2")).duplicate);
    CHECK(s.append(make_message("c1", "v1", "k4")).message.seq == 4);
}

TEST_CASE("SqliteStore: committed appends survive SIGKILL; an open batch does not") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        seed(s);
    }

    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // No doctest in here: write, then die without closing anything.
        try {
            SqliteStore s(path);
            s.append(make_message("c1", "v1", "k1", "autocommitted"));
            s.begin_batch();
            s.append(make_message("c1", "v1", "k2", "batched"));
            s.append(make_message("c1", "v1", "k3", "batched"));
            s.commit_batch();
            s.begin_batch();
            s.append(make_message("c1", "v1", "k4", "never committed"));
            raise(SIGKILL);
        } catch (...) {
        }
        _exit(1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    // The commits live only in the WAL: nothing checkpointed them.
    CHECK(fs::file_size(path + "-wal") > 0);

    SqliteStore s(path);
    auto ms = s.messages_after("c1", 0, 100);
    CHECK(seqs(ms) == "1,2,3");
    REQUIRE(ms.size() == 3);
    CHECK(ms[0].text == "autocommitted");
    CHECK(ms[2].client_id == "k3");
    CHECK(s.conversation("c1")->last_seq == 3);
    auto again = s.append(make_message("c1", "v1", "k4", "retried"));
    CHECK_FALSE(again.duplicate);
    CHECK(again.message.seq == 4);
}

TEST_CASE("SqliteStore: a rolled-back batch leaves nothing on disk") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        seed(s);
        s.append(make_message("c1", "v1", "k1"));
        s.begin_batch();
        s.create_visitor(make_visitor("v2"));
        s.create_conversation(make_conversation("c2", "v2"));
        s.append(make_message("c2", "v2", "k1"));
        s.append(make_message("c1", "v1", "k2"));
        s.append(make_message("c1", "v1", "k3"));
        auto c = *s.conversation("c1");
        c.state = ConvState::closed;
        s.update_conversation(c);
        s.rollback_batch();
    }
    CHECK(raw_query(path, "SELECT count(*) FROM messages") == "1");
    CHECK(raw_query(path, "SELECT count(*) FROM conversations") == "1");
    CHECK(raw_query(path, "SELECT count(*) FROM visitors") == "1");

    SqliteStore s(path);
    CHECK_FALSE(s.visitor("v2"));
    CHECK_FALSE(s.conversation("c2"));
    CHECK(s.conversation("c1")->state == ConvState::waiting);
    CHECK(s.conversation("c1")->last_seq == 1);
    CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
}

// ---- last_seq ---------------------------------------------------------------------
//
// append() keeps each conversation's counter in memory instead of updating
// conversations.last_seq per message; readers take max(seq) of the messages.

TEST_CASE("SqliteStore: last_seq comes from the messages, whatever the column says") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        seed(s);
        s.append(make_message("c1", "v1", "k1"));
        s.append(make_message("c1", "v1", "k2"));
        // update_conversation writes the column back from the messages.
        auto c = *s.conversation("c1");
        c.last_seq = 0;
        s.update_conversation(c);
        s.append(make_message("c1", "v1", "k3"));
    }
    CHECK(raw_query(path, "SELECT last_seq FROM conversations WHERE id = 'c1'") == "2");
    // A column out of step (a file written by hand, or an older build's) is
    // not believed: numbering follows the messages.
    raw_exec(path, "UPDATE conversations SET last_seq = 99 WHERE id = 'c1'");

    SqliteStore s(path);
    CHECK(s.conversation("c1")->last_seq == 3);
    CHECK(s.open_conversations().at(0).last_seq == 3);
    CHECK(s.conversations_of_visitor("v1").at(0).last_seq == 3);
    CHECK(s.history_of_visitor("v1", 5).at(0).last_seq == 3);
    CHECK(s.conversations_since(0).at(0).last_seq == 3);
    CHECK(s.append(make_message("c1", "v1", "k4")).message.seq == 4);
    CHECK(s.append(make_message("c1", "v1", "k3")).duplicate);
    CHECK(seqs(s.messages_after("c1", 0, 10)) == "1,2,3,4");
}

namespace {

// The connection SqliteStore writes on, caught through an auto-extension
// (run for every connection opened while registered), so that a test can
// make its commits fail: the first one opened (its checkpointer opens a
// second). One store at a time.
sqlite3* g_store_db = nullptr;
bool g_fail_commits = false;

int catch_connection(sqlite3* db, const char** /*err*/, const sqlite3_api_routines* /*api*/) {
    if (g_store_db != nullptr) return SQLITE_OK;
    g_store_db = db;
    sqlite3_commit_hook(
        db, [](void*) { return g_fail_commits ? 1 : 0; }, nullptr);
    return SQLITE_OK;
}

// Registers catch_connection for its lifetime.
class CaughtConnection {
  public:
    CaughtConnection() {
        g_store_db = nullptr;
        g_fail_commits = false;
        REQUIRE(sqlite3_auto_extension(reinterpret_cast<void (*)()>(&catch_connection)) ==
                SQLITE_OK);
    }
    ~CaughtConnection() {
        sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&catch_connection));
        g_fail_commits = false;
        g_store_db = nullptr;
    }
    CaughtConnection(const CaughtConnection&) = delete;
    CaughtConnection& operator=(const CaughtConnection&) = delete;
};

}  // namespace

TEST_CASE("SqliteStore: a failed commit leaves no gap and reuses no seq") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    CaughtConnection caught;
    SqliteStore s(path);
    REQUIRE(g_store_db != nullptr);
    seed(s);
    s.append(make_message("c1", "v1", "k1"));

    SUBCASE("a batch whose COMMIT fails is gone, and so are its seqs") {
        s.begin_batch();
        CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
        CHECK(s.append(make_message("c1", "v1", "k3")).message.seq == 3);
        g_fail_commits = true;  // the hook turns COMMIT into ROLLBACK
        CHECK_THROWS_AS(s.commit_batch(), StoreError);
        g_fail_commits = false;
        s.rollback_batch();  // what the core does after a failed commit
        CHECK_FALSE(s.in_batch());
        CHECK(s.conversation("c1")->last_seq == 1);
        auto again = s.append(make_message("c1", "v1", "k2"));
        CHECK_FALSE(again.duplicate);
        CHECK(again.message.seq == 2);
    }
    SUBCASE("an append whose own commit fails leaves the counter as it was") {
        g_fail_commits = true;
        CHECK_THROWS_AS(s.append(make_message("c1", "v1", "k2")), StoreError);
        g_fail_commits = false;
        CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
    }
    SUBCASE("a COMMIT that fails with the batch still open, then rolled back") {
        s.begin_batch();
        CHECK(s.append(make_message("c1", "v1", "k2")).message.seq == 2);
        // A deferred foreign-key error fails COMMIT and keeps the transaction.
        REQUIRE(sqlite3_exec(g_store_db,
                             "PRAGMA defer_foreign_keys = ON; INSERT INTO messages (conv, seq, "
                             "sender, author_id, author_name, client_id, text, ts) VALUES "
                             "('ghost', 1, 'visitor', 'v1', 'V', '', 'x', 0)",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        CHECK_THROWS_AS(s.commit_batch(), StoreError);
        REQUIRE(s.in_batch());
        // Still inside it: numbering goes on from the batch's own writes.
        CHECK(s.append(make_message("c1", "v1", "k3")).message.seq == 3);
        s.rollback_batch();
        CHECK(s.conversation("c1")->last_seq == 1);
        CHECK(s.append(make_message("c1", "v1", "k3")).message.seq == 2);
        CHECK(seqs(s.messages_after("c1", 0, 10)) == "1,2");
    }
}

TEST_CASE("SqliteStore: one batch commits many appends across conversations") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    constexpr int kConvs = 10;
    constexpr int kMessages = 2000;
    std::uint64_t expected[kConvs] = {};
    {
        SqliteStore s(path);
        s.create_visitor(make_visitor("v1"));
        for (int k = 0; k < kConvs; ++k)
            s.create_conversation(make_conversation("c" + std::to_string(k), "v1", k));
        s.begin_batch();
        std::uint32_t x = 12345;  // a fixed pseudo-random walk over the conversations
        for (int i = 0; i < kMessages; ++i) {
            x = x * 1103515245u + 12345u;
            const int k = static_cast<int>((x >> 16) % kConvs);
            const auto m = make_message("c" + std::to_string(k), "v1", "m" + std::to_string(i));
            const auto out = s.append(m);
            REQUIRE(out.message.seq == ++expected[k]);
            if (i % 50 == 0) REQUIRE(s.append(m).duplicate);
        }
        s.commit_batch();
    }
    CHECK(raw_query(path, "SELECT count(*) FROM messages") == std::to_string(kMessages));

    SqliteStore s(path);
    for (int k = 0; k < kConvs; ++k) {
        const auto conv = "c" + std::to_string(k);
        CAPTURE(conv);
        const auto all = s.messages_after(conv, 0, kMessages);
        REQUIRE(all.size() == expected[k]);
        for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].seq == i + 1);
        CHECK(s.conversation(conv)->last_seq == expected[k]);
    }
}

TEST_CASE("SqliteStore: durability full works the same") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path, {Durability::full});
        seed(s);
        s.begin_batch();
        s.append(make_message("c1", "v1", "k1"));
        s.commit_batch();
    }
    SqliteStore s(path, {Durability::full});
    CHECK(seqs(s.messages_after("c1", 0, 10)) == "1");
}

TEST_CASE("SqliteStore: one process at a time; the next opens once the first closed") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore first(path);
        seed(first);
        CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("in use by another process"),
                             StoreError);
        first.append(make_message("c1", "v1", "k1"));  // the first is unharmed
    }
    SqliteStore next(path);
    CHECK(seqs(next.messages_after("c1", 0, 10)) == "1");
}

TEST_CASE("SqliteStore: the log is checkpointed off the writer's thread and starts over") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    const std::string text(2000, 'w');  // about two messages per 4 KiB page
    constexpr int kMessages = 2000;     // some 10,000 log frames, one commit each
    // Waits (bounded) for what another thread does.
    auto eventually = [](auto done) {
        for (int i = 0; i < 1000 && !done(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return done();
    };
    {
        SqliteStore s(path, {Durability::normal, 100, 200});
        seed(s);
        const auto empty = std::filesystem::file_size(path);
        CHECK(s.checkpoint_passes() == 0);
        for (int i = 0; i < kMessages; ++i) {
            s.append(make_message("c1", "v1", "k" + std::to_string(i), text));
        }
        // SQLite's own checkpoints are off (wal_autocheckpoint=0): only the
        // checkpointer's thread can copy pages into the file while the store
        // is open, and only its restarts make the log start over.
        // (A RESTART checkpoint reports success only once the log started over.)
        CHECK(eventually([&] { return std::filesystem::file_size(path) >= empty + 3'000'000; }));
        CHECK(eventually([&] { return s.log_restarts() > 0; }));
        CHECK(s.checkpoint_passes() > 0);
        CHECK(s.messages_after("c1", kMessages - 1, 10).size() == 1);
    }
    // Everything is in the database file once the store closed.
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));
    SqliteStore again(path);
    CHECK(again.messages_after("c1", 0, kMessages + 1).size() == kMessages);
}

TEST_CASE("SqliteStore: a reader elsewhere neither stalls the writer nor stops the log for good") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    const std::string text(2000, 'r');
    SqliteStore s(path, {Durability::normal, 100, 200});
    seed(s);
    // Another connection (a backup, the sqlite3 shell) holds a read
    // transaction on an old snapshot: the log cannot start over meanwhile.
    sqlite3* reader = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &reader) == SQLITE_OK);
    REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) {
        s.append(make_message("c1", "v1", "a" + std::to_string(i), text));
    }
    // A restart that waited for the reader would take the busy timeout (5 s)
    // per commit past 200 pages.
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
    CHECK(s.log_restarts() == 0);
    REQUIRE(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(reader);
    // Once it is gone, the log starts over again (within a while: the thread
    // may be in a pass the writer's next try has to wait out).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int i = 0; s.log_restarts() == 0 && std::chrono::steady_clock::now() < until; ++i) {
        s.append(make_message("c1", "v1", "b" + std::to_string(i), text));
        if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(s.log_restarts() > 0);
    CHECK(s.messages_after("c1", 0, 5000).size() >= 1001);
}

TEST_CASE("SqliteStore: checkpoints left to SQLite run no thread") {
    TempDir dir;
    SqliteStore s(dir.file("chat.db"), {Durability::normal, 0, 0});
    seed(s);
    for (int i = 0; i < 500; ++i) s.append(make_message("c1", "v1", "k" + std::to_string(i)));
    CHECK(s.checkpoint_passes() == 0);
    CHECK(s.log_restarts() == 0);
}

// ---- opening -----------------------------------------------------------------------

TEST_CASE("SqliteStore: opening fails with SQLite's reason") {
    TempDir dir;
    SUBCASE("a folder that does not exist") {
        CHECK_THROWS_WITH_AS(SqliteStore{dir.file("missing/chat.db")},
                             doctest::Contains("unable to open database file"), StoreError);
    }
    SUBCASE("a file that is not a database") {
        const auto path = dir.file("notes.txt");
        std::ofstream(path) << std::string(4096, 'x');
        CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("file is not a database"),
                             StoreError);
    }
    SUBCASE("a schema newer than this build") {
        const auto path = dir.file("future.db");
        raw_exec(path, "PRAGMA user_version = 4");
        CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("schema version 4"), StoreError);
        CHECK(raw_query(path, "PRAGMA user_version") == "4");
    }
    SUBCASE("a negative schema version") {
        const auto path = dir.file("odd.db");
        raw_exec(path, "PRAGMA user_version = -1");
        CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("no schema version"), StoreError);
    }
}

TEST_CASE("SqliteStore: reopening keeps the schema version and existing data") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        seed(s);
        s.create_offline_message(sb::core::OfflineMessage{"o1", "v1", "", "", "", "hi", 5, 0, ""});
    }
    CHECK(raw_query(path, "PRAGMA user_version") == "3");
    const auto schema = schema_of(path);
    {
        SqliteStore s(path);
        CHECK(s.conversation("c1"));
        CHECK(s.offline_messages(false, 10).size() == 1);
    }
    CHECK(raw_query(path, "PRAGMA user_version") == "3");
    CHECK(schema_of(path) == schema);
}

// ---- migration ---------------------------------------------------------------------

TEST_CASE("SqliteStore: a version 1 database is migrated in place, to version 3") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    make_v1_database(path);
    raw_exec(path, R"sql(
        INSERT INTO visitors VALUES ('v1', 'hash-v1', 'Asha', 'asha@example.com', 10);
        INSERT INTO conversations VALUES
            ('c1', 'v1', 'Asha', 'a1', 'Bo', 'active', 1000, 1100, 0, 3, 2, 1),
            ('c2', 'v1', 'Asha', '', '', 'waiting', 2000, 0, 0, 0, 0, 0),
            ('c3', 'v1', 'Asha', 'a2', 'Cem', 'closed', 500, 600, 900, 1, 1, 1);
        INSERT INTO messages VALUES
            ('c1', 1, 'visitor', 'v1', 'Asha', 'k1', 'hello', 1000),
            ('c1', 2, 'agent', 'a1', 'Bo', 'x1', 'hi, Bo here', 1200),
            ('c1', 3, 'agent', 'a1', 'Bo', 'x2', 'how can I help?', 1300),
            ('c3', 1, 'system', 'system', '', '', 'closed', 900);
    )sql");
    REQUIRE(raw_query(path, "PRAGMA user_version") == "1");

    {
        SqliteStore s(path);
        auto v = s.visitor("v1");
        REQUIRE(v);
        CHECK(v->email == "asha@example.com");
        CHECK(v->created == 10);
        CHECK(v->last_seen == 1000);  // its latest message
        CHECK(v->external_id.empty());
        CHECK(v->attributes.empty());

        auto c1 = s.conversation("c1");
        REQUIRE(c1);
        CHECK(c1->visitor_id == "v1");
        CHECK(c1->visitor_name == "Asha");
        CHECK(c1->agent_id == "a1");
        CHECK(c1->agent_name == "Bo");
        CHECK(c1->state == ConvState::active);
        CHECK(c1->created == 1000);
        CHECK(c1->assigned == 1100);
        CHECK(c1->closed == 0);
        CHECK(c1->last_seq == 3);
        CHECK(c1->visitor_read_seq == 2);
        CHECK(c1->agent_read_seq == 1);
        // The new columns: defaults, except what the old rows already tell.
        CHECK(c1->department.empty());
        CHECK(c1->priority == 0);
        CHECK(c1->queued == 1000);       // entered the queue when created
        CHECK(c1->first_reply == 1200);  // its first agent message
        CHECK(c1->resolution.empty());
        CHECK(c1->csat_score == 0);
        CHECK(c1->rated == 0);

        auto c2 = s.conversation("c2");
        REQUIRE(c2);
        CHECK(c2->state == ConvState::waiting);
        CHECK(c2->queued == 2000);
        CHECK(c2->first_reply == 0);  // no agent message
        CHECK(s.conversation("c3")->first_reply == 0);
        CHECK(s.conversation("c3")->closed == 900);

        auto ms = s.messages_after("c1", 0, 100);
        REQUIRE(ms.size() == 3);
        CHECK(ms[0].text == "hello");
        CHECK(ms[1].from == Sender::agent);
        CHECK(ms[2].ts == 1300);
        for (const auto& m : ms) CHECK_FALSE(m.internal);
        CHECK(s.open_conversations().size() == 2);

        // The old rows keep working with the new features.
        auto dup = s.append(make_message("c1", "v1", "k1"));
        CHECK(dup.duplicate);
        CHECK(dup.message.seq == 1);
        CHECK_FALSE(dup.message.internal);
        auto note = make_message("c1", "a1", "n1", "a note", Sender::agent);
        note.internal = true;
        auto out = s.append(note);
        CHECK(out.message.seq == 4);
        CHECK(out.message.internal);
        auto u = *c1;
        u.state = ConvState::waiting;
        u.agent_id.clear();
        u.agent_name.clear();
        u.department = "billing";
        u.queued = 5000;
        s.update_conversation(u);
        CHECK(s.conversation("c1")->department == "billing");
        s.create_offline_message(sb::core::OfflineMessage{"o1", "v1", "", "", "", "hi", 5, 0, ""});
        CHECK(s.mark_offline_handled("o1", "a1", 6));
        CHECK(s.save_canned(sb::core::CannedReply{"r1", "", "hi", "Hello!", 7, 7}));
    }
    CHECK(raw_query(path, "PRAGMA user_version") == "3");
    CHECK(raw_query(path, "SELECT internal FROM messages WHERE conv = 'c1' AND seq = 4") == "1");

    // The very tables and indexes a fresh database has.
    CHECK(schema_of(path) == fresh_schema(dir));

    // And it opens again as version 3, unchanged.
    SqliteStore s(path);
    CHECK(s.conversation("c1")->department == "billing");
    CHECK(seqs(s.messages_after("c1", 0, 100)) == "1,2,3,4");
}

TEST_CASE("SqliteStore: a version 2 database is migrated in place") {
    TempDir dir;
    const auto path = dir.file("v2.db");
    make_v2_database(path);
    raw_exec(path, R"sql(
        INSERT INTO visitors VALUES
            ('v1', 'hash-v1', 'Asha', 'asha@example.com', 10),
            ('v2', 'hash-v2', '', '', 20);
        INSERT INTO conversations VALUES
            ('c1', 'v1', 'Asha', 'a1', 'Bo', 'closed', 1000, 1100, 1900, 3, 3, 3,
             'billing', 2, 1050, 1200),
            ('c2', 'v1', 'Asha', '', '', 'waiting', 2000, 0, 0, 1, 0, 0, '', 0, 2500, 0),
            ('c3', 'v2', '', 'a2', 'Cem', 'active', 3000, 3100, 0, 0, 0, 0, 'sales', -1, 3000, 0);
        INSERT INTO messages VALUES
            ('c1', 1, 'visitor', 'v1', 'Asha', 'k1', 'hello', 1000, 0),
            ('c1', 2, 'agent', 'a1', 'Bo', 'x1', 'a note', 1150, 1),
            ('c1', 3, 'agent', 'a1', 'Bo', 'x2', 'hi, Bo here', 1200, 0),
            ('c2', 1, 'visitor', 'v1', 'Asha', 'k2', 'back again', 2600, 0);
        INSERT INTO offline_messages VALUES
            ('o1', 'v2', 'Cem', 'c@example.com', 'sales', 'call me', 50, 60, 'a1');
    )sql");
    REQUIRE(raw_query(path, "PRAGMA user_version") == "2");

    {
        SqliteStore s(path);
        // Old fields as they were; new ones at their defaults, except last_seen:
        // the visitor's latest message, or its creation without one.
        auto v1 = s.visitor("v1");
        REQUIRE(v1);
        CHECK(v1->token_hash == "hash-v1");
        CHECK(v1->name == "Asha");
        CHECK(v1->email == "asha@example.com");
        CHECK(v1->created == 10);
        CHECK(v1->last_seen == 2600);
        CHECK(v1->external_id.empty());
        CHECK_FALSE(v1->verified);
        CHECK(v1->attributes.empty());
        CHECK(v1->page.empty());
        CHECK(v1->language.empty());
        CHECK(v1->user_agent.empty());
        auto v2 = s.visitor_by_token_hash("hash-v2");
        REQUIRE(v2);
        CHECK(v2->id == "v2");
        CHECK(v2->last_seen == 20);

        auto c1 = s.conversation("c1");
        REQUIRE(c1);
        CHECK(c1->state == ConvState::closed);
        CHECK(c1->agent_name == "Bo");
        CHECK(c1->department == "billing");
        CHECK(c1->priority == 2);
        CHECK(c1->created == 1000);
        CHECK(c1->queued == 1050);
        CHECK(c1->assigned == 1100);
        CHECK(c1->first_reply == 1200);
        CHECK(c1->closed == 1900);
        CHECK(c1->last_seq == 3);
        CHECK(c1->visitor_read_seq == 3);
        CHECK(c1->agent_read_seq == 3);
        CHECK(c1->resolution.empty());
        CHECK(c1->csat_score == 0);
        CHECK(c1->csat_comment.empty());
        CHECK(c1->rated == 0);
        CHECK(s.conversation("c3")->priority == -1);

        auto ms = s.messages_after("c1", 0, 100);
        REQUIRE(ms.size() == 3);
        CHECK(ms[1].internal);
        CHECK(ms[2].text == "hi, Bo here");
        auto offline = s.offline_messages(true, 10);
        REQUIRE(offline.size() == 1);
        CHECK(offline[0].handled_by == "a1");
        CHECK(sb::store_contract::ids(s.open_conversations()) == "c2,c3");
        CHECK(sb::store_contract::ids(s.conversations_since(2000)) == "c2,c3");
        CHECK(sb::store_contract::ids(s.history_of_visitor("v1", 10)) == "c2,c1");

        // The old rows take the new fields.
        auto u = *v1;
        u.external_id = "crm-1";
        u.verified = true;
        u.attributes = {{"plan", "pro"}};
        u.last_seen = 4000;
        s.update_visitor(u);
        auto u2 = *v2;
        u2.external_id = "crm-1";
        s.update_visitor(u2);
        CHECK(sb::store_contract::ids(s.history_of_visitor("v1", 10)) == "c3,c2,c1");
        auto rated = *c1;
        rated.resolution = "refund";
        rated.csat_score = 5;
        rated.rated = 5000;
        s.update_conversation(rated);
        CHECK(s.conversation("c1")->csat_score == 5);
        CHECK(s.save_canned(sb::core::CannedReply{"r1", "a1", "hi", "Hello!", 7, 7}));
        CHECK(s.append(make_message("c2", "v1", "k2")).duplicate);
        CHECK(s.append(make_message("c2", "v1", "k3")).message.seq == 2);
    }
    CHECK(raw_query(path, "PRAGMA user_version") == "3");
    CHECK(raw_query(path, "SELECT count(*) FROM messages") == "5");
    CHECK(schema_of(path) == fresh_schema(dir));

    // And it opens again as version 3, unchanged.
    SqliteStore s(path);
    CHECK(s.visitor("v1")->attributes == sb::proto::Attributes{{"plan", "pro"}});
    CHECK(s.conversation("c1")->resolution == "refund");
    CHECK(s.canned_count("a1") == 1);
}

TEST_CASE("SqliteStore: a failed migration from version 2 changes nothing") {
    TempDir dir;
    const auto path = dir.file("v2.db");
    make_v2_database(path);
    // A table in the way makes the last step of the migration fail.
    raw_exec(path, R"sql(
        INSERT INTO visitors VALUES ('v1', 'hash-v1', 'Asha', 'asha@example.com', 10);
        CREATE TABLE canned_replies (x INTEGER);
    )sql");
    const auto before = schema_of(path);

    CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("already exists"), StoreError);
    CHECK(raw_query(path, "PRAGMA user_version") == "2");
    CHECK(schema_of(path) == before);
    CHECK(raw_query(path, "SELECT count(*) FROM pragma_table_info('visitors')") == "5");
    CHECK(raw_query(path, "SELECT name FROM visitors WHERE id = 'v1'") == "Asha");
}

TEST_CASE("SqliteStore: a failed migration changes nothing") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    make_v1_database(path);
    // A table in the way makes the last step of the migration fail.
    raw_exec(path, R"sql(
        INSERT INTO visitors VALUES ('v1', 'hash-v1', 'Asha', 'asha@example.com', 10);
        INSERT INTO conversations VALUES
            ('c1', 'v1', 'Asha', '', '', 'waiting', 1000, 0, 0, 0, 0, 0);
        CREATE TABLE offline_messages (x INTEGER);
    )sql");
    const auto before = schema_of(path);

    CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("already exists"), StoreError);
    CHECK(raw_query(path, "PRAGMA user_version") == "1");
    CHECK(schema_of(path) == before);
    CHECK(raw_query(path,
                    "SELECT count(*) FROM pragma_table_info('conversations') "
                    "WHERE name = 'department'") == "0");
    CHECK(raw_query(path, "SELECT created FROM conversations WHERE id = 'c1'") == "1000");
}

TEST_CASE("SqliteStore: migrating from version 1 is all or nothing, across both steps") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    make_v1_database(path);
    // The first step (1 to 2) works; the second (2 to 3) finds a table in the way.
    raw_exec(path, "CREATE TABLE canned_replies (x INTEGER);");
    const auto before = schema_of(path);

    CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("from version 2 to 3"), StoreError);
    CHECK(raw_query(path, "PRAGMA user_version") == "1");
    CHECK(schema_of(path) == before);
    CHECK(raw_query(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'offline_messages'") ==
          "0");
}

// ---- misuse -----------------------------------------------------------------------

TEST_CASE("SqliteStore: batch misuse") {
    SqliteStore s(":memory:");
    seed(s);
    SUBCASE("nested begin throws and the open batch carries on") {
        s.begin_batch();
        s.append(make_message("c1", "v1", "k1"));
        CHECK_THROWS_AS(s.begin_batch(), StoreError);
        CHECK(s.in_batch());
        s.append(make_message("c1", "v1", "k2"));
        s.commit_batch();
        CHECK(seqs(s.messages_after("c1", 0, 10)) == "1,2");
    }
    SUBCASE("commit without a batch throws") {
        CHECK_THROWS_AS(s.commit_batch(), StoreError);
        CHECK_FALSE(s.in_batch());
    }
    SUBCASE("rollback without a batch does nothing") {
        s.append(make_message("c1", "v1", "k1"));
        s.rollback_batch();
        CHECK_FALSE(s.in_batch());
        CHECK(seqs(s.messages_after("c1", 0, 10)) == "1");
    }
}

TEST_CASE("SqliteStore: a conversation needs an existing visitor") {
    SqliteStore s(":memory:");
    CHECK_THROWS_WITH_AS(s.create_conversation(make_conversation("c1", "ghost")),
                         doctest::Contains("FOREIGN KEY constraint failed"), StoreError);
    CHECK_FALSE(s.conversation("c1"));
}

TEST_CASE("SqliteStore: an error message names SQLite's reason") {
    SqliteStore s(":memory:");
    seed(s);
    CHECK_THROWS_WITH_AS(s.create_visitor(sb::store_contract::visitor_record("v1", "another hash")),
                         doctest::Contains("UNIQUE constraint failed: visitors.id"), StoreError);
}

// ---- visitor attributes ---------------------------------------------------------

TEST_CASE("SqliteStore: attributes are a JSON array of pairs, in order") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        auto v = make_visitor("v1");
        v.attributes = {{"plan", "pro"}, {"order", "A-17"}, {"city", "İzmir"}};
        s.create_visitor(v);
        s.create_visitor(make_visitor("v2"));
    }
    CHECK(raw_query(path, "SELECT attributes FROM visitors WHERE id = 'v1'") ==
          R"([["plan","pro"],["order","A-17"],["city","İzmir"]])");
    CHECK(raw_query(path, "SELECT attributes FROM visitors WHERE id = 'v2'") == "[]");
    // Readable with SQLite's own JSON functions, for ad-hoc reports.
    CHECK(raw_query(path,
                    "SELECT json_extract(a.value, '$[1]') FROM visitors, "
                    "json_each(attributes) AS a "
                    "WHERE visitors.id = 'v1' AND json_extract(a.value, '$[0]') = 'order'") ==
          "A-17");
}

TEST_CASE("SqliteStore: attributes that are not UTF-8 are refused, the batch unharmed") {
    SqliteStore s(":memory:");
    seed(s);
    auto bad = make_visitor("v2");
    bad.attributes = {{"k", "\xff\xfe"}};
    CHECK_THROWS_WITH_AS(s.create_visitor(bad), doctest::Contains("UTF-8"), StoreError);
    CHECK_FALSE(s.visitor("v2"));

    s.begin_batch();
    s.append(make_message("c1", "v1", "k1"));
    auto v1 = *s.visitor("v1");
    v1.name = "Asha";
    s.update_visitor(v1);
    v1.attributes = {{"\xc3", "x"}};
    CHECK_THROWS_AS(s.update_visitor(v1), StoreError);
    CHECK(s.in_batch());
    s.commit_batch();
    CHECK(s.visitor("v1")->name == "Asha");
    CHECK(s.visitor("v1")->attributes.empty());
    CHECK(seqs(s.messages_after("c1", 0, 10)) == "1");
}

TEST_CASE("SqliteStore: attributes of the wrong shape on disk are an error, not a guess") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    {
        SqliteStore s(path);
        s.create_visitor(make_visitor("v1"));
    }
    SUBCASE("an object") {
        raw_exec(path, R"(UPDATE visitors SET attributes = '{"plan": "pro"}')");
    }
    SUBCASE("a pair too long") {
        raw_exec(path, R"(UPDATE visitors SET attributes = '[["a", "b", "c"]]')");
    }
    SUBCASE("a number") {
        raw_exec(path, R"(UPDATE visitors SET attributes = '[["a", 1]]')");
    }
    SqliteStore s(path);
    CHECK_THROWS_WITH_AS(s.visitor("v1"), doctest::Contains("bad attributes"), StoreError);
}

TEST_CASE("SqliteStore: the attributes column holds JSON only") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    { SqliteStore s(path); }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO visitors (id, token_hash, name, email, created, attributes) "
                       "VALUES ('v1', 'h', '', '', 0, 'not json')",
                       nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT);
    sqlite3_close(db);
}
