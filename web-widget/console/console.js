// The agent console: sign in, set presence, watch the queue (per department),
// accept offers, answer conversations, transfer them, read offline messages.
// The sign-in token lives in sessionStorage only (never in a URL). Every string
// that came from a visitor (or another agent) is rendered with textContent.
import { SwitchboardClient, TypingNotifier, MAX_TEXT_BYTES, utf8Length } from '../client.js';
import { TranscriptView, el, renderStatus, timeFormatter } from '../ui.js';

const STRINGS = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent',
  visitor: 'Visitor', agent: 'Agent', bot: 'Bot',
  botName: (name) => (name ? `${name} (bot)` : 'Bot'),
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
  closedBecause: (reason) => (reason === 'closed_while_away' ? 'Closed or reassigned while you were away.'
    : reason ? `Conversation closed (${reason.replace(/_/g, ' ')})` : 'Conversation closed'),
  joined: (name) => `${name} joined`,
  load: (load, capacity) => `${load}/${capacity} chats`,
  idle: 'away (idle)',
  noDepartment: 'No department',
  waitedFor: (ms) => (ms < 60000 ? `${Math.max(0, Math.floor(ms / 1000))} s` : `${Math.floor(ms / 60000)} min`),
  offeredTo: (id) => `offered to ${id}`,
  priority: (p) => `priority ${p}`,
  secondsLeft: (s) => `${s} s left`,
  accept: 'Accept',
  decline: 'Decline',
  offerFor: (name) => `Conversation offered: ${name}`,
  not_offered: 'That offer has ended.',
  no_room: 'You are at your capacity.',
  transferred: 'Transferred',
  requeued: 'Back in the queue',
  departedNote: (reason) => (reason === 'requeued' ? 'This conversation went back to the queue.' : 'This conversation was transferred; it is no longer yours.'),
  noteBy: (name) => `Internal note${name ? ` · ${name}` : ''}`,
  transferAgent: 'Agent id',
  transferDepartment: 'Department id',
  badId: 'Enter an id: letters, digits and . _ : - only.',
  transferFailed: {
    unavailable: 'That agent is offline or away, or no such agent or department exists.',
    no_room: 'That agent has no room for another conversation.',
    forbidden: 'This conversation is not assigned to you.',
    conv_closed: 'This conversation is closed.',
    not_found: 'No such conversation.',
    store_unavailable: 'The note could not be stored; nothing was transferred. Try again.',
  },
  noResponse: 'No answer from the server. Try again.',
  handled: (by) => `Handled${by ? ` by ${by}` : ''}`,
  markHandled: 'Mark handled',
  show: 'Show',
  hide: 'Hide',
};
const t = (key, ...args) => {
  const v = Object.hasOwn(STRINGS, key) ? STRINGS[key] : key; // keys may come from the server (reasons)
  return typeof v === 'function' ? v(...args) : v;
};

const SESSION_KEY = 'switchboard:agent';
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const $ = Object.fromEntries(['signin', 'signin-form', 'email', 'password', 'signin-button', 'signin-error', 'app', 'status',
  'me', 'signout', 'banner', 'queue-count', 'take', 'queue', 'queue-note', 'convs', 'convs-empty', 'placeholder',
  'conversation', 'conv-title', 'conv-state', 'close-conv', 'log', 'typing', 'composer', 'input', 'form-error',
  'presence', 'load', 'offers-panel', 'offers', 'offline-count', 'offline-toggle', 'offline', 'offline-list',
  'offline-empty', 'transfer', 'dismiss', 'transfer-dialog', 'transfer-form', 'transfer-to', 'transfer-to-label',
  'transfer-departments', 'transfer-note', 'transfer-error', 'transfer-send', 'transfer-cancel',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), document.getElementById(id)]));

const time = timeFormatter(navigator.language);
let client = null;
let typingOut = null;
let selected = null;      // conv id on screen
let takePending = null;   // "Take next" clicked: the conv ids known then; show the new one it brings
let typingTimer = null;
let expiryTimer = null;
let queueTimer = null;
let myName = '';
let queueCounts = null;   // supervisors: waiting per department, from the last queue frame
const offers = new Map(); // conv -> offer frame (offer mode)
let offerTimer = null;
let accepting = null;     // conv whose offer we accepted: shown once it is ours
const departed = new Map(); // conv -> reason: conversations that left us (transfer, requeue)
let transferring = null;  // {conv, timer} while a transfer is on its way
let offline = [];         // offline messages, as last sent by the server

const view = new TranscriptView($.log, {
  mine: (m) => m.from === 'agent' && !m.internal,
  // the bot's messages (its answers, the hand-off note) are labelled as the bot's
  label: (m) => {
    const author = m.from === 'bot' ? t('botName', m.author) : m.author;
    return m.internal ? t('noteBy', author) : author || (m.from === 'agent' && myName) || t(m.from);
  },
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
  myName = session.agent?.name || '';
  // history: every conversation we get (auto-assigned, accepted, transferred to
  // us) is resumed from 0, so its whole transcript is here before it is opened.
  client = new SwitchboardClient({ role: 'agent', token: session.token, history: true });
  typingOut = new TypingNotifier(client);
  wire(client);
  client.connect();
  const left = expiryMs(session.expires_at) - Date.now();
  if (Number.isFinite(left)) expiryTimer = setTimeout(() => end(t('expired')), Math.min(left, 2 ** 31 - 1));
  queueTimer = setInterval(renderQueue, 10000);
  renderQueue();
  renderConvs();
  renderOffers();
  renderOffline();
}

function end(message = '') {
  clearTimeout(expiryTimer);
  clearInterval(queueTimer);
  typingOut?.stop();
  client?.disconnect();
  client = null;
  selected = null;
  takePending = null;
  accepting = null;
  offers.clear();
  departed.clear();
  offline = [];
  queueCounts = null;
  clearInterval(offerTimer);
  offerTimer = null;
  endTransfer();
  if ($.transferDialog.open) $.transferDialog.close();
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
    $.presence.disabled = status !== 'online';
  });

  c.on('welcome', (f) => {
    $.me.textContent = f.name || $.me.textContent;
    myName = f.name || myName;
    c.offlineList();
    renderConvs();
    if (selected) select(selected);
  });

  c.on('queue', (f) => {
    queueCounts = f.counts && typeof f.counts === 'object' ? f.counts : null;
    renderQueue();
  });

  c.on('presence', (f) => {
    if (['online', 'away', 'offline'].includes(f.status)) $.presence.value = f.status;
    $.presence.dataset.status = f.status;
    const parts = [];
    if (Number.isFinite(f.load) && Number.isFinite(f.capacity)) parts.push(t('load', f.load, f.capacity));
    if (f.reason === 'idle') parts.push(t('idle'));
    $.load.textContent = parts.join(' · ');
  });

  c.on('offer', (f) => {
    if (!f.conv) return;
    offers.set(f.conv, { ...f, seen: Date.now() });
    renderOffers();
  });

  c.on('offer_ended', (f) => {
    offers.delete(f.conv);
    if (accepting === f.conv && f.reason !== 'accepted') accepting = null;
    renderOffers();
  });

  c.on('offline_messages', (f) => {
    offline = Array.isArray(f.items) ? f.items : [];
    renderOffline();
  });

  c.on('message', (msg, { replay }) => {
    if (departed.has(msg.conv)) return; // not ours any more
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
    if (!f.local && leftMe(f, rec)) return;
    // Ours now by our own action (take, accept), or handed to us with nothing
    // else open on screen: show it.
    const assigned = rec.state === 'active' && (f.reason === 'assigned' || f.reason === 'transferred');
    if (rec.state === 'active' && (accepting === f.conv || (takePending && !takePending.has(f.conv)) || (assigned && !selected))) {
      accepting = null;
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
    if (transferring && f.conv === transferring.conv && !entry) {
      $.transferError.textContent = STRINGS.transferFailed[f.code] || f.message || f.code;
      endTransfer();
      return;
    }
    if (f.code === 'not_offered' || (f.code === 'no_room' && offers.has(f.conv))) {
      if (f.code === 'not_offered') offers.delete(f.conv);
      if (accepting === f.conv) accepting = null;
      renderOffers(t(f.code));
      return;
    }
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

// A conversation event that says it is no longer ours: back to a queue
// (transferred to a department, requeued) or given to another agent. It stays
// in the list, marked and read-only, until the agent removes it. Returns true
// when the event was handled here.
function leftMe(f, rec) {
  const ours = transferring?.conv !== f.conv && rec.state === 'active' && rec.agent_name === myName;
  const moved = f.reason === 'transferred' || f.reason === 'requeued' || rec.state === 'waiting';
  if (!moved) return false;
  if (transferring?.conv === f.conv) {
    endTransfer();
    if ($.transferDialog.open) $.transferDialog.close();
  }
  if (ours) { // transferred to us (or back to us)
    if (departed.delete(f.conv)) client.resume(f.conv, Math.max(rec.lastSeq, rec.floor));
    return false;
  }
  if (!client.messages(f.conv).length && !departed.has(f.conv) && f.conv !== selected && !rec.historyDone) {
    client.forget(f.conv); // never ours to begin with
  } else {
    departed.set(f.conv, f.reason || 'requeued');
    rec.state = 'closed'; // no more receipts or resumes for it from here
    if (f.conv === selected) {
      view.note(t('departedNote', departed.get(f.conv)));
      showTyping(null);
      renderHeader();
    }
  }
  renderConvs();
  return true;
}

// ---- rendering ------------------------------------------------------------------

// The waiting list, one group per department in service order.
function renderQueue() {
  if (!client) return;
  const waiting = client.queue.filter((w) => w && typeof w === 'object');
  const groups = new Map();
  for (const w of waiting) {
    const dept = typeof w.department === 'string' ? w.department : '';
    if (!groups.has(dept)) groups.set(dept, []);
    groups.get(dept).push(w);
  }
  const now = Date.now();
  $.queueCount.textContent = waiting.length ? `(${waiting.length})` : '';
  $.queue.replaceChildren(...[...groups].map(([dept, items]) => {
    const count = Number.isFinite(queueCounts?.[dept]) ? queueCounts[dept] : items.length;
    return el('section', { class: 'queue__group', 'data-department': dept },
      el('h3', { class: 'queue__dept' }, el('span', { text: dept || t('noDepartment') }), ' ', el('span', { class: 'count', text: `(${count})` })),
      el('ol', { class: 'queue__list' }, ...items.map((w) => el('li', { class: 'queue__item', 'data-conv': w.conv },
        el('div', { class: 'queue__row' },
          el('span', { class: 'queue__pos', text: Number.isFinite(w.position) ? `#${w.position}` : '' }),
          el('span', { class: 'queue__name', text: w.visitor_name || t('visitor') }),
          el('span', { class: 'queue__since muted', text: t('waitedFor', now - (w.since || now)) })),
        w.first_message ? el('p', { class: 'queue__first', text: w.first_message }) : null,
        w.priority || w.offered_to ? el('p', { class: 'queue__tags muted', text: [w.priority ? t('priority', w.priority) : '',
          w.offered_to ? t('offeredTo', w.offered_to) : ''].filter(Boolean).join(' · ') }) : null))));
  }));
  $.queueNote.textContent = t('nobodyWaiting');
  $.queueNote.hidden = waiting.length > 0;
  for (const w of waiting) if (ID_RE.test(w.department || '')) knownDepartments.add(w.department);
}

// Offers (offer mode): accept or decline before the deadline.
function renderOffers(message = '') {
  if (!client) return;
  const now = Date.now();
  for (const [conv, o] of offers) if (now > o.deadline + 5000 && now > o.seen + 5000) offers.delete(conv); // its end was lost
  $.offersPanel.hidden = offers.size === 0 && !message;
  $.offers.replaceChildren(...[...offers.values()].map((o) => {
    const accept = el('button', { type: 'button', class: 'button', text: t('accept'), disabled: accepting === o.conv });
    const decline = el('button', { type: 'button', class: 'button button--quiet', text: t('decline'), disabled: accepting === o.conv });
    accept.addEventListener('click', () => {
      if (client?.accept(o.conv)) { accepting = o.conv; accept.disabled = decline.disabled = true; }
    });
    decline.addEventListener('click', () => { if (client?.decline(o.conv)) accept.disabled = decline.disabled = true; });
    return el('li', { class: 'offer', 'data-conv': o.conv, 'aria-label': t('offerFor', o.visitor_name || t('visitor')) },
      el('div', { class: 'offer__head' },
        el('strong', { class: 'offer__name', text: o.visitor_name || t('visitor') }),
        o.department ? el('span', { class: 'offer__dept', text: o.department }) : null,
        el('span', { class: 'offer__countdown', 'data-deadline': o.deadline })),
      o.first_message ? el('p', { class: 'offer__first', text: o.first_message }) : null,
      el('div', { class: 'offer__actions' }, accept, decline));
  }));
  if (message) $.offers.append(el('li', { class: 'form-error', role: 'alert', text: message }));
  tickOffers();
  if (offers.size && !offerTimer) offerTimer = setInterval(tickOffers, 1000);
  if (!offers.size && offerTimer) { clearInterval(offerTimer); offerTimer = null; }
}

function tickOffers() {
  const now = Date.now();
  for (const n of $.offers.querySelectorAll('.offer__countdown')) {
    const left = Math.max(0, Math.ceil((Number(n.dataset.deadline) - now) / 1000));
    n.textContent = t('secondsLeft', left);
    n.classList.toggle('offer__countdown--urgent', left <= 10);
  }
  if ([...offers.values()].some((o) => now > o.deadline + 5000 && now > o.seen + 5000)) renderOffers();
}

function renderOffline() {
  const open = offline.filter((m) => !m.handled);
  $.offlineCount.textContent = open.length ? `(${open.length})` : '';
  $.offlineEmpty.hidden = offline.length > 0;
  $.offlineList.replaceChildren(...offline.map((m) => {
    const button = el('button', { type: 'button', class: 'button button--quiet', text: t('markHandled') });
    button.addEventListener('click', () => { if (client?.offlineHandled(m.id)) button.disabled = true; });
    return el('li', { class: `offline__item${m.handled ? ' offline__item--handled' : ''}`, 'data-id': m.id },
      el('div', { class: 'offline__head' },
        el('strong', { class: 'offline__name', text: m.name || m.email || t('visitor') }),
        el('span', { class: 'offline__time muted', text: m.created ? new Date(m.created).toLocaleString() : '' })),
      el('div', { class: 'offline__meta muted' },
        el('span', { class: 'offline__email', text: m.email || '' }),
        m.department ? el('span', { class: 'offline__dept', text: m.department }) : null),
      el('p', { class: 'offline__text', text: m.text || '' }),
      m.handled ? el('p', { class: 'muted', text: t('handled', m.handled_by) }) : button);
  }));
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
    const gone = departed.get(rec.conv);
    const unread = gone || (rec.conv === selected && isVisible()) ? 0 : client.unread(rec.conv);
    total += unread;
    const state = gone ? 'departed' : rec.state;
    const button = el('button', { type: 'button', class: 'conv', 'data-conv': rec.conv, 'data-state': state, 'aria-current': rec.conv === selected ? 'true' : null },
      el('span', { class: 'conv__name', text: rec.visitor_name || t('visitor') }),
      el('span', { class: `conv__state conv__state--${state}`, text: t(gone || rec.state) }),
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
  const gone = departed.get(rec.conv);
  $.convTitle.textContent = rec.visitor_name || t('visitor');
  $.convState.textContent = [t(gone || rec.state), rec.department].filter(Boolean).join(' · ');
  $.convState.dataset.state = gone ? 'departed' : rec.state;
  const closed = rec.state === 'closed';
  $.closeConv.hidden = closed;
  $.transfer.hidden = closed;
  $.dismiss.hidden = !closed;
  $.composer.hidden = closed;
  if (closed) showTyping(null);
  if (ID_RE.test(rec.department || '')) knownDepartments.add(rec.department);
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
  if (departed.has(conv)) view.note(t('departedNote', departed.get(conv)));
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

// A conversation that is over (closed, or no longer ours) leaves the list.
$.dismiss.addEventListener('click', () => {
  if (!selected || !client) return;
  departed.delete(selected);
  client.forget(selected);
  selected = null;
  view.clear();
  $.conversation.hidden = true;
  $.placeholder.hidden = false;
  renderConvs();
});

$.presence.addEventListener('change', () => client?.presence($.presence.value));

$.offlineToggle.addEventListener('click', () => {
  const open = $.offline.hidden;
  $.offline.hidden = !open;
  $.offlineToggle.setAttribute('aria-expanded', String(open));
  $.offlineToggle.textContent = t(open ? 'hide' : 'show');
  if (open) client?.offlineList();
});

// ---- transfer -------------------------------------------------------------------

const knownDepartments = new Set();

function transferTarget() {
  return $.transferForm.elements.target.value === 'agent' ? 'agent' : 'department';
}

function syncTransferTarget() {
  const agent = transferTarget() === 'agent';
  $.transferToLabel.textContent = t(agent ? 'transferAgent' : 'transferDepartment');
  if (agent) $.transferTo.removeAttribute('list'); else $.transferTo.setAttribute('list', 'transfer-departments');
}

function endTransfer() {
  if (transferring) clearTimeout(transferring.timer);
  transferring = null;
  $.transferSend.disabled = false;
}

$.transfer.addEventListener('click', () => {
  if (!selected) return;
  $.transferError.textContent = '';
  $.transferNote.value = '';
  $.transferDepartments.replaceChildren(...[...knownDepartments].map((d) => el('option', { value: d })));
  syncTransferTarget();
  $.transferDialog.showModal();
  $.transferTo.focus();
});

$.transferForm.addEventListener('change', syncTransferTarget);
$.transferCancel.addEventListener('click', () => $.transferDialog.close());
$.transferDialog.addEventListener('close', endTransfer);

$.transferForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const to = $.transferTo.value.trim();
  const note = $.transferNote.value;
  if (!ID_RE.test(to)) { $.transferError.textContent = t('badId'); $.transferTo.focus(); return; }
  if (utf8Length(note) > MAX_TEXT_BYTES) { $.transferError.textContent = t('tooLong'); return; }
  if (!client || !selected) return;
  $.transferError.textContent = '';
  const conv = selected;
  if (!client.transfer(conv, { [transferTarget()]: to }, note)) { $.transferError.textContent = t('unreachable'); return; }
  $.transferSend.disabled = true;
  transferring = { conv, timer: setTimeout(() => { endTransfer(); $.transferError.textContent = t('noResponse'); }, 10000) };
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
