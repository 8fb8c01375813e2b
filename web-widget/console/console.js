// The agent console: sign in, watch the queue, take and answer conversations.
// The sign-in token lives in sessionStorage only (never in a URL).
import { SwitchboardClient, TypingNotifier, MAX_TEXT_BYTES, utf8Length } from '../client.js';
import { TranscriptView, el, renderStatus, timeFormatter } from '../ui.js';

const STRINGS = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent',
  visitor: 'Visitor', agent: 'Agent', bot: 'Bot',
  waiting: 'Waiting', active: 'Active', closed: 'Closed',
  badCredentials: 'Wrong email or password.',
  unreachable: 'Cannot reach the server. Try again.',
  loginFailed: (status) => `Sign-in failed (HTTP ${status}). Try again.`,
  expired: 'Your session has ended. Please sign in again.',
  nobodyWaiting: 'Nobody is waiting.',
  tooLong: 'This reply is too long.',
  sendFailed: (code) => `Not sent (${code}).`,
  typing: (name) => `${name} is typing…`,
  unread: (n) => `${n} unread`,
  waitingFor: (mins) => (mins < 1 ? 'just now' : `${mins} min`),
  closedBecause: (reason) => (reason ? `Conversation closed (${reason.replace(/_/g, ' ')})` : 'Conversation closed'),
  joined: (name) => `${name} joined`,
};
const t = (key, ...args) => {
  const v = STRINGS[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

const SESSION_KEY = 'switchboard:agent';
const $ = Object.fromEntries(['signin', 'signin-form', 'email', 'password', 'signin-button', 'signin-error', 'app', 'status',
  'me', 'signout', 'banner', 'queue-count', 'take', 'queue', 'queue-note', 'convs', 'convs-empty', 'placeholder',
  'conversation', 'conv-title', 'conv-state', 'close-conv', 'log', 'typing', 'composer', 'input', 'form-error',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), document.getElementById(id)]));

const time = timeFormatter(navigator.language);
let client = null;
let typingOut = null;
let selected = null;      // conv id on screen
let takePending = null;   // "Take next" clicked: the conv ids known then; show the new one it brings
let typingTimer = null;
let expiryTimer = null;
let queueTimer = null;

const view = new TranscriptView($.log, {
  mine: (m) => m.from === 'agent',
  label: (m) => m.author || t(m.from),
  t,
  time,
});

// ---- session --------------------------------------------------------------------

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.token === 'string' && expiryMs(s.expires_at) > Date.now() ? s : null;
  } catch { return null; }
}

// expires_at may be ms or s since the epoch, or an ISO date; unknown: no expiry.
function expiryMs(v) {
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : Infinity;
}

async function signIn(email, password) {
  let res;
  try {
    res = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch { throw new Error(t('unreachable')); }
  if (res.status === 401) throw new Error(t('badCredentials'));
  if (!res.ok) throw new Error(t('loginFailed', res.status));
  const data = await res.json().catch(() => null);
  if (!data || typeof data.token !== 'string') throw new Error(t('loginFailed', res.status));
  return data;
}

function begin(session) {
  try { sessionStorage.setItem(SESSION_KEY, JSON.stringify(session)); } catch { /* private mode: memory only */ }
  $.signin.hidden = true;
  $.app.hidden = false;
  $.me.textContent = session.agent?.name || '';
  client = new SwitchboardClient({ role: 'agent', token: session.token });
  typingOut = new TypingNotifier(client);
  wire(client);
  client.connect();
  const left = expiryMs(session.expires_at) - Date.now();
  if (Number.isFinite(left)) expiryTimer = setTimeout(() => end(t('expired')), Math.min(left, 2 ** 31 - 1));
  queueTimer = setInterval(renderQueue, 15000);
  renderQueue();
  renderConvs();
}

function end(message = '') {
  clearTimeout(expiryTimer);
  clearInterval(queueTimer);
  typingOut?.stop();
  client?.disconnect();
  client = null;
  selected = null;
  takePending = null;
  try { sessionStorage.removeItem(SESSION_KEY); } catch { /* ignore */ }
  view.clear();
  $.app.hidden = true;
  $.signin.hidden = false;
  $.signinError.textContent = message;
  $.password.value = '';
  document.title = 'Switchboard — agent console';
  $.email.focus();
}

$.signinForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = $.email.value.trim();
  const password = $.password.value;
  if (!email || !password) { $.signinError.textContent = t('badCredentials'); return; }
  $.signinButton.disabled = true;
  $.signinError.textContent = '';
  try {
    begin(await signIn(email, password));
    $.password.value = '';
  } catch (err) {
    $.signinError.textContent = err.message;
  } finally {
    $.signinButton.disabled = false;
  }
});

$.signout.addEventListener('click', () => end());

// ---- client events --------------------------------------------------------------

function wire(c) {
  c.on('status', (status) => {
    renderStatus($.banner, status, t);
    $.status.textContent = t(status);
    $.status.dataset.status = status;
    $.take.disabled = status !== 'online';
  });

  c.on('welcome', (f) => {
    $.me.textContent = f.name || $.me.textContent;
    renderConvs();
    if (selected) select(selected);
  });

  c.on('queue', renderQueue);

  c.on('message', (msg, { replay }) => {
    if (msg.conv === selected) view.add(msg);
    if (msg.from === 'visitor') {
      c.markUpTo(msg.conv, 'delivered');
      if (msg.conv === selected && !replay) showTyping(null);
    }
    if (msg.conv === selected && isVisible()) c.markUpTo(msg.conv, 'read');
    renderConvs();
  });

  c.on('ack', (f) => view.ack(f.client_id, f.seq, f.ts));

  c.on('conversation', (f, rec) => {
    if (takePending && rec.state === 'active' && !takePending.has(f.conv)) {
      takePending = null;
      renderConvs();
      select(f.conv);
      return;
    }
    if (f.conv === selected) {
      const prev = $.convState.dataset.state;
      if (rec.state === 'closed' && prev !== 'closed') view.note(t('closedBecause', f.reason));
      else if (rec.state === 'active' && prev === 'waiting' && rec.agent_name) view.note(t('joined', rec.agent_name));
      renderHeader();
    }
    renderConvs();
  });

  c.on('typing', (f) => {
    if (f.conv !== selected || f.from !== 'visitor') return;
    const rec = c.conversation(f.conv);
    showTyping(f.on ? rec?.visitor_name || t('visitor') : null);
  });

  c.on('receipt', (f, rec) => {
    if (f.conv === selected && rec) view.setReceipts(rec.peer);
    if (f.by === 'agent') renderConvs(); // read in another tab of ours
  });

  c.on('replayed', (f) => { if (f.conv === selected) view.scrollToEnd(); });

  c.on('error', (f, { entry, retry }) => {
    if (f.code === 'bad_token') { end(t('expired')); return; }
    if (f.code === 'nothing_waiting') {
      takePending = null;
      $.queueNote.textContent = t('nobodyWaiting');
      $.queueNote.hidden = false;
      return;
    }
    if (entry && !retry) {
      view.fail(entry.client_id);
      c.discard(entry.client_id);
      $.formError.textContent = t('sendFailed', f.code);
    } else if (!entry && f.conv === selected && f.message) {
      $.formError.textContent = f.message;
    }
  });
}

// ---- rendering ------------------------------------------------------------------

function renderQueue() {
  if (!client) return;
  const waiting = client.queue;
  $.queueCount.textContent = waiting.length ? `(${waiting.length})` : '';
  $.queue.replaceChildren(...waiting.map((w) => el('li', { class: 'queue__item' },
    el('span', { class: 'queue__name', text: w.visitor_name || t('visitor') }),
    el('span', { class: 'queue__since muted', text: t('waitingFor', Math.floor((Date.now() - (w.since || Date.now())) / 60000)) }))));
  $.queueNote.textContent = t('nobodyWaiting');
  $.queueNote.hidden = waiting.length > 0;
}

function sortedConvs() {
  const rank = { active: 0, waiting: 1, closed: 2 };
  return [...client.convs.values()].sort((a, b) => (rank[a.state] ?? 3) - (rank[b.state] ?? 3) || b.updated - a.updated);
}

function renderConvs() {
  if (!client) return;
  const focused = document.activeElement?.dataset?.conv;
  let total = 0;
  const items = sortedConvs().map((rec) => {
    const unread = rec.conv === selected && isVisible() ? 0 : client.unread(rec.conv);
    total += unread;
    const button = el('button', { type: 'button', class: 'conv', 'data-conv': rec.conv, 'aria-current': rec.conv === selected ? 'true' : null },
      el('span', { class: 'conv__name', text: rec.visitor_name || t('visitor') }),
      el('span', { class: `conv__state conv__state--${rec.state}`, text: t(rec.state) }),
      unread ? el('span', { class: 'conv__unread', 'aria-label': t('unread', unread), text: String(unread) }) : null);
    button.addEventListener('click', () => select(rec.conv));
    return el('li', {}, button);
  });
  $.convs.replaceChildren(...items);
  $.convsEmpty.hidden = items.length > 0;
  if (focused) $.convs.querySelector(`[data-conv="${CSS.escape(focused)}"]`)?.focus();
  document.title = `${total ? `(${total}) ` : ''}Switchboard — agent console`;
}

function renderHeader() {
  const rec = selected && client?.conversation(selected);
  if (!rec) return;
  $.convTitle.textContent = rec.visitor_name || t('visitor');
  $.convState.textContent = t(rec.state);
  $.convState.dataset.state = rec.state;
  const closed = rec.state === 'closed';
  $.closeConv.hidden = closed;
  $.composer.hidden = closed;
  if (closed) showTyping(null);
}

function select(conv) {
  if (!client?.conversation(conv)) return;
  if (conv !== selected) {
    typingOut.stop();
    $.input.value = '';
    $.formError.textContent = '';
  }
  selected = conv;
  $.placeholder.hidden = true;
  $.conversation.hidden = false;
  view.clear();
  for (const m of client.messages(conv)) view.add(m);
  for (const e of client.pending(conv)) view.addPending(e, 'agent');
  view.setReceipts(client.conversation(conv).peer);
  showTyping(null);
  renderHeader();
  client.load(conv); // first time: resume after 0 brings the whole transcript
  if (isVisible()) client.markUpTo(conv, 'read');
  renderConvs();
  view.scrollToEnd();
  if (!$.composer.hidden) $.input.focus();
}

function showTyping(name) {
  clearTimeout(typingTimer);
  $.typing.textContent = name ? t('typing', name) : '';
  if (name) typingTimer = setTimeout(() => showTyping(null), 8000);
}

function isVisible() {
  return document.visibilityState === 'visible';
}

// ---- actions --------------------------------------------------------------------

$.take.addEventListener('click', () => {
  if (client?.take()) takePending = new Set(client.convs.keys());
});

$.closeConv.addEventListener('click', () => {
  if (selected) client?.close(selected);
});

$.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $.input.value;
  if (!client || !selected || !text.trim()) return;
  if (utf8Length(text) > MAX_TEXT_BYTES) { $.formError.textContent = t('tooLong'); return; }
  $.formError.textContent = '';
  view.addPending(client.send(selected, text), 'agent');
  $.input.value = '';
  typingOut.stop();
});

$.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    $.composer.requestSubmit();
  }
});

$.input.addEventListener('input', () => { if (selected && client?.ready) typingOut.input(selected); });

document.addEventListener('visibilitychange', () => {
  if (client && selected && isVisible() && client.markUpTo(selected, 'read')) renderConvs();
});

// ---- go -------------------------------------------------------------------------

const session = loadSession();
if (session) begin(session);
else end();
