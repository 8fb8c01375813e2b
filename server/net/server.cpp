// HTTP + WebSocket on one port, one io_context thread (DESIGN.md, Threading).
// The only translation unit that includes Beast: it is slow to compile.
#include "net/server.hpp"

#include <chrono>
#include <csignal>
#include <iostream>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "net/cluster.hpp"
#include "net/engine.hpp"
#include "net/gather_socket.hpp"
#include "net/knowledge_files.hpp"
#include "net/static_files.hpp"
#include "net/ws_reader.hpp"

namespace sb::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using core::SessionId;

namespace {

core::TimeMs now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// For the transport's timeouts: a wall-clock step must not close (or keep)
// every connection at once.
core::TimeMs steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Expected endings of a connection: not worth a log line.
bool quiet(beast::error_code ec) {
    return ec == asio::error::operation_aborted || ec == websocket::error::closed ||
           ec == beast::error::timeout || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == http::error::end_of_stream;
}

void log_error(beast::error_code ec, const char* what) {
    if (!quiet(ec)) std::cerr << "switchboard: " << what << ": " << ec.message() << "\n";
}

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'";

}  // namespace

class WsSession;

struct Server::Impl final : core::Outbox {
    Impl(const Settings& s, core::Store& st, Auth& a, const ClusterIdentity* cluster,
         std::function<void(const std::string&)> fence);

    // Outbox
    void send(SessionId sid, const core::Frame& frame) override;
    void close(SessionId sid, std::uint16_t code) override;

    void accept();
    void tick();
    // Loads the knowledge base folder; on success the bot answers from it at
    // once, on failure the previous one stays. Returns the load's outcome.
    KnowledgeLoad reload_knowledge();
    void schedule_flush();
    void shutdown();

    SessionId session_started(const std::shared_ptr<WsSession>& s);
    void session_frame(SessionId sid, std::string_view text);
    void session_ended(SessionId sid);

    Settings settings;
    core::Store& store;
    Auth& auth;
    std::filesystem::path web_root;
    asio::io_context ioc{1};
    std::unique_ptr<Engine> engine;  // the hub, or the cluster's view of it
    tcp::acceptor acceptor;
    asio::steady_timer ticker;
    asio::steady_timer grace;
    asio::signal_set signals;
    asio::thread_pool slow_work{1};  // password hashing stays off the event loop
    std::unordered_map<SessionId, std::weak_ptr<WsSession>> sessions;
    SessionId next_id = 1;
    std::string kb_signature;
    core::TimeMs kb_checked = 0;
    bool flush_posted = false;
    bool stopping = false;
    // Every WebSocket read lands here first (one thread): sessions keep
    // bytes only for an incomplete frame (WsReader).
    std::vector<char> read_buffer = std::vector<char>(64 * 1024);
};

// ---- WebSocket session -----------------------------------------------------------

// Beast does the opening handshake (it checks the upgrade request and writes
// the 101); from then on the session reads frames itself (WsReader) and
// writes them through a GatherSocket. Reading waits for the socket to be
// readable and then reads into the loop's shared buffer, so an idle
// connection holds no read buffer and no read operation of any size (what
// Beast's stream kept per connection was most of its memory: BENCHMARKS.md,
// fix 13). Keep-alive pings and the idle timeout run from the server's tick.
class WsSession : public std::enable_shared_from_this<WsSession> {
  public:
    WsSession(tcp::socket&& socket, Server::Impl& impl)
        : out_(std::move(socket)), reader_(impl.settings.hub.limits.max_frame_bytes), impl_(impl) {}

    void run(http::request<http::string_body> req) {
        const auto& s = impl_.settings;
        out_.set_owner(shared_from_this());
        auto hs = std::make_shared<websocket::stream<tcp::socket&, false>>(out_.socket());
        websocket::stream_base::timeout t;
        t.handshake_timeout = std::chrono::milliseconds(s.handshake_timeout_ms);
        t.idle_timeout = websocket::stream_base::none();
        t.keep_alive_pings = false;
        hs->set_option(t);
        hs->set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "switchboard"); }));
        hs->async_accept(
            req, [self = shared_from_this(), hs](beast::error_code ec) { self->on_accept(ec); });
    }

    // Queued behind what this turn already queued for the socket; all of it
    // leaves in one write (GatherSocket).
    void send(const core::Frame& frame) {
        if (closing_ || !room_for(frame->size())) return;
        out_.append_text(*frame);
    }

    // The close frame is queued behind the frames already queued; the peer's
    // answer (or the close timeout) ends the connection.
    void close(std::uint16_t code) {
        if (closing_) return;
        closing_ = true;
        closing_since_ = steady_ms();
        out_.append_close(code);
    }

    // From the server's tick: keep-alive ping at half the idle timeout, the
    // socket closed at the idle timeout, or when a close handshake takes
    // longer than the handshake timeout.
    void sweep(core::TimeMs now) {
        const auto& s = impl_.settings;
        if (ended_) return;
        if (closing_ && now - closing_since_ >= static_cast<core::TimeMs>(s.handshake_timeout_ms)) {
            return out_.close_now();
        }
        const core::TimeMs quiet = now - heard_;
        if (quiet >= static_cast<core::TimeMs>(s.idle_timeout_ms)) return out_.close_now();
        if (!pinged_ && !closing_ && quiet >= static_cast<core::TimeMs>(s.idle_timeout_ms / 2)) {
            pinged_ = true;
            out_.append(ws_opcode::ping, {});
        }
    }

  private:
    // Whether a frame with this payload fits in the send queue. A reader this
    // far behind is closed with 4008, not buffered for: memory stays bounded.
    // Pongs count too: a peer that pings and never reads is no different.
    bool room_for(std::size_t payload) {
        if (out_.pending_bytes() + frame_size(payload) <= impl_.settings.send_queue_bytes) {
            return true;
        }
        out_.discard_queued();
        close(proto::close_code::slow_consumer);
        return false;
    }

    WsReader::Progress feed(char* data, std::size_t n) {
        return reader_.feed(data, n, [this](const WsEvent& e) { return on_event(e); });
    }

    void on_accept(beast::error_code ec) {
        if (ec) return log_error(ec, "websocket accept");
        beast::error_code ignored;
        out_.socket().non_blocking(true, ignored);
        heard_ = steady_ms();
        id_ = impl_.session_started(shared_from_this());
        wait();
    }

    void wait() {
        out_.socket().async_wait(
            tcp::socket::wait_read,
            [self = shared_from_this()](beast::error_code ec) { self->on_readable(ec); });
    }

    // One read per wake-up (at most the shared buffer's size), and one
    // message handled per loop turn: what the hub sends in answer is written
    // before the next message is taken, and a busy connection cannot hold
    // the loop.
    void on_readable(beast::error_code ec) {
        if (ec) {
            log_error(ec, "websocket wait");
            return end();
        }
        auto& buffer = impl_.read_buffer;
        const std::size_t n = out_.socket().read_some(asio::buffer(buffer), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return wait();
        if (ec) {
            log_error(ec, "websocket read");
            return end();
        }
        heard_ = steady_ms();
        pinged_ = false;
        go_on(feed(buffer.data(), n));
    }

    void go_on(WsReader::Progress progress) {
        if (progress != WsReader::Progress::stopped) return wait();
        // After the close handshake bytes are read and dropped until the peer
        // closes its side (or the timeout does): ended also waits.
        asio::post(out_.socket().get_executor(), [self = shared_from_this()] {
            if (!self->ended_) self->go_on(self->feed(nullptr, 0));
        });
    }

    // Returns whether to go on with the next event in this turn.
    bool on_event(const WsEvent& e) {
        switch (e.kind) {
            case WsEvent::Kind::text:
                if (closing_) return true;
                impl_.session_frame(id_, e.payload);
                return false;
            case WsEvent::Kind::binary:
                close(proto::close_code::unsupported_data);
                return true;
            case WsEvent::Kind::ping:
                if (!out_.close_queued() && room_for(e.payload.size())) {
                    out_.append(ws_opcode::pong, e.payload);
                }
                return true;
            case WsEvent::Kind::pong:
                return true;
            case WsEvent::Kind::close:
            case WsEvent::Kind::fail:
                // Answered with the same code (an empty close for none),
                // unless the server's own close went first; the server then
                // ends the TCP connection (RFC 6455 7.1.1).
                close(e.code);
                out_.close_after_written();
                return true;
        }
        return true;
    }

    void end() {
        if (ended_) return;
        ended_ = true;
        closing_ = true;
        out_.close_now();
        if (id_ != 0) impl_.session_ended(id_);
    }

    GatherSocket out_;
    WsReader reader_;
    Server::Impl& impl_;
    SessionId id_ = 0;
    core::TimeMs heard_ = 0;          // when the peer last sent anything
    core::TimeMs closing_since_ = 0;  // when the close handshake began
    bool pinged_ = false;             // a keep-alive ping is unanswered
    bool closing_ = false;
    bool ended_ = false;
};

// ---- HTTP session ------------------------------------------------------------------

class HttpSession : public std::enable_shared_from_this<HttpSession> {
  public:
    HttpSession(tcp::socket&& socket, Server::Impl& impl)
        : stream_(std::move(socket)), impl_(impl) {}

    void run() { do_read(); }

  private:
    using Request = http::request<http::string_body>;

    void do_read() {
        parser_.emplace();
        parser_->body_limit(impl_.settings.max_http_body_bytes);
        parser_->header_limit(16 * 1024);
        stream_.expires_after(std::chrono::milliseconds(impl_.settings.handshake_timeout_ms));
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream) {
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        if (ec == http::error::body_limit) {
            Request dummy;
            return reply(plain(dummy, http::status::payload_too_large, "request body too large\n"),
                         false);
        }
        if (ec) return log_error(ec, "http read");
        Request req = parser_->release();
        if (websocket::is_upgrade(req)) return upgrade(std::move(req));
        route(std::move(req));
    }

    void upgrade(Request req) {
        auto target = std::string_view(req.target());
        if (target.substr(0, target.find('?')) != "/ws") {
            return reply(plain(req, http::status::not_found, "no WebSocket endpoint here\n"),
                         false);
        }
        if (!origin_allowed(req)) {
            return reply(plain(req, http::status::forbidden, "origin not allowed\n"), false);
        }
        if (impl_.stopping || impl_.sessions.size() >= impl_.settings.max_connections) {
            return reply(plain(req, http::status::service_unavailable, "too many connections\n"),
                         false);
        }
        std::make_shared<WsSession>(stream_.release_socket(), impl_)->run(std::move(req));
    }

    bool origin_allowed(const Request& req) const {
        auto it = req.find(http::field::origin);
        if (it == req.end()) return true;  // not a browser: nothing to protect
        std::string origin(it->value());
        std::string host(req[http::field::host]);
        if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) {
            return true;
        }
        for (const auto& o : impl_.settings.allowed_origins) {
            if (o == origin) return true;
        }
        return false;
    }

    void route(Request req) {
        std::string_view target(req.target());
        std::string_view path = target.substr(0, target.find('?'));
        if (path == "/healthz") {
            nlohmann::json j{{"status", "ok"},
                             {"connections", impl_.sessions.size()},
                             {"waiting", impl_.engine->waiting_count()},
                             {"routes", impl_.engine->routes()}};
            return reply(json(req, http::status::ok, j.dump()));
        }
        if (path == "/api/kb/reload") {
            if (req.method() != http::verb::post) {
                return reply(json(req, http::status::method_not_allowed,
                                  R"({"error":"method_not_allowed"})"));
            }
            return reload_knowledge(req);
        }
        if (path == "/api/login") {
            if (req.method() != http::verb::post) {
                return reply(json(req, http::status::method_not_allowed,
                                  R"({"error":"method_not_allowed"})"));
            }
            return login(std::move(req));
        }
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            return reply(
                json(req, http::status::method_not_allowed, R"({"error":"method_not_allowed"})"));
        }
        serve_static(req, path);
    }

    // Supervisors only: Authorization: Bearer <sign-in token>.
    void reload_knowledge(const Request& req) {
        std::string_view auth = req[http::field::authorization];
        std::optional<core::AgentIdentity> who;
        if (auth.rfind("Bearer ", 0) == 0) {
            who = impl_.auth.verify_agent_token(auth.substr(7), now_ms());
        }
        if (!who) return reply(json(req, http::status::unauthorized, R"({"error":"bad_token"})"));
        if (!who->supervisor) {
            return reply(json(req, http::status::forbidden, R"({"error":"supervisors_only"})"));
        }
        if (!impl_.settings.bot) {
            return reply(json(req, http::status::conflict, R"({"error":"bot_off"})"));
        }
        auto result = impl_.reload_knowledge();
        if (!result.bot) {
            nlohmann::json j{{"status", "kept_previous"}, {"errors", result.errors}};
            return reply(json(req, http::status::unprocessable_entity,
                              j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
        }
        nlohmann::json j{{"status", "reloaded"}, {"entries", result.entries}};
        reply(json(req, http::status::ok, j.dump()));
    }

    void login(Request req) {
        auto body = nlohmann::json::parse(req.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("email") ||
            !body.contains("password") || !body["email"].is_string() ||
            !body["password"].is_string()) {
            return reply(
                json(req, http::status::bad_request,
                     R"({"error":"bad_request","message":"expected {\"email\",\"password\"}"})"));
        }
        auto email = body["email"].get<std::string>();
        auto password = body["password"].get<std::string>();
        if (email.size() > 256 || password.size() > 1024) {
            return reply(json(req, http::status::bad_request, R"({"error":"too_long"})"));
        }
        // Argon2id takes tens of milliseconds: hash on the worker, answer on the loop.
        asio::post(
            impl_.slow_work, [self = shared_from_this(), req = std::move(req),
                              email = std::move(email), password = std::move(password)]() mutable {
                auto result = self->impl_.auth.sign_in(email, password, now_ms());
                asio::post(self->stream_.get_executor(),
                           [self, req = std::move(req), result = std::move(result)]() mutable {
                               if (!result) {
                                   return self->reply(json(req, http::status::unauthorized,
                                                           R"({"error":"bad_credentials"})"));
                               }
                               nlohmann::json j{{"token", result->token},
                                                {"expires_at", result->expires_at},
                                                {"agent",
                                                 {{"id", result->agent.id},
                                                  {"name", result->agent.name},
                                                  {"role", result->agent.role}}}};
                               self->reply(json(req, http::status::ok, j.dump()));
                           });
            });
    }

    void serve_static(const Request& req, std::string_view path) {
        auto found = resolve_static(impl_.web_root, path);
        if (found.kind == StaticKind::directory_without_slash) {
            http::response<http::empty_body> res{http::status::moved_permanently, req.version()};
            res.set(http::field::location, std::string(path) + "/");
            res.keep_alive(req.keep_alive());
            return reply(http::message_generator(std::move(res)));
        }
        if (found.kind != StaticKind::file) {
            return reply(plain(req, http::status::not_found, "not found\n"));
        }
        std::error_code fec;
        auto size = std::filesystem::file_size(found.path, fec);
        auto mtime = std::filesystem::last_write_time(found.path, fec);
        std::string etag = "\"" + std::to_string(size) + "-" +
                           std::to_string(mtime.time_since_epoch().count()) + "\"";
        auto mime = mime_type(found.path);
        bool html = mime.rfind("text/html", 0) == 0;
        auto decorate = [&](auto& res) {
            res.set(http::field::server, "switchboard");
            res.set(http::field::content_type, mime);
            res.set(http::field::etag, etag);
            // HTML revalidates every time so a deploy shows at once; assets are cached briefly.
            res.set(http::field::cache_control, html ? "no-cache" : "public, max-age=300");
            res.set("X-Content-Type-Options", "nosniff");
            if (html) {
                bool console = path.rfind("/console", 0) == 0;
                res.set("Content-Security-Policy",
                        std::string(kCsp) + (console ? "; frame-ancestors 'none'" : ""));
                res.set("Referrer-Policy", "no-referrer");
            }
            res.keep_alive(req.keep_alive());
        };
        if (req[http::field::if_none_match] == etag) {
            http::response<http::empty_body> res{http::status::not_modified, req.version()};
            decorate(res);
            return reply(http::message_generator(std::move(res)));
        }
        http::file_body::value_type body;
        beast::error_code ec;
        body.open(found.path.c_str(), beast::file_mode::scan, ec);
        if (ec) return reply(plain(req, http::status::not_found, "not found\n"));
        auto body_size = body.size();
        if (req.method() == http::verb::head) {
            http::response<http::empty_body> res{http::status::ok, req.version()};
            decorate(res);
            res.content_length(body_size);
            return reply(http::message_generator(std::move(res)));
        }
        http::response<http::file_body> res{std::piecewise_construct,
                                            std::make_tuple(std::move(body)),
                                            std::make_tuple(http::status::ok, req.version())};
        decorate(res);
        res.content_length(body_size);
        reply(http::message_generator(std::move(res)));
    }

    static http::message_generator plain(const Request& req, http::status status,
                                         std::string_view text) {
        http::response<http::string_body> res{status, req.version()};
        res.set(http::field::server, "switchboard");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.set("X-Content-Type-Options", "nosniff");
        res.keep_alive(req.keep_alive());
        res.body() = text;
        res.prepare_payload();
        return res;
    }

    static http::message_generator json(const Request& req, http::status status, std::string body) {
        http::response<http::string_body> res{status, req.version()};
        res.set(http::field::server, "switchboard");
        res.set(http::field::content_type, "application/json");
        res.set(http::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        res.keep_alive(req.keep_alive());
        res.body() = std::move(body);
        res.prepare_payload();
        return res;
    }

    void reply(http::message_generator msg, bool keep_alive = true) {
        keep_alive = keep_alive && msg.keep_alive();
        stream_.expires_after(std::chrono::milliseconds(impl_.settings.http_timeout_ms));
        beast::async_write(
            stream_, std::move(msg),
            [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                if (ec) return log_error(ec, "http write");
                if (!keep_alive) {
                    beast::error_code ignored;
                    self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                    return;
                }
                self->do_read();
            });
    }

    beast::tcp_stream stream_;
    Server::Impl& impl_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
};

// ---- Impl ------------------------------------------------------------------------------

void Server::Impl::send(SessionId sid, const core::Frame& frame) {
    auto it = sessions.find(sid);
    if (it == sessions.end()) return;
    if (auto s = it->second.lock()) s->send(frame);
}

void Server::Impl::close(SessionId sid, std::uint16_t code) {
    auto it = sessions.find(sid);
    if (it == sessions.end()) return;
    if (auto s = it->second.lock()) s->close(code);
}

Server::Impl::Impl(const Settings& s, core::Store& st, Auth& a, const ClusterIdentity* cluster,
                   std::function<void(const std::string&)> fence)
    : settings(s),
      store(st),
      auth(a),
      acceptor(ioc),
      ticker(ioc),
      grace(ioc),
      signals(ioc, SIGINT, SIGTERM) {
    if (!cluster) {
        engine = make_local_engine(s.hub, st, *this, a);
        return;
    }
    next_id = cluster->first_session;
    ClusterHooks hooks;
    hooks.wake = [this] { schedule_flush(); };
    hooks.close_local = [this](std::uint16_t code) {
        for (auto& [id, weak] : sessions) {
            if (auto session = weak.lock()) session->close(code);
        }
    };
    hooks.fence = std::move(fence);
    engine = std::make_unique<ClusterEngine>(ioc, s.cluster, *cluster, s.hub, st, *this, a,
                                             std::move(hooks));
}

SessionId Server::Impl::session_started(const std::shared_ptr<WsSession>& s) {
    SessionId id = next_id++;
    sessions.emplace(id, s);
    engine->on_open(id, now_ms());
    if (stopping) s->close(proto::close_code::going_away);
    return id;
}

void Server::Impl::session_frame(SessionId sid, std::string_view text) {
    engine->on_frame(sid, text, now_ms());
    schedule_flush();
}

void Server::Impl::session_ended(SessionId sid) {
    sessions.erase(sid);
    engine->on_close(sid, now_ms());
    schedule_flush();
    if (stopping && sessions.empty()) ioc.stop();
}

// Everything that arrived in this loop turn is committed and sent together.
void Server::Impl::schedule_flush() {
    if (flush_posted) return;
    flush_posted = true;
    asio::post(ioc, [this] {
        flush_posted = false;
        engine->flush(now_ms());
    });
}

KnowledgeLoad Server::Impl::reload_knowledge() {
    auto result = load_knowledge(settings.kb_dir, settings.bot_settings);
    kb_signature = knowledge_signature(settings.kb_dir);
    if (result.bot) {
        engine->set_bot(result.bot);
        std::cerr << "switchboard: knowledge base loaded: " << result.entries << " entries from "
                  << settings.kb_dir << "\n";
    } else {
        std::cerr << (engine->has_bot() ? "switchboard: knowledge base not reloaded, keeping the "
                                          "previous one:\n"
                                        : "switchboard: knowledge base not loaded:\n");
        for (const auto& e : result.errors) std::cerr << "  " << e << "\n";
    }
    return result;
}

void Server::Impl::tick() {
    ticker.expires_after(std::chrono::milliseconds(settings.tick_ms));
    ticker.async_wait([this](beast::error_code ec) {
        if (ec) return;
        auto now = now_ms();
        if (settings.bot && settings.kb_poll_ms > 0 && now - kb_checked >= settings.kb_poll_ms) {
            kb_checked = now;
            if (knowledge_signature(settings.kb_dir) != kb_signature) reload_knowledge();
        }
        const auto steady = steady_ms();
        for (auto& [id, weak] : sessions) {
            if (auto session = weak.lock()) session->sweep(steady);
        }
        engine->tick(now_ms());
        if (engine->dirty()) schedule_flush();
        tick();
    });
}

void Server::Impl::accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (ec == asio::error::operation_aborted) return;
            log_error(ec, "accept");
            // Out of file descriptors and the like: back off briefly, keep serving.
            auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(100));
            t->async_wait([this, t](beast::error_code) {
                if (!stopping) accept();
            });
            return;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<HttpSession>(std::move(socket), *this)->run();
        accept();
    });
}

void Server::Impl::shutdown() {
    if (stopping) return;
    stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    ticker.cancel();
    for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) s->close(proto::close_code::going_away);
    }
    engine->flush(now_ms());
    if (sessions.empty()) return ioc.stop();
    grace.expires_after(std::chrono::milliseconds(settings.shutdown_grace_ms));
    grace.async_wait([this](beast::error_code) { ioc.stop(); });
}

// ---- Server ------------------------------------------------------------------------------

Server::Server(const Settings& settings, core::Store& store, Auth& auth,
               const ClusterIdentity* cluster, std::function<void(const std::string&)> fence)
    : impl_(std::make_unique<Impl>(settings, store, auth, cluster, std::move(fence))) {
    std::error_code ec;
    impl_->web_root = std::filesystem::canonical(settings.web_dir, ec);
    if (ec) throw std::runtime_error("web folder " + settings.web_dir + ": " + ec.message());
}

Server::~Server() {
    impl_->slow_work.join();
}

std::uint16_t Server::listen() {
    auto& i = *impl_;
    auto address = asio::ip::make_address(i.settings.bind);
    tcp::endpoint ep{address, i.settings.port};
    i.acceptor.open(ep.protocol());
    i.acceptor.set_option(asio::socket_base::reuse_address(true));
    i.acceptor.bind(ep);
    i.acceptor.listen(asio::socket_base::max_listen_connections);
    if (i.settings.bot) {
        auto kb = i.reload_knowledge();
        if (!kb.bot) {
            std::string all;
            for (const auto& e : kb.errors) all += "\n  " + e;
            throw std::runtime_error("knowledge base " + i.settings.kb_dir + " is invalid:" + all);
        }
    }
    i.engine->start(now_ms());
    i.accept();
    i.tick();
    i.signals.async_wait([&i](beast::error_code ec, int) {
        if (!ec) i.shutdown();
    });
    return i.acceptor.local_endpoint().port();
}

void Server::run() {
    impl_->ioc.run();
    impl_->engine->flush(now_ms());  // commit whatever the last turn stored
}

}  // namespace sb::net
