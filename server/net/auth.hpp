// Agent accounts, passwords and tokens.
//
// Accounts live in a JSON file with Argon2id password hashes (libsodium's
// crypto_pwhash_str). Sign-in returns a token: base64url(agent_id "." expiry_ms)
// "." base64url(HMAC-SHA256(key, payload)). The key is 32 random bytes kept in
// the data folder, so tokens survive a restart and can be revoked by deleting it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ports.hpp"

namespace sb::net {

struct AgentAccount {
    std::string id;
    std::string name;
    std::string email;
    std::string password_hash;   // $argon2id$...
    std::string role = "agent";  // "agent" | "supervisor"
    int capacity = 0;            // 0 = server default
    std::vector<std::string> departments;
};

// Throws std::runtime_error naming the file, the entry and the field on bad input.
std::vector<AgentAccount> load_agents(const std::filesystem::path& file);
void save_agents(const std::filesystem::path& file, const std::vector<AgentAccount>& agents);

// Argon2id hash of a password (interactive limits). Throws on out-of-memory.
std::string hash_password(std::string_view password);
bool verify_password(std::string_view hash, std::string_view password);

// Loads the 32-byte token key from `file`, creating it (mode 0600) if missing.
std::string load_or_create_key(const std::filesystem::path& file);

// The secret a host site shares with this server to sign its users' ids
// (verified visitor identity). Read from a file, trailing whitespace
// dropped; at least kMinIdentitySecretBytes. Throws naming the file.
inline constexpr std::size_t kMinIdentitySecretBytes = 16;
std::string load_identity_secret(const std::filesystem::path& file);

struct SignIn {
    std::string token;
    core::TimeMs expires_at = 0;
    AgentAccount agent;
};

class Auth final : public core::Security {
  public:
    Auth(std::vector<AgentAccount> agents, std::string key, core::TimeMs token_ttl_ms);

    // Checks the password (slow by design: run it off the event loop thread).
    // Unknown emails cost the same time as wrong passwords.
    std::optional<SignIn> sign_in(std::string_view email, std::string_view password,
                                  core::TimeMs now) const;
    std::string issue_token(std::string_view agent_id, core::TimeMs expires_at) const;

    std::optional<core::AgentIdentity> verify_agent_token(std::string_view token,
                                                          core::TimeMs now) override;
    std::string random_id() override;
    std::string random_token() override;
    std::string hash_token(std::string_view token) override;
    // hex HMAC-SHA256(identity secret, user_id), compared in constant time.
    bool verify_identity(std::string_view user_id, std::string_view signature) override;
    void set_identity_secret(std::string secret) { identity_secret_ = std::move(secret); }

  private:
    std::string mac(std::string_view payload) const;

    std::vector<AgentAccount> agents_;
    std::unordered_map<std::string, std::size_t> by_id_;
    std::unordered_map<std::string, std::size_t> by_email_;
    std::string key_;
    core::TimeMs token_ttl_ms_;
    std::string dummy_hash_;
    std::string identity_secret_;  // empty = no verified identities
};

std::string base64url(std::string_view bytes);
std::optional<std::string> from_base64url(std::string_view text);

}  // namespace sb::net
