#include "net/engine.hpp"

#include "bus/local_bus.hpp"

namespace sb::net {

namespace {

class LocalEngine final : public Engine {
  public:
    LocalEngine(const core::HubSettings& settings, core::Store& store, core::Outbox& sockets,
                core::Security& security)
        : hub_(settings, store, bus_, sockets, security) {}

    void start(core::TimeMs now) override { hub_.start(now); }
    void on_open(core::SessionId sid, core::TimeMs now) override { hub_.on_open(sid, now); }
    void on_frame(core::SessionId sid, std::string_view text, core::TimeMs now) override {
        hub_.on_frame(sid, text, now);
    }
    void on_close(core::SessionId sid, core::TimeMs now) override { hub_.on_close(sid, now); }
    void tick(core::TimeMs now) override { hub_.tick(now); }
    void flush(core::TimeMs now) override { hub_.flush(now); }
    bool dirty() const override { return hub_.dirty(); }
    void set_bot(std::shared_ptr<const core::bot::Bot> bot) override {
        hub_.set_bot(std::move(bot));
    }
    bool has_bot() const override { return hub_.bot() != nullptr; }
    std::size_t waiting_count() const override { return hub_.waiting_count(); }
    bool routes() const override { return true; }

  private:
    bus::LocalBus bus_;  // before hub_: the hub registers its handler on it
    core::Hub hub_;
};

}  // namespace

std::unique_ptr<Engine> make_local_engine(const core::HubSettings& settings, core::Store& store,
                                          core::Outbox& sockets, core::Security& security) {
    return std::make_unique<LocalEngine>(settings, store, sockets, security);
}

}  // namespace sb::net
