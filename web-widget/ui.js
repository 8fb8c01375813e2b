// DOM helpers shared by the visitor chat and the agent console. Every piece of
// user-supplied text goes through textContent / createTextNode; links are built
// as <a> elements, http(s) only. Nothing here uses innerHTML.

/** Create an element: el('li', {class: 'x', 'aria-label': 'y'}, child, 'text'). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const count = (s, ch) => s.split(ch).length - 1;

// Trailing punctuation usually ends the sentence, not the link; keep a closing
// bracket only when the link opened one, as in wiki/Tea_(drink).
function trimUrl(raw) {
  while (/[.,;:!?'"\])]$/.test(raw)) {
    const last = raw.at(-1);
    if (last === ')' && count(raw, '(') >= count(raw, ')')) break;
    if (last === ']' && count(raw, '[') >= count(raw, ']')) break;
    raw = raw.slice(0, -1);
  }
  return raw;
}

/** Text -> DocumentFragment of text nodes and safe <a> elements. */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const raw = trimUrl(match[0]);
    let url;
    try { url = new URL(raw); } catch { continue; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    frag.append(document.createTextNode(text.slice(last, match.index)));
    frag.append(el('a', { href: url.href, rel: 'noopener noreferrer', target: '_blank', text: raw }));
    last = match.index + raw.length;
  }
  frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

export function timeFormatter(locale) {
  let fmt;
  try { fmt = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }); } catch { fmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }); }
  return (ms) => (ms ? fmt.format(new Date(ms)) : '');
}

// A transcript in an <ol role="log">: stored messages in seq order, our unacked
// ones last until they get a seq. Options (mine, label, t, time): README.md.
export class TranscriptView {
  constructor(list, opts) {
    this.list = list;
    this.opts = opts;
    this.bySeq = new Map();
    this.byClientId = new Map();
    this.receipts = { delivered: 0, read: 0 };
  }

  clear() {
    this.list.replaceChildren();
    this.bySeq.clear();
    this.byClientId.clear();
    this.receipts = { delivered: 0, read: 0 };
  }

  /** A stored message (from the server). Returns its element. */
  add(msg) {
    if (this.bySeq.has(msg.seq)) return this.bySeq.get(msg.seq);
    const keep = this._nearBottom();
    const mine = this.opts.mine(msg);
    let item = msg.client_id && mine ? this.byClientId.get(msg.client_id) : null;
    if (item) item.remove();
    else item = this._build(msg, mine);
    item.dataset.seq = String(msg.seq);
    item.classList.remove('msg--pending', 'msg--failed');
    this.bySeq.set(msg.seq, item);
    if (msg.client_id && mine) this.byClientId.set(msg.client_id, item);
    this._setTime(item, msg.ts);
    this._insertBySeq(item, msg.seq);
    if (mine) this._tick(item);
    if (keep) this.scrollToEnd();
    return item;
  }

  /** One of our messages before the server has stored it. */
  addPending(entry, from) {
    if (this.byClientId.has(entry.client_id)) return this.byClientId.get(entry.client_id);
    const item = this._build({ from, author: '', text: entry.text, client_id: entry.client_id }, true);
    item.classList.add('msg--pending');
    this.byClientId.set(entry.client_id, item);
    this.list.append(item);
    this._tick(item);
    this.scrollToEnd();
    return item;
  }

  /** The server acked one of our messages: it now has a seq. */
  ack(clientId, seq, ts) {
    const item = this.byClientId.get(clientId);
    if (!item || item.dataset.seq) return;
    item.classList.remove('msg--pending');
    item.dataset.seq = String(seq);
    this.bySeq.set(seq, item);
    this._setTime(item, ts);
    item.remove();
    this._insertBySeq(item, seq);
    this._tick(item);
  }

  fail(clientId) {
    const item = this.byClientId.get(clientId);
    if (!item || item.dataset.seq) return;
    item.classList.remove('msg--pending');
    item.classList.add('msg--failed');
    this._tick(item);
  }

  /** A centred local line (state changes, greeting). */
  note(text, cls = '') {
    const keep = this._nearBottom();
    const item = el('li', { class: `note ${cls}`.trim() }, el('span', { text }));
    this.list.append(item);
    if (keep) this.scrollToEnd();
    return item;
  }

  /** The other side's receipts: update the ticks of our messages. */
  setReceipts({ delivered = 0, read = 0 }) {
    if (delivered <= this.receipts.delivered && read <= this.receipts.read) return;
    this.receipts = { delivered: Math.max(delivered, this.receipts.delivered), read: Math.max(read, this.receipts.read) };
    for (const item of this.list.querySelectorAll('.msg--mine')) this._tick(item);
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  _nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  _build(msg, mine) {
    const from = ['visitor', 'agent', 'bot', 'system'].includes(msg.from) ? msg.from : 'system';
    const item = el('li', { class: `msg msg--${from}${mine ? ' msg--mine' : ''}${msg.internal ? ' msg--internal' : ''}` });
    const label = from === 'system' ? '' : this.opts.label(msg);
    if (label) item.append(el('span', { class: 'msg__author', text: label }));
    item.append(el('div', { class: 'msg__text' }, linkify(msg.text)));
    const meta = el('span', { class: 'msg__meta' }, el('time', { class: 'msg__time' }));
    // aria-hidden: a tick changing inside role="log" would be re-announced.
    if (mine) meta.append(el('span', { class: 'msg__ticks', 'aria-hidden': 'true' }));
    item.append(meta);
    return item;
  }

  _setTime(item, ts) {
    const time = item.querySelector('.msg__time');
    if (!time || !ts) return;
    time.textContent = this.opts.time(ts);
    time.dateTime = new Date(ts).toISOString();
  }

  _insertBySeq(item, seq) {
    // Before the first stored message with a higher seq, else before the first
    // pending one (pending messages stay last), else at the end.
    let before = null;
    for (const child of this.list.children) {
      const s = child.dataset.seq ? Number(child.dataset.seq) : null;
      if ((s !== null && s > seq) || child.classList.contains('msg--pending') || child.classList.contains('msg--failed')) { before = child; break; }
    }
    this.list.insertBefore(item, before);
  }

  _tick(item) {
    const ticks = item.querySelector('.msg__ticks');
    if (!ticks) return;
    const seq = item.dataset.seq ? Number(item.dataset.seq) : 0;
    let state = 'sending';
    if (item.classList.contains('msg--failed')) state = 'failed';
    else if (seq && seq <= this.receipts.read) state = 'read';
    else if (seq && seq <= this.receipts.delivered) state = 'delivered';
    else if (seq) state = 'sent';
    const glyph = { sending: '\u25F7', sent: '\u2713', delivered: '\u2713\u2713', read: '\u2713\u2713', failed: '!' }[state];
    ticks.textContent = glyph;
    ticks.className = `msg__ticks msg__ticks--${state}`;
    ticks.title = this.opts.t(state);
  }
}

/** The connection banner: shown while reconnecting (or offline), hidden otherwise. */
export function renderStatus(banner, status, t) {
  const text = status === 'reconnecting' || status === 'offline' ? t(status) : '';
  banner.hidden = !text;
  banner.textContent = text;
  banner.dataset.status = status;
}
