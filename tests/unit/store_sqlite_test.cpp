// SqliteStore: the Store contract, in memory and on a WAL file, plus what only
// a file-backed SQLite store promises (reopen, crash, schema, misuse).
#include <doctest/doctest.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

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

    // On disk: WAL mode, schema version 1, enums under their protocol names.
    CHECK(raw_query(path, "PRAGMA journal_mode") == "wal");
    CHECK(raw_query(path, "PRAGMA user_version") == "1");
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
        SqliteStore s(path, Durability::full);
        seed(s);
        s.begin_batch();
        s.append(make_message("c1", "v1", "k1"));
        s.commit_batch();
    }
    SqliteStore s(path, Durability::full);
    CHECK(seqs(s.messages_after("c1", 0, 10)) == "1");
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
        raw_exec(path, "PRAGMA user_version = 2");
        CHECK_THROWS_WITH_AS(SqliteStore{path}, doctest::Contains("schema version 2"), StoreError);
    }
}

TEST_CASE("SqliteStore: reopening keeps the schema version and existing data") {
    TempDir dir;
    const auto path = dir.file("chat.db");
    { SqliteStore s(path); }
    CHECK(raw_query(path, "PRAGMA user_version") == "1");
    { SqliteStore s(path); }
    CHECK(raw_query(path, "PRAGMA user_version") == "1");
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
    CHECK_THROWS_WITH_AS(s.create_visitor(sb::core::Visitor{"v1", "another hash", "", "", 0}),
                         doctest::Contains("UNIQUE constraint failed: visitors.id"), StoreError);
}
