// SqliteCheckpointer: copies a WAL database's log back into the database
// file from a thread and connection of its own, so that the event loop's
// commits do not. A checkpoint inside a commit (SQLite's automatic one)
// copied a thousand pages and fsynced the log and the file while the loop
// waited, every thousand pages (BENCHMARKS.md, fix 4).
//
// The writer reports the log's size after each commit (log_grew, from
// SQLite's WAL hook). Each time the log has grown by `pages` since the last
// pass, the thread runs a PASSIVE checkpoint, which never blocks the writer.
// But a log starts over only once a checkpoint caught up with the writer's
// last commit, which a writer that never pauses does not allow (measured: a
// 1.5 GB log after 10 s at capacity with restarts tried from the thread). So
// past `restart_pages` the writer itself runs a RESTART checkpoint right
// after its commit: it copies what the passes have not (about `pages` at
// most) and syncs, and the next commit starts the log over. That pause comes
// once per `restart_pages`, where SQLite's automatic checkpoint paused the
// writer for a thousand pages and two fsyncs every thousand pages. The
// restart never waits for a lock: if another connection (a backup, the
// sqlite3 shell) holds a read transaction on an old snapshot, it is tried
// again after another `pages` and the thread's passes go on. The thread
// runs at a lower priority than the event loop, which shares its core in
// the benchmarks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace sb::store {

class SqliteCheckpointer {
  public:
    // Opens its own connection to `path` (a WAL database that exists).
    // Throws core::StoreError if it cannot.
    // `writer_busy_ms`: the writer connection's busy timeout, restored after
    // the restart checkpoints it runs without one.
    SqliteCheckpointer(const std::string& path, std::uint32_t pages, std::uint32_t restart_pages,
                       int writer_busy_ms);
    ~SqliteCheckpointer();  // stops the thread and closes its connection

    SqliteCheckpointer(const SqliteCheckpointer&) = delete;
    SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

    // Called on the writer's thread after every commit with the log's size
    // (`writer`: the connection that committed).
    void log_grew(sqlite3* writer, int pages) noexcept;

    // Checkpoints that copied the log, and those that made it start over.
    std::uint64_t passes() const { return passes_.load(); }
    std::uint64_t restarts() const { return restarts_.load(); }

  private:
    void run();
    void restart(sqlite3* writer, std::uint32_t pages);
    // Returns the log's pages copied into the file (0 if it failed).
    int checkpoint(sqlite3* db, int mode);

    sqlite3* db_ = nullptr;
    const std::uint32_t pages_;
    const std::uint32_t restart_pages_;
    const int writer_busy_ms_;
    std::uint32_t next_restart_ = 0;         // writer's thread only: retry point after a BUSY
    bool blocked_ = false;                   // writer's thread only: the last restart was refused
    std::atomic<bool> blocked_pass_{false};  // the thread may make one pass meanwhile
    std::atomic<int> log_pages_{0};
    std::atomic<int> copied_pages_{0};  // the log's pages the last pass copied
    std::atomic<std::uint64_t> passes_{0};
    std::atomic<std::uint64_t> restarts_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool wanted_ = false;
    bool stop_ = false;
    std::atomic<std::uint64_t> failures_{0};
    std::mutex pass_;     // held by a checkpoint under way (thread's or writer's)
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace sb::store
