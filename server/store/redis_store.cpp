// RedisStore over hiredis's synchronous API: the connection, the Lua scripts
// that do every write, and the readers.
#include "store/redis_store.hpp"

#include "store/records.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

namespace sb::store {

using core::AppendOutcome;
using core::CannedReply;
using core::Conversation;
using core::ConvState;
using core::NewMessage;
using core::OfflineMessage;
using core::Sender;
using core::StoredMessage;
using core::StoreError;
using core::Visitor;

namespace {

// ---- scripts ------------------------------------------------------------------
//
// Every script gets ARGV[1] = the fence key ("" = no fence), ARGV[2] = the
// token, ARGV[3] = the key prefix, then its own arguments. A write script
// validates before it writes anything and returns {result, undo}, where undo
// lists the commands that put back what it changed. An expected refusal is an
// error reply starting with "SBERR "; a stale fence, one starting with
// "FENCED ".

constexpr const char* kPreamble = R"lua(
if ARGV[1] ~= '' and redis.call('GET', ARGV[1]) ~= ARGV[2] then
  return redis.error_reply('FENCED the fencing token is not current')
end
local P = ARGV[3]
-- HSETs the field/value pairs ARGV[first..] on `key`; returns the commands
-- that restore what the fields held before.
local function overwrite(key, first)
  local names = {}
  for i = first, #ARGV, 2 do names[#names + 1] = ARGV[i] end
  local old = redis.call('HMGET', key, unpack(names))
  local restore, gone = {'HSET', key}, {'HDEL', key}
  for i, name in ipairs(names) do
    if old[i] then
      restore[#restore + 1] = name
      restore[#restore + 1] = old[i]
    else
      gone[#gone + 1] = name
    end
  end
  redis.call('HSET', key, unpack(ARGV, first))
  local undo = {}
  if #restore > 2 then undo[#undo + 1] = restore end
  if #gone > 2 then undo[#undo + 1] = gone end
  return undo
end
)lua";

// 4 id, 5 token_hash, 6 external_id, 7.. every field as pairs.
constexpr const char* kCreateVisitor = R"lua(
local id, token_hash, external_id = ARGV[4], ARGV[5], ARGV[6]
local key = P .. 'visitor:' .. id
local by_token = P .. 'visitors-by-token'
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('SBERR visitor id already taken: ' .. id)
end
if redis.call('HEXISTS', by_token, token_hash) == 1 then
  return redis.error_reply('SBERR visitor token hash already taken')
end
redis.call('HSET', key, unpack(ARGV, 7))
redis.call('HSET', by_token, token_hash, id)
local undo = {{'DEL', key}, {'HDEL', by_token, token_hash}}
if external_id ~= '' then
  local set = P .. 'visitors-by-external:' .. external_id
  redis.call('SADD', set, id)
  undo[#undo + 1] = {'SREM', set, id}
end
return {1, undo}
)lua";

// 4 id, 5 external_id, 6.. the fields written, as pairs.
constexpr const char* kUpdateVisitor = R"lua(
local id, external_id = ARGV[4], ARGV[5]
local key = P .. 'visitor:' .. id
if redis.call('EXISTS', key) == 0 then
  return redis.error_reply('SBERR update of unknown visitor: ' .. id)
end
local old_external_id = redis.call('HGET', key, 'external_id') or ''
local undo = overwrite(key, 6)
if old_external_id ~= external_id then
  if old_external_id ~= '' then
    local set = P .. 'visitors-by-external:' .. old_external_id
    redis.call('SREM', set, id)
    undo[#undo + 1] = {'SADD', set, id}
  end
  if external_id ~= '' then
    local set = P .. 'visitors-by-external:' .. external_id
    redis.call('SADD', set, id)
    undo[#undo + 1] = {'SREM', set, id}
  end
end
return {1, undo}
)lua";

// 4 id, 5 visitor_id, 6 score created, 7 score -created, 8 open ('1'/'0'),
// 9.. every field as pairs.
constexpr const char* kCreateConversation = R"lua(
local id, visitor_id = ARGV[4], ARGV[5]
local key = P .. 'conv:' .. id
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('SBERR conversation id already taken: ' .. id)
end
-- Leftovers under this id (written behind the store's back) would break
-- numbering from 1.
redis.call('DEL', P .. 'conv-log:' .. id, P .. 'conv-client-ids:' .. id)
redis.call('HSET', key, unpack(ARGV, 9))
local by_created, by_visitor = P .. 'convs-by-created', P .. 'visitor-convs:' .. visitor_id
redis.call('ZADD', by_created, ARGV[6], id)
redis.call('ZADD', by_visitor, ARGV[7], id)
local undo = {{'DEL', key}, {'ZREM', by_created, id}, {'ZREM', by_visitor, id}}
if ARGV[8] == '1' then
  redis.call('ZADD', P .. 'convs-open', ARGV[6], id)
  undo[#undo + 1] = {'ZREM', P .. 'convs-open', id}
end
return {1, undo}
)lua";

// 4 id, 5 the name of the closed state, 6.. the fields written, as pairs.
constexpr const char* kUpdateConversation = R"lua(
local id, closed = ARGV[4], ARGV[5]
local key = P .. 'conv:' .. id
if redis.call('EXISTS', key) == 0 then
  return redis.error_reply('SBERR update of unknown conversation: ' .. id)
end
local was_open = redis.call('HGET', key, 'state') ~= closed
local undo = overwrite(key, 6)
local is_open = redis.call('HGET', key, 'state') ~= closed
local open = P .. 'convs-open'
if was_open ~= is_open then
  local created = redis.call('HGET', key, 'created')
  if is_open then
    redis.call('ZADD', open, created, id)
    undo[#undo + 1] = {'ZREM', open, id}
  else
    redis.call('ZREM', open, id)
    undo[#undo + 1] = {'ZADD', open, created, id}
  end
end
return {1, undo}
)lua";

// 4 conv, 5 author_id, 6 client_id, 7.. the stream entry's fields as pairs.
// Returns {{seq}, undo} for a new message, {{seq, fields}, {}} for a
// duplicate. If XADD fails the counter is put back, so nothing changes.
constexpr const char* kAppend = R"lua(
local conv, author, client_id = ARGV[4], ARGV[5], ARGV[6]
local key = P .. 'conv:' .. conv
if redis.call('EXISTS', key) == 0 then
  return redis.error_reply('SBERR append to unknown conversation: ' .. conv)
end
local log, client_ids = P .. 'conv-log:' .. conv, P .. 'conv-client-ids:' .. conv
local field = ''
if client_id ~= '' then
  field = #author .. ':' .. author .. client_id
  local seq = redis.call('HGET', client_ids, field)
  if seq then
    local found = redis.call('XRANGE', log, seq .. '-0', seq .. '-0')
    if #found == 0 then
      return redis.error_reply('SBERR client_id names message ' .. seq .. ', not in the log')
    end
    return {{seq, found[1][2]}, {}}
  end
end
local seq = redis.call('HINCRBY', key, 'last_seq', 1)
local added = redis.pcall('XADD', log, string.format('%d-0', seq), unpack(ARGV, 7))
if type(added) == 'table' and added.err then
  redis.call('HINCRBY', key, 'last_seq', -1)
  return added
end
if field ~= '' then redis.call('HSET', client_ids, field, seq) end
return {{seq}, {{'UNAPPEND', key, log, client_ids, field, string.format('%d', seq)}}}
)lua";

// 4 id, 5 score -created, 6 handled ('1'/'0'), 7.. every field as pairs.
constexpr const char* kCreateOffline = R"lua(
local id = ARGV[4]
local key = P .. 'offline:' .. id
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('SBERR offline message id already taken: ' .. id)
end
redis.call('HSET', key, unpack(ARGV, 7))
redis.call('ZADD', P .. 'offline-all', ARGV[5], id)
local undo = {{'DEL', key}, {'ZREM', P .. 'offline-all', id}}
if ARGV[6] == '0' then
  redis.call('ZADD', P .. 'offline-unhandled', ARGV[5], id)
  undo[#undo + 1] = {'ZREM', P .. 'offline-unhandled', id}
end
return {1, undo}
)lua";

// 4 id, 5.. 'handled', now, 'handled_by', agent.
constexpr const char* kMarkOffline = R"lua(
local id = ARGV[4]
local key = P .. 'offline:' .. id
if redis.call('HGET', key, 'handled') ~= '0' then return {0, {}} end
local undo = overwrite(key, 5)
local unhandled = P .. 'offline-unhandled'
if redis.call('ZREM', unhandled, id) == 1 then
  local score = redis.call('ZSCORE', P .. 'offline-all', id)
  if score then undo[#undo + 1] = {'ZADD', unhandled, score, id} end
end
return {1, undo}
)lua";

// 4 id, 5 owner, 6 shortcut, 7 created, 8.. the fields an edit writes, as
// pairs. Returns {0, {}} when another reply of the owner has the shortcut.
constexpr const char* kSaveCanned = R"lua(
local id, owner, shortcut, created = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = P .. 'canned:' .. id
local index = P .. 'canned-shortcuts:' .. owner
local holder = redis.call('HGET', index, shortcut)
if holder and holder ~= id then return {0, {}} end
local old = redis.call('HMGET', key, 'owner', 'shortcut')
local undo
if old[1] then  -- an edit: created stays
  local old_index = P .. 'canned-shortcuts:' .. old[1]
  undo = overwrite(key, 8)
  if redis.call('HGET', old_index, old[2]) == id then
    redis.call('HDEL', old_index, old[2])
    undo[#undo + 1] = {'HDEL', index, shortcut}
    undo[#undo + 1] = {'HSET', old_index, old[2], id}
  else
    undo[#undo + 1] = {'HDEL', index, shortcut}
  end
else
  redis.call('HSET', key, 'id', id, 'created', created, unpack(ARGV, 8))
  undo = {{'DEL', key}, {'HDEL', index, shortcut}}
end
redis.call('HSET', index, shortcut, id)
return {1, undo}
)lua";

// 4 id.
constexpr const char* kDeleteCanned = R"lua(
local id = ARGV[4]
local key = P .. 'canned:' .. id
local fields = redis.call('HGETALL', key)
if #fields == 0 then return {0, {}} end
local found = redis.call('HMGET', key, 'owner', 'shortcut')
local index = P .. 'canned-shortcuts:' .. (found[1] or '')
redis.call('DEL', key)
local undo = {{'HSET', key, unpack(fields)}}
if found[2] and redis.call('HGET', index, found[2]) == id then
  redis.call('HDEL', index, found[2])
  undo[#undo + 1] = {'HSET', index, found[2], id}
end
return {1, undo}
)lua";

// 4.. commands, each as its length then its words, run in order. UNAPPEND
// (conv key, log key, client-ids key, client-ids field, seq) takes back an
// append: the entry and its client_id always; the number only if it is still
// the newest (one appended since by another node keeps a gap).
constexpr const char* kUndo = R"lua(
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local op = {unpack(ARGV, i + 1, i + n)}
  i = i + n + 1
  if op[1] == 'UNAPPEND' then
    local key, log, client_ids, field, seq = op[2], op[3], op[4], op[5], tonumber(op[6])
    redis.call('XDEL', log, op[6] .. '-0')
    if field ~= '' then redis.call('HDEL', client_ids, field) end
    if tonumber(redis.call('HGET', key, 'last_seq') or '-1') == seq then
      redis.call('HSET', key, 'last_seq', string.format('%d', seq - 1))
      if seq == 1 then
        redis.call('DEL', log)
      else
        redis.call('XSETID', log, string.format('%d-0', seq - 1))
      end
    end
  else
    redis.call(unpack(op))
  end
end
return 1
)lua";

enum ScriptId {
    kCreateVisitorScript,
    kUpdateVisitorScript,
    kCreateConversationScript,
    kUpdateConversationScript,
    kAppendScript,
    kCreateOfflineScript,
    kMarkOfflineScript,
    kSaveCannedScript,
    kDeleteCannedScript,
    kUndoScript,
    kScriptCount
};

// Indexed by ScriptId.
constexpr const char* kScriptBodies[kScriptCount] = {
    kCreateVisitor, kUpdateVisitor, kCreateConversation, kUpdateConversation, kAppend,
    kCreateOffline, kMarkOffline,   kSaveCanned,         kDeleteCanned,       kUndo,
};

// ---- replies and arguments ------------------------------------------------------

struct FreeReply {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;
using Words = std::vector<std::string>;

std::string_view text_of(const redisReply* r) {
    return r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

// An error reply as a StoreError: a stale fence, a refusal by a script, or
// Redis's own (WRONGTYPE, OOM...).
[[noreturn]] void fail_with(const redisReply* r, std::string_view context) {
    std::string_view msg = text_of(r);
    if (msg.starts_with("FENCED ")) {
        msg.remove_prefix(7);
        throw StoreError("fenced: " + std::string(msg) + " [" + std::string(context) + "]");
    }
    if (msg.starts_with("SBERR ")) msg.remove_prefix(6);
    throw StoreError("redis: " + std::string(msg) + " [" + std::string(context) + "]");
}

std::string number(std::int64_t v) {
    return std::to_string(v);
}
std::string number(std::uint64_t v) {
    return std::to_string(v);
}

// A zset score of -v, as text (exact while |v| <= 2^53, like every score).
std::string negated(std::int64_t v) {
    if (v == std::numeric_limits<std::int64_t>::min()) return "9223372036854775808";
    return std::to_string(-v);
}

template <typename T>
T parse_number(std::string_view text, std::string_view what) {
    T v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        throw StoreError("redis: bad number '" + std::string(text) + "' in " + std::string(what));
    return v;
}

// An integer reply, or a number as text (Lua may hand back either).
std::uint64_t u64_of(const redisReply* r, std::string_view what) {
    if (r->type == REDIS_REPLY_INTEGER) return static_cast<std::uint64_t>(r->integer);
    return parse_number<std::uint64_t>(text_of(r), what);
}

proto::Attributes attributes_from_json(std::string_view text) {
    return store::attributes_from_json(text, "redis", "visitor attributes");
}
std::string attributes_to_json(const proto::Attributes& attributes) {
    return store::attributes_to_json(attributes, "redis");
}
Sender sender_named(std::string_view name) {
    return store::sender_named(name, "redis", "a message");
}
ConvState state_named(std::string_view name) {
    return store::state_named(name, "redis", "a conversation");
}

// ---- records <-> hashes -----------------------------------------------------------
//
// Each reader asks HMGET for its fields in this order; the writers name them.

const Words kVisitorFields{"id",      "token_hash",  "name",       "email",
                           "created", "external_id", "verified",   "attributes",
                           "page",    "language",    "user_agent", "last_seen"};
const Words kConversationFields{"id",         "visitor_id", "visitor_name",     "agent_id",
                                "agent_name", "state",      "department",       "priority",
                                "created",    "queued",     "assigned",         "first_reply",
                                "closed",     "last_seq",   "visitor_read_seq", "agent_read_seq",
                                "resolution", "csat_score", "csat_comment",     "rated"};
const Words kOfflineFields{"id",   "visitor_id", "name",    "email",     "department",
                           "text", "created",    "handled", "handled_by"};
const Words kCannedFields{"id", "owner", "shortcut", "text", "created", "updated"};

// One HMGET reply, read field by field in the order asked.
class Fields {
  public:
    Fields(const redisReply* r, std::string_view what) : r_(r), what_(what) {
        if (r->type != REDIS_REPLY_ARRAY) throw StoreError("redis: odd reply for " + what_);
    }
    // A record whose first field (its id) is missing does not exist.
    bool exists() const { return r_->elements > 0 && r_->element[0]->type == REDIS_REPLY_STRING; }
    std::string text(std::size_t i) const { return std::string(text_of(at(i))); }
    std::int64_t int64(std::size_t i) const {
        return parse_number<std::int64_t>(text_of(at(i)), what_);
    }
    std::uint64_t uint64(std::size_t i) const {
        return parse_number<std::uint64_t>(text_of(at(i)), what_);
    }

  private:
    const redisReply* at(std::size_t i) const {
        if (i >= r_->elements || r_->element[i]->type != REDIS_REPLY_STRING)
            throw StoreError("redis: a field is missing in " + what_);
        return r_->element[i];
    }
    const redisReply* r_;
    std::string what_;
};

Visitor read_visitor(const Fields& f) {
    Visitor v;
    v.id = f.text(0);
    v.token_hash = f.text(1);
    v.name = f.text(2);
    v.email = f.text(3);
    v.created = f.int64(4);
    v.external_id = f.text(5);
    v.verified = f.int64(6) != 0;
    v.attributes = attributes_from_json(f.text(7));
    v.page = f.text(8);
    v.language = f.text(9);
    v.user_agent = f.text(10);
    v.last_seen = f.int64(11);
    return v;
}

// The fields update_visitor() writes, as pairs; `attributes` is their JSON.
Words visitor_context(const Visitor& v, const std::string& attributes) {
    return {"name",        v.name,
            "email",       v.email,
            "external_id", v.external_id,
            "verified",    v.verified ? "1" : "0",
            "attributes",  attributes,
            "page",        v.page,
            "language",    v.language,
            "user_agent",  v.user_agent,
            "last_seen",   number(v.last_seen)};
}

Conversation read_conversation(const Fields& f) {
    Conversation c;
    c.id = f.text(0);
    c.visitor_id = f.text(1);
    c.visitor_name = f.text(2);
    c.agent_id = f.text(3);
    c.agent_name = f.text(4);
    c.state = state_named(f.text(5));
    c.department = f.text(6);
    c.priority = static_cast<int>(f.int64(7));
    c.created = f.int64(8);
    c.queued = f.int64(9);
    c.assigned = f.int64(10);
    c.first_reply = f.int64(11);
    c.closed = f.int64(12);
    c.last_seq = f.uint64(13);
    c.visitor_read_seq = f.uint64(14);
    c.agent_read_seq = f.uint64(15);
    c.resolution = f.text(16);
    c.csat_score = static_cast<int>(f.int64(17));
    c.csat_comment = f.text(18);
    c.rated = f.int64(19);
    return c;
}

// The fields update_conversation() writes, as pairs.
Words conversation_fields(const Conversation& c) {
    // clang-format off
    return {"visitor_name",     c.visitor_name,
            "agent_id",         c.agent_id,
            "agent_name",       c.agent_name,
            "state",            std::string(proto::to_string(c.state)),
            "department",       c.department,
            "priority",         number(std::int64_t{c.priority}),
            "queued",           number(c.queued),
            "assigned",         number(c.assigned),
            "first_reply",      number(c.first_reply),
            "closed",           number(c.closed),
            "visitor_read_seq", number(c.visitor_read_seq),
            "agent_read_seq",   number(c.agent_read_seq),
            "resolution",       c.resolution,
            "csat_score",       number(std::int64_t{c.csat_score}),
            "csat_comment",     c.csat_comment,
            "rated",            number(c.rated)};
    // clang-format on
}

OfflineMessage read_offline(const Fields& f) {
    return OfflineMessage{f.text(0), f.text(1),  f.text(2),  f.text(3), f.text(4),
                          f.text(5), f.int64(6), f.int64(7), f.text(8)};
}

CannedReply read_canned(const Fields& f) {
    return CannedReply{f.text(0), f.text(1), f.text(2), f.text(3), f.int64(4), f.int64(5)};
}

// A stream entry's field/value array as a message of `conv` numbered `seq`.
StoredMessage read_message(std::string_view conv, std::uint64_t seq, const redisReply* fields) {
    if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
        throw StoreError("redis: odd message entry in " + std::string(conv));
    StoredMessage m;
    m.conv = conv;
    m.seq = seq;
    bool have_from = false;
    for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
        const std::string_view name = text_of(fields->element[i]);
        const std::string_view value = text_of(fields->element[i + 1]);
        if (name == "from") {
            m.from = sender_named(value);
            have_from = true;
        } else if (name == "author_id") {
            m.author_id = value;
        } else if (name == "author_name") {
            m.author_name = value;
        } else if (name == "client_id") {
            m.client_id = value;
        } else if (name == "text") {
            m.text = value;
        } else if (name == "ts") {
            m.ts = parse_number<std::int64_t>(value, "a message's ts");
        } else if (name == "internal") {
            m.internal = value == "1";
        }
    }
    if (!have_from) throw StoreError("redis: a message without a sender in " + std::string(conv));
    return m;
}

// Every id of a listing fetched, in order; ids whose record is gone (an index
// out of step) are skipped.
template <typename Record, typename Read>
std::vector<Record> records(std::vector<Reply>& replies, Read read, std::string_view what) {
    std::vector<Record> out;
    out.reserve(replies.size());
    for (const auto& r : replies) {
        Fields f(r.get(), what);
        if (f.exists()) out.push_back(read(f));
    }
    return out;
}

// ZRANGE's stop for "at most limit" (limit > 0).
std::string stop_for(std::size_t limit) {
    if (limit > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) return "-1";
    return number(static_cast<std::int64_t>(limit - 1));
}

}  // namespace

// ---- the connection -----------------------------------------------------------------

struct RedisStore::Impl {
    explicit Impl(RedisStoreSettings s) : settings(std::move(s)) { connect(); }
    ~Impl() {
        if (ctx != nullptr) redisFree(ctx);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    RedisStoreSettings settings;
    redisContext* ctx = nullptr;
    std::string shas[kScriptCount];  // from SCRIPT LOAD; the same on every server
    bool in_batch = false;
    // The batch's undo commands, in the order they were recorded; applied
    // group by group from the last.
    std::vector<std::vector<Words>> undo;

    std::string where() const { return settings.ip + ":" + std::to_string(settings.port); }

    void connect() {
        timeval tv{settings.timeout_ms / 1000, (settings.timeout_ms % 1000) * 1000};
        redisContext* c = redisConnectWithTimeout(settings.ip.c_str(), settings.port, tv);
        if (c == nullptr) throw StoreError("redis: cannot allocate a connection to " + where());
        if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
            std::string what = "redis: cannot connect to " + where() + ": " + c->errstr;
            redisFree(c);
            throw StoreError(what);
        }
        ctx = c;
    }

    // One reconnect attempt per call after a lost connection.
    void ensure_connected() {
        if (ctx == nullptr) connect();
    }

    [[noreturn]] void lost(std::string_view context) {
        // A read past the timeout fails with EAGAIN: say what it means.
        std::string reason = ctx->errstr;
        if (ctx->err == REDIS_ERR_IO && reason == std::strerror(EAGAIN))
            reason = "no answer within " + std::to_string(settings.timeout_ms) + " ms";
        std::string what = "redis: connection to " + where() + " failed: " + reason + " [" +
                           std::string(context) + "]";
        redisFree(ctx);
        ctx = nullptr;
        throw StoreError(what);
    }

    static void argv_of(const Words& words, std::vector<const char*>& argv,
                        std::vector<std::size_t>& lens) {
        argv.clear();
        lens.clear();
        for (const auto& w : words) {
            argv.push_back(w.data());
            lens.push_back(w.size());
        }
    }

    // The raw reply, error replies included.
    Reply raw(const Words& words, std::string_view context) {
        ensure_connected();
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        argv_of(words, argv, lens);
        void* r = redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
        if (r == nullptr) lost(context);
        return Reply(static_cast<redisReply*>(r));
    }

    Reply command(const Words& words, std::string_view context) {
        Reply r = raw(words, context);
        if (r->type == REDIS_REPLY_ERROR) fail_with(r.get(), context);
        return r;
    }

    // Many commands in one round trip; error replies throw.
    std::vector<Reply> pipeline(const std::vector<Words>& commands, std::string_view context) {
        std::vector<Reply> out;
        if (commands.empty()) return out;
        ensure_connected();
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& words : commands) {
            argv_of(words, argv, lens);
            if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(),
                                       lens.data()) != REDIS_OK)
                lost(context);
        }
        out.reserve(commands.size());
        for (std::size_t i = 0; i < commands.size(); ++i) {
            void* r = nullptr;
            if (redisGetReply(ctx, &r) != REDIS_OK || r == nullptr) lost(context);
            out.emplace_back(static_cast<redisReply*>(r));
        }
        for (const auto& r : out)
            if (r->type == REDIS_REPLY_ERROR) fail_with(r.get(), context);
        return out;
    }

    // Runs a script with the fence and prefix in front of `args`. Scripts are
    // loaded once, and again after Redis forgot them (a restart).
    Reply script(ScriptId id, const Words& args, std::string_view context) {
        Words words{"EVALSHA", "", "0"};
        if (settings.fence) {
            words.push_back(settings.fence->key);
            words.push_back(settings.fence->token);
        } else {
            words.push_back("");
            words.push_back("");
        }
        words.push_back(settings.prefix);
        words.insert(words.end(), args.begin(), args.end());
        for (int attempt = 0;; ++attempt) {
            if (shas[id].empty()) {
                const std::string body = std::string(kPreamble) + kScriptBodies[id];
                Reply loaded = command({"SCRIPT", "LOAD", body}, context);
                shas[id] = std::string(text_of(loaded.get()));
            }
            words[1] = shas[id];
            Reply r = raw(words, context);
            if (r->type == REDIS_REPLY_ERROR && text_of(r.get()).starts_with("NOSCRIPT") &&
                attempt == 0) {
                shas[id].clear();
                continue;
            }
            if (r->type == REDIS_REPLY_ERROR) fail_with(r.get(), context);
            return r;
        }
    }

    // A write script's {result, undo}: keeps the undo inside a batch and
    // returns the result.
    const redisReply* write(ScriptId id, const Words& args, std::string_view context,
                            Reply& holder) {
        holder = script(id, args, context);
        const redisReply* r = holder.get();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[1]->type != REDIS_REPLY_ARRAY)
            throw StoreError("redis: odd script reply [" + std::string(context) + "]");
        if (in_batch && r->element[1]->elements > 0) {
            std::vector<Words> group;
            for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
                const redisReply* op = r->element[1]->element[i];
                Words words;
                for (std::size_t j = 0; j < op->elements; ++j) {
                    const redisReply* w = op->element[j];
                    words.push_back(w->type == REDIS_REPLY_INTEGER ? std::to_string(w->integer)
                                                                   : std::string(text_of(w)));
                }
                group.push_back(std::move(words));
            }
            undo.push_back(std::move(group));
        }
        return r->element[0];
    }

    bool write_flag(ScriptId id, const Words& args, std::string_view context) {
        Reply holder;
        const redisReply* r = write(id, args, context, holder);
        return r->type == REDIS_REPLY_INTEGER && r->integer != 0;
    }

    std::string key(std::string_view kind, std::string_view id = {}) const {
        std::string k = settings.prefix;
        k += kind;
        k += id;
        return k;
    }

    std::optional<Visitor> visitor(std::string_view id) {
        Words words{"HMGET", key("visitor:", id)};
        words.insert(words.end(), kVisitorFields.begin(), kVisitorFields.end());
        Reply r = command(words, "visitor");
        Fields f(r.get(), "visitor");
        if (!f.exists()) return std::nullopt;
        return read_visitor(f);
    }

    // Whole conversations for `ids`, in that order.
    std::vector<Conversation> conversations(const std::vector<std::string>& ids,
                                            std::string_view context) {
        std::vector<Words> commands;
        commands.reserve(ids.size());
        for (const auto& id : ids) {
            Words words{"HMGET", key("conv:", id)};
            words.insert(words.end(), kConversationFields.begin(), kConversationFields.end());
            commands.push_back(std::move(words));
        }
        auto replies = pipeline(commands, context);
        return records<Conversation>(replies, read_conversation, context);
    }

    // The members of an array reply.
    static std::vector<std::string> members(const redisReply* r) {
        std::vector<std::string> out;
        if (r->type != REDIS_REPLY_ARRAY) return out;
        out.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i) out.emplace_back(text_of(r->element[i]));
        return out;
    }

    std::vector<Conversation> conversations_in(const Words& zrange, std::string_view context) {
        Reply r = command(zrange, context);
        return conversations(members(r.get()), context);
    }
};

RedisStore::RedisStore(RedisStoreSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}

RedisStore::~RedisStore() {
    try {
        rollback_batch();
    } catch (const std::exception&) {  // nothing more to do: see the header
    }
}

void RedisStore::set_fence_token(std::string token) {
    if (!impl_->settings.fence) throw StoreError("redis: set_fence_token() without a fence");
    impl_->settings.fence->token = std::move(token);
}

// ---- batches ---------------------------------------------------------------

void RedisStore::begin_batch() {
    Impl& s = *impl_;
    if (s.in_batch) throw StoreError("redis: begin_batch() while a batch is open");
    s.undo.clear();
    s.in_batch = true;
}

void RedisStore::commit_batch() {
    Impl& s = *impl_;
    if (!s.in_batch) throw StoreError("redis: commit_batch() without an open batch");
    s.undo.clear();
    s.in_batch = false;
}

void RedisStore::rollback_batch() {
    Impl& s = *impl_;
    if (!s.in_batch) return;
    // The batch ends whatever happens next: a failed undo cannot be retried
    // safely once other writes may have followed.
    std::vector<std::vector<Words>> undo = std::move(s.undo);
    s.undo.clear();
    s.in_batch = false;
    Words args;
    for (auto group = undo.rbegin(); group != undo.rend(); ++group) {
        for (const auto& op : *group) {
            args.push_back(std::to_string(op.size()));
            args.insert(args.end(), op.begin(), op.end());
        }
    }
    if (args.empty()) return;
    try {
        s.script(kUndoScript, args, "rollback_batch");
    } catch (const StoreError& e) {
        throw StoreError(std::string(e.what()) + " (the batch's writes may remain)");
    }
}

bool RedisStore::in_batch() const {
    return impl_->in_batch;
}

// ---- visitors --------------------------------------------------------------

void RedisStore::create_visitor(const Visitor& v) {
    const std::string attributes = attributes_to_json(v.attributes);
    // clang-format off
    Words args{v.id, v.token_hash, v.external_id,
               "id",         v.id,
               "token_hash", v.token_hash,
               "created",    number(v.created)};
    // clang-format on
    const Words context = visitor_context(v, attributes);
    args.insert(args.end(), context.begin(), context.end());
    impl_->write_flag(kCreateVisitorScript, args, "create_visitor");
}

std::optional<Visitor> RedisStore::visitor(std::string_view id) {
    return impl_->visitor(id);
}

std::optional<Visitor> RedisStore::visitor_by_token_hash(std::string_view token_hash) {
    Impl& s = *impl_;
    Reply r = s.command({"HGET", s.key("visitors-by-token"), std::string(token_hash)},
                        "visitor_by_token_hash");
    if (r->type != REDIS_REPLY_STRING) return std::nullopt;
    auto v = s.visitor(text_of(r.get()));
    if (v && v->token_hash != token_hash) return std::nullopt;  // an index out of step
    return v;
}

void RedisStore::update_visitor(const Visitor& v) {
    const std::string attributes = attributes_to_json(v.attributes);
    Words args{v.id, v.external_id};
    const Words context = visitor_context(v, attributes);
    args.insert(args.end(), context.begin(), context.end());
    impl_->write_flag(kUpdateVisitorScript, args, "update_visitor");
}

// ---- conversations ---------------------------------------------------------

void RedisStore::create_conversation(const Conversation& c) {
    // clang-format off
    Words args{c.id, c.visitor_id, number(c.created), negated(c.created),
               c.state == ConvState::closed ? "0" : "1",
               "id",         c.id,
               "visitor_id", c.visitor_id,
               "created",    number(c.created),
               "last_seq",   "0"};
    // clang-format on
    const Words fields = conversation_fields(c);
    args.insert(args.end(), fields.begin(), fields.end());
    impl_->write_flag(kCreateConversationScript, args, "create_conversation");
}

std::optional<Conversation> RedisStore::conversation(std::string_view id) {
    auto found = impl_->conversations({std::string(id)}, "conversation");
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
}

void RedisStore::update_conversation(const Conversation& c) {
    Words args{c.id, std::string(proto::to_string(ConvState::closed))};
    const Words fields = conversation_fields(c);
    args.insert(args.end(), fields.begin(), fields.end());
    impl_->write_flag(kUpdateConversationScript, args, "update_conversation");
}

std::vector<Conversation> RedisStore::conversations_of_visitor(std::string_view visitor_id) {
    Impl& s = *impl_;
    return s.conversations_in({"ZRANGE", s.key("visitor-convs:", visitor_id), "0", "-1"},
                              "conversations_of_visitor");
}

std::vector<Conversation> RedisStore::open_conversations() {
    Impl& s = *impl_;
    return s.conversations_in({"ZRANGE", s.key("convs-open"), "0", "-1"}, "open_conversations");
}

std::vector<Conversation> RedisStore::history_of_visitor(std::string_view visitor_id,
                                                         std::size_t limit) {
    Impl& s = *impl_;
    constexpr std::string_view context = "history_of_visitor";
    if (limit == 0) return {};
    // The visitor itself, plus every visitor sharing its non-empty external_id.
    std::vector<std::string> visitors{std::string(visitor_id)};
    Reply external = s.command({"HGET", s.key("visitor:", visitor_id), "external_id"}, context);
    if (external->type == REDIS_REPLY_STRING && external->len > 0) {
        Reply same = s.command(
            {"SMEMBERS", s.key("visitors-by-external:", text_of(external.get()))}, context);
        for (auto& id : Impl::members(same.get()))
            if (id != visitor_id) visitors.push_back(std::move(id));
    }
    // The newest `limit` of each, merged: score (-created) then id.
    std::vector<Words> commands;
    for (const auto& id : visitors)
        commands.push_back(
            {"ZRANGE", s.key("visitor-convs:", id), "0", stop_for(limit), "WITHSCORES"});
    auto replies = s.pipeline(commands, context);
    std::vector<std::pair<double, std::string>> found;
    for (const auto& r : replies) {
        const auto words = Impl::members(r.get());
        for (std::size_t i = 0; i + 1 < words.size(); i += 2)
            found.emplace_back(parse_number<double>(words[i + 1], context), words[i]);
    }
    std::sort(found.begin(), found.end());
    if (found.size() > limit) found.resize(limit);
    std::vector<std::string> ids;
    ids.reserve(found.size());
    for (auto& [score, id] : found) ids.push_back(std::move(id));
    return s.conversations(ids, context);
}

std::vector<Conversation> RedisStore::conversations_since(core::TimeMs since) {
    Impl& s = *impl_;
    return s.conversations_in(
        {"ZRANGE", s.key("convs-by-created"), number(since), "+inf", "BYSCORE"},
        "conversations_since");
}

// ---- messages --------------------------------------------------------------

AppendOutcome RedisStore::append(const NewMessage& m) {
    Impl& s = *impl_;
    // clang-format off
    const Words args{m.conv, m.author_id, m.client_id,
                     "from",        std::string(proto::to_string(m.from)),
                     "author_id",   m.author_id,
                     "author_name", m.author_name,
                     "client_id",   m.client_id,
                     "text",        m.text,
                     "ts",          number(m.ts),
                     "internal",    m.internal ? "1" : "0"};
    // clang-format on
    Reply holder;
    const redisReply* r = s.write(kAppendScript, args, "append", holder);
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        throw StoreError("redis: odd reply to append");
    const std::uint64_t seq = u64_of(r->element[0], "append's seq");
    if (r->elements == 2) return AppendOutcome{read_message(m.conv, seq, r->element[1]), true};
    return AppendOutcome{StoredMessage{m.conv, seq, m.from, m.author_id, m.author_name, m.client_id,
                                       m.text, m.ts, m.internal},
                         false};
}

std::vector<StoredMessage> RedisStore::messages_after(std::string_view conv,
                                                      std::uint64_t after_seq, std::size_t limit) {
    Impl& s = *impl_;
    if (limit == 0 || after_seq == std::numeric_limits<std::uint64_t>::max()) return {};
    const auto count = std::min<std::size_t>(
        limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
    Reply r = s.command({"XRANGE", s.key("conv-log:", conv), number(after_seq + 1) + "-0", "+",
                         "COUNT", number(static_cast<std::uint64_t>(count))},
                        "messages_after");
    std::vector<StoredMessage> out;
    if (r->type != REDIS_REPLY_ARRAY) return out;
    out.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) {
        const redisReply* entry = r->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
            throw StoreError("redis: odd stream entry in " + std::string(conv));
        std::string_view id = text_of(entry->element[0]);
        id = id.substr(0, id.find('-'));
        out.push_back(read_message(conv, parse_number<std::uint64_t>(id, "a stream entry id"),
                                   entry->element[1]));
    }
    return out;
}

// ---- offline messages ------------------------------------------------------

void RedisStore::create_offline_message(const OfflineMessage& m) {
    // clang-format off
    const Words args{m.id, negated(m.created), m.handled != 0 ? "1" : "0",
                     "id",         m.id,
                     "visitor_id", m.visitor_id,
                     "name",       m.name,
                     "email",      m.email,
                     "department", m.department,
                     "text",       m.text,
                     "created",    number(m.created),
                     "handled",    number(m.handled),
                     "handled_by", m.handled_by};
    // clang-format on
    impl_->write_flag(kCreateOfflineScript, args, "create_offline_message");
}

std::vector<OfflineMessage> RedisStore::offline_messages(bool include_handled, std::size_t limit) {
    Impl& s = *impl_;
    constexpr std::string_view context = "offline_messages";
    if (limit == 0) return {};
    Reply r = s.command({"ZRANGE", s.key(include_handled ? "offline-all" : "offline-unhandled"),
                         "0", stop_for(limit)},
                        context);
    std::vector<Words> commands;
    for (const auto& id : Impl::members(r.get())) {
        Words words{"HMGET", s.key("offline:", id)};
        words.insert(words.end(), kOfflineFields.begin(), kOfflineFields.end());
        commands.push_back(std::move(words));
    }
    auto replies = s.pipeline(commands, context);
    return records<OfflineMessage>(replies, read_offline, context);
}

bool RedisStore::mark_offline_handled(std::string_view id, std::string_view agent_id,
                                      core::TimeMs now) {
    return impl_->write_flag(
        kMarkOfflineScript,
        {std::string(id), "handled", number(now), "handled_by", std::string(agent_id)},
        "mark_offline_handled");
}

// ---- canned replies --------------------------------------------------------

std::vector<CannedReply> RedisStore::canned_replies(std::string_view agent_id) {
    Impl& s = *impl_;
    constexpr std::string_view context = "canned_replies";
    std::vector<Words> lookups{{"HVALS", s.key("canned-shortcuts:")}};
    if (!agent_id.empty()) lookups.push_back({"HVALS", s.key("canned-shortcuts:", agent_id)});
    std::vector<Words> commands;
    for (const auto& r : s.pipeline(lookups, context)) {
        for (const auto& id : Impl::members(r.get())) {
            Words words{"HMGET", s.key("canned:", id)};
            words.insert(words.end(), kCannedFields.begin(), kCannedFields.end());
            commands.push_back(std::move(words));
        }
    }
    auto replies = s.pipeline(commands, context);
    auto out = records<CannedReply>(replies, read_canned, context);
    // By shortcut, then shared ("" sorts first) before personal, then id.
    std::sort(out.begin(), out.end(), [](const CannedReply& a, const CannedReply& b) {
        return std::tie(a.shortcut, a.owner, a.id) < std::tie(b.shortcut, b.owner, b.id);
    });
    return out;
}

std::optional<CannedReply> RedisStore::canned_reply(std::string_view id) {
    Impl& s = *impl_;
    Words words{"HMGET", s.key("canned:", id)};
    words.insert(words.end(), kCannedFields.begin(), kCannedFields.end());
    Reply r = s.command(words, "canned_reply");
    Fields f(r.get(), "canned_reply");
    if (!f.exists()) return std::nullopt;
    return read_canned(f);
}

bool RedisStore::save_canned(const CannedReply& r) {
    return impl_->write_flag(kSaveCannedScript,
                             {r.id, r.owner, r.shortcut, number(r.created), "owner", r.owner,
                              "shortcut", r.shortcut, "text", r.text, "updated", number(r.updated)},
                             "save_canned");
}

bool RedisStore::delete_canned(std::string_view id) {
    return impl_->write_flag(kDeleteCannedScript, {std::string(id)}, "delete_canned");
}

std::size_t RedisStore::canned_count(std::string_view owner) {
    Impl& s = *impl_;
    Reply r = s.command({"HLEN", s.key("canned-shortcuts:", owner)}, "canned_count");
    return r->type == REDIS_REPLY_INTEGER ? static_cast<std::size_t>(r->integer) : 0;
}

}  // namespace sb::store
