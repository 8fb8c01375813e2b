#include "store/sqlite_checkpointer.hpp"

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iostream>

#include "core/store.hpp"

namespace sb::store {

namespace {
// A checkpoint that finds the writer mid-commit waits this long for it.
constexpr int kBusyTimeoutMs = 1000;
// The thread's niceness: the event loop (0) gets about ten times its share.
constexpr int kNice = 10;
}  // namespace

SqliteCheckpointer::SqliteCheckpointer(const std::string& path, std::uint32_t pages,
                                       std::uint32_t restart_pages, int writer_busy_ms)
    : pages_(pages), restart_pages_(restart_pages), writer_busy_ms_(writer_busy_ms) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        throw core::StoreError("sqlite: cannot open '" + path + "' for checkpoints: " + why);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // A connection finds the log when it first reads; until then a checkpoint
    // does nothing (and says the file is not in WAL mode).
    std::string mode;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        if (const auto* text = sqlite3_column_text(stmt, 0)) {
            mode = reinterpret_cast<const char*>(text);
        }
    }
    sqlite3_finalize(stmt);
    if (mode != "wal") {
        sqlite3_close(db_);
        throw core::StoreError("sqlite: '" + path + "' is not in WAL mode, cannot checkpoint it");
    }
    thread_ = std::thread([this] { run(); });
}

SqliteCheckpointer::~SqliteCheckpointer() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    sqlite3_close(db_);
}

void SqliteCheckpointer::log_grew(sqlite3* writer, int pages) noexcept {
    try {
        log_pages_.store(pages, std::memory_order_relaxed);
        if (pages < 0) return;
        const auto now = static_cast<std::uint32_t>(pages);
        if (now >= restart_pages_ && now >= next_restart_) restart(writer, now);
        int copied = copied_pages_.load(std::memory_order_relaxed);
        if (pages < copied) copied = 0;  // the log started over since
        if (static_cast<std::uint32_t>(pages - copied) < pages_) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (wanted_) return;
            wanted_ = true;
        }
        wake_.notify_one();
    } catch (...) {
        // Called from SQLite's C code: nothing may escape. The next commit
        // asks again.
    }
}

// On the writer, between two of its transactions: the only moment a
// checkpoint can catch up with it. Never waits: not while the thread's pass
// runs (the next commit tries again), and not for a reader that another
// connection (a backup, the sqlite3 shell) keeps on an old snapshot: then it
// is tried again once the log has grown by another `pages`, and the thread's
// passes go on meanwhile.
void SqliteCheckpointer::restart(sqlite3* writer, std::uint32_t pages) {
    std::unique_lock<std::mutex> pass(pass_, std::try_to_lock);
    if (!pass.owns_lock()) return;
    sqlite3_busy_timeout(writer, 0);
    const int copied = checkpoint(writer, SQLITE_CHECKPOINT_RESTART);
    sqlite3_busy_timeout(writer, writer_busy_ms_);
    if (copied > 0) {
        restarts_.fetch_add(1, std::memory_order_relaxed);
        copied_pages_.store(0, std::memory_order_relaxed);
        next_restart_ = 0;
        if (blocked_) {
            blocked_ = false;
            std::cerr << "switchboard: the SQLite log starts over again\n";
        }
        return;
    }
    next_restart_ = pages + pages_;
    blocked_pass_.store(true, std::memory_order_relaxed);  // the thread copies meanwhile
    if (!blocked_) {
        blocked_ = true;
        std::cerr << "switchboard: the SQLite log cannot start over while another connection "
                     "reads the database; it grows until that reader ends\n";
    }
}

void SqliteCheckpointer::run() {
    // Below the event loop: on a shared core the loop's turns come first and
    // the copying fills the gaps (Linux: niceness is per thread).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNice);
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return wanted_ || stop_; });
            if (stop_) return;
            wanted_ = false;
        }
        std::lock_guard<std::mutex> pass(pass_);
        // A log due to start over is the writer's to checkpoint (log_grew);
        // after each restart a reader elsewhere refused, one pass copies
        // meanwhile (and leaves the lock free for the writer's next try).
        if (static_cast<std::uint32_t>(log_pages_.load(std::memory_order_relaxed)) >=
                restart_pages_ &&
            !blocked_pass_.exchange(false, std::memory_order_relaxed)) {
            continue;
        }
        const int copied = checkpoint(db_, SQLITE_CHECKPOINT_PASSIVE);
        if (copied > 0) {
            passes_.fetch_add(1, std::memory_order_relaxed);
            copied_pages_.store(copied, std::memory_order_relaxed);
        }
    }
}

int SqliteCheckpointer::checkpoint(sqlite3* db, int mode) {
    int log = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, mode, &log, &copied);
    // BUSY: a lock stayed taken past the timeout; the next commit asks again.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY &&
        failures_.fetch_add(1, std::memory_order_relaxed) == 0) {
        std::cerr << "switchboard: sqlite checkpoint failed: " << sqlite3_errstr(rc)
                  << " (the log grows until one succeeds)\n";
    }
    return rc == SQLITE_OK && copied > 0 ? copied : 0;
}

}  // namespace sb::store
