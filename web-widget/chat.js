// The visitor chat app, shown inside the widget's iframe (or standalone at
// /chat.html). Query: ?site=<id>&locale=en|hi|tr&parent=<embedding page origin>.
import { SwitchboardClient, TypingNotifier, MAX_TEXT_BYTES, utf8Length } from './client.js';
import { TranscriptView, renderStatus, timeFormatter } from './ui.js';

// Every UI string, per language. To add a language, add one entry here (and
// its launcher labels in widget.js). Functions take the values they show.
export const STRINGS = {
  en: {
    title: 'Chat with us',
    greeting: 'Hello! How can we help you today?',
    nameLabel: 'Your name (optional)',
    messageLabel: 'Message',
    placeholder: 'Type your message…',
    send: 'Send',
    minimise: 'Hide chat',
    waiting: 'Waiting for an agent…',
    joined: (name) => `${name} joined the chat`,
    chattingWith: (name) => `Chatting with ${name}`,
    closed: 'Chat closed',
    newChat: 'Start a new chat',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    offline: 'Offline',
    typing: (name) => `${name} is typing…`,
    agent: 'Agent',
    bot: 'Assistant',
    sending: 'Sending',
    sent: 'Sent',
    delivered: 'Delivered',
    read: 'Read',
    failed: 'Not sent',
    tooLong: 'This message is too long.',
    sendFailed: 'Your message could not be sent.',
  },
  hi: {
    title: 'हमसे बात करें',
    greeting: 'नमस्ते! हम आज आपकी क्या मदद कर सकते हैं?',
    nameLabel: 'आपका नाम (वैकल्पिक)',
    messageLabel: 'संदेश',
    placeholder: 'अपना संदेश लिखें…',
    send: 'भेजें',
    minimise: 'चैट छिपाएँ',
    waiting: 'एजेंट की प्रतीक्षा की जा रही है…',
    joined: (name) => `${name} चैट में शामिल हुए`,
    chattingWith: (name) => `${name} से बातचीत`,
    closed: 'चैट बंद हो गई',
    newChat: 'नई चैट शुरू करें',
    connecting: 'कनेक्ट हो रहा है…',
    reconnecting: 'फिर से कनेक्ट हो रहा है…',
    offline: 'ऑफ़लाइन',
    typing: (name) => `${name} लिख रहे हैं…`,
    agent: 'एजेंट',
    bot: 'सहायक',
    sending: 'भेजा जा रहा है',
    sent: 'भेजा गया',
    delivered: 'पहुँच गया',
    read: 'पढ़ लिया गया',
    failed: 'नहीं भेजा गया',
    tooLong: 'यह संदेश बहुत लंबा है।',
    sendFailed: 'आपका संदेश नहीं भेजा जा सका।',
  },
  tr: {
    title: 'Bize yazın',
    greeting: 'Merhaba! Size bugün nasıl yardımcı olabiliriz?',
    nameLabel: 'Adınız (isteğe bağlı)',
    messageLabel: 'Mesaj',
    placeholder: 'Mesajınızı yazın…',
    send: 'Gönder',
    minimise: 'Sohbeti gizle',
    waiting: 'Bir temsilci bekleniyor…',
    joined: (name) => `${name} sohbete katıldı`,
    chattingWith: (name) => `${name} ile sohbet`,
    closed: 'Sohbet kapandı',
    newChat: 'Yeni sohbet başlat',
    connecting: 'Bağlanıyor…',
    reconnecting: 'Yeniden bağlanıyor…',
    offline: 'Çevrimdışı',
    typing: (name) => `${name} yazıyor…`,
    agent: 'Temsilci',
    bot: 'Asistan',
    sending: 'Gönderiliyor',
    sent: 'Gönderildi',
    delivered: 'İletildi',
    read: 'Okundu',
    failed: 'Gönderilemedi',
    tooLong: 'Bu mesaj çok uzun.',
    sendFailed: 'Mesajınız gönderilemedi.',
  },
};

export function pickLanguage(requested, preferred = navigator.languages || [navigator.language]) {
  for (const tag of [requested, ...preferred]) {
    const base = String(tag || '').toLowerCase().split(/[-_]/)[0];
    if (Object.hasOwn(STRINGS, base)) return base;
  }
  return 'en';
}

const params = new URLSearchParams(location.search);
const site = (params.get('site') || 'default').replace(/[^A-Za-z0-9._:-]/g, '').slice(0, 64) || 'default';
const lang = pickLanguage(params.get('locale'));
const t = (key, ...args) => {
  const v = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

// ---- embedding: talk to the loader on the host page -------------------------

const embedded = window.parent !== window;
const parentOrigin = validOrigin(params.get('parent'));
let panelOpen = !(embedded && parentOrigin); // told by the loader when embedded

function validOrigin(value) {
  try {
    const u = new URL(value);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === value ? value : null;
  } catch { return null; }
}

function toParent(type, data = {}) {
  if (embedded && parentOrigin) window.parent.postMessage({ source: 'switchboard', type, ...data }, parentOrigin);
}

addEventListener('message', (e) => {
  if (!parentOrigin || e.source !== window.parent || e.origin !== parentOrigin) return;
  const d = e.data;
  if (!d || d.source !== 'switchboard') return;
  if (d.type === 'state') {
    panelOpen = !!d.open;
    if (panelOpen && d.focus) $.input.focus({ preventScroll: true });
    onVisibility();
  }
});

// ---- elements, strings ----------------------------------------------------------

const $ = Object.fromEntries(['subtitle', 'minimise', 'banner', 'log', 'typing', 'closed', 'new-chat', 'composer',
  'prechat', 'name', 'input', 'send', 'form-error'].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), document.getElementById(id)]));

document.documentElement.lang = lang;
for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
for (const n of document.querySelectorAll('[data-i18n-label]')) n.setAttribute('aria-label', t(n.dataset.i18nLabel));
for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
document.title = t('title');
$.minimise.hidden = !(embedded && parentOrigin);

// ---- the client ---------------------------------------------------------------

const client = new SwitchboardClient({ role: 'visitor', storage: safeStorage(), storageKey: `switchboard:${site}` });
const typingOut = new TypingNotifier(client);
const view = new TranscriptView($.log, {
  mine: (m) => m.from === 'visitor',
  label: (m) => (m.from === 'agent' ? m.author || t('agent') : m.from === 'bot' ? m.author || t('bot') : ''),
  t,
  time: timeFormatter(lang),
});

let shown = null;         // conv id on screen (null: none yet)
let shownState = null;    // its state as last rendered, to announce changes
let started = false;      // connect() was called
let typingTimer = null;
let lastUnread = -1;
let lastActive = null;

function safeStorage() {
  try {
    const s = window.localStorage;
    s.setItem('switchboard:probe', '1');
    s.removeItem('switchboard:probe');
    return s;
  } catch { // blocked third-party storage: keep state for this page only
    const m = new Map();
    return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
  }
}

// The conversation to show: the open one, else the latest closed one.
function currentRecord() {
  const recs = [...client.convs.values()].sort((a, b) => b.updated - a.updated);
  return recs.find((r) => r.state !== 'closed') || recs[0] || null;
}

function openConv() {
  const rec = currentRecord();
  return rec && rec.state !== 'closed' ? rec.conv : null;
}

function start() {
  if (started) return;
  started = true;
  client.connect();
}

// ---- rendering ----------------------------------------------------------------

function render() {
  const rec = currentRecord();
  shown = rec ? rec.conv : null;
  shownState = rec ? rec.state : null;
  $.subtitle.dataset.agent = rec?.agent_name || '';
  view.clear();
  view.note(t('greeting'), 'note--greeting');
  if (rec) {
    for (const m of client.messages(rec.conv)) view.add(m);
    view.setReceipts(rec.peer);
  }
  for (const e of [...client.pending(null), ...(rec ? client.pending(rec.conv) : [])]) view.addPending(e, 'visitor');
  $.prechat.hidden = Boolean(client.name || client.token || rec || client.pending(null).length);
  showTyping(null);
  renderState();
  view.scrollToEnd();
}

function renderState() {
  const rec = shown && client.conversation(shown);
  const state = rec ? rec.state : null;
  $.subtitle.textContent = state === 'waiting' ? t('waiting')
    : state === 'active' ? (rec.agent_name ? t('chattingWith', rec.agent_name) : '')
      : state === 'closed' ? t('closed') : '';
  const closed = state === 'closed';
  $.closed.hidden = !closed;
  $.composer.hidden = closed;
  if (lastActive !== !!openConv()) {
    lastActive = !!openConv();
    toParent('active', { value: lastActive }); // the loader preloads us on the next page
  }
  updateUnread();
}

// A state change seen live: announce it in the transcript, unless the server
// has just said so itself in a system message.
function announce(rec, prevState, prevAgent) {
  const last = client.messages(rec.conv).at(-1);
  const serverSaid = last?.from === 'system' && (!rec.agent_name || last.text.includes(rec.agent_name));
  if (rec.state === 'active' && rec.agent_name && (prevState !== 'active' || prevAgent !== rec.agent_name)) {
    if (!serverSaid) view.note(t('joined', rec.agent_name));
  } else if (rec.state === 'closed' && prevState !== 'closed') {
    view.note(t('closed'), 'note--closed');
  }
}

function showTyping(name) {
  clearTimeout(typingTimer);
  $.typing.textContent = name ? t('typing', name) : '';
  // "off" can be lost with a dropped connection: never show it for long.
  if (name) typingTimer = setTimeout(() => showTyping(null), 8000);
}

function isVisible() {
  return panelOpen && document.visibilityState === 'visible';
}

function updateUnread() {
  const n = shown && !isVisible() ? client.unread(shown) : 0;
  if (n !== lastUnread) {
    lastUnread = n;
    toParent('unread', { count: n });
  }
}

function onVisibility() {
  if (shown && isVisible()) client.markUpTo(shown, 'read');
  updateUnread();
}

function showError(text) {
  $.formError.textContent = text || '';
}

// ---- client events ----------------------------------------------------------

client.on('status', (status) => { if (started) renderStatus($.banner, status, t); });

client.on('welcome', () => {
  if (currentRecord()?.conv !== shown) render();
  else renderState();
});

client.on('reset', render);

client.on('message', (msg, { replay }) => {
  if (msg.conv !== shown) {
    if (currentRecord()?.conv !== msg.conv) return; // not the chat on screen
    render();
  } else {
    view.add(msg);
  }
  if (msg.from !== 'visitor') {
    client.markUpTo(msg.conv, 'delivered');
    if (isVisible()) client.markUpTo(msg.conv, 'read');
    if (!replay && msg.from !== 'system') showTyping(null);
  }
  updateUnread();
});

client.on('ack', (f) => view.ack(f.client_id, f.seq, f.ts));

client.on('conversation', (f, rec) => {
  if (f.conv !== shown) {
    if (currentRecord()?.conv === f.conv) render();
    return;
  }
  const prevState = shownState;
  const prevAgent = $.subtitle.dataset.agent;
  shownState = rec.state;
  $.subtitle.dataset.agent = rec.agent_name || '';
  announce(rec, prevState, prevAgent);
  if (rec.state === 'closed') showTyping(null);
  renderState();
});

client.on('typing', (f) => {
  if (f.conv !== shown || f.from === 'visitor') return;
  const rec = client.conversation(f.conv);
  showTyping(f.on ? (f.from === 'bot' ? t('bot') : rec?.agent_name || t('agent')) : null);
});

client.on('receipt', (f, rec) => {
  if (f.conv !== shown || !rec) return;
  view.setReceipts(rec.peer);
  updateUnread();
});

client.on('error', (f, { entry, retry }) => {
  if (!entry || retry) return;
  const failed = entry.type === 'start' ? client.pending(null) : [entry];
  for (const e of failed) {
    view.fail(e.client_id);
    client.discard(e.client_id);
  }
  showError(t('sendFailed'));
});

// ---- user actions -------------------------------------------------------------

$.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $.input.value;
  if (!text.trim()) return;
  if (utf8Length(text) > MAX_TEXT_BYTES) { showError(t('tooLong')); return; }
  showError('');
  if (!$.prechat.hidden) {
    if ($.name.value.trim()) client.setIdentity({ name: $.name.value });
    $.prechat.hidden = true;
  }
  const entry = client.send(openConv(), text);
  view.addPending(entry, 'visitor');
  $.input.value = '';
  autosize();
  typingOut.stop();
  start();
  $.input.focus();
});

$.input.addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter is a new line; never while an IME is composing.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    $.composer.requestSubmit();
  }
});

$.input.addEventListener('input', () => {
  autosize();
  const conv = openConv();
  if (conv && client.ready) typingOut.input(conv);
});

function autosize() {
  $.input.style.height = 'auto';
  $.input.style.height = `${Math.min($.input.scrollHeight, 140)}px`;
}

$.newChat.addEventListener('click', () => {
  for (const rec of [...client.convs.values()]) if (rec.state === 'closed') client.forget(rec.conv);
  render();
  $.input.focus();
});

$.minimise.addEventListener('click', () => toParent('close'));
addEventListener('keydown', (e) => { if (e.key === 'Escape' && embedded) toParent('close'); });
document.addEventListener('visibilitychange', onVisibility);

// ---- go -----------------------------------------------------------------------

render();
if (client.token || client.outbox.size) start(); // a returning visitor: resume at once
toParent('ready');
