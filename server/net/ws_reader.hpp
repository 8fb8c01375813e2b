// WsReader: the client-to-server half of RFC 6455 framing, without I/O.
// Bytes from the socket go in (feed, which unmasks them in place); whole
// messages and control frames come out as events. It keeps bytes only for
// an incomplete frame and a fragmented message, so a connection that is not
// in the middle of one holds no buffer: the session reads into a buffer the
// event loop shares (see WsSession in server.cpp). The handler may stop the
// reading after any event (a session takes one message per loop turn, so
// that what it sends in answer is written between messages); the rest
// stays buffered until feed is called again.
//
// Every violation ends the reader with a `fail` event carrying the close code
// to send: 1002 (a reserved bit set, an unmasked frame, an unknown opcode, a
// fragmented or oversized control frame, a continuation out of place, a close
// frame with one byte or an invalid code), 1007 (a text message or close
// reason that is not UTF-8) and 1009 (a message over `max_message` bytes,
// refused as soon as a frame header announces it). After a `close` or
// `fail` event it takes nothing more.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <switchboard/protocol.hpp>

#include "net/ws_frame.hpp"

namespace sb::net {

struct WsEvent {
    enum class Kind { text, binary, ping, pong, close, fail };
    Kind kind;
    std::string_view payload;  // text, binary, ping and pong; valid during the call
    std::uint16_t code = 0;    // close: the peer's code (0 if none); fail: the code to send
};

class WsReader {
  public:
    explicit WsReader(std::size_t max_message) : max_(max_message) {}

    enum class Progress {
        need_bytes,  // everything buffered is parsed: read more
        stopped,     // the handler stopped it: call feed again (no new bytes needed)
        ended,       // after a close or a failure: nothing more is taken
    };

    // Takes `n` bytes at `data` (which it may modify; none to go on with
    // what is buffered) and calls `on(event)` for each complete event in
    // order; `on` returns false to stop after that event.
    template <class F>
    Progress feed(char* data, std::size_t n, F&& on) {
        if (done_) return Progress::ended;
        stopped_ = false;
        if (partial_.empty()) {
            const std::size_t used = parse(data, n, on);
            if (!done_ && used < n) partial_.assign(data + used, n - used);
        } else {
            partial_.append(data, n);
            start_ += parse(partial_.data() + start_, partial_.size() - start_, on);
            if (start_ == partial_.size()) {
                std::string().swap(partial_);  // idle again: no buffer held
                start_ = 0;
            } else if (start_ > partial_.size() / 2) {
                partial_.erase(0, start_);  // at most as much as was parsed
                start_ = 0;
            }
        }
        if (done_) {
            std::string().swap(partial_);  // nothing more is parsed
            start_ = 0;
            return Progress::ended;
        }
        return stopped_ ? Progress::stopped : Progress::need_bytes;
    }

    bool ended() const { return done_; }

  private:
    static std::uint64_t be(const char* p, int bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
        return v;
    }

    template <class F>
    void fail(std::uint16_t code, F& on) {
        done_ = true;
        std::string().swap(message_);
        on(WsEvent{WsEvent::Kind::fail, {}, code});
    }

    template <class F>
    void emit(const WsEvent& e, F& on) {
        if (!on(e)) stopped_ = true;
    }

    // Whole frames from [p, p + n); returns the bytes they took.
    template <class F>
    std::size_t parse(char* p, std::size_t n, F& on) {
        std::size_t off = 0;
        while (!done_ && !stopped_ && n - off >= 2) {
            const auto b0 = static_cast<unsigned char>(p[off]);
            const auto b1 = static_cast<unsigned char>(p[off + 1]);
            const bool fin = (b0 & 0x80) != 0;
            const std::uint8_t op = b0 & 0x0F;
            const bool control = (op & 0x8) != 0;
            if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0) {  // extensions; a client must mask
                fail(1002, on);
                break;
            }
            std::uint64_t len = b1 & 0x7F;
            std::size_t header = 2;
            if (len == 126) {
                if (n - off < 4) break;
                len = be(p + off + 2, 2);
                header = 4;
            } else if (len == 127) {
                if (n - off < 10) break;
                len = be(p + off + 2, 8);
                header = 10;
            }
            if (control) {
                if (!fin || len > 125 || op > ws_opcode::pong) {
                    fail(1002, on);
                    break;
                }
            } else if (op > ws_opcode::binary || (op == ws_opcode::continuation) != in_message_) {
                fail(1002, on);
                break;
            } else if (len > max_ || message_.size() + len > max_) {
                fail(proto::close_code::too_big, on);
                break;
            }
            header += 4;                                            // the masking key
            if (n - off < header || n - off - header < len) break;  // not all here yet
            char* payload = p + off + header;
            const char* mask = payload - 4;
            for (std::uint64_t i = 0; i < len; ++i) payload[i] ^= mask[i & 3];
            off += header + static_cast<std::size_t>(len);
            frame(op, fin, std::string_view(payload, static_cast<std::size_t>(len)), on);
        }
        return off;
    }

    template <class F>
    void frame(std::uint8_t op, bool fin, std::string_view payload, F& on) {
        switch (op) {
            case ws_opcode::ping:
                return emit(WsEvent{WsEvent::Kind::ping, payload, 0}, on);
            case ws_opcode::pong:
                return emit(WsEvent{WsEvent::Kind::pong, payload, 0}, on);
            case ws_opcode::close:
                return close(payload, on);
            default:
                break;
        }
        if (op != ws_opcode::continuation) binary_ = op == ws_opcode::binary;
        if (!fin) {
            in_message_ = true;
            message_.append(payload);
            return;
        }
        std::string_view whole = payload;
        if (in_message_) {
            message_.append(payload);
            whole = message_;
        }
        in_message_ = false;
        if (!binary_ && !proto::is_valid_utf8(whole)) return fail(1007, on);
        emit(WsEvent{binary_ ? WsEvent::Kind::binary : WsEvent::Kind::text, whole, 0}, on);
        std::string().swap(message_);
    }

    template <class F>
    void close(std::string_view payload, F& on) {
        std::uint16_t code = 0;
        if (payload.size() == 1) return fail(1002, on);
        if (payload.size() >= 2) {
            code = static_cast<std::uint16_t>(be(payload.data(), 2));
            // RFC 6455 7.4: codes a peer may send.
            const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                               (code >= 3000 && code <= 4999);
            if (!valid) return fail(1002, on);
            if (!proto::is_valid_utf8(payload.substr(2))) return fail(1007, on);
        }
        done_ = true;
        on(WsEvent{WsEvent::Kind::close, {}, code});
    }

    std::size_t max_;
    std::string partial_;  // bytes not parsed yet, from start_ on
    std::size_t start_ = 0;
    std::string message_;  // a fragmented message so far
    bool in_message_ = false;
    bool binary_ = false;
    bool done_ = false;
    bool stopped_ = false;  // the handler asked to stop
};

}  // namespace sb::net
