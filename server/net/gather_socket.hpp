// GatherSocket: the layer under a WebSocket session's Beast stream that
// sends everything queued for the socket in one loop turn with one write.
//
// Beast's websocket::stream writes one message per async_write and cannot
// put two in one system call; it also writes frames of its own on the same
// socket (the handshake response, the pong to every ping it reads, its
// keep-alive pings, the close frame). So the session writes its text frames
// here itself (append_text), and Beast's own writes (async_write_some) land
// in the same buffer: both append whole frames, so they never interleave.
// The first append of a turn posts a flush; the flush writes the buffer in
// one async_write, and what arrives meanwhile goes out in the next.
//
// Beast's writes complete (posted) as soon as their bytes are queued. After
// Beast queues a close frame no data frame is taken, and Beast's teardown of
// the connection waits until the buffer is written (async_teardown below).
// Reads pass straight through to the socket.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "net/ws_frame.hpp"

namespace sb::net {

class GatherSocket {
  public:
    using socket_type = boost::asio::ip::tcp::socket;
    using executor_type = socket_type::executor_type;
    using next_layer_type = socket_type;

    explicit GatherSocket(socket_type&& socket) : socket_(std::move(socket)) {}

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    socket_type& next_layer() noexcept { return socket_; }
    const socket_type& next_layer() const noexcept { return socket_; }

    // Whoever holds this layer; kept alive while a write is under way.
    void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

    // Queues one text frame; false once a close frame is queued or the
    // socket failed (the frame is dropped).
    bool append_text(std::string_view payload) {
        if (closed_ || failed_) return false;
        append_text_frame(out_, payload);
        schedule();
        return true;
    }

    // Bytes queued or being written: what the send-queue limit counts.
    std::size_t pending_bytes() const { return out_.size() + writing_bytes_.size(); }

    // Drops what is queued and not yet being written (whole frames only).
    void discard_queued() { std::string().swap(out_); }

    template <class MutableBufferSequence, class ReadToken>
    auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
        return socket_.async_read_some(buffers, std::forward<ReadToken>(token));
    }

    // Beast's own frames (and the handshake response): queued whole.
    template <class ConstBufferSequence, class WriteToken>
    auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
        return boost::asio::async_initiate<WriteToken,
                                           void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& b) {
                boost::system::error_code ec;
                std::size_t n = 0;
                if (failed_) {
                    ec = boost::asio::error::broken_pipe;
                } else {
                    n = take(b);
                    schedule();
                }
                boost::asio::post(get_executor(),
                                  boost::beast::bind_handler(std::move(handler), ec, n));
            },
            token, buffers);
    }

    // Found by Beast through argument-dependent lookup: the close handshake is
    // done; write what is queued, then tear the TCP connection down as usual.
    template <class TeardownHandler>
    friend void async_teardown(boost::beast::role_type role, GatherSocket& s,
                               TeardownHandler&& handler) {
        s.closed_ = true;
        s.role_ = role;
        s.teardown_ = std::make_unique<TeardownOf<std::decay_t<TeardownHandler>>>(
            std::forward<TeardownHandler>(handler));
        if (s.failed_) return s.fail_teardown(boost::asio::error::broken_pipe);
        if (!s.writing_ && !s.posted_) s.flush();
    }

  private:
    // Beast's teardown handler, kept until the buffer is written. (Not an
    // asio::any_completion_handler: in Boost 1.81 its executor cannot be
    // posted to with blocking.never, which the TCP teardown does.)
    struct Teardown {
        virtual ~Teardown() = default;
        virtual void start(boost::beast::role_type role, socket_type& socket) = 0;
        virtual void fail(boost::system::error_code ec) = 0;
    };
    template <class Handler>
    struct TeardownOf final : Teardown {
        explicit TeardownOf(Handler&& h) : handler(std::move(h)) {}
        explicit TeardownOf(const Handler& h) : handler(h) {}
        void start(boost::beast::role_type role, socket_type& socket) override {
            boost::beast::websocket::async_teardown(role, socket, std::move(handler));
        }
        void fail(boost::system::error_code ec) override {
            boost::asio::post(boost::beast::bind_handler(std::move(handler), ec));
        }
        Handler handler;
    };

    template <class ConstBufferSequence>
    std::size_t take(const ConstBufferSequence& buffers) {
        std::size_t n = 0;
        for (auto it = boost::asio::buffer_sequence_begin(buffers);
             it != boost::asio::buffer_sequence_end(buffers); ++it) {
            boost::asio::const_buffer b = *it;
            if (b.size() == 0) continue;
            // Every write Beast makes after the handshake is one whole frame,
            // so its first byte says which: 0x88 is a (final) close frame.
            if (n == 0 && *static_cast<const unsigned char*>(b.data()) == 0x88) closed_ = true;
            out_.append(static_cast<const char*>(b.data()), b.size());
            n += b.size();
        }
        return n;
    }

    void schedule() {
        if (posted_ || writing_) return;
        auto keep = owner_.lock();
        if (!keep) return;  // the owner is going away: nothing will be read again
        posted_ = true;
        boost::asio::post(get_executor(), [this, keep = std::move(keep)] {
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
                if (ec) return fail(ec);
                flush();
            });
    }

    // Nothing left to write: give the memory back (an idle connection holds
    // no buffer) and let a waiting teardown go on.
    void drained() {
        std::string().swap(out_);
        std::string().swap(writing_bytes_);
        if (!teardown_) return;
        auto t = std::move(teardown_);
        t->start(role_, socket_);
    }

    // A failed write: nothing more can be sent. Closing the socket ends the
    // pending read, which is where the session learns that it is over.
    void fail(boost::system::error_code ec) {
        failed_ = true;
        std::string().swap(out_);
        std::string().swap(writing_bytes_);
        boost::system::error_code ignored;
        socket_.close(ignored);
        if (teardown_) fail_teardown(ec);
    }

    void fail_teardown(boost::system::error_code ec) {
        auto t = std::move(teardown_);
        t->fail(ec);
    }

    socket_type socket_;
    std::weak_ptr<void> owner_;
    std::string out_;            // queued whole frames, not yet being written
    std::string writing_bytes_;  // the buffer of the write under way
    std::unique_ptr<Teardown> teardown_;
    boost::beast::role_type role_ = boost::beast::role_type::server;
    bool posted_ = false;   // a flush is posted
    bool writing_ = false;  // an async_write is under way
    bool closed_ = false;   // a close frame is queued: no more data frames
    bool failed_ = false;   // a write failed: nothing more is sent
};

}  // namespace sb::net
