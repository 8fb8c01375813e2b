// Asio event loop, WebSocket clients and the HTTP sign-in (Beast): the only
// translation unit that includes Asio and Beast (they compile slowly).
#include "net.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace sb::loadtest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// ---- EventLoop -------------------------------------------------------------------------

struct EventLoop::Impl {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}
EventLoop::~EventLoop() = default;

void EventLoop::post(std::function<void()> fn) {
    asio::post(impl_->ioc, std::move(fn));
}

void EventLoop::after(std::chrono::nanoseconds delay, std::function<void()> fn) {
    auto t = std::make_shared<asio::steady_timer>(impl_->ioc, delay);
    t->async_wait([t, fn = std::move(fn)](beast::error_code ec) {
        if (!ec) fn();
    });
}

struct Alarm::Impl : std::enable_shared_from_this<Alarm::Impl> {
    Impl(asio::io_context& ioc, std::function<void()> f) : timer(ioc), fn(std::move(f)) {}
    asio::steady_timer timer;
    std::function<void()> fn;
    bool alive = true;
};

Alarm::Alarm(EventLoop& loop, std::function<void()> fn)
    : impl_(std::make_shared<Impl>(loop.impl().ioc, std::move(fn))) {}

Alarm::~Alarm() {
    impl_->alive = false;
    impl_->timer.cancel();
}

void Alarm::at(std::int64_t when_ns) {
    impl_->timer.expires_at(Clock::time_point(std::chrono::nanoseconds(when_ns)));
    impl_->timer.async_wait([self = impl_](beast::error_code ec) {
        if (!ec && self->alive) self->fn();
    });
}

void EventLoop::run() {
    impl_->ioc.restart();
    impl_->ioc.run();
}

void EventLoop::stop() {
    impl_->ioc.stop();
}

// ---- WsClient ----------------------------------------------------------------------------

namespace {

tcp::endpoint endpoint_of(const Node& node) {
    beast::error_code ec;
    auto address = asio::ip::make_address(node.host, ec);
    if (!ec) return {address, node.port};
    // A name: resolve it once per call (the harness is meant for loopback IPs).
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(node.host, std::to_string(node.port), ec);
    if (ec || results.empty()) return {asio::ip::address_v4::loopback(), node.port};
    return *results.begin();
}

}  // namespace

// A lean WebSocket client over a bare TCP socket (RFC 6455, client side),
// written for the harness's hot path rather than taken from Beast: one read
// syscall delivers every frame that has arrived, and every frame queued while
// a write was in flight goes out in one gathered write. Client frames carry a
// zero masking key: the server must unmask them all the same, and the
// harness saves the XOR (a browser would pick a random key).
struct WsClient::Impl : std::enable_shared_from_this<WsClient::Impl> {
    explicit Impl(EventLoop& loop, WsHandler& h) : socket(loop.impl().ioc), handler(&h) {}

    void connect(const Node& node, const std::string& path, const std::string& source_ip) {
        auto ep = endpoint_of(node);
        beast::error_code ec;
        socket.open(ep.protocol(), ec);
        if (ec) return end("open: " + ec.message());
        if (!source_ip.empty()) {
            // Let connect() pick the port, so each source address has its own
            // ~28k ephemeral ports per destination.
            int one = 1;
            ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof one);
            socket.bind(tcp::endpoint(asio::ip::make_address(source_ip, ec), 0), ec);
            if (ec) return end("bind " + source_ip + ": " + ec.message());
        }
        request = "GET " + path + " HTTP/1.1\r\nHost: " + node.label() +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: c3dpdGNoYm9hcmQtbG9hZA==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n";
        socket.async_connect(
            ep, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
    }

    void on_connect(beast::error_code ec) {
        if (ec) return end("connect: " + ec.message());
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        asio::async_write(socket, asio::buffer(request),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->end("upgrade write: " + ec.message());
                              self->do_read();
                          });
    }

    void do_read() {
        if (in.size() - used < 2048) in.resize(std::max<std::size_t>(4096, in.size() * 2));
        socket.async_read_some(asio::buffer(in.data() + used, in.size() - used),
                               [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                   self->on_read(ec, n);
                               });
    }

    void on_read(beast::error_code ec, std::size_t n) {
        if (ec) {
            if (ended) return;
            if (close_received || (closing && ec == asio::error::eof)) return end("");
            return end("read: " + ec.message());
        }
        used += n;
        std::size_t pos = open ? parse_frames() : parse_upgrade();
        if (ended) return;
        if (pos > 0) {
            std::memmove(in.data(), in.data() + pos, used - pos);
            used -= pos;
        }
        do_read();
    }

    // The 101 answer; returns the bytes it used (0: not all here yet).
    std::size_t parse_upgrade() {
        std::string_view text(in.data(), used);
        auto head_end = text.find("\r\n\r\n");
        if (head_end == std::string_view::npos) {
            if (used > 16384) end("upgrade: response header too long");
            return 0;
        }
        auto status = text.substr(0, text.find("\r\n"));
        if (status.size() < 12 || status.substr(9, 3) != "101") {
            end("upgrade: " + std::string(status.substr(9)));
            return 0;
        }
        open = true;
        if (handler) handler->on_open();
        if (ended) return 0;
        if (!out.empty() && !writing) flush();
        std::size_t pos = head_end + 4;
        std::size_t more = parse_frames(pos);
        return more;
    }

    // Every whole frame in the buffer from `pos`; returns where the rest starts.
    std::size_t parse_frames(std::size_t pos = 0) {
        const auto* p = reinterpret_cast<const unsigned char*>(in.data());
        while (used - pos >= 2 && !ended) {
            std::size_t at = pos;
            bool fin = p[at] & 0x80;
            int opcode = p[at] & 0x0f;
            bool masked = p[at + 1] & 0x80;
            std::uint64_t len = p[at + 1] & 0x7f;
            at += 2;
            if (len == 126) {
                if (used - at < 2) break;
                len = (std::uint64_t{p[at]} << 8) | p[at + 1];
                at += 2;
            } else if (len == 127) {
                if (used - at < 8) break;
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | p[at + i];
                at += 8;
            }
            unsigned char mask[4] = {0, 0, 0, 0};
            if (masked) {
                if (used - at < 4) break;
                std::memcpy(mask, p + at, 4);
                at += 4;
            }
            if (len > kMaxMessage) {
                end("frame too large");
                return used;
            }
            if (used - at < len) break;
            char* payload = in.data() + at;
            if (masked) {
                for (std::uint64_t i = 0; i < len; ++i)
                    payload[i] ^= static_cast<char>(mask[i % 4]);
            }
            frame(fin, opcode, std::string_view(payload, len));
            pos = at + len;
        }
        return pos;
    }

    void frame(bool fin, int opcode, std::string_view payload) {
        switch (opcode) {
            case 0x0:  // continuation
            case 0x1:  // text
            case 0x2:  // binary (not sent by Switchboard; handed on all the same)
                if (!fin || !partial.empty()) {
                    partial.append(payload);
                    if (!fin) return;
                    std::string whole = std::move(partial);
                    partial.clear();
                    if (handler) handler->on_frame(whole);
                    return;
                }
                if (handler) handler->on_frame(payload);
                return;
            case 0x8: {  // close: answer it (once), then wait for the server to end TCP
                close_received = true;
                if (payload.size() >= 2) {
                    close_code =
                        static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                   static_cast<unsigned char>(payload[1]));
                }
                if (!close_sent) {
                    close_sent = true;
                    queue_frame(0x8, payload.substr(0, 2));
                }
                return;
            }
            case 0x9:  // ping
                queue_frame(0xA, payload);
                return;
            default:  // pong
                return;
        }
    }

    void queue_frame(int opcode, std::string_view payload) {
        char head[14];
        std::size_t n = 0;
        head[n++] = static_cast<char>(0x80 | opcode);
        if (payload.size() < 126) {
            head[n++] = static_cast<char>(0x80 | payload.size());
        } else if (payload.size() < 65536) {
            head[n++] = static_cast<char>(0x80 | 126);
            head[n++] = static_cast<char>(payload.size() >> 8);
            head[n++] = static_cast<char>(payload.size() & 0xff);
        } else {
            head[n++] = static_cast<char>(0x80 | 127);
            for (int i = 7; i >= 0; --i)
                head[n++] = static_cast<char>((payload.size() >> (8 * i)) & 0xff);
        }
        for (int i = 0; i < 4; ++i) head[n++] = 0;  // masking key 0: the payload goes as is
        out.append(head, n);
        out.append(payload);
        ++queued_frames;
        if (open && !writing) flush();
    }

    void send(std::string_view text) {
        if (ended || closing || close_received) return;
        queue_frame(0x1, text);
    }

    void flush() {
        writing = true;
        sending.swap(out);
        out.clear();
        queued_frames = 0;
        asio::async_write(
            socket, asio::buffer(sending),
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(beast::error_code ec) {
        writing = false;
        sending.clear();
        if (ec) {
            if (!ended && !close_received) end("write: " + ec.message());
            return;
        }
        if (ended) return;
        if (!out.empty()) flush();
    }

    void close() {
        if (ended || closing) return;
        closing = true;
        if (!open) return abort("");  // still connecting: just drop it
        if (!close_sent) {
            close_sent = true;
            const char code[2] = {static_cast<char>(1000 >> 8), static_cast<char>(1000 & 0xff)};
            queue_frame(0x8, std::string_view(code, 2));
        }
    }

    // Drops the socket: pending operations finish with operation_aborted.
    void abort(std::string why) {
        beast::error_code ignored;
        socket.close(ignored);
        end(std::move(why));
    }

    void end(std::string error) {
        if (ended) return;
        ended = true;
        beast::error_code ignored;
        socket.close(ignored);
        WsEnd e{open, close_code, std::move(error)};
        if (e.error.empty() && close_code && close_code != 1000 && !closing) {
            e.error = "closed by the server";
        }
        out.clear();
        if (auto* h = handler) {
            handler = nullptr;
            h->on_end(e);
        }
    }

    static constexpr std::uint64_t kMaxMessage = 16 * 1024 * 1024;

    tcp::socket socket;
    WsHandler* handler;
    std::string request;
    std::vector<char> in;  // received, not yet parsed: [0, used)
    std::size_t used = 0;
    std::string partial;  // a fragmented message so far
    std::string out;      // frames queued behind the write in flight
    std::string sending;  // the write in flight
    std::size_t queued_frames = 0;
    std::uint16_t close_code = 0;
    bool open = false;
    bool writing = false;
    bool closing = false;
    bool close_sent = false;
    bool close_received = false;
    bool ended = false;
};

WsClient::WsClient(EventLoop& loop, WsHandler& handler)
    : impl_(std::make_shared<Impl>(loop, handler)) {}

WsClient::~WsClient() {
    impl_->handler = nullptr;
    if (!impl_->ended) impl_->abort("");
}

void WsClient::connect(const Node& node, const std::string& path, const std::string& source_ip) {
    impl_->connect(node, path, source_ip);
}
void WsClient::send(std::string_view text) {
    impl_->send(text);
}
void WsClient::close() {
    impl_->close();
}
std::size_t WsClient::queued() const {
    return impl_->queued_frames;
}

// ---- sign-in -----------------------------------------------------------------------------

std::optional<std::string> sign_in(const Node& node, const std::string& email,
                                   const std::string& password, std::string& error) {
    try {
        asio::io_context ioc;
        beast::tcp_stream stream(ioc);
        stream.expires_after(std::chrono::seconds(30));  // Argon2id takes a while
        stream.connect(endpoint_of(node));
        http::request<http::string_body> req{http::verb::post, "/api/login", 11};
        req.set(http::field::host, node.label());
        req.set(http::field::content_type, "application/json");
        req.body() = nlohmann::json{{"email", email}, {"password", password}}.dump();
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        if (res.result() != http::status::ok) {
            error = "POST /api/login: HTTP " + std::to_string(res.result_int()) + " " + res.body();
            return std::nullopt;
        }
        auto j = nlohmann::json::parse(res.body(), nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
            error = "POST /api/login: no token in " + res.body();
            return std::nullopt;
        }
        return j["token"].get<std::string>();
    } catch (const std::exception& e) {
        error = "POST /api/login on " + node.label() + ": " + e.what();
        return std::nullopt;
    }
}

}  // namespace sb::loadtest
