// Store: the port through which the core keeps conversations, messages and
// visitors. SqliteStore (server/store/) is the embedded default; a Redis store
// implements the same contract (tests/unit/store_contract.hpp).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"

namespace sb::core {

// Thrown by a Store when it cannot do what was asked (disk full, I/O error,
// constraint broken). The core turns it into an error for the client.
struct StoreError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Store {
  public:
    virtual ~Store() = default;

    // Writes between begin_batch() and commit_batch() form one durable unit
    // (one transaction): the core opens a batch on the first write of an event
    // loop turn and commits it before sending any ack. Outside a batch each
    // write is durable on return. rollback_batch() discards the open batch.
    virtual void begin_batch() = 0;
    virtual void commit_batch() = 0;
    virtual void rollback_batch() = 0;
    virtual bool in_batch() const = 0;
    // Batch rules: begin inside a batch or commit outside one throws;
    // rollback outside one does nothing. Reads inside a batch see the batch's
    // own writes (the hub creates a conversation and appends to it in one
    // turn), and de-duplication by client_id applies within the batch. A
    // failed write inside a batch leaves the batch usable and unchanged.

    virtual void create_visitor(const Visitor& v) = 0;
    virtual std::optional<Visitor> visitor(std::string_view id) = 0;
    virtual std::optional<Visitor> visitor_by_token_hash(std::string_view token_hash) = 0;
    // Writes every field but id, token_hash and created. Throws StoreError for
    // an unknown visitor.
    virtual void update_visitor(const Visitor& v) = 0;

    // A new conversation starts at last_seq 0 whatever the record says.
    virtual void create_conversation(const Conversation& c) = 0;
    virtual std::optional<Conversation> conversation(std::string_view id) = 0;
    // Writes every field but id, visitor_id, created and last_seq.
    // last_seq is owned by append() and is not written here. Throws StoreError
    // for an unknown conversation.
    virtual void update_conversation(const Conversation& c) = 0;
    // Newest first; ties by id ascending.
    virtual std::vector<Conversation> conversations_of_visitor(std::string_view visitor_id) = 0;
    // Every conversation not closed (waiting or active), oldest first; used to
    // rebuild the queue and agents' load after a restart.
    virtual std::vector<Conversation> open_conversations() = 0;
    // The CRM history: conversations of this visitor and, when it has an
    // external_id, of every visitor with the same external_id (the same
    // verified user on other devices). Newest first (created, then id), at
    // most `limit`.
    virtual std::vector<Conversation> history_of_visitor(std::string_view visitor_id,
                                                         std::size_t limit) = 0;
    // Conversations created at or after `since`, oldest first (the day's
    // figures on the supervisors' dashboard after a restart).
    virtual std::vector<Conversation> conversations_since(TimeMs since) = 0;

    // Gives the message the conversation's next sequence number and stores it.
    // A non-empty client_id already stored for (conv, author_id) returns that
    // stored message with duplicate = true and stores nothing.
    // Throws StoreError if the conversation does not exist.
    virtual AppendOutcome append(const NewMessage& m) = 0;
    virtual void create_offline_message(const OfflineMessage& m) = 0;
    // Newest first, at most `limit`; handled ones only when asked.
    virtual std::vector<OfflineMessage> offline_messages(bool include_handled,
                                                         std::size_t limit) = 0;
    // Marks it handled by `agent_id` at `now`; false if unknown or already handled.
    virtual bool mark_offline_handled(std::string_view id, std::string_view agent_id,
                                      TimeMs now) = 0;

    // Canned replies an agent may use: the shared ones and its own, ordered
    // by shortcut, then shared before personal, then id.
    virtual std::vector<CannedReply> canned_replies(std::string_view agent_id) = 0;
    virtual std::optional<CannedReply> canned_reply(std::string_view id) = 0;
    // Inserts, or replaces the one with the same id (keeping its created).
    // False, storing nothing, when another reply of the same owner already
    // has the shortcut.
    virtual bool save_canned(const CannedReply& r) = 0;
    // False if unknown.
    virtual bool delete_canned(std::string_view id) = 0;
    // How many replies this owner has ("" = shared).
    virtual std::size_t canned_count(std::string_view owner) = 0;

    // Messages with seq > after_seq, in seq order, at most `limit`; empty for
    // an unknown conversation.
    virtual std::vector<StoredMessage> messages_after(std::string_view conv,
                                                      std::uint64_t after_seq,
                                                      std::size_t limit) = 0;
};

}  // namespace sb::core
