// Client -> server decoding. Never throws: every frame becomes a typed
// message or a DecodeError whose code and field PROTOCOL.md documents.
#include <nlohmann/json.hpp>

#include "switchboard/protocol.hpp"

namespace sb::proto {
namespace {

using json = nlohmann::json;

enum class Need { required, optional };

// start.locale: empty (no hint) or [A-Za-z0-9-] only; the length is checked
// by the string read.
bool is_valid_locale(std::string_view s) {
    for (const char c : s) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string quoted(std::string_view field) {
    std::string s;
    s.reserve(field.size() + 2);
    s += '\'';
    s += field;
    s += '\'';
    return s;
}

// Reads the members of one message object. The first failure is kept and
// every later read becomes a no-op, so a decoder is a flat list of reads.
class Fields {
  public:
    Fields(const json& obj, const Limits& limits) : obj_(obj), limits_(limits) {}

    const Limits& limits() const { return limits_; }
    bool failed() const { return error_.has_value(); }

    void fail(ErrorCode code, std::string_view field, std::string detail) {
        if (failed()) return;
        error_ = DecodeError{code, std::string(field), std::move(detail), {}, {}};
    }

    // The member, or nullptr when absent (a missing_field error if required).
    const json* find(std::string_view name, Need need) {
        if (failed()) return nullptr;
        const auto it = obj_.find(name);
        if (it == obj_.end()) {
            if (need == Need::required)
                fail(ErrorCode::missing_field, name, quoted(name) + " is required");
            return nullptr;
        }
        return &*it;
    }

    // A string: too_long over max_bytes, bad_utf8 when ill-formed.
    const std::string* string(std::string_view name, Need need, std::size_t max_bytes) {
        const json* v = find(name, need);
        if (!v) return nullptr;
        if (!v->is_string()) {
            fail(ErrorCode::bad_field, name, quoted(name) + " must be a string");
            return nullptr;
        }
        const auto& s = v->get_ref<const std::string&>();
        if (s.size() > max_bytes) {
            fail(ErrorCode::too_long, name,
                 quoted(name) + " is longer than " + std::to_string(max_bytes) + " bytes");
            return nullptr;
        }
        if (!is_valid_utf8(s)) {
            fail(ErrorCode::bad_utf8, name, quoted(name) + " is not valid UTF-8");
            return nullptr;
        }
        return &s;
    }

    // Free text: message text, names, tokens.
    void text(std::string_view name, Need need, std::size_t max_bytes, bool allow_empty,
              std::string& out) {
        const std::string* s = string(name, need, max_bytes);
        if (!s) return;
        if (s->empty() && !allow_empty) {
            fail(ErrorCode::bad_field, name, quoted(name) + " must not be empty");
            return;
        }
        out = *s;
    }

    // Conversation and client ids.
    void id(std::string_view name, Need need, std::string& out) {
        const std::string* s = string(name, need, limits_.max_id_bytes);
        if (!s) return;
        if (!is_valid_id(*s, limits_.max_id_bytes)) {
            fail(ErrorCode::bad_field, name,
                 quoted(name) + " must be a non-empty string of [A-Za-z0-9._:-]");
            return;
        }
        out = *s;
    }

    void uint(std::string_view name, Need need, std::uint64_t& out) {
        const json* v = find(name, need);
        if (!v) return;
        if (v->is_number_unsigned()) {
            out = v->get<std::uint64_t>();
        } else if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(v->get<std::int64_t>());
        } else {
            fail(ErrorCode::bad_field, name, quoted(name) + " must be a non-negative integer");
        }
    }

    void boolean(std::string_view name, Need need, bool& out) {
        const json* v = find(name, need);
        if (!v) return;
        if (!v->is_boolean()) {
            fail(ErrorCode::bad_field, name, quoted(name) + " must be true or false");
            return;
        }
        out = v->get<bool>();
    }

    template <class E>
    void enumeration(std::string_view name, Need need, std::optional<E> (*from)(std::string_view),
                     std::string_view allowed, E& out) {
        const json* v = find(name, need);
        if (!v) return;
        const auto value =
            v->is_string() ? from(v->get_ref<const std::string&>()) : std::optional<E>{};
        if (!value) {
            fail(ErrorCode::bad_field, name,
                 quoted(name) + " must be one of " + std::string(allowed));
            return;
        }
        out = *value;
    }

    DecodeResult error() { return std::move(*error_); }

    template <class Message>
    DecodeResult result(Message&& m) {
        if (error_) return std::move(*error_);
        return ClientMessage(std::forward<Message>(m));
    }

  private:
    const json& obj_;
    const Limits& limits_;
    std::optional<DecodeError> error_;
};

DecodeResult decode_hello(Fields& f) {
    Hello m;
    if (const json* v = f.find("version", Need::required)) {
        if (!v->is_number_integer()) {
            f.fail(ErrorCode::bad_field, "version", "'version' must be an integer");
        } else if (!v->is_number_unsigned() || v->get<std::uint64_t>() != kVersion) {
            f.fail(ErrorCode::unsupported_version, "version",
                   "this server speaks protocol version " + std::to_string(kVersion));
        }
    }
    f.enumeration("role", Need::required, &role_from, "\"visitor\", \"agent\"", m.role);
    const Limits& l = f.limits();
    f.text("token", Need::optional, l.max_token_bytes, true, m.token);
    f.text("name", Need::optional, l.max_name_bytes, true, m.name);
    f.text("email", Need::optional, l.max_name_bytes, true, m.email);
    return f.result(std::move(m));
}

DecodeResult decode_start(Fields& f) {
    Start m;
    f.id("client_id", Need::optional, m.client_id);
    f.text("text", Need::optional, f.limits().max_text_bytes, true, m.text);
    f.id("department", Need::optional, m.department);
    f.text("locale", Need::optional, kMaxLocaleBytes, true, m.locale);
    if (!f.failed() && !is_valid_locale(m.locale)) {
        f.fail(ErrorCode::bad_field, "locale",
               "'locale' must be a language tag of [A-Za-z0-9-], e.g. \"tr\" or \"tr-TR\"");
    }
    return f.result(std::move(m));
}

// "message" and "note" carry the same fields.
template <class T>
DecodeResult decode_text_frame(Fields& f) {
    T m;
    f.id("conv", Need::required, m.conv);
    f.id("client_id", Need::required, m.client_id);
    f.text("text", Need::required, f.limits().max_text_bytes, false, m.text);
    return f.result(std::move(m));
}

DecodeResult decode_typing(Fields& f) {
    Typing m;
    f.id("conv", Need::required, m.conv);
    f.boolean("on", Need::required, m.on);
    return f.result(std::move(m));
}

DecodeResult decode_receipt(Fields& f) {
    Receipt m;
    f.id("conv", Need::required, m.conv);
    f.enumeration("kind", Need::required, &receipt_kind_from, "\"delivered\", \"read\"", m.kind);
    f.uint("seq", Need::required, m.seq);
    return f.result(std::move(m));
}

DecodeResult decode_resume(Fields& f) {
    Resume m;
    f.id("conv", Need::required, m.conv);
    f.uint("after", Need::optional, m.after);
    return f.result(std::move(m));
}

DecodeResult decode_presence(Fields& f) {
    SetPresence m;
    f.enumeration("status", Need::required, &agent_status_from, "\"online\", \"away\", \"offline\"",
                  m.status);
    return f.result(std::move(m));
}

// close, accept, decline, handoff: just a conversation id.
template <class Message>
DecodeResult decode_conv_only(Fields& f) {
    Message m;
    f.id("conv", Need::required, m.conv);
    return f.result(std::move(m));
}

DecodeResult decode_transfer(Fields& f) {
    Transfer m;
    f.id("conv", Need::required, m.conv);
    f.id("to_agent", Need::optional, m.to_agent);
    f.id("to_department", Need::optional, m.to_department);
    if (!f.failed() && m.to_agent.empty() == m.to_department.empty()) {
        f.fail(ErrorCode::bad_field, "to_agent",
               "exactly one of 'to_agent' and 'to_department' is required");
    }
    f.text("note", Need::optional, f.limits().max_text_bytes, true, m.note);
    return f.result(std::move(m));
}

DecodeResult decode_leave_message(Fields& f) {
    LeaveMessage m;
    const Limits& l = f.limits();
    f.id("client_id", Need::optional, m.client_id);
    f.text("name", Need::optional, l.max_name_bytes, true, m.name);
    f.text("email", Need::required, l.max_name_bytes, true, m.email);
    if (!f.failed() && !is_plausible_email(m.email)) {
        f.fail(ErrorCode::bad_field, "email",
               "'email' must contain one '@' with text on both sides and no spaces");
    }
    f.text("text", Need::required, l.max_text_bytes, false, m.text);
    f.id("department", Need::optional, m.department);
    return f.result(std::move(m));
}

DecodeResult decode_offline_handled(Fields& f) {
    OfflineHandled m;
    f.id("id", Need::required, m.id);
    return f.result(std::move(m));
}

DecodeResult decode_feedback(Fields& f) {
    Feedback m;
    f.id("conv", Need::required, m.conv);
    f.boolean("helpful", Need::required, m.helpful);
    return f.result(std::move(m));
}

DecodeResult decode_suggestion(Fields& f) {
    PickSuggestion m;
    f.id("conv", Need::required, m.conv);
    f.id("client_id", Need::required, m.client_id);
    if (const std::string* s = f.string("entry", Need::required, kMaxEntryBytes)) {
        if (is_valid_id(*s, kMaxEntryBytes)) {
            m.entry = *s;
        } else {
            f.fail(ErrorCode::bad_field, "entry",
                   "'entry' must be a non-empty string of [A-Za-z0-9._:-]");
        }
    }
    f.text("text", Need::required, f.limits().max_text_bytes, false, m.text);
    return f.result(std::move(m));
}

DecodeResult decode_object(const json& obj, const Limits& limits) {
    Fields f(obj, limits);
    const json* type = f.find("type", Need::required);
    if (!type) return f.error();
    if (!type->is_string()) {
        f.fail(ErrorCode::bad_field, "type", "'type' must be a string");
        return f.error();
    }
    const auto& t = type->get_ref<const std::string&>();
    if (t == "message") return decode_text_frame<SendMessage>(f);
    if (t == "note") return decode_text_frame<Note>(f);
    if (t == "typing") return decode_typing(f);
    if (t == "receipt") return decode_receipt(f);
    if (t == "resume") return decode_resume(f);
    if (t == "hello") return decode_hello(f);
    if (t == "start") return decode_start(f);
    if (t == "take") return ClientMessage(Take{});
    if (t == "close") return decode_conv_only<Close>(f);
    if (t == "presence") return decode_presence(f);
    if (t == "accept") return decode_conv_only<Accept>(f);
    if (t == "decline") return decode_conv_only<Decline>(f);
    if (t == "transfer") return decode_transfer(f);
    if (t == "leave_message") return decode_leave_message(f);
    if (t == "offline_list") return ClientMessage(OfflineList{});
    if (t == "offline_handled") return decode_offline_handled(f);
    if (t == "feedback") return decode_feedback(f);
    if (t == "handoff") return decode_conv_only<Handoff>(f);
    if (t == "suggestion") return decode_suggestion(f);
    return DecodeError{ErrorCode::unknown_type, "type", "unknown message type", {}, {}};
}

// Echo the frame's conv and client_id in its error when they are usable.
void add_echoes(DecodeError& e, const json& obj, const Limits& limits) {
    const auto echo = [&](std::string_view name, std::string& out) {
        const auto it = obj.find(name);
        if (it == obj.end() || !it->is_string()) return;
        const auto& s = it->get_ref<const std::string&>();
        if (is_valid_id(s, limits.max_id_bytes)) out = s;
    };
    echo("conv", e.conv);
    echo("client_id", e.client_id);
}

DecodeResult decode_frame(std::string_view frame, const Limits& limits) {
    // Size first, so an oversized frame costs no parsing.
    if (frame.size() > limits.max_frame_bytes) {
        return DecodeError{
            ErrorCode::too_long,
            "",
            "frame is longer than " + std::to_string(limits.max_frame_bytes) + " bytes",
            {},
            {}};
    }
    const json doc = json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        // nlohmann's parser rejects ill-formed UTF-8; report that precisely.
        if (!is_valid_utf8(frame))
            return DecodeError{ErrorCode::bad_utf8, "", "frame is not valid UTF-8", {}, {}};
        return DecodeError{ErrorCode::bad_json, "", "frame is not valid JSON", {}, {}};
    }
    if (!doc.is_object())
        return DecodeError{ErrorCode::bad_json, "", "frame is not a JSON object", {}, {}};
    DecodeResult r = decode_object(doc, limits);
    if (auto* e = std::get_if<DecodeError>(&r)) add_echoes(*e, doc, limits);
    return r;
}

}  // namespace

DecodeResult decode_client(std::string_view frame, const Limits& limits) {
    try {
        return decode_frame(frame, limits);
    } catch (...) {
        // Nothing above is expected to throw except on allocation failure.
        // Short enough for the small-string buffer: no allocation here.
        DecodeError e;
        e.code = ErrorCode::internal;
        e.detail = "decode failed";
        return e;
    }
}

}  // namespace sb::proto
