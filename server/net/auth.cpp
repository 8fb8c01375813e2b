#include "net/auth.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace sb::net {

namespace {

void init_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

std::string hex(const unsigned char* p, std::size_t n) {
    std::string out(n * 2 + 1, '\0');  // room for the NUL sodium writes
    sodium_bin2hex(out.data(), out.size(), p, n);
    out.pop_back();
    return out;
}

std::string to_lower(std::string s) {
    for (auto& ch : s) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return s;
}

}  // namespace

std::string base64url(std::string_view bytes) {
    init_sodium();
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), variant);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
    init_sodium();
    std::string out(text.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

std::vector<AgentAccount> load_agents(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file.string() + ": cannot open agents file");
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
    const std::string where = file.string();
    if (doc.is_discarded()) throw std::runtime_error(where + ": not valid JSON");
    if (!doc.is_object() || !doc.contains("agents") || !doc["agents"].is_array()) {
        throw std::runtime_error(where + ": expected an object with an \"agents\" array");
    }
    std::vector<AgentAccount> out;
    std::unordered_map<std::string, int> seen_ids, seen_emails;
    int index = 0;
    for (const auto& a : doc["agents"]) {
        const std::string entry = where + ": agents[" + std::to_string(index++) + "]";
        if (!a.is_object()) throw std::runtime_error(entry + ": not an object");
        auto str = [&](const char* field, bool required) -> std::string {
            if (!a.contains(field)) {
                if (required) throw std::runtime_error(entry + ": missing field \"" + field + "\"");
                return {};
            }
            if (!a[field].is_string() || (required && a[field].get<std::string>().empty())) {
                throw std::runtime_error(entry + ": field \"" + field +
                                         "\" must be a non-empty string");
            }
            return a[field].get<std::string>();
        };
        AgentAccount acc;
        acc.id = str("id", true);
        acc.name = str("name", true);
        acc.email = to_lower(str("email", true));
        acc.password_hash = str("password_hash", true);
        if (acc.password_hash.rfind("$argon2id$", 0) != 0) {
            throw std::runtime_error(entry +
                                     ": field \"password_hash\" must be an Argon2id hash "
                                     "(make one with: switchboard hash-password)");
        }
        if (a.contains("role")) {
            acc.role = str("role", true);
            if (acc.role != "agent" && acc.role != "supervisor") {
                throw std::runtime_error(entry + ": field \"role\" must be agent or supervisor");
            }
        }
        if (a.contains("capacity")) {
            if (!a["capacity"].is_number_integer() || a["capacity"].get<int>() < 0) {
                throw std::runtime_error(entry +
                                         ": field \"capacity\" must be a non-negative integer");
            }
            acc.capacity = a["capacity"].get<int>();
        }
        if (a.contains("departments")) {
            if (!a["departments"].is_array()) {
                throw std::runtime_error(entry +
                                         ": field \"departments\" must be an array of strings");
            }
            for (const auto& d : a["departments"]) {
                if (!d.is_string()) {
                    throw std::runtime_error(entry +
                                             ": field \"departments\" must be an array of strings");
                }
                acc.departments.push_back(d.get<std::string>());
            }
        }
        if (seen_ids[acc.id]++)
            throw std::runtime_error(entry + ": duplicate id \"" + acc.id + "\"");
        if (seen_emails[acc.email]++) {
            throw std::runtime_error(entry + ": duplicate email \"" + acc.email + "\"");
        }
        out.push_back(std::move(acc));
    }
    return out;
}

void save_agents(const std::filesystem::path& file, const std::vector<AgentAccount>& agents) {
    nlohmann::json doc;
    doc["agents"] = nlohmann::json::array();
    for (const auto& a : agents) {
        doc["agents"].push_back({{"id", a.id},
                                 {"name", a.name},
                                 {"email", a.email},
                                 {"password_hash", a.password_hash},
                                 {"role", a.role},
                                 {"capacity", a.capacity},
                                 {"departments", a.departments}});
    }
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    auto tmp = file;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << doc.dump(2) << "\n";
        if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
    }
    std::filesystem::rename(tmp, file);
}

std::string hash_password(std::string_view password) {
    init_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(
            out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing ran out of memory");
    }
    return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
    init_sodium();
    std::string h(hash);  // needs a NUL-terminated string
    return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

std::string load_or_create_key(const std::filesystem::path& file) {
    init_sodium();
    std::ifstream in(file, std::ios::binary);
    if (in) {
        std::string key((std::istreambuf_iterator<char>(in)), {});
        if (key.size() != crypto_auth_hmacsha256_KEYBYTES) {
            throw std::runtime_error(file.string() + ": token key must be 32 bytes");
        }
        return key;
    }
    std::string key(crypto_auth_hmacsha256_KEYBYTES, '\0');
    randombytes_buf(key.data(), key.size());
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(key.data(), static_cast<std::streamsize>(key.size()));
        if (!out) throw std::runtime_error(file.string() + ": cannot write token key");
    }
    ::chmod(file.c_str(), 0600);
    return key;
}

Auth::Auth(std::vector<AgentAccount> agents, std::string key, core::TimeMs token_ttl_ms)
    : agents_(std::move(agents)), key_(std::move(key)), token_ttl_ms_(token_ttl_ms) {
    init_sodium();
    for (std::size_t i = 0; i < agents_.size(); ++i) {
        by_id_.emplace(agents_[i].id, i);
        by_email_.emplace(to_lower(agents_[i].email), i);
    }
    dummy_hash_ = hash_password("no account has this password");
}

namespace {
std::string hmac_sha256(std::string_view key, std::string_view payload) {
    unsigned char out[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(payload.data()),
                                  payload.size());
    crypto_auth_hmacsha256_final(&st, out);
    return std::string(reinterpret_cast<const char*>(out), sizeof out);
}
}  // namespace

std::string Auth::mac(std::string_view payload) const {
    return hmac_sha256(key_, payload);
}

bool Auth::verify_identity(std::string_view user_id, std::string_view signature) {
    if (identity_secret_.empty()) return false;
    const std::string raw = hmac_sha256(identity_secret_, user_id);
    const std::string expected =
        hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    return signature.size() == expected.size() &&
           sodium_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

std::string load_identity_secret(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(file.string() + ": cannot read the identity secret");
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                               secret.back() == ' ' || secret.back() == '\t')) {
        secret.pop_back();
    }
    if (secret.size() < kMinIdentitySecretBytes) {
        throw std::runtime_error(file.string() + ": the identity secret must be at least " +
                                 std::to_string(kMinIdentitySecretBytes) + " bytes");
    }
    return secret;
}

std::string Auth::issue_token(std::string_view agent_id, core::TimeMs expires_at) const {
    std::string payload = std::string(agent_id) + "." + std::to_string(expires_at);
    return base64url(payload) + "." + base64url(mac(payload));
}

std::optional<SignIn> Auth::sign_in(std::string_view email, std::string_view password,
                                    core::TimeMs now) const {
    auto it = by_email_.find(to_lower(std::string(email)));
    if (it == by_email_.end()) {
        verify_password(dummy_hash_, password);  // same cost as a real check
        return std::nullopt;
    }
    const AgentAccount& a = agents_[it->second];
    if (!verify_password(a.password_hash, password)) return std::nullopt;
    SignIn s;
    s.expires_at = now + token_ttl_ms_;
    s.token = issue_token(a.id, s.expires_at);
    s.agent = a;
    return s;
}

std::optional<core::AgentIdentity> Auth::verify_agent_token(std::string_view token,
                                                            core::TimeMs now) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto payload = from_base64url(token.substr(0, dot));
    auto sig = from_base64url(token.substr(dot + 1));
    if (!payload || !sig || sig->size() != crypto_auth_hmacsha256_BYTES) return std::nullopt;
    std::string expected = mac(*payload);
    if (sodium_memcmp(expected.data(), sig->data(), expected.size()) != 0) return std::nullopt;
    auto sep = payload->rfind('.');
    if (sep == std::string::npos) return std::nullopt;
    core::TimeMs exp = 0;
    const char* first = payload->data() + sep + 1;
    const char* last = payload->data() + payload->size();
    auto [ptr, ec] = std::from_chars(first, last, exp);
    if (ec != std::errc{} || ptr != last || exp <= now) return std::nullopt;
    auto it = by_id_.find(payload->substr(0, sep));
    if (it == by_id_.end()) return std::nullopt;  // account removed
    const AgentAccount& a = agents_[it->second];
    return core::AgentIdentity{a.id, a.name, a.role == "supervisor", a.departments, a.capacity};
}

std::string Auth::random_id() {
    unsigned char buf[16];
    randombytes_buf(buf, sizeof buf);
    return hex(buf, sizeof buf);
}

std::string Auth::random_token() {
    std::string buf(32, '\0');
    randombytes_buf(buf.data(), buf.size());
    return base64url(buf);
}

std::string Auth::hash_token(std::string_view token) {
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(token.data()), token.size());
    return hex(out, sizeof out);
}

}  // namespace sb::net
