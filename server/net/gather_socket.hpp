// GatherSocket: a WebSocket connection's socket and its write side, which
// sends everything queued for the socket in one loop turn with one write.
//
// The session appends whole frames (data and control, see ws_frame.hpp);
// the first append of a turn posts a flush, and the flush writes the buffer
// in one async_write; what arrives meanwhile goes out in the next. After a
// close frame no frame is taken. close_after_written() ends the connection
// the way RFC 6455 7.1.1 asks of a server: once the buffer is out, shut
// down the sending side; the session reads on until the peer closes (or a
// timeout closes the socket). An idle connection holds no buffer.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/ws_frame.hpp"

namespace sb::net {

class GatherSocket {
  public:
    using socket_type = boost::asio::ip::tcp::socket;

    explicit GatherSocket(socket_type&& socket) : socket_(std::move(socket)) {}

    socket_type& socket() noexcept { return socket_; }

    // Whoever holds this; kept alive while a write is under way.
    void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

    // Queue one frame; false (and nothing queued) once a close frame is
    // queued or a write failed.
    bool append(std::uint8_t opcode, std::string_view payload) {
        if (closed_ || failed_) return false;
        append_frame(out_, opcode, payload);
        schedule();
        return true;
    }
    bool append_text(std::string_view payload) { return append(ws_opcode::text, payload); }
    bool append_close(std::uint16_t code) {
        if (closed_ || failed_) return false;
        append_close_frame(out_, code);
        closed_ = true;
        schedule();
        return true;
    }
    bool close_queued() const { return closed_; }

    // Bytes queued or being written: what the send-queue limit counts.
    std::size_t pending_bytes() const { return out_.size() + writing_bytes_.size(); }

    // Drops what is queued and not yet being written (whole frames only).
    void discard_queued() { std::string().swap(out_); }

    // Once everything queued is written, shut the sending side down.
    void close_after_written() {
        shutdown_ = true;
        if (!writing_ && !posted_) flush();
    }

    // Closes the socket now: pending operations end with operation_aborted.
    void close_now() {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

  private:
    void schedule() {
        if (posted_ || writing_) return;
        auto keep = owner_.lock();
        if (!keep) return;  // the owner is going away: nothing will be read again
        posted_ = true;
        boost::asio::post(socket_.get_executor(), [this, keep = std::move(keep)] {
            posted_ = false;
            flush();
        });
    }

    void flush() {
        if (writing_ || failed_) return;
        if (out_.empty()) return drained();
        auto keep = owner_.lock();
        if (!keep) return;
        writing_bytes_.swap(out_);
        writing_ = true;
        boost::asio::async_write(
            socket_, boost::asio::buffer(writing_bytes_),
            [this, keep = std::move(keep)](boost::system::error_code ec, std::size_t) {
                writing_ = false;
                writing_bytes_.clear();
                if (ec) return fail();
                flush();
            });
    }

    // Nothing left to write: give the memory back and, if asked, stop sending.
    void drained() {
        std::string().swap(out_);
        std::string().swap(writing_bytes_);
        if (!shutdown_ || shut_) return;
        shut_ = true;
        boost::system::error_code ignored;
        socket_.shutdown(socket_type::shutdown_send, ignored);
    }

    // A failed write: nothing more can be sent. Closing the socket ends the
    // pending read, which is where the session learns that it is over.
    void fail() {
        failed_ = true;
        std::string().swap(out_);
        std::string().swap(writing_bytes_);
        close_now();
    }

    socket_type socket_;
    std::weak_ptr<void> owner_;
    std::string out_;            // queued whole frames, not yet being written
    std::string writing_bytes_;  // the buffer of the write under way
    bool posted_ = false;        // a flush is posted
    bool writing_ = false;       // an async_write is under way
    bool closed_ = false;        // a close frame is queued: nothing after it
    bool shutdown_ = false;      // shut the sending side once written
    bool shut_ = false;          // ... and done
    bool failed_ = false;        // a write failed: nothing more is sent
};

}  // namespace sb::net
