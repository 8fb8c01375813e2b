// Switchboard protocol client, shared by the visitor widget and the agent console.
// Plain ES module, no dependencies, no build step. protocol/PROTOCOL.md is the
// authority on every frame; this file keeps the client half of its contracts:
//
//  - hello on every (re)connect, then resume every followed conversation from
//    the last seq seen, then resend every unacked message with its same client_id;
//  - reconnect with capped exponential backoff and jitter;
//  - incoming messages de-duplicated by (conv, seq);
//  - optional persistence (visitor: localStorage) of the resume token, each
//    conversation's transcript tail, last seq, receipts and the outbox, so that a
//    page reload resumes with nothing lost or doubled.
//
// Events (client.on(name, fn) returns an unsubscribe function):
//   status(status, prev)      'connecting' | 'online' | 'reconnecting' | 'offline'
//   welcome(frame)            after hello succeeded, before resumes are sent
//   message(msg, {replay})    a new message (never twice for one conv+seq)
//   ack(frame, entry)         one of our messages is stored; entry = outbox entry
//   conversation(frame, rec)  state change; frame.local is true when inferred here
//   typing(frame) · receipt(frame) · queue(frame) · replayed(frame)
//   queue_position(frame, rec)      visitor: place in the queue (also kept in rec.queuePos)
//   unavailable(frame, {texts})     visitor: start refused (nobody there); texts: the
//                                   unsent first messages, taken out of the outbox
//   left_message(frame, entry)      visitor: a leave_message was stored
//   presence · offer · offer_ended · offline_messages (agents): as sent
//   bot_options(frame)              visitor: the bot's quick replies for message frame.seq
//   error(frame, {entry, retry})   entry: the outbox entry it answers, if any;
//                                   retry: true when that entry will be resent
//   reset()                   the visitor identity was dropped (bad token)
//   frame(frame)              every frame, including types this file does not know;
//                             unknown types are also emitted under their own name.

export const PROTOCOL_VERSION = 1;
export const MAX_TEXT_BYTES = 16 * 1024;
export const MAX_NAME_BYTES = 128; // hello / leave_message name and email
export const CLOSE = Object.freeze({ normal: 1000, goingAway: 1001, badToken: 4001, helloTimeout: 4002, slowConsumer: 4008 });

// Errors after which the same frame is sent again later (same client_id), up
// to MAX_ATTEMPTS times with a growing delay; any other error fails the entry.
const RETRYABLE = new Set(['store_unavailable', 'rate_limited', 'internal']);
const MAX_ATTEMPTS = 20;
const STORE_VERSION = 1;

export function newClientId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID(); // secure contexts only
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/** At most max UTF-8 bytes of text, cut between characters. */
export function clipBytes(text, max) {
  text = wellFormed(text);
  if (utf8Length(text) <= max) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    n += utf8Length(ch);
    if (n > max) break;
    out += ch;
  }
  return out;
}

// Lone surrogates cannot be encoded as UTF-8; the server would refuse the frame.
export function wellFormed(text) {
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function defaultUrl(loc = globalThis.location) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

export class Emitter {
  constructor() { this._handlers = new Map(); }
  on(name, fn) {
    if (!this._handlers.has(name)) this._handlers.set(name, new Set());
    this._handlers.get(name).add(fn);
    return () => this.off(name, fn);
  }
  off(name, fn) { this._handlers.get(name)?.delete(fn); }
  emit(name, ...args) {
    for (const fn of [...(this._handlers.get(name) || [])]) {
      try { fn(...args); } catch (err) { console.error(`switchboard: "${name}" handler failed`, err); }
    }
  }
}

function newRecord(conv) {
  return {
    conv, state: 'waiting', agent_name: '', visitor_name: '', department: '',
    queuePos: null,        // visitor: last queue_position {position, estimated_wait_s, at}
    serverSeq: 0,          // last_seq as last reported by the server
    lastSeq: 0,            // highest seq received
    floor: 0,              // every seq <= floor counts as seen (trimmed or persisted history)
    messages: new Map(),   // seq -> message
    history: false,        // true: the transcript is wanted from the start (resume after 0)
    historyDone: false,    // a resume after 0 (or after floor) has completed
    replaying: false,
    peer: { delivered: 0, read: 0 },  // receipts from the other side
    mine: { delivered: 0, read: 0 },  // how far this side has received / read
    sent: { delivered: 0, read: 0 },  // how much of `mine` the server was told
    updated: 0,
  };
}

export class SwitchboardClient extends Emitter {
  /**
   * @param {object} o
   * @param {'visitor'|'agent'} o.role
   * @param {string} [o.token]   agent: sign-in token; visitor: resume token (else taken from storage)
   * @param {string} [o.name] @param {string} [o.email]  visitor identity sent in hello
   * @param {string} [o.url]     WebSocket URL (default: same host, /ws)
   * @param {Storage} [o.storage] @param {string} [o.storageKey]  persistence (visitor)
   * @param {boolean} [o.history] load every conversation's transcript from seq 0 (default: visitor)
   * @param {number} [o.keepMessages] messages kept per conversation (default 200)
   * @param {{base:number,max:number}} [o.backoff] reconnect delays in ms
   * @param {Function} [o.WebSocket] WebSocket constructor (tests)
   */
  constructor(o = {}) {
    super();
    this.role = o.role === 'agent' ? 'agent' : 'visitor';
    this.url = o.url || defaultUrl();
    this.token = o.token || '';
    this.name = o.name || '';
    this.email = o.email || '';
    this.department = ''; // visitor: the department asked for in the next start
    this.locale = o.locale || ''; // visitor: start.locale, the language hint for the bot
    this.id = '';
    this.displayName = '';
    this.storage = o.storage || null;
    this.storageKey = o.storageKey || 'switchboard';
    this.historyByDefault = o.history ?? this.role === 'visitor';
    this.keepMessages = o.keepMessages || 200;
    this.backoff = { base: 500, max: 30000, ...o.backoff };
    this.connectTimeout = o.connectTimeout || 10000;
    this.WebSocket = o.WebSocket || globalThis.WebSocket;

    this.status = 'offline';
    this.ready = false;           // welcome received on the current socket
    this.convs = new Map();       // conv -> record
    this.outbox = new Map();      // client_id -> {type:'message'|'start'|'leave'|'suggestion', conv, client_id, text, created, attempts}
    this.queue = [];
    this._ws = null;
    this._socketNo = 0;
    this._attempt = 0;
    this._stopped = true;
    this._everOnline = false;
    this._badToken = false;
    this._timers = new Set();
    this._reconnectTimer = null;
    this._receiptTimer = null;
    this._load();
    if (o.token) this.token = o.token;
    // State is saved on every change (no save on unload: that would overwrite
    // what another tab of the same visitor stored meanwhile).
    if (typeof addEventListener === 'function') {
      addEventListener('online', () => { if (this._reconnectTimer) this._reconnectNow(); });
    }
  }

  // ---- connection ----------------------------------------------------------

  connect() {
    this._stopped = false;
    if (!this._ws && !this._reconnectTimer) this._open();
  }

  disconnect() {
    this._stopped = true;
    this._clearReconnect();
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
    const ws = this._ws;
    this._drop();
    if (ws) try { ws.close(CLOSE.normal); } catch { /* already closed */ }
    this._setStatus('offline');
  }

  setIdentity({ name, email } = {}) {
    if (name !== undefined) this.name = clipBytes(String(name).trim(), MAX_NAME_BYTES);
    if (email !== undefined) this.email = clipBytes(String(email).trim(), MAX_NAME_BYTES);
    this._save();
  }

  _open() {
    // 'connecting': the very first attempt; 'reconnecting': any retry after a drop or a failure.
    this._setStatus(this._everOnline || this._attempt > 0 ? 'reconnecting' : 'connecting');
    let ws;
    try { ws = new this.WebSocket(this.url); } catch (err) {
      console.warn('switchboard: cannot open WebSocket', err);
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    const no = ++this._socketNo;
    // Covers both the TCP/upgrade and the hello -> welcome exchange. Gives up on
    // the socket at once: a close handshake with a dead server can take minutes.
    this._welcomeTimer = setTimeout(() => {
      if (this._ws !== ws) return;
      try { ws.close(); } catch { /* not open yet */ }
      this._onClose(0);
    }, this.connectTimeout);
    ws.onopen = () => {
      if (this._ws !== ws) return;
      const hello = { type: 'hello', version: PROTOCOL_VERSION, role: this.role };
      if (this.token) hello.token = this.token;
      if (this.role === 'visitor' && this.name) hello.name = this.name;
      if (this.role === 'visitor' && this.email) hello.email = this.email;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      if (this._ws !== ws || typeof ev.data !== 'string') return;
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (frame && typeof frame === 'object' && typeof frame.type === 'string') this._handle(frame, no);
    };
    ws.onerror = () => {}; // a close event always follows
    ws.onclose = (ev) => { if (this._ws === ws) this._onClose(ev.code); };
  }

  _drop() {
    clearTimeout(this._welcomeTimer);
    if (this._ws) { this._ws.onopen = this._ws.onmessage = this._ws.onclose = null; }
    this._ws = null;
    this.ready = false;
    for (const rec of this.convs.values()) rec.replaying = false;
  }

  _onClose(code) {
    this._drop();
    if (this._stopped) { this._setStatus('offline'); return; }
    if (code === CLOSE.badToken || this._badToken) {
      const hadError = this._badToken;
      this._badToken = false;
      if (!hadError) this.emit('error', { type: 'error', code: 'bad_token', message: 'token rejected' }, {});
      if (this.role === 'agent') {
        // An agent must sign in again: stop here, the console shows its sign-in form.
        this._stopped = true;
        this.token = '';
        this._setStatus('offline');
        return;
      }
      this._resetVisitor();
      this._attempt = 0;
    }
    // A node going away drops all its clients at once: spread them over 1-2 s.
    if (code === CLOSE.goingAway) this._attempt = Math.max(this._attempt, 2);
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    this._setStatus('reconnecting');
    const exp = Math.min(this.backoff.max, this.backoff.base * 2 ** this._attempt);
    this._attempt = Math.min(this._attempt + 1, 30);
    const delay = exp / 2 + Math.random() * (exp / 2); // "equal jitter": never 0, never in lock-step
    this._reconnectTimer = setTimeout(() => { this._reconnectTimer = null; this._open(); }, delay);
  }

  _reconnectNow() {
    this._clearReconnect();
    if (!this._stopped && !this._ws) this._open();
  }

  _clearReconnect() {
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  _setStatus(status) {
    if (status === this.status) return;
    const prev = this.status;
    this.status = status;
    this.emit('status', status, prev);
  }

  _send(frame) {
    if (!this._ws || this._ws.readyState !== 1) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  // A visitor whose token was refused starts over as a new visitor: its old
  // conversations are not reachable any more. Unsent first messages survive.
  _resetVisitor() {
    this.token = '';
    this.convs.clear();
    for (const [id, e] of this.outbox) if (e.conv) this.outbox.delete(id);
    this._save();
    this.emit('reset');
  }

  // ---- incoming ------------------------------------------------------------

  _handle(f, socketNo) {
    this.emit('frame', f);
    switch (f.type) {
      case 'welcome': return this._onWelcome(f, socketNo);
      case 'ack': return this._onAck(f);
      case 'message': return this._onMessage(f);
      case 'conversation': return this._onConversation(f);
      case 'replayed': return this._onReplayed(f);
      case 'receipt': return this._onReceipt(f);
      case 'typing': return this.emit('typing', f);
      case 'queue':
        this.queue = Array.isArray(f.waiting) ? f.waiting : [];
        return this.emit('queue', f);
      case 'error': return this._onError(f);
      case 'queue_position': return this._onQueuePosition(f);
      case 'unavailable': return this._onUnavailable(f);
      case 'left_message': return this._onLeftMessage(f);
      default: return this.emit(f.type, f); // forward compatible: new server events
    }
  }

  _onWelcome(f, socketNo) {
    clearTimeout(this._welcomeTimer);
    this.ready = true;
    this._everOnline = true;
    this._attempt = 0;
    this.id = f.id || '';
    this.displayName = f.name || ''; // this.name stays what we send in hello
    if (this.role === 'visitor' && f.token) this.token = f.token;
    const open = new Set();
    for (const s of f.conversations || []) open.add(this._merge(s).rec.conv);
    // welcome lists the open conversations only: one we thought open closed
    // while we were away. Still resume it once, for the messages we missed.
    const endedAway = [...this.convs.values()].filter((r) => r.state !== 'closed' && !open.has(r.conv));
    for (const rec of endedAway) {
      this._onConversation({ type: 'conversation', conv: rec.conv, state: 'closed', reason: 'closed_while_away', local: true });
    }
    this._save();
    this.emit('welcome', f);
    if (socketNo !== this._socketNo) return;
    for (const rec of this.convs.values()) if (rec.state !== 'closed' || endedAway.includes(rec)) this._resumeRecord(rec);
    this._flushOutbox();
    this._flushReceipts();
    this._setStatus('online');
  }

  _merge(s) {
    let rec = this.convs.get(s.conv);
    const isNew = !rec;
    if (isNew) {
      rec = newRecord(s.conv);
      rec.history = this.historyByDefault;
      this.convs.set(s.conv, rec);
    }
    if (s.state) rec.state = s.state;
    if (s.agent_name !== undefined) rec.agent_name = s.agent_name;
    if (s.visitor_name !== undefined) rec.visitor_name = s.visitor_name;
    if (typeof s.department === 'string') rec.department = s.department;
    if (rec.state !== 'waiting') rec.queuePos = null;
    if (Number.isFinite(s.last_seq)) rec.serverSeq = Math.max(rec.serverSeq, s.last_seq);
    rec.updated = Date.now();
    return { rec, isNew };
  }

  // resume from where this client stands: from 0 when the transcript is wanted and
  // not loaded yet, else from the last seq seen (or the server's, to only follow).
  _resumeRecord(rec) {
    let after;
    if (rec.history && !rec.historyDone) after = rec.floor;
    else after = Math.max(rec.lastSeq, rec.floor, rec.history ? 0 : rec.serverSeq);
    rec.resumeAfter = after;
    rec.replaying = this._send({ type: 'resume', conv: rec.conv, after });
  }

  _onAck(f) {
    const entry = this.outbox.get(f.client_id);
    if (entry && entry.conv === f.conv) this.outbox.delete(f.client_id);
    this._save();
    this.emit('ack', f, entry);
  }

  _onMessage(f) {
    if (!f.conv || !Number.isFinite(f.seq)) return;
    const rec = this.convs.get(f.conv) || this._merge({ conv: f.conv }).rec;
    if (f.seq <= rec.floor || rec.messages.has(f.seq)) return; // duplicate
    // Internal messages (transfer notes) are for agents; the server never sends
    // them to visitors, and a visitor client drops one all the same.
    if (f.internal === true && this.role !== 'agent') return;
    const msg = { conv: f.conv, seq: f.seq, from: f.from, author: f.author || '', client_id: f.client_id || '', text: String(f.text ?? ''), ts: f.ts || 0 };
    if (f.internal === true) msg.internal = true;
    rec.messages.set(f.seq, msg);
    rec.lastSeq = Math.max(rec.lastSeq, f.seq);
    rec.serverSeq = Math.max(rec.serverSeq, f.seq);
    rec.updated = Date.now();
    if (f.client_id && f.from === this.role) {
      const entry = this.outbox.get(f.client_id);
      if (entry && entry.conv === f.conv) this.outbox.delete(f.client_id); // stored: as good as an ack
    }
    this._trim(rec);
    this._save();
    this.emit('message', msg, { replay: rec.replaying });
  }

  _trim(rec) {
    if (rec.messages.size <= this.keepMessages) return;
    const seqs = [...rec.messages.keys()].sort((a, b) => a - b);
    for (const seq of seqs.slice(0, seqs.length - this.keepMessages)) {
      rec.messages.delete(seq);
      rec.floor = Math.max(rec.floor, seq);
    }
  }

  _onConversation(f) {
    if (!f.conv) return;
    const { rec, isNew } = this._merge(f);
    let start = f.client_id && this.outbox.get(f.client_id);
    if (start?.type === 'start') {
      // The answer to our start: bind the messages typed before it existed. The
      // start's own text is a message of the conversation now, under the same
      // client_id, kept until acked (resent as a message after a reconnect).
      const { department, locale, ...first } = start;
      this.outbox = new Map([...this.outbox].flatMap(([id, e]) => (id !== f.client_id ? [[id, e]]
        : start.text && rec.state !== 'closed' ? [[id, { ...first, type: 'message', conv: f.conv }]] : [])));
      for (const e of this.outbox.values()) if (e.type === 'message' && !e.conv) e.conv = f.conv;
    } else start = null;
    const dropped = [];
    if (rec.state === 'closed') {
      for (const [id, e] of this.outbox) if (e.conv === f.conv) { this.outbox.delete(id); dropped.push(e); }
    } else if (isNew && this.ready) {
      // Follow every open conversation we learn of (and fetch its transcript
      // when history is wanted); resume is idempotent, duplicates are dropped.
      this._resumeRecord(rec);
    }
    this._save();
    this.emit('conversation', f, rec);
    for (const entry of dropped) { // unsent messages to a conversation that is over
      this.emit('error', { type: 'error', code: 'conv_closed', message: 'conversation closed', conv: f.conv, client_id: entry.client_id, local: true }, { entry, retry: false });
    }
    if (start) this._flushOutbox();
  }

  _onReplayed(f) {
    const rec = this.convs.get(f.conv);
    if (rec) {
      rec.replaying = false;
      if (Number.isFinite(f.last_seq)) {
        rec.lastSeq = Math.max(rec.lastSeq, f.last_seq);
        rec.serverSeq = Math.max(rec.serverSeq, f.last_seq);
      }
      if (rec.resumeAfter <= rec.floor) rec.historyDone = true;
      this._save();
    }
    this.emit('replayed', f, rec);
  }

  _onReceipt(f) {
    const rec = this.convs.get(f.conv);
    if (rec && (f.kind === 'delivered' || f.kind === 'read') && Number.isFinite(f.seq)) {
      // by our own role: another tab / session of ours already told the server
      for (const side of f.by === this.role ? [rec.mine, rec.sent] : [rec.peer]) {
        side[f.kind] = Math.max(side[f.kind], f.seq);
        if (f.kind === 'read') side.delivered = Math.max(side.delivered, f.seq);
      }
      this._save();
    }
    this.emit('receipt', f, rec);
  }

  _onQueuePosition(f) {
    const rec = f.conv && this.convs.get(f.conv);
    if (rec && rec.state === 'waiting' && Number.isFinite(f.position)) {
      rec.queuePos = { position: f.position, estimated_wait_s: Number.isFinite(f.estimated_wait_s) ? f.estimated_wait_s : -1, at: Date.now() };
      this._save();
    }
    this.emit('queue_position', f, rec);
  }

  // No conversation was opened: drop the start (it must not be resent) and hand
  // the messages typed for it back to the app (the leave-a-message form).
  _onUnavailable(f) {
    const entry = f.client_id && this.outbox.get(f.client_id);
    const texts = [];
    if (!f.client_id || entry?.type === 'start') {
      for (const [id, e] of this.outbox) {
        if (e.type === 'start' || (e.type === 'message' && !e.conv)) {
          if (e.text) texts.push(e.text);
          this.outbox.delete(id);
        }
      }
      this._save();
    }
    this.emit('unavailable', f, { texts });
  }

  _onLeftMessage(f) {
    const entry = f.client_id ? this.outbox.get(f.client_id) : undefined;
    if (entry?.type === 'leave') {
      this.outbox.delete(f.client_id);
      this._save();
    }
    this.emit('left_message', f, entry);
  }

  _onError(f) {
    if (f.code === 'bad_token') this._badToken = true;
    const entry = f.client_id ? this.outbox.get(f.client_id) : undefined;
    let retry = false;
    if (entry) {
      entry.attempts = (entry.attempts || 0) + 1;
      if (RETRYABLE.has(f.code) && entry.attempts < MAX_ATTEMPTS) {
        retry = true;
        entry.socket = 0;
        const delay = Math.min(30000, 1000 * 2 ** Math.min(entry.attempts - 1, 5)) * (0.5 + Math.random() / 2);
        entry.notBefore = Date.now() + delay;
        this._later(delay, () => { entry.notBefore = 0; this._flushOutbox(); });
      } else {
        this.outbox.delete(f.client_id);
        this._save();
      }
    }
    const rec = f.conv && this.convs.get(f.conv);
    if (rec && !f.client_id && rec.state !== 'closed' && ['conv_closed', 'not_found', 'forbidden'].includes(f.code)) {
      // The conversation ended (or left our hands) while we were away.
      rec.replaying = false;
      this._onConversation({ type: 'conversation', conv: f.conv, state: 'closed', reason: f.code, local: true });
    }
    this.emit('error', f, { entry, retry });
  }

  _later(delay, fn) {
    const t = setTimeout(() => { this._timers.delete(t); fn(); }, delay);
    this._timers.add(t);
  }

  // ---- outgoing ------------------------------------------------------------

  /** Queue a message; it is (re)sent until acked. conv may be null for a visitor
   *  with no open conversation yet: one is started first, carrying this text as
   *  its first message (start.text: the router, the queue and offers see it).
   *  Returns the outbox entry. */
  send(conv, text) {
    text = wellFormed(String(text ?? ''));
    if (!text.trim()) throw new RangeError('empty message');
    if (utf8Length(text) > MAX_TEXT_BYTES) throw new RangeError('message too long');
    if (!conv && ![...this.outbox.values()].some((e) => e.type === 'start')) return this._ensureStart(text);
    const entry = { type: 'message', conv: conv || null, client_id: newClientId(), text, created: Date.now(), attempts: 0, socket: 0 };
    this.outbox.set(entry.client_id, entry);
    if (!entry.conv) this._ensureStart();
    this._save();
    this._flushOutbox();
    return entry;
  }

  /** Visitor: open a conversation (or get the open one back). */
  start() { return this._ensureStart(); }

  _ensureStart(text = '') {
    for (const e of this.outbox.values()) if (e.type === 'start') return e;
    const entry = { type: 'start', conv: null, client_id: newClientId(), created: Date.now(), attempts: 0, socket: 0 };
    if (text) entry.text = text;
    if (this.department) entry.department = this.department;
    if (this.locale) entry.locale = this.locale;
    this.outbox.set(entry.client_id, entry);
    this._save();
    this._flushOutbox();
    return entry;
  }

  /** Drop a message that failed for good (or that the user discarded). */
  discard(clientId) {
    this.outbox.delete(clientId);
    this._save();
  }

  _flushOutbox() {
    if (!this.ready) return;
    const now = Date.now();
    for (const e of this.outbox.values()) {
      if (e.socket === this._socketNo || (e.notBefore && e.notBefore > now)) continue; // sent, or backing off
      if (e.type === 'start') {
        const f = { type: 'start', client_id: e.client_id };
        if (e.text) f.text = e.text;
        if (e.department) f.department = e.department;
        if (e.locale) f.locale = e.locale;
        if (this._send(f)) e.socket = this._socketNo;
      } else if (e.type === 'leave') {
        const f = { type: 'leave_message', client_id: e.client_id, email: e.email, text: e.text };
        if (e.name) f.name = e.name;
        if (e.department) f.department = e.department;
        if (this._send(f)) e.socket = this._socketNo;
      } else if (e.conv) {
        const f = { type: e.type, conv: e.conv, client_id: e.client_id, text: e.text };
        if (e.type === 'suggestion') f.entry = e.entry;
        if (this._send(f)) e.socket = this._socketNo;
      }
    }
  }

  /** Replay a conversation from its start and follow it (console: on first open). */
  load(conv) {
    const rec = this.convs.get(conv) || this._merge({ conv }).rec;
    rec.history = true;
    if (rec.historyDone || (rec.replaying && rec.resumeAfter <= rec.floor)) return; // loaded, or loading
    if (this.ready) this._resumeRecord(rec);
  }

  resume(conv, after) {
    const rec = this.convs.get(conv);
    if (rec) { rec.resumeAfter = after; rec.replaying = true; }
    return this._send({ type: 'resume', conv, after });
  }

  /** Visitor: store an offline message (sent until answered, same client_id). */
  leaveMessage({ name = '', email, text, department = '' }) {
    const entry = { type: 'leave', conv: null, client_id: newClientId(), name: clipBytes(String(name).trim(), MAX_NAME_BYTES),
      email: String(email).trim(), text: wellFormed(String(text)), department, created: Date.now(), attempts: 0, socket: 0 };
    this.outbox.set(entry.client_id, entry);
    this._save();
    this._flushOutbox();
    return entry;
  }

  /** Visitor, bot: a quick reply (bot_options suggestion), stored as our message;
   *  sent until acked like a message. Returns the outbox entry. */
  suggest(conv, entry, text) {
    const e = { type: 'suggestion', conv, client_id: newClientId(), entry, text: wellFormed(String(text)), created: Date.now(), attempts: 0, socket: 0 };
    this.outbox.set(e.client_id, e);
    this._save();
    this._flushOutbox();
    return e;
  }

  feedback(conv, helpful) { return this._send({ type: 'feedback', conv, helpful: !!helpful }); }
  handoff(conv) { return this._send({ type: 'handoff', conv }); }
  typing(conv, on) { return conv ? this._send({ type: 'typing', conv, on: !!on }) : false; }
  take() { return this._send({ type: 'take' }); }
  close(conv) { return this._send({ type: 'close', conv }); }
  // agents (routing)
  presence(status) { return this._send({ type: 'presence', status }); }
  accept(conv) { return this._send({ type: 'accept', conv }); }
  decline(conv) { return this._send({ type: 'decline', conv }); }
  /** to: {agent} or {department}; note: optional text for the receiving agent. */
  transfer(conv, to, note = '') {
    const f = { type: 'transfer', conv };
    if (to.agent) f.to_agent = to.agent; else f.to_department = to.department;
    if (note && note.trim()) f.note = wellFormed(note);
    return this._send(f);
  }
  offlineList() { return this._send({ type: 'offline_list' }); }
  offlineHandled(id) { return this._send({ type: 'offline_handled', id }); }

  /** Mark everything from the other side as delivered / read; the receipt is
   *  coalesced (one frame per 250 ms at most) and sent when online. Returns
   *  true when this changed anything (so unread counts changed). */
  markUpTo(conv, kind) {
    const rec = this.convs.get(conv);
    if (!rec) return false;
    const seq = this.newestFromOthers(conv);
    if (seq <= rec.mine[kind]) return false;
    rec.mine[kind] = seq;
    if (kind === 'read') rec.mine.delivered = Math.max(rec.mine.delivered, seq);
    this._save();
    if (!this._receiptTimer) {
      this._receiptTimer = setTimeout(() => { this._receiptTimer = null; this._flushReceipts(); }, 250);
    }
    return true;
  }

  _flushReceipts() {
    if (!this.ready) return;
    for (const rec of this.convs.values()) {
      if (rec.state === 'closed') continue;
      for (const kind of ['read', 'delivered']) {
        const seq = rec.mine[kind];
        if (seq > rec.sent[kind] && this._send({ type: 'receipt', conv: rec.conv, kind, seq })) {
          rec.sent[kind] = seq;
          if (kind === 'read') rec.sent.delivered = Math.max(rec.sent.delivered, seq);
        }
      }
    }
    this._save();
  }

  // ---- queries ---------------------------------------------------------------

  conversation(conv) { return this.convs.get(conv); }

  /** Messages of a conversation, oldest first. */
  messages(conv) {
    const rec = this.convs.get(conv);
    return rec ? [...rec.messages.values()].sort((a, b) => a.seq - b.seq) : [];
  }

  /** Unacked messages for conv (null: those waiting for a conversation to start). */
  pending(conv) {
    return [...this.outbox.values()].filter((e) => ((e.type === 'message' || e.type === 'suggestion') && e.conv === (conv || null)) ||
      (!conv && e.type === 'start' && e.text));
  }

  newestFromOthers(conv) {
    let max = 0;
    for (const m of this.convs.get(conv)?.messages.values() || []) if (m.from !== this.role && m.seq > max) max = m.seq;
    return max;
  }

  /** Messages from the other side (not system) newer than our last read receipt. */
  unread(conv) {
    const rec = this.convs.get(conv);
    if (!rec) return 0;
    let n = 0;
    for (const m of rec.messages.values()) if (m.from !== this.role && m.from !== 'system' && m.seq > rec.mine.read) n++;
    return n;
  }

  /** Forget a conversation locally (visitor: after "start a new chat"). */
  forget(conv) {
    this.convs.delete(conv);
    this._save();
  }

  // ---- persistence -----------------------------------------------------------

  _load() {
    if (!this.storage) return;
    let data;
    try { data = JSON.parse(this.storage.getItem(this.storageKey) || 'null'); } catch { data = null; }
    if (!data || data.v !== STORE_VERSION) return;
    this.token = data.token || '';
    this.name = data.name || this.name;
    this.email = data.email || this.email;
    this.department = data.department || this.department;
    for (const c of data.convs || []) {
      const rec = Object.assign(newRecord(c.conv), c, { messages: new Map(), replaying: false });
      for (const m of c.messages || []) rec.messages.set(m.seq, m);
      this.convs.set(rec.conv, rec);
    }
    for (const e of data.outbox || []) this.outbox.set(e.client_id, { ...e, socket: 0, notBefore: 0 });
  }

  _save() {
    if (!this.storage) return;
    const convs = [...this.convs.values()].map((r) => ({
      conv: r.conv, state: r.state, agent_name: r.agent_name, visitor_name: r.visitor_name, department: r.department, queuePos: r.queuePos,
      serverSeq: r.serverSeq, lastSeq: r.lastSeq, floor: r.floor, history: r.history,
      historyDone: r.historyDone, peer: r.peer, mine: r.mine, sent: r.sent, updated: r.updated,
      messages: this.messages(r.conv),
    }));
    const outbox = [...this.outbox.values()].map(({ socket, ...e }) => e);
    const data = { v: STORE_VERSION, token: this.token, name: this.name, email: this.email, department: this.department, convs, outbox };
    for (let keep = this.keepMessages; ; keep = Math.floor(keep / 2)) {
      try {
        this.storage.setItem(this.storageKey, JSON.stringify(data));
        return;
      } catch (err) {
        if (keep < 1) { console.warn('switchboard: cannot persist state', err); return; }
        for (const c of data.convs) {
          const cut = c.messages.splice(0, Math.max(0, c.messages.length - keep));
          if (cut.length) c.floor = Math.max(c.floor, cut[cut.length - 1].seq);
        }
      }
    }
  }

  clearStorage() {
    try { this.storage?.removeItem(this.storageKey); } catch { /* ignore */ }
  }
}

/** Sends typing on/off for one input: on at the first keystroke, off after
 *  `idle` ms without one (or at once on stop()). */
export class TypingNotifier {
  constructor(client, { idle = 3000, refresh = 10000 } = {}) {
    this.client = client;
    this.idle = idle;
    this.refresh = refresh; // re-send "on" while typing goes on, in case it was missed
    this.conv = null;
    this.sentAt = 0;
    this.timer = null;
  }

  input(conv) {
    if (!conv) return;
    if (this.conv && this.conv !== conv) this.stop();
    const now = Date.now();
    if (!this.conv || now - this.sentAt > this.refresh) {
      if (this.client.typing(conv, true)) { this.conv = conv; this.sentAt = now; }
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stop(), this.idle);
  }

  stop() {
    clearTimeout(this.timer);
    if (this.conv) this.client.typing(this.conv, false);
    this.conv = null;
  }
}
