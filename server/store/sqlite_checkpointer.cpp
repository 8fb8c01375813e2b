#include "store/sqlite_checkpointer.hpp"

#include <sqlite3.h>

#include <iostream>

#include "core/store.hpp"

namespace sb::store {

namespace {
// A checkpoint that finds the writer mid-commit waits this long for it.
constexpr int kBusyTimeoutMs = 1000;
}  // namespace

SqliteCheckpointer::SqliteCheckpointer(const std::string& path, std::uint32_t pages,
                                       std::uint32_t restart_pages)
    : pages_(pages), restart_pages_(restart_pages) {
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

void SqliteCheckpointer::log_grew(int pages) {
    log_pages_.store(pages, std::memory_order_relaxed);
    if (pages < 0 || static_cast<std::uint32_t>(pages) < pages_) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (wanted_) return;
        wanted_ = true;
    }
    wake_.notify_one();
}

void SqliteCheckpointer::run() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return wanted_ || stop_; });
            if (stop_) return;
            wanted_ = false;
        }
        checkpoint(SQLITE_CHECKPOINT_PASSIVE);
        if (static_cast<std::uint32_t>(log_pages_.load(std::memory_order_relaxed)) >=
            restart_pages_) {
            checkpoint(SQLITE_CHECKPOINT_RESTART);
        }
    }
}

void SqliteCheckpointer::checkpoint(int mode) {
    const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, nullptr, nullptr);
    if (rc == SQLITE_OK) ++(mode == SQLITE_CHECKPOINT_RESTART ? restarts_ : passes_);
    // BUSY: the writer held on past the timeout; the next commit asks again.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && failures_++ == 0) {
        std::cerr << "switchboard: sqlite checkpoint failed: " << sqlite3_errstr(rc)
                  << " (the log grows until one succeeds)\n";
    }
}

}  // namespace sb::store
