// Switchboard protocol client, shared by the visitor widget and the agent console
// (no dependencies, no build step). protocol/PROTOCOL.md is the authority on every
// frame; options, events and contracts (resume, outbox, backoff, persistence):
// web-widget/README.md, "The protocol client".

export const PROTOCOL_VERSION = 1;
export const MAX_TEXT_BYTES = 16 * 1024;
export const MAX_NAME_BYTES = 128; // hello / leave_message name and email
export const CLOSE = Object.freeze({ normal: 1000, goingAway: 1001, badToken: 4001, helloTimeout: 4002, slowConsumer: 4008 });

// Errors after which the frame is resent later (same client_id); others fail it.
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
    queuePos: null,        // visitor: {position, estimated_wait_s, at}
    serverSeq: 0,          // last_seq as the server last said
    lastSeq: 0,            // highest seq received
    floor: 0,              // every seq <= floor counts as seen (trimmed history)
    messages: new Map(),   // seq -> message
    history: false,        // the transcript is wanted from seq 0
    historyDone: false,    // ... and has been replayed
    replaying: false,
    peer: { delivered: 0, read: 0 },  // the other side's receipts
    mine: { delivered: 0, read: 0 },  // ours
    sent: { delivered: 0, read: 0 },  // ours, as the server was told
    updated: 0,
  };
}

export class SwitchboardClient extends Emitter {
  constructor(o = {}) {
    super();
    this.role = o.role === 'agent' ? 'agent' : 'visitor';
    this.url = o.url || defaultUrl();
    this.token = o.token || '';
    this.name = o.name || '';
    this.email = o.email || '';
    // visitor: next start's department and locale; more hello fields (setProfile),
    // the host's user this state belongs to, welcome.verified
    this.department = '';
    this.locale = o.locale || '';
    this.profile = {};
    this.userId = '';
    this.verified = false;
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
    this.ready = false;           // welcome received on this socket
    this.convs = new Map();       // conv -> record
    this.outbox = new Map();      // client_id -> {type: message|start|leave|suggestion, conv, client_id, text, …}
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
    // Saved on every change, never on unload (it would overwrite another tab's).
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

  /** Visitor: more hello fields (user_id + signature, attributes, page, language,
   *  user_agent), fitted to the protocol's limits. Another user's state is dropped. */
  setProfile(p = {}) {
    const text = (v, max) => (typeof v === 'string' || typeof v === 'number' ? clipBytes(String(v).trim(), max) : '');
    const next = { ...this.profile };
    if ('user_id' in p) {
      const id = text(p.user_id, MAX_NAME_BYTES);
      const sig = text(p.signature, 64).toLowerCase();
      delete next.user_id;
      delete next.signature;
      if (id || sig) Object.assign(next, { user_id: id, signature: sig });
      if (this.userId && this.userId !== id) {
        this.name = this.email = '';
        this.outbox.clear();
        this._resetVisitor();
      }
      this.userId = id;
      this._save();
    }
    if ('attributes' in p) {
      const a = p.attributes && typeof p.attributes === 'object' ? p.attributes : {};
      next.attributes = Object.fromEntries(Object.entries(a).filter(([k, v]) => /^[A-Za-z0-9._:-]{1,64}$/.test(k) && text(v, 256))
        .slice(0, 20).map(([k, v]) => [k, text(v, 256)]));
    }
    for (const [k, max] of [['page', 2048], ['user_agent', 512]]) if (k in p) next[k] = text(p[k], max);
    if ('language' in p) next.language = /^[A-Za-z0-9-]{1,16}$/.test(p.language) ? p.language : '';
    for (const k in next) if (next[k] === '' || (k === 'attributes' && !Object.keys(next[k]).length)) delete next[k];
    this.profile = next;
  }

  _open() {
    // refused here, as the server would
    if ('user_id' in this.profile && !(this.profile.user_id && /^[0-9a-f]{64}$/.test(this.profile.signature))) {
      this._stopped = true;
      this._setStatus('offline');
      this.emit('error', { type: 'error', code: 'bad_signature', message: 'malformed identity', local: true }, {});
      return;
    }

    this._setStatus(this._everOnline || this._attempt > 0 ? 'reconnecting' : 'connecting');
    let ws;
    try { ws = new this.WebSocket(this.url); } catch (err) {
      console.warn('switchboard: cannot open WebSocket', err);
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    const no = ++this._socketNo;
    // Upgrade and hello -> welcome; gives up at once (closing a dead socket can take minutes).
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
      if (this.role === 'visitor') Object.assign(hello, this.profile);
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
    if (this._badSignature) { // retrying cannot help
      this._badSignature = false;
      this._stopped = true;
      this._setStatus('offline');
      return;
    }
    if (code === CLOSE.badToken || this._badToken) {
      const hadError = this._badToken;
      this._badToken = false;
      if (!hadError) this.emit('error', { type: 'error', code: 'bad_token', message: 'token rejected' }, {});
      if (this.role === 'agent') {
        // An agent must sign in again.
        this._stopped = true;
        this.token = '';
        this._setStatus('offline');
        return;
      }
      this._resetVisitor();
      this._attempt = 0;
    }
    // A node going away (or a cluster changing router) drops all its clients: spread them over 1-2 s.
    if (code === CLOSE.goingAway || code === 1012) this._attempt = Math.max(this._attempt, 2);
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    this._setStatus('reconnecting');
    const exp = Math.min(this.backoff.max, this.backoff.base * 2 ** this._attempt);
    this._attempt = Math.min(this._attempt + 1, 30);
    const delay = exp / 2 + Math.random() * (exp / 2); // "equal jitter"
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

  // One frame as it is, without delivery bookkeeping; false when not connected.
  request(frame) {
    return this.ready ? this._send(frame) : false;
  }

  _send(frame) {
    if (!this._ws || this._ws.readyState !== 1) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  // A refused visitor starts over; unsent first messages survive.
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
      case 'rated': {
        const rec = this.convs.get(f.conv);
        if (rec && Number.isInteger(f.score)) { rec.rated = f.score; this._save(); }
        return this.emit('rated', f, rec);
      }
      default: return this.emit(f.type, f); // new server events
    }
  }

  _onWelcome(f, socketNo) {
    clearTimeout(this._welcomeTimer);
    this.ready = true;
    this._everOnline = true;
    this._attempt = 0;
    this.id = f.id || '';
    this.displayName = f.name || '';
    this.verified = f.verified === true;
    if (this.role === 'visitor' && f.token) this.token = f.token;
    const open = new Set();
    for (const s of f.conversations || []) open.add(this._merge(s).rec.conv);
    // One we thought open closed while we were away: resume it once, for the tail.
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

  // From 0 when the transcript is wanted, else from the last seq seen (or the server's).
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
    // Internal notes are for agents (the server never sends one to a visitor).
    if (f.internal === true && this.role !== 'agent') return;
    const msg = { conv: f.conv, seq: f.seq, from: f.from, author: f.author || '', client_id: f.client_id || '', text: String(f.text ?? ''), ts: f.ts || 0 };
    if (f.internal === true) msg.internal = true;
    rec.messages.set(f.seq, msg);
    rec.lastSeq = Math.max(rec.lastSeq, f.seq);
    rec.serverSeq = Math.max(rec.serverSeq, f.seq);
    rec.updated = Date.now();
    if (f.client_id && f.from === this.role) {
      const entry = this.outbox.get(f.client_id);
      if (entry && entry.conv === f.conv) this.outbox.delete(f.client_id); // as good as an ack
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
      // Our start: bind the messages typed before it; its text is now a message
      // under the same client_id, kept until acked.
      const { department, locale, ...first } = start;
      this.outbox = new Map([...this.outbox].flatMap(([id, e]) => (id !== f.client_id ? [[id, e]]
        : start.text && rec.state !== 'closed' ? [[id, { ...first, type: 'message', conv: f.conv }]] : [])));
      for (const e of this.outbox.values()) if (e.type === 'message' && !e.conv) e.conv = f.conv;
    } else start = null;
    const dropped = [];
    if (rec.state === 'closed') {
      for (const [id, e] of this.outbox) if (e.conv === f.conv) { this.outbox.delete(id); dropped.push(e); }
    } else if (isNew && this.ready) {
      // Follow every open conversation we learn of (resume is idempotent).
      this._resumeRecord(rec);
    }
    this._save();
    this.emit('conversation', f, rec);
    for (const entry of dropped) {
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
      // by our own role: another session of ours told the server
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

  // No conversation: drop the start, hand its texts back to the app.
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
    if (f.code === 'bad_signature') this._badSignature = true;
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

  /** Queue a message, (re)sent until acked; conv null (visitor): a start carries
   *  it as start.text. Returns the outbox entry. */
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

  discard(clientId) {
    this.outbox.delete(clientId);
    this._save();
  }

  _flushOutbox() {
    if (!this.ready) return;
    const now = Date.now();
    for (const e of this.outbox.values()) {
      if (e.socket === this._socketNo || (e.notBefore && e.notBefore > now)) continue; // sent, or waiting
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

  /** Replay a conversation from its start and follow it. */
  load(conv) {
    const rec = this.convs.get(conv) || this._merge({ conv }).rec;
    rec.history = true;
    if (rec.historyDone || (rec.replaying && rec.resumeAfter <= rec.floor)) return;
    if (this.ready) this._resumeRecord(rec);
  }

  resume(conv, after) {
    const rec = this.convs.get(conv);
    if (rec) { rec.resumeAfter = after; rec.replaying = true; }
    return this._send({ type: 'resume', conv, after });
  }

  /** Visitor: an offline message (sent until answered). */
  leaveMessage({ name = '', email, text, department = '' }) {
    const entry = { type: 'leave', conv: null, client_id: newClientId(), name: clipBytes(String(name).trim(), MAX_NAME_BYTES),
      email: String(email).trim(), text: wellFormed(String(text)), department, created: Date.now(), attempts: 0, socket: 0 };
    this.outbox.set(entry.client_id, entry);
    this._save();
    this._flushOutbox();
    return entry;
  }

  /** Visitor: a bot_options suggestion, sent until acked like a message. */
  suggest(conv, entry, text) {
    const e = { type: 'suggestion', conv, client_id: newClientId(), entry, text: wellFormed(String(text)), created: Date.now(), attempts: 0, socket: 0 };
    this.outbox.set(e.client_id, e);
    this._save();
    this._flushOutbox();
    return e;
  }

  /** Visitor: rate a closed conversation 1..5 (answered by rated). */
  rate(conv, score, comment = '') {
    const f = { type: 'rate', conv, score };
    if (comment.trim()) f.comment = wellFormed(comment.trim());
    return this.request(f);
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
  /** to: {agent} or {department}. */
  transfer(conv, to, note = '') {
    const f = { type: 'transfer', conv };
    if (to.agent) f.to_agent = to.agent; else f.to_department = to.department;
    if (note && note.trim()) f.note = wellFormed(note);
    return this._send(f);
  }
  offlineList() { return this._send({ type: 'offline_list' }); }
  offlineHandled(id) { return this._send({ type: 'offline_handled', id }); }

  /** Mark the other side's messages delivered / read (one receipt per 250 ms at
   *  most, sent when online); true when this changed anything. */
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

  /** Unacked messages for conv (null: those waiting for a start). */
  pending(conv) {
    return [...this.outbox.values()].filter((e) => ((e.type === 'message' || e.type === 'suggestion') && e.conv === (conv || null)) ||
      (!conv && e.type === 'start' && e.text));
  }

  newestFromOthers(conv) {
    let max = 0;
    for (const m of this.convs.get(conv)?.messages.values() || []) if (m.from !== this.role && m.seq > max) max = m.seq;
    return max;
  }

  /** The other side's messages (not system) after our read receipt. */
  unread(conv) {
    const rec = this.convs.get(conv);
    if (!rec) return 0;
    let n = 0;
    for (const m of rec.messages.values()) if (m.from !== this.role && m.from !== 'system' && m.seq > rec.mine.read) n++;
    return n;
  }

  /** Forget a conversation locally. */
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
    this.userId = data.user || '';
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
      historyDone: r.historyDone, peer: r.peer, mine: r.mine, sent: r.sent, updated: r.updated, rated: r.rated,
      messages: this.messages(r.conv),
    }));
    const outbox = [...this.outbox.values()].map(({ socket, ...e }) => e);
    const data = { v: STORE_VERSION, token: this.token, name: this.name, email: this.email, department: this.department, user: this.userId, convs, outbox };
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

/** Typing on at the first keystroke, off after `idle` ms without one (or stop()). */
export class TypingNotifier {
  constructor(client, { idle = 3000, refresh = 10000 } = {}) {
    this.client = client;
    this.idle = idle;
    this.refresh = refresh; // "on" again while typing goes on, in case it was lost
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
