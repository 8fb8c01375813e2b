// Client -> server decoding. Never throws: every frame becomes a typed
// message or a DecodeError whose code and field PROTOCOL.md documents.
#include <algorithm>
#include <vector>

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

// canned_save.shortcut: [A-Za-z0-9_-] only (typed after a '/' in the console);
// emptiness and length are checked separately.
bool is_valid_shortcut(std::string_view s) {
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// hello.signature: lowercase hex, as an HMAC library prints it.
bool is_lower_hex(std::string_view s) {
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// nlohmann::json keeps an object's members sorted by key, so the order in
// which the host page listed its attributes is recovered by parsing the frame
// once more, recording the keys of the top-level "attributes" member. Only a
// hello with two or more attributes pays for it, once per connection.
std::vector<std::string> attribute_keys_in_order(std::string_view frame) {
    std::vector<std::string> keys;
    bool in_attributes = false;
    const json::parser_callback_t record = [&](int depth, json::parse_event_t event, json& parsed) {
        if (event != json::parse_event_t::key) return true;
        if (depth == 1) {
            in_attributes = parsed == "attributes";
            if (in_attributes) keys.clear();  // a repeated member: the last one counts
            return in_attributes;             // build nothing else
        }
        if (depth == 2 && in_attributes) keys.push_back(parsed.get<std::string>());
        return true;
    };
    // Only the attributes member is built; the keys are what counts.
    [[maybe_unused]] const json kept = json::parse(frame, record, /*allow_exceptions=*/false);
    // A key sent twice keeps its first place (its last value, as in the DOM).
    std::vector<std::string> unique;
    unique.reserve(keys.size());
    for (auto& k : keys) {
        if (std::find(unique.begin(), unique.end(), k) == unique.end())
            unique.push_back(std::move(k));
    }
    return unique;
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
    // `frame` is the text `obj` was parsed from (see attributes()).
    Fields(const json& obj, std::string_view frame, const Limits& limits)
        : obj_(obj), frame_(frame), limits_(limits) {}

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
        id(name, need, limits_.max_id_bytes, out);
    }

    // Id-like values with a fixed limit: knowledge-base entries, resolution tags.
    void id(std::string_view name, Need need, std::size_t max_bytes, std::string& out) {
        const std::string* s = string(name, need, max_bytes);
        if (!s) return;
        if (!is_valid_id(*s, max_bytes)) {
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

    // An integer in [min, max] (max >= 0); a fraction, a string or a number
    // out of range is bad_field.
    void integer(std::string_view name, Need need, int min, int max, int& out) {
        const json* v = find(name, need);
        if (!v) return;
        std::optional<std::int64_t> n;
        if (v->is_number_unsigned()) {
            const auto u = v->get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(max)) n = static_cast<std::int64_t>(u);
        } else if (v->is_number_integer()) {
            n = v->get<std::int64_t>();
        }
        if (!n || *n < min || *n > max) {
            fail(ErrorCode::bad_field, name,
                 quoted(name) + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max));
            return;
        }
        out = static_cast<int>(*n);
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

    // hello.attributes: an object of at most kMaxAttributes members, each an
    // id-like key (kMaxAttributeKeyBytes) to a string (kMaxAttributeValueBytes),
    // kept in the order sent and checked in that order.
    void attributes(std::string_view name, Attributes& out) {
        const json* v = find(name, Need::optional);
        if (!v) return;
        if (!v->is_object()) {
            fail(ErrorCode::bad_field, name, quoted(name) + " must be an object of strings");
            return;
        }
        if (v->size() > kMaxAttributes) {
            fail(ErrorCode::too_long, name,
                 quoted(name) + " has more than " + std::to_string(kMaxAttributes) + " members");
            return;
        }
        std::vector<std::string> keys;
        if (v->size() > 1) keys = attribute_keys_in_order(frame_);
        const auto in_dom = [&](const std::string& k) { return v->contains(k); };
        if (keys.size() != v->size() || !std::all_of(keys.begin(), keys.end(), in_dom)) {
            keys.clear();  // one member (or, never, two parses that disagree): the DOM's order
            for (const auto& item : v->items()) keys.push_back(item.key());
        }
        Attributes result;
        result.reserve(keys.size());
        for (auto& key : keys) {
            const auto it = v->find(key);
            if (key.size() > kMaxAttributeKeyBytes) {
                fail(ErrorCode::too_long, name,
                     quoted(name) + " has a key longer than " +
                         std::to_string(kMaxAttributeKeyBytes) + " bytes");
                return;
            }
            if (!is_valid_id(key, kMaxAttributeKeyBytes)) {
                fail(ErrorCode::bad_field, name,
                     quoted(name) + " keys must be non-empty strings of [A-Za-z0-9._:-]");
                return;
            }
            const std::string member = quoted(name) + " member '" + key + "'";
            if (!it->is_string()) {
                fail(ErrorCode::bad_field, name, member + " must be a string");
                return;
            }
            const auto& value = it->get_ref<const std::string&>();
            if (value.size() > kMaxAttributeValueBytes) {
                fail(ErrorCode::too_long, name,
                     member + " is longer than " + std::to_string(kMaxAttributeValueBytes) +
                         " bytes");
                return;
            }
            if (!is_valid_utf8(value)) {
                fail(ErrorCode::bad_utf8, name, member + " is not valid UTF-8");
                return;
            }
            result.emplace_back(std::move(key), value);
        }
        out = std::move(result);
    }

    DecodeResult error() { return std::move(*error_); }

    template <class Message>
    DecodeResult result(Message&& m) {
        if (error_) return std::move(*error_);
        return ClientMessage(std::forward<Message>(m));
    }

  private:
    const json& obj_;
    std::string_view frame_;
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
    // Verified identity: both or neither.
    f.text("user_id", Need::optional, l.max_name_bytes, false, m.user_id);
    if (const std::string* s = f.string("signature", Need::optional, kSignatureHexBytes)) {
        if (s->size() == kSignatureHexBytes && is_lower_hex(*s)) {
            m.signature = *s;
        } else {
            f.fail(ErrorCode::bad_field, "signature",
                   "'signature' must be 64 lowercase hex digits (HMAC-SHA256 of 'user_id')");
        }
    }
    if (!f.failed() && m.user_id.empty() != m.signature.empty()) {
        if (m.signature.empty()) {
            f.fail(ErrorCode::bad_field, "signature", "'signature' is required with 'user_id'");
        } else {
            f.fail(ErrorCode::bad_field, "user_id", "'user_id' is required with 'signature'");
        }
    }
    f.attributes("attributes", m.attributes);
    f.text("page", Need::optional, kMaxPageBytes, true, m.page);
    f.text("language", Need::optional, kMaxLocaleBytes, true, m.language);
    if (!f.failed() && !is_valid_locale(m.language)) {
        f.fail(ErrorCode::bad_field, "language",
               "'language' must be a language tag of [A-Za-z0-9-], e.g. \"tr\" or \"tr-TR\"");
    }
    f.text("user_agent", Need::optional, kMaxUserAgentBytes, true, m.user_agent);
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

DecodeResult decode_close(Fields& f) {
    Close m;
    f.id("conv", Need::required, m.conv);
    f.id("resolution", Need::optional, kMaxTagBytes, m.resolution);
    return f.result(std::move(m));
}

// accept, decline, handoff, visitor_info: just a conversation id.
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
    f.id("entry", Need::required, kMaxEntryBytes, m.entry);
    f.text("text", Need::required, f.limits().max_text_bytes, false, m.text);
    return f.result(std::move(m));
}

DecodeResult decode_rate(Fields& f) {
    Rate m;
    f.id("conv", Need::required, m.conv);
    f.integer("score", Need::required, 1, 5, m.score);
    f.text("comment", Need::optional, kMaxCommentBytes, true, m.comment);
    return f.result(std::move(m));
}

DecodeResult decode_canned_save(Fields& f) {
    CannedSave m;
    f.id("id", Need::optional, m.id);
    if (const std::string* s = f.string("shortcut", Need::required, kMaxShortcutBytes)) {
        if (!s->empty() && is_valid_shortcut(*s)) {
            m.shortcut = *s;
        } else {
            f.fail(ErrorCode::bad_field, "shortcut",
                   "'shortcut' must be a non-empty string of [A-Za-z0-9_-]");
        }
    }
    f.text("text", Need::required, f.limits().max_text_bytes, false, m.text);
    f.boolean("shared", Need::optional, m.shared);
    return f.result(std::move(m));
}

DecodeResult decode_canned_delete(Fields& f) {
    CannedDelete m;
    f.id("id", Need::required, m.id);
    return f.result(std::move(m));
}

DecodeResult decode_object(const json& obj, std::string_view frame, const Limits& limits) {
    Fields f(obj, frame, limits);
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
    if (t == "close") return decode_close(f);
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
    if (t == "rate") return decode_rate(f);
    if (t == "visitor_info") return decode_conv_only<VisitorInfoQuery>(f);
    if (t == "canned_list") return ClientMessage(CannedList{});
    if (t == "canned_save") return decode_canned_save(f);
    if (t == "canned_delete") return decode_canned_delete(f);
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
    DecodeResult r = decode_object(doc, frame, limits);
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
