// The agent console: sign in, set presence, watch the queue (per department),
// accept offers, answer conversations (replies, private notes, canned replies),
// see who the visitor is, transfer and close conversations, read offline
// messages; supervisors also get a live dashboard and can follow any
// conversation read-only. The sign-in token lives in sessionStorage only (never
// in a URL). Every string that came from a visitor, a host page or another
// agent is rendered with textContent.
import { SwitchboardClient, TypingNotifier, MAX_TEXT_BYTES, utf8Length, newClientId } from '../client.js';
import { TranscriptView, el, renderStatus, timeFormatter } from '../ui.js';
import { Alerts } from './alerts.js';
import { SHORTCUT_RE, cleanItems, fillPlaceholders, byShortcut, search, slashToken } from './canned.js';
import { renderVisitor } from './context.js';
import { renderDashboard, tickDashboard } from './dashboard.js';

const STRINGS = {
  connecting: 'Connecting…',
  online: 'Online',
  away: 'Away',
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
  agentsOnly: 'Only agents see this',
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
  removeFromList: 'Remove from list',
  // supervision
  readOnly: 'Read-only',
  withAgent: (name) => `with ${name}`,
  stopWatching: 'Stop watching',
  open: 'Open',
  watch: 'Watch',
  watchTitle: 'Follow this conversation read-only',
  updatedAt: (at) => `Updated ${at}`,
  // notes
  reply: 'Reply',
  note: 'Private note',
  send: 'Send',
  addNote: 'Add note',
  replyPlaceholder: 'Type a reply… (Enter sends, Shift+Enter for a new line)',
  notePlaceholder: 'Private note for agents… (Enter adds it; the visitor never sees it)',
  noteFailed: (code) => `The note was not stored (${code}).`,
  // close
  badTag: 'A resolution tag: up to 64 letters, digits and . _ : - only.',
  // canned replies
  cannedNew: 'New canned reply',
  cannedEdit: (s) => `Edit /${s}`,
  shared: 'Shared',
  personal: 'Personal',
  insert: 'Insert',
  edit: 'Edit',
  delete: 'Delete',
  confirmDelete: 'Really delete?',
  badShortcut: 'A shortcut: 1 to 32 letters, digits, _ and - only.',
  emptyText: 'Write the text of the reply.',
  cannedFailed: {
    conflict: 'That shortcut is taken already. Choose another one.',
    too_many: 'You have too many canned replies. Delete some first.',
    forbidden: 'Only supervisors can change shared replies.',
    not_found: 'That canned reply no longer exists.',
    too_long: 'This reply is too long.',
    bad_field: 'Check the shortcut and the text.',
    store_unavailable: 'Could not be stored. Try again.',
  },
  // alerts
  alertsOn: 'Alerts on',
  alertsOff: 'Alerts off',
  alertsTitle: (on, permission) => (on
    ? `A sound and, while the console is not in view, a desktop notification for new conversations and messages${permission === 'denied' ? ' (desktop notifications are blocked in this browser)' : ''}.`
    : 'Turn on a sound and desktop notifications for new conversations and messages.'),
  alertOffer: (name) => `Conversation offered: ${name}`,
  alertAssigned: (name) => `New conversation: ${name}`,
  alertMessage: (name) => `New message from ${name}`,
  // visitor context
  contextLoading: 'Loading the visitor’s details…',
  verified: 'Verified',
  verifiedTitle: 'The website signed this visitor’s identity',
  userId: 'User id',
  page: 'Page',
  language: 'Language',
  browser: 'Browser',
  firstSeen: 'First seen',
  lastSeen: 'Last seen',
  attributes: 'Attributes',
  noAttributes: 'None sent by the website.',
  history: (n) => `Conversations (${n})`,
  noHistory: 'No conversations yet.',
  thisConversation: 'This conversation',
  notRated: 'Not rated',
  csatOf: (n) => `Rated ${n} out of 5`,
  // dashboard
  dashConversations: 'Conversations today',
  dashClosed: 'Closed today',
  dashWaiting: 'Waiting now',
  dashAvgWait: 'Average wait',
  dashAvgFirstResponse: 'Average first response',
  dashCsat: 'CSAT',
  dashOf: (n) => `over ${n} chat${n === 1 ? '' : 's'}`,
  dashRatings: (n) => `${n} rating${n === 1 ? '' : 's'}`,
  dashQueue: 'Queue',
  dashLongest: 'Longest wait',
  dashAgents: 'Agents',
  dashLoad: 'Load',
  dashNoAgents: 'No agents yet.',
  dashOpen: 'Open conversations',
  dashOpenFor: 'Open for',
  dashNoOpen: 'No open conversations.',
  department: 'Department',
  status: 'Status',
  state: 'State',
};
const t = (key, ...args) => {
  const v = Object.hasOwn(STRINGS, key) ? STRINGS[key] : key; // keys may come from the server (reasons)
  return typeof v === 'function' ? v(...args) : v;
};

const SESSION_KEY = 'switchboard:agent';
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const TAG_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const RETRYABLE = new Set(['store_unavailable', 'rate_limited', 'internal']);
const CANNED_ERRORS = new Set(['conflict', 'too_many', 'forbidden', 'not_found', 'too_long', 'bad_field', 'store_unavailable', 'rate_limited']);
const $ = Object.fromEntries(['signin', 'signin-form', 'email', 'password', 'signin-button', 'signin-error', 'app', 'status',
  'me', 'signout', 'banner', 'queue-count', 'take', 'queue', 'queue-note', 'convs', 'convs-empty', 'placeholder',
  'conversation', 'conv-title', 'conv-state', 'close-conv', 'log', 'typing', 'composer', 'input', 'form-error',
  'presence', 'load', 'offers-panel', 'offers', 'offline-count', 'offline-toggle', 'offline', 'offline-list',
  'offline-empty', 'transfer', 'dismiss', 'transfer-dialog', 'transfer-form', 'transfer-to', 'transfer-to-label',
  'transfer-departments', 'transfer-note', 'transfer-error', 'transfer-send', 'transfer-cancel',
  'dashboard-toggle', 'canned-open', 'alerts', 'watching-panel', 'watching', 'dashboard', 'dashboard-updated',
  'dashboard-body', 'readonly', 'canned-suggest', 'note-hint', 'canned-hint', 'input-label', 'canned-pick', 'send',
  'context', 'context-body', 'close-dialog', 'close-form', 'close-resolution', 'close-other-label', 'close-other',
  'close-error', 'close-send', 'close-cancel', 'canned-dialog', 'canned-close', 'canned-search', 'canned-list',
  'canned-empty', 'canned-form', 'canned-form-title', 'canned-shortcut', 'canned-text', 'canned-shared-label',
  'canned-shared', 'canned-error', 'canned-save', 'canned-new',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), document.getElementById(id)]));

const time = timeFormatter(navigator.language);
const dateFmt = (() => {
  try { return new Intl.DateTimeFormat(navigator.language, { dateStyle: 'medium', timeStyle: 'short' }); } catch { return new Intl.DateTimeFormat(); }
})();
const date = (ms) => dateFmt.format(new Date(ms));
const alerts = new Alerts($.alerts, t);

let client = null;
let typingOut = null;
let selected = null;      // conv id on screen
let takePending = null;   // "Take next" clicked: the conv ids known then; show the new one it brings
let typingTimer = null;
let expiryTimer = null;
let queueTimer = null;
let myName = '';
let myId = '';
let supervisor = false;
let queueCounts = null;   // supervisors: waiting per department, from the last queue frame
const offers = new Map(); // conv -> offer frame (offer mode)
let offerTimer = null;
let accepting = null;     // conv whose offer we accepted: shown once it is ours
const departed = new Map(); // conv -> reason: conversations that left us (transfer, requeue)
let transferring = null;  // {conv, timer} while a transfer is on its way
let offline = [];         // offline messages, as last sent by the server
const watching = new Set();   // supervisors: conversations followed read-only
const dropped = new Set();    // conversations removed from the lists by hand: their late frames are ignored
const resolutions = new Map(); // conv -> resolution tag, from conversation events
const visitorInfo = new Map(); // conv -> last visitor_info frame
const notes = new Map();       // client_id -> private note not acked yet {conv, client_id, text, attempts}
let cannedItems = [];
let cannedBusy = null;    // {timer} while a canned_save / canned_delete is on its way
let cannedEditing = null; // id of the canned reply in the form, null: a new one
let suggestions = { items: [], active: 0, token: null };
let dashboard = null;     // last dashboard frame
let dashboardAt = 0;
let dashboardTimer = null;
let pane = 'conversation'; // what the main pane shows: 'conversation' or 'dashboard'

const view = new TranscriptView($.log, {
  // a supervisor's read-only view has no "mine": those are the agent's messages
  mine: (m) => m.from === 'agent' && !m.internal && !watching.has(m.conv),
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
  myId = session.agent?.id || '';
  setSupervisor(session.agent?.role === 'supervisor');
  // history: every conversation we get (auto-assigned, accepted, transferred to
  // us) is resumed from 0, so its whole transcript is here before it is opened.
  client = new SwitchboardClient({ role: 'agent', token: session.token, history: true });
  typingOut = new TypingNotifier(client);
  wire(client);
  client.connect();
  const left = expiryMs(session.expires_at) - Date.now();
  if (Number.isFinite(left)) expiryTimer = setTimeout(() => end(t('expired')), Math.min(left, 2 ** 31 - 1));
  queueTimer = setInterval(renderQueue, 10000);
  showPane('conversation');
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
  watching.clear();
  dropped.clear();
  resolutions.clear();
  visitorInfo.clear();
  notes.clear();
  cannedItems = [];
  endCannedBusy();
  hideSuggestions();
  dashboard = null;
  offline = [];
  queueCounts = null;
  myId = '';
  setSupervisor(false);
  clearInterval(offerTimer);
  offerTimer = null;
  endTransfer();
  for (const d of [$.transferDialog, $.closeDialog, $.cannedDialog]) if (d.open) d.close();
  try { sessionStorage.removeItem(SESSION_KEY); } catch { /* ignore */ }
  view.clear();
  showPane('conversation');
  $.app.hidden = true;
  $.signin.hidden = false;
  $.signinError.textContent = message;
  $.password.value = '';
  document.title = 'Switchboard — agent console';
  $.email.focus();
}

function setSupervisor(on) {
  supervisor = on;
  $.dashboardToggle.hidden = !on;
  $.cannedSharedLabel.hidden = !on;
  if (!on && pane === 'dashboard') showPane('conversation');
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
    myId = f.id || myId;
    setSupervisor(f.supervisor === true);
    c.offlineList();
    c.request({ type: 'canned_list' });
    for (const n of notes.values()) sendNote(n); // same client_id: stored once
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
    if (!offers.has(f.conv)) {
      const name = f.visitor_name || t('visitor');
      alerts.notify({ title: t('alertOffer', name), body: f.first_message || '', tag: `offer-${f.conv}`, onClick: () => showPane('conversation') });
    }
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
    if (dropped.has(msg.conv)) { c.forget(msg.conv); return; }
    if (departed.has(msg.conv)) return; // not ours any more
    if (msg.internal && msg.client_id) dropPendingNote(msg.client_id);
    if (msg.conv === selected) addMessage(msg);
    const watched = watching.has(msg.conv);
    if (msg.from === 'visitor') {
      if (!watched) c.markUpTo(msg.conv, 'delivered');
      if (msg.conv === selected && !replay) showTyping(null);
      if (!watched && !replay && !(msg.conv === selected && isVisible() && document.hasFocus())) {
        const name = c.conversation(msg.conv)?.visitor_name || msg.author || t('visitor');
        alerts.notify({ title: t('alertMessage', name), body: msg.text, tag: `conv-${msg.conv}`, onClick: () => select(msg.conv) });
      }
    }
    if (msg.conv === selected && isVisible() && !watched) c.markUpTo(msg.conv, 'read');
    renderConvs();
  });

  c.on('ack', (f) => {
    const n = notes.get(f.client_id);
    if (n && n.conv === f.conv) { notes.delete(f.client_id); return; } // its message event replaces the pending one
    view.ack(f.client_id, f.seq, f.ts);
  });

  c.on('conversation', (f, rec) => {
    if (dropped.has(f.conv)) { c.forget(f.conv); return; }
    if (typeof f.resolution === 'string' && f.resolution) resolutions.set(f.conv, f.resolution);
    if (watching.has(f.conv)) {
      if (!f.local && rec.state === 'active' && f.agent_id && f.agent_id === myId) {
        watching.delete(f.conv); // handed to us: ours from now on
      } else {
        watchedChanged(f, rec);
        return;
      }
    }
    if (!f.local && leftMe(f, rec)) return;
    // Ours now by our own action (take, accept), or handed to us with nothing
    // else open on screen: show it.
    const assigned = rec.state === 'active' && (f.reason === 'assigned' || f.reason === 'transferred');
    const toUs = f.agent_id ? f.agent_id === myId : rec.agent_name === myName;
    if (assigned && !f.local && toUs && accepting !== f.conv && !takePending) {
      const name = rec.visitor_name || t('visitor');
      alerts.notify({ title: t('alertAssigned', name), tag: `conv-${f.conv}`, onClick: () => select(f.conv) });
    }
    if (rec.state === 'active' && (accepting === f.conv || (takePending && !takePending.has(f.conv)) || (assigned && !selected && pane !== 'dashboard'))) {
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
      if (rec.state === 'closed') requestContext(f.conv); // its resolution, in the history
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

  c.on('visitor_info', (f) => {
    if (typeof f.conv !== 'string' || !f.conv) return;
    visitorInfo.set(f.conv, f);
    if (f.conv === selected) renderContext();
  });

  c.on('canned', (f) => {
    cannedItems = cleanItems(f.items);
    if (cannedBusy) { endCannedBusy(); resetCannedForm(); }
    renderCanned();
    if (!$.cannedSuggest.hidden) updateSuggestions();
  });

  c.on('canned_changed', () => c.request({ type: 'canned_list' }));

  c.on('dashboard', (f) => {
    dashboard = f;
    dashboardAt = Date.now();
    syncWatched();
    renderDashboardPane();
  });

  c.on('error', (f, { entry, retry }) => {
    if (f.code === 'bad_token') { end(t('expired')); return; }
    if (f.client_id && notes.has(f.client_id)) { noteFailed(f); return; }
    if (cannedBusy && !f.conv && !f.client_id && CANNED_ERRORS.has(f.code)) {
      endCannedBusy();
      $.cannedError.textContent = STRINGS.cannedFailed[f.code] || f.message || f.code;
      return;
    }
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

// A conversation followed read-only changed (assigned, transferred, closed).
function watchedChanged(f, rec) {
  if (f.conv === selected) {
    const prev = $.convState.dataset.state;
    if (rec.state === 'closed' && prev !== 'closed' && !f.local) view.note(t('closedBecause', f.reason));
    renderHeader();
  }
  renderConvs();
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
  const rank = { active: 0, bot: 1, waiting: 1, closed: 2 };
  return [...client.convs.values()].filter((r) => !dropped.has(r.conv))
    .sort((a, b) => (rank[a.state] ?? 3) - (rank[b.state] ?? 3) || b.updated - a.updated);
}

function convButton(rec, unread, state, label) {
  const button = el('button', { type: 'button', class: 'conv', 'data-conv': rec.conv, 'data-state': state, 'aria-current': rec.conv === selected ? 'true' : null },
    el('span', { class: 'conv__name', text: rec.visitor_name || t('visitor') }),
    el('span', { class: `conv__state conv__state--${state}`, text: label }),
    unread ? el('span', { class: 'conv__unread', 'aria-label': t('unread', unread), text: String(unread) }) : null);
  button.addEventListener('click', () => select(rec.conv));
  return el('li', {}, button);
}

function renderConvs() {
  if (!client) return;
  const focused = document.activeElement?.dataset?.conv;
  let total = 0;
  const mine = [];
  const watched = [];
  for (const rec of sortedConvs()) {
    if (watching.has(rec.conv)) {
      watched.push(convButton(rec, 0, 'readonly', [t(rec.state), rec.agent_name].filter(Boolean).join(' · ')));
      continue;
    }
    const gone = departed.get(rec.conv);
    const unread = gone || (rec.conv === selected && isVisible()) ? 0 : client.unread(rec.conv);
    total += unread;
    mine.push(convButton(rec, unread, gone ? 'departed' : rec.state, t(gone || rec.state)));
  }
  $.convs.replaceChildren(...mine);
  $.convsEmpty.hidden = mine.length > 0;
  $.watching.replaceChildren(...watched);
  $.watchingPanel.hidden = watched.length === 0;
  if (focused) document.querySelector(`.sidebar [data-conv="${CSS.escape(focused)}"]`)?.focus();
  document.title = `${total ? `(${total}) ` : ''}Switchboard — agent console`;
}

function renderHeader() {
  const rec = selected && client?.conversation(selected);
  if (!rec) return;
  const gone = departed.get(rec.conv);
  const readOnly = watching.has(rec.conv);
  $.convTitle.textContent = rec.visitor_name || t('visitor');
  $.convState.textContent = [readOnly ? t('readOnly') : '', t(gone || rec.state), readOnly && rec.agent_name ? t('withAgent', rec.agent_name) : '',
    rec.department, resolutions.get(rec.conv)].filter(Boolean).join(' · ');
  $.convState.dataset.state = gone ? 'departed' : rec.state;
  const closed = rec.state === 'closed';
  $.closeConv.hidden = closed || readOnly;
  $.transfer.hidden = closed || readOnly;
  $.dismiss.hidden = !closed && !readOnly;
  $.dismiss.textContent = t(readOnly ? 'stopWatching' : 'removeFromList');
  $.composer.hidden = closed || readOnly;
  $.readonly.hidden = !readOnly;
  $.conversation.classList.toggle('conversation--readonly', readOnly);
  if (closed || readOnly) { showTyping(null); hideSuggestions(); }
  if (ID_RE.test(rec.department || '')) knownDepartments.add(rec.department);
}

function addMessage(m) {
  const item = view.add(m);
  // notes say so in words too, not only in colour
  if (m.internal && !item.querySelector('.msg__private')) item.querySelector('.msg__meta')?.prepend(el('span', { class: 'msg__private', text: t('agentsOnly') }));
  return item;
}

function select(conv) {
  if (!client?.conversation(conv)) return;
  if (conv !== selected) {
    typingOut.stop();
    $.input.value = '';
    $.formError.textContent = '';
    hideSuggestions();
  }
  selected = conv;
  showPane('conversation');
  view.clear();
  for (const m of client.messages(conv)) addMessage(m);
  for (const e of client.pending(conv)) view.addPending(e, 'agent');
  for (const n of notes.values()) if (n.conv === conv) showPendingNote(n);
  if (departed.has(conv)) view.note(t('departedNote', departed.get(conv)));
  view.setReceipts(client.conversation(conv).peer);
  showTyping(null);
  renderHeader();
  renderContext();
  requestContext(conv);
  client.load(conv); // first time: resume after 0 brings the whole transcript
  if (isVisible() && !watching.has(conv)) client.markUpTo(conv, 'read');
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

// The main pane: a conversation (with the visitor beside it) or the dashboard.
function showPane(which) {
  pane = which === 'dashboard' && supervisor ? 'dashboard' : 'conversation';
  const dash = pane === 'dashboard';
  $.dashboard.hidden = !dash;
  $.dashboardToggle.setAttribute('aria-pressed', String(dash));
  $.conversation.hidden = dash || !selected;
  $.placeholder.hidden = dash || !!selected;
  $.context.hidden = dash || !selected;
  clearInterval(dashboardTimer);
  dashboardTimer = null;
  if (dash) {
    renderDashboardPane();
    dashboardTimer = setInterval(() => tickDashboard($.dashboardBody), 1000);
  }
}

// ---- visitor context --------------------------------------------------------------

function requestContext(conv) {
  // the assigned agent (open or closed) and supervisors may ask; a conversation
  // that left us would only be refused
  if (!client || departed.has(conv) || (watching.has(conv) && !supervisor)) return;
  client.request({ type: 'visitor_info', conv });
}

function renderContext() {
  if (!selected) return;
  renderVisitor($.contextBody, visitorInfo.get(selected) || null, { conv: selected, t, date });
}

// ---- supervision ------------------------------------------------------------------

function renderDashboardPane() {
  if (pane !== 'dashboard' || !dashboard) return;
  // keep the keyboard focus on the same row's button across pushes
  const focusedConv = $.dashboardBody.contains(document.activeElement) ? document.activeElement.closest('[data-conv]')?.dataset.conv : null;
  renderDashboard($.dashboardBody, dashboard, { t, myId, watching, onOpen: openFromDashboard });
  $.dashboardUpdated.textContent = t('updatedAt', time(dashboardAt));
  if (focusedConv) $.dashboardBody.querySelector(`tr[data-conv="${CSS.escape(focusedConv)}"] button`)?.focus();
}

// Open a conversation from the dashboard: ours as usual, anyone else's
// read-only (resume: transcript, notes and what follows; no writes).
function openFromDashboard(s) {
  if (!client) return;
  const own = s.agent_id && s.agent_id === myId;
  dropped.delete(s.conv);
  let rec = client.conversation(s.conv);
  if (!own) {
    watching.add(s.conv);
    if (departed.delete(s.conv) && rec) client.resume(s.conv, Math.max(rec.lastSeq, rec.floor)); // we had stopped following it
  }
  if (!rec) {
    client.load(s.conv);
    rec = client.conversation(s.conv);
  }
  if (typeof s.visitor_name === 'string' && s.visitor_name) rec.visitor_name = s.visitor_name;
  if (typeof s.agent_name === 'string') rec.agent_name = s.agent_name;
  if (typeof s.department === 'string') rec.department = s.department;
  if (typeof s.state === 'string' && s.state) rec.state = s.state;
  renderConvs();
  select(s.conv);
}

// The dashboard lists the open conversations: the state of the ones we
// follow read-only is taken from there (conversation events may not reach us).
function syncWatched() {
  if (!client || !watching.size) return;
  const list = Array.isArray(dashboard?.conversations) ? dashboard.conversations : [];
  const open = new Map(list.filter((x) => x && typeof x.conv === 'string').map((x) => [x.conv, x]));
  let changed = false;
  for (const conv of watching) {
    const rec = client.conversation(conv);
    if (!rec) continue;
    const s = open.get(conv);
    if (s) {
      if (rec.state !== s.state || (typeof s.agent_name === 'string' && rec.agent_name !== s.agent_name)) {
        if (typeof s.state === 'string' && s.state) rec.state = s.state;
        if (typeof s.agent_name === 'string') rec.agent_name = s.agent_name;
        changed = true;
      }
    } else if (rec.state !== 'closed' && list.length < 500) { // the list is capped: only then is absence news
      rec.state = 'closed';
      if (conv === selected) view.note(t('closedBecause', ''));
      changed = true;
    }
  }
  if (changed) { renderHeader(); renderConvs(); }
}

$.dashboardToggle.addEventListener('click', () => showPane(pane === 'dashboard' ? 'conversation' : 'dashboard'));

// ---- actions --------------------------------------------------------------------

$.take.addEventListener('click', () => {
  if (client?.take()) takePending = new Set(client.convs.keys());
});

// A conversation that is over (closed, or no longer ours), or one followed
// read-only, leaves the list.
$.dismiss.addEventListener('click', () => {
  if (!selected || !client) return;
  if (watching.delete(selected)) dropped.add(selected); // the server may still send its frames
  departed.delete(selected);
  client.forget(selected);
  selected = null;
  view.clear();
  showPane('conversation');
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

// ---- close with a resolution ------------------------------------------------------

function syncCloseOther() {
  const other = $.closeResolution.value === 'other';
  $.closeOther.hidden = !other;
  $.closeOtherLabel.hidden = !other;
}

$.closeConv.addEventListener('click', () => {
  if (!selected) return;
  $.closeResolution.value = '';
  $.closeOther.value = '';
  $.closeError.textContent = '';
  syncCloseOther();
  $.closeDialog.showModal();
  $.closeResolution.focus();
});

$.closeResolution.addEventListener('change', () => {
  syncCloseOther();
  if (!$.closeOther.hidden) $.closeOther.focus();
});
$.closeCancel.addEventListener('click', () => $.closeDialog.close());
$.closeOther.addEventListener('input', () => { $.closeError.textContent = ''; });

$.closeForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const choice = $.closeResolution.value;
  const resolution = choice === 'other' ? $.closeOther.value.trim() : choice;
  if (resolution && !TAG_RE.test(resolution)) { $.closeError.textContent = t('badTag'); $.closeOther.focus(); return; }
  if (!client || !selected) return;
  const frame = { type: 'close', conv: selected };
  if (resolution) frame.resolution = resolution;
  if (!client.request(frame)) { $.closeError.textContent = t('unreachable'); return; }
  $.closeDialog.close();
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

// ---- composer: replies and private notes --------------------------------------------

const noteMode = () => $.composer.elements.mode.value === 'note';

function syncMode() {
  const note = noteMode();
  $.composer.dataset.mode = note ? 'note' : 'reply';
  $.noteHint.hidden = !note;
  $.cannedHint.hidden = note;
  $.send.textContent = t(note ? 'addNote' : 'send');
  $.inputLabel.textContent = t(note ? 'note' : 'reply');
  $.input.placeholder = t(note ? 'notePlaceholder' : 'replyPlaceholder');
  if (note) typingOut?.stop(); // the visitor must not see "typing" for a note
}

$.composer.addEventListener('change', (e) => {
  if (e.target.name !== 'mode') return;
  syncMode();
  $.input.focus();
});

$.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $.input.value;
  if (!client || !selected || !text.trim() || watching.has(selected)) return;
  if (utf8Length(text) > MAX_TEXT_BYTES) { $.formError.textContent = t('tooLong'); return; }
  $.formError.textContent = '';
  if (noteMode()) addNote(selected, text);
  else view.addPending(client.send(selected, text), 'agent');
  $.input.value = '';
  hideSuggestions();
  typingOut.stop();
});

function sendNote(n) {
  client?.request({ type: 'note', conv: n.conv, client_id: n.client_id, text: n.text });
}

// A private note goes out at once and again after a reconnect (same client_id:
// stored once) until acked; it shows as pending until its message comes back.
function addNote(conv, text) {
  const n = { conv, client_id: newClientId(), text, attempts: 0 };
  notes.set(n.client_id, n);
  sendNote(n);
  if (conv === selected) showPendingNote(n);
}

function showPendingNote(n) {
  if ($.log.querySelector(`[data-note="${CSS.escape(n.client_id)}"]`)) return;
  $.log.append(el('li', { class: 'msg msg--agent msg--internal msg--pending', 'data-note': n.client_id },
    el('span', { class: 'msg__author', text: t('noteBy', myName) }),
    el('div', { class: 'msg__text', text: n.text }),
    el('span', { class: 'msg__meta' }, el('span', { class: 'msg__private', text: t('agentsOnly') }), el('span', { class: 'msg__status', text: t('sending') }))));
  view.scrollToEnd();
}

function dropPendingNote(clientId) {
  notes.delete(clientId);
  $.log.querySelector(`[data-note="${CSS.escape(clientId)}"]`)?.remove();
}

function noteFailed(f) {
  const n = notes.get(f.client_id);
  n.attempts++;
  if (RETRYABLE.has(f.code) && n.attempts < 6) {
    setTimeout(() => { if (notes.get(n.client_id) === n) sendNote(n); }, 1000 * 2 ** (n.attempts - 1));
    return;
  }
  notes.delete(f.client_id);
  const item = $.log.querySelector(`[data-note="${CSS.escape(f.client_id)}"]`);
  if (item) {
    item.classList.replace('msg--pending', 'msg--failed');
    item.querySelector('.msg__status').textContent = t('failed');
  }
  if (n.conv === selected) $.formError.textContent = t('noteFailed', f.code);
}

$.input.addEventListener('keydown', (e) => {
  if (!$.cannedSuggest.hidden && suggestions.items.length) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = suggestions.items.length;
      suggestions.active = (suggestions.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      renderSuggestions();
      return;
    }
    if ((e.key === 'Tab' || e.key === 'Enter') && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      acceptSuggestion(suggestions.active);
      return;
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      hideSuggestions();
      return;
    }
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    $.composer.requestSubmit();
  }
});

$.input.addEventListener('input', () => {
  if (selected && client?.ready && !noteMode() && !watching.has(selected)) typingOut.input(selected);
  updateSuggestions();
});
$.input.addEventListener('click', updateSuggestions);
$.input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== $.input) hideSuggestions(); }, 150));

document.addEventListener('visibilitychange', () => {
  if (client && selected && isVisible() && !watching.has(selected) && client.markUpTo(selected, 'read')) renderConvs();
});

// ---- canned replies: /shortcut in the composer ------------------------------------

function placeholderValues() {
  const info = selected && visitorInfo.get(selected);
  const name = (typeof info?.visitor?.name === 'string' && info.visitor.name) || client?.conversation(selected)?.visitor_name || '';
  return { 'visitor.name': name, 'agent.name': myName };
}

function updateSuggestions() {
  const token = slashToken($.input.value, $.input.selectionStart ?? $.input.value.length);
  const items = token ? byShortcut(cannedItems, token.prefix).slice(0, 8) : [];
  if (!items.length) { hideSuggestions(); return; }
  const same = suggestions.items[suggestions.active];
  suggestions = { items, token, active: Math.max(0, items.indexOf(same)) };
  renderSuggestions();
}

function renderSuggestions() {
  $.cannedSuggest.replaceChildren(...suggestions.items.map((item, i) => {
    const option = el('li', { id: `canned-option-${i}`, class: 'suggest__item', role: 'option', 'aria-selected': String(i === suggestions.active), 'data-shortcut': item.shortcut },
      el('span', { class: 'suggest__shortcut', text: `/${item.shortcut}` }),
      el('span', { class: 'tag', text: t(item.shared ? 'shared' : 'personal') }),
      el('span', { class: 'suggest__text', text: item.text }));
    option.addEventListener('mousedown', (e) => { e.preventDefault(); acceptSuggestion(i); }); // keep the focus in the input
    return option;
  }));
  $.cannedSuggest.hidden = false;
  $.input.setAttribute('aria-expanded', 'true');
  $.input.setAttribute('aria-activedescendant', `canned-option-${suggestions.active}`);
}

function hideSuggestions() {
  suggestions = { items: [], active: 0, token: null };
  $.cannedSuggest.hidden = true;
  $.cannedSuggest.replaceChildren();
  $.input.setAttribute('aria-expanded', 'false');
  $.input.removeAttribute('aria-activedescendant');
}

function acceptSuggestion(i) {
  const item = suggestions.items[i];
  const token = suggestions.token;
  hideSuggestions();
  if (!item || !token) return;
  const text = fillPlaceholders(item.text, placeholderValues());
  const v = $.input.value;
  $.input.value = v.slice(0, token.start) + text + v.slice(token.end);
  const caret = token.start + text.length;
  $.input.setSelectionRange(caret, caret);
  $.input.focus();
}

function insertIntoComposer(text) {
  const { selectionStart: a, selectionEnd: b, value } = $.input;
  const start = a ?? value.length;
  const end = b ?? start;
  $.input.value = value.slice(0, start) + text + value.slice(end);
  $.input.setSelectionRange(start + text.length, start + text.length);
  $.input.focus();
}

// ---- canned replies: the panel (search, insert, add, edit, delete) ---------------

const canWrite = () => !!(selected && !$.composer.hidden);
const canEdit = (item) => (item.shared ? supervisor : !item.owner || item.owner === myId);

function openCanned() {
  if (!client) return;
  $.cannedError.textContent = '';
  $.cannedSearch.value = '';
  if (!cannedBusy) resetCannedForm();
  renderCanned();
  client.request({ type: 'canned_list' });
  $.cannedDialog.showModal();
  $.cannedSearch.focus();
}

$.cannedOpen.addEventListener('click', openCanned);
$.cannedPick.addEventListener('click', openCanned);
$.cannedClose.addEventListener('click', () => $.cannedDialog.close());
$.cannedSearch.addEventListener('input', renderCanned);
$.cannedNew.addEventListener('click', () => { resetCannedForm(); $.cannedShortcut.focus(); });

function renderCanned() {
  const items = search(cannedItems, $.cannedSearch.value);
  const insertable = canWrite();
  $.cannedList.replaceChildren(...items.map((item) => {
    const actions = el('div', { class: 'canned__actions' });
    if (insertable) {
      const insert = el('button', { type: 'button', class: 'button button--small', text: t('insert') });
      insert.addEventListener('click', () => {
        $.cannedDialog.close();
        insertIntoComposer(fillPlaceholders(item.text, placeholderValues()));
      });
      actions.append(insert);
    }
    if (canEdit(item)) {
      const edit = el('button', { type: 'button', class: 'button button--quiet button--small', text: t('edit') });
      edit.addEventListener('click', () => editCanned(item));
      const del = el('button', { type: 'button', class: 'button button--quiet button--small button--danger-quiet', text: t('delete') });
      del.addEventListener('click', () => {
        if (del.dataset.confirm !== 'yes') { del.dataset.confirm = 'yes'; del.textContent = t('confirmDelete'); return; } // no window.confirm
        if (cannedBusy || !client?.request({ type: 'canned_delete', id: item.id })) return;
        startCannedBusy();
        del.disabled = true;
      });
      actions.append(edit, del);
    }
    return el('li', { class: 'canned__item', 'data-id': item.id, 'data-shortcut': item.shortcut, 'data-shared': String(!!item.shared) },
      el('div', { class: 'canned__head' },
        el('code', { class: 'canned__shortcut', text: `/${item.shortcut}` }),
        el('span', { class: `tag${item.shared ? ' tag--shared' : ''}`, text: t(item.shared ? 'shared' : 'personal') })),
      el('p', { class: 'canned__text', text: item.text }),
      actions);
  }));
  $.cannedEmpty.hidden = items.length > 0;
}

function editCanned(item) {
  cannedEditing = item.id;
  $.cannedFormTitle.textContent = t('cannedEdit', item.shortcut);
  $.cannedShortcut.value = item.shortcut;
  $.cannedText.value = item.text;
  $.cannedShared.checked = !!item.shared;
  $.cannedError.textContent = '';
  $.cannedShortcut.focus();
}

function resetCannedForm() {
  cannedEditing = null;
  $.cannedFormTitle.textContent = t('cannedNew');
  $.cannedShortcut.value = '';
  $.cannedText.value = '';
  $.cannedShared.checked = false;
  $.cannedError.textContent = '';
}

function startCannedBusy() {
  $.cannedSave.disabled = true;
  cannedBusy = { timer: setTimeout(() => { endCannedBusy(); $.cannedError.textContent = t('noResponse'); renderCanned(); }, 10000) };
}

function endCannedBusy() {
  if (cannedBusy) clearTimeout(cannedBusy.timer);
  cannedBusy = null;
  $.cannedSave.disabled = false;
}

$.cannedForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const shortcut = $.cannedShortcut.value.trim().replace(/^\//, '');
  const text = $.cannedText.value;
  if (!SHORTCUT_RE.test(shortcut)) { $.cannedError.textContent = t('badShortcut'); $.cannedShortcut.focus(); return; }
  if (!text.trim()) { $.cannedError.textContent = t('emptyText'); $.cannedText.focus(); return; }
  if (utf8Length(text) > MAX_TEXT_BYTES) { $.cannedError.textContent = t('tooLong'); return; }
  if (!client || cannedBusy) return;
  const frame = { type: 'canned_save', shortcut, text, shared: supervisor && $.cannedShared.checked };
  if (cannedEditing) frame.id = cannedEditing;
  $.cannedError.textContent = '';
  if (!client.request(frame)) { $.cannedError.textContent = t('unreachable'); return; }
  startCannedBusy();
});

// ---- go -------------------------------------------------------------------------

syncMode();
const session = loadSession();
if (session) begin(session);
else end();
