// The visitor chat app in the widget's iframe (or standalone at /chat.html);
// its query and behaviour: web-widget/README.md.
import { SwitchboardClient, TypingNotifier, MAX_TEXT_BYTES, utf8Length } from './client.js';
import { TranscriptView, el, renderStatus, timeFormatter } from './ui.js';

// Every UI string, per language (the launcher's own are in widget.js).
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
    emailLabel: 'Email (optional)',
    departmentLabel: 'Department',
    anyDepartment: 'Any department',
    queuePosition: (n) => (n <= 1 ? 'You are next in the queue' : `You are number ${n} in the queue`),
    estimatedWait: (min) => (min < 1 ? 'Estimated wait: less than a minute' : `Estimated wait: about ${min} min`),
    transferring: 'You are being transferred…',
    requeued: 'Waiting for the next agent…',
    no_agents: 'Nobody is available to chat right now.',
    closed_hours: 'We are closed at the moment.',
    queue_full: 'All our agents are busy right now.',
    unavailable: 'Chat is not available right now.',
    leaveTitle: 'Leave a message',
    leaveIntro: 'Leave a message and we will get back to you by email.',
    leaveName: 'Your name (optional)',
    leaveEmail: 'Email (required)',
    leaveText: 'Message',
    leaveSend: 'Send message',
    tryAgain: 'Try chatting again',
    badEmail: 'Please enter a valid email address.',
    needText: 'Please write a message.',
    leaveFailed: 'Your message could not be sent. Please try again.',
    leftTitle: 'Message sent',
    leftBody: (email) => `Thank you! We will reply to ${email} as soon as we can.`,
    startChat: 'Start a chat',
    withBot: 'Chatting with our assistant',
    talkToPerson: 'Talk to a person',
    connectingPerson: 'Connecting you to a person…',
    yes: 'Yes',
    no: 'No',
    suggested: 'Suggested questions',
    backToBot: 'Keep chatting with the assistant',
    leaveOrBot: 'Leave a message and we will get back to you by email, or keep chatting with the assistant.',
    backToChat: 'Back to the chat',
    endChat: 'End chat',
    endConfirm: 'Yes, end chat',
    rateTitle: 'How was your chat?',
    stars: (n) => `${n} out of 5`,
    rateComment: 'Comment (optional)',
    rateSend: 'Send rating',
    pickScore: 'Please choose a rating from 1 to 5.',
    rateFailed: 'Your rating could not be sent. Please try again.',
    rated: 'Thank you for your feedback!',
    transcript: 'Download transcript',
    you: 'You',
    verified: (name) => (name ? `Signed in as ${name}` : 'Signed in'),
    badSignature: 'We could not confirm your account. Please reload the page or sign in again.',
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
    emailLabel: 'ईमेल (वैकल्पिक)',
    departmentLabel: 'विभाग',
    anyDepartment: 'कोई भी विभाग',
    queuePosition: (n) => (n <= 1 ? 'कतार में अगला नंबर आपका है' : `कतार में आपका स्थान: ${n}`),
    estimatedWait: (min) => (min < 1 ? 'अनुमानित प्रतीक्षा: एक मिनट से कम' : `अनुमानित प्रतीक्षा: लगभग ${min} मिनट`),
    transferring: 'आपकी चैट स्थानांतरित की जा रही है…',
    requeued: 'अगले एजेंट की प्रतीक्षा की जा रही है…',
    no_agents: 'इस समय चैट के लिए कोई उपलब्ध नहीं है।',
    closed_hours: 'इस समय हमारा कार्यालय बंद है।',
    queue_full: 'इस समय हमारे सभी एजेंट व्यस्त हैं।',
    unavailable: 'इस समय चैट उपलब्ध नहीं है।',
    leaveTitle: 'संदेश छोड़ें',
    leaveIntro: 'अपना संदेश छोड़ें, हम ईमेल से आपको जवाब देंगे।',
    leaveName: 'आपका नाम (वैकल्पिक)',
    leaveEmail: 'ईमेल (आवश्यक)',
    leaveText: 'संदेश',
    leaveSend: 'संदेश भेजें',
    tryAgain: 'फिर से चैट करने का प्रयास करें',
    badEmail: 'कृपया एक मान्य ईमेल पता दर्ज करें।',
    needText: 'कृपया एक संदेश लिखें।',
    leaveFailed: 'आपका संदेश नहीं भेजा जा सका। कृपया फिर से प्रयास करें।',
    leftTitle: 'संदेश भेज दिया गया',
    leftBody: (email) => `धन्यवाद! हम जल्द से जल्द ${email} पर जवाब देंगे।`,
    startChat: 'चैट शुरू करें',
    withBot: 'हमारे सहायक से बातचीत',
    talkToPerson: 'किसी व्यक्ति से बात करें',
    connectingPerson: 'आपको किसी व्यक्ति से जोड़ा जा रहा है…',
    yes: 'हाँ',
    no: 'नहीं',
    suggested: 'सुझाए गए सवाल',
    backToBot: 'सहायक से बात जारी रखें',
    leaveOrBot: 'अपना संदेश छोड़ें, हम ईमेल से आपको जवाब देंगे; या सहायक से बात जारी रखें।',
    backToChat: 'चैट पर वापस जाएँ',
    endChat: 'चैट समाप्त करें',
    endConfirm: 'हाँ, चैट समाप्त करें',
    rateTitle: 'आपकी चैट कैसी रही?',
    stars: (n) => `5 में से ${n}`,
    rateComment: 'टिप्पणी (वैकल्पिक)',
    rateSend: 'रेटिंग भेजें',
    pickScore: 'कृपया 1 से 5 तक रेटिंग चुनें।',
    rateFailed: 'आपकी रेटिंग नहीं भेजी जा सकी। कृपया फिर से प्रयास करें।',
    rated: 'आपकी प्रतिक्रिया के लिए धन्यवाद!',
    transcript: 'बातचीत डाउनलोड करें',
    you: 'आप',
    verified: (name) => (name ? `${name} के रूप में साइन इन` : 'साइन इन किया हुआ'),
    badSignature: 'हम आपके खाते की पुष्टि नहीं कर सके। कृपया पेज फिर से लोड करें या दोबारा साइन इन करें।',
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
    emailLabel: 'E-posta (isteğe bağlı)',
    departmentLabel: 'Departman',
    anyDepartment: 'Herhangi bir departman',
    queuePosition: (n) => (n <= 1 ? 'Sırada ilk sizsiniz' : `Sıradaki yeriniz: ${n}`),
    estimatedWait: (min) => (min < 1 ? 'Tahmini bekleme: bir dakikadan az' : `Tahmini bekleme: yaklaşık ${min} dk`),
    transferring: 'Başka bir temsilciye aktarılıyorsunuz…',
    requeued: 'Sıradaki temsilci bekleniyor…',
    no_agents: 'Şu anda sohbet için uygun kimse yok.',
    closed_hours: 'Şu anda mesai saatleri dışındayız.',
    queue_full: 'Şu anda tüm temsilcilerimiz meşgul.',
    unavailable: 'Sohbet şu anda kullanılamıyor.',
    leaveTitle: 'Mesaj bırakın',
    leaveIntro: 'Bir mesaj bırakın, size e-postayla dönüş yapalım.',
    leaveName: 'Adınız (isteğe bağlı)',
    leaveEmail: 'E-posta (zorunlu)',
    leaveText: 'Mesaj',
    leaveSend: 'Mesajı gönder',
    tryAgain: 'Tekrar sohbet etmeyi dene',
    badEmail: 'Lütfen geçerli bir e-posta adresi girin.',
    needText: 'Lütfen bir mesaj yazın.',
    leaveFailed: 'Mesajınız gönderilemedi. Lütfen tekrar deneyin.',
    leftTitle: 'Mesajınız iletildi',
    leftBody: (email) => `Teşekkürler! En kısa sürede ${email} adresine yanıt vereceğiz.`,
    startChat: 'Sohbet başlat',
    withBot: 'Asistanımızla sohbet',
    talkToPerson: 'Bir temsilciyle görüş',
    connectingPerson: 'Sizi bir temsilciye bağlıyoruz…',
    yes: 'Evet',
    no: 'Hayır',
    suggested: 'Önerilen sorular',
    backToBot: 'Asistanla sohbete devam et',
    leaveOrBot: 'Bir mesaj bırakın, size e-postayla dönüş yapalım; ya da asistanla sohbete devam edin.',
    backToChat: 'Sohbete dön',
    endChat: 'Sohbeti bitir',
    endConfirm: 'Evet, sohbeti bitir',
    rateTitle: 'Sohbetimiz nasıldı?',
    stars: (n) => `5 üzerinden ${n}`,
    rateComment: 'Yorum (isteğe bağlı)',
    rateSend: 'Puanı gönder',
    pickScore: 'Lütfen 1 ile 5 arasında bir puan seçin.',
    rateFailed: 'Puanınız gönderilemedi. Lütfen tekrar deneyin.',
    rated: 'Geri bildiriminiz için teşekkürler!',
    transcript: 'Sohbet dökümünü indir',
    you: 'Siz',
    verified: (name) => (name ? `${name} olarak oturum açıldı` : 'Oturum açıldı'),
    badSignature: 'Hesabınızı doğrulayamadık. Lütfen sayfayı yenileyin veya yeniden oturum açın.',
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
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
// A department named alone (or the only one listed) is used for every chat.
const departments = (params.get('departments') || '').split(',').map((d) => {
  const [id, ...label] = d.split('=');
  return { id: id.trim(), label: label.join('=').trim() };
}).filter((d) => ID_RE.test(d.id)).slice(0, 50);
const presetDept = ID_RE.test(params.get('department') || '') ? params.get('department') : '';
const forcedDept = departments.length <= 1 ? presetDept || departments[0]?.id || '' : '';
const validEmail = (s) => /^[^@\s\p{Cc}]+@[^@\s\p{Cc}]+$/u.test(s); // the server's rule
const REASONS = ['no_agents', 'closed_hours', 'queue_full'];
const t = (key, ...args) => {
  const table = Object.hasOwn(STRINGS[lang], key) ? STRINGS[lang] : STRINGS.en;
  const v = Object.hasOwn(table, key) ? table[key] : key;
  return typeof v === 'function' ? v(...args) : v;
};

// ---- embedding: talk to the loader on the host page -------------------------

const embedded = window.parent !== window;
const parentOrigin = validOrigin(params.get('parent'));
let panelOpen = !(embedded && parentOrigin); // told by the loader when embedded
let hostKnown = panelOpen; // embedded: no hello before the loader's "host" frame

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
  if (d.type === 'host') onHost(d);
  if (d.type === 'state') {
    panelOpen = !!d.open;
    if (panelOpen && d.focus) focusMain();
    onVisibility();
  }
});

// The host page's URL and signed-in user (window.SwitchboardSettings); the
// server checks the signature. A name or email given replaces its pre-chat field.
function onHost(d) {
  if (hostKnown) return;
  hostKnown = true;
  if (d) {
    const s = d.settings && typeof d.settings === 'object' ? d.settings : {};
    const u = s.user && typeof s.user === 'object' ? s.user : {};
    const str = (v) => (typeof v === 'string' ? v.trim() : '');
    client.setProfile({ user_id: u.id, signature: u.signature, attributes: s.attributes, page: str(d.page) });
    const name = str(u.name);
    const email = validEmail(str(u.email)) ? str(u.email) : '';
    client.setIdentity({ name: name || undefined, email: email || undefined });
    for (const [input, given] of [[$.name, name], [$.email, email]]) input.hidden = input.labels[0].hidden = !!given;
    render();
  }
  if (wantStart) start();
}

// ---- elements, strings ----------------------------------------------------------

// $.leaveEmail is #leave-email
const $ = Object.fromEntries([...document.querySelectorAll('[id]')].map((n) => [n.id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), n]));

document.documentElement.lang = lang;
for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
for (const n of document.querySelectorAll('[data-i18n-label]')) n.setAttribute('aria-label', t(n.dataset.i18nLabel));
for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
document.title = t('title');
$.minimise.hidden = !(embedded && parentOrigin);
// Five radios (arrow keys choose), drawn as stars.
const stars = [1, 2, 3, 4, 5].map((n) => {
  const input = el('input', { type: 'radio', name: 'score', value: n, id: `score-${n}`, class: 'visually-hidden', 'aria-label': t('stars', n) });
  $.stars.append(input, el('label', { for: input.id, 'aria-hidden': 'true' }));
  return input;
});
const paintStars = () => stars.forEach((s, i) => { s.nextSibling.textContent = i < $.rate.elements.score.value ? '\u2605' : '\u2606'; });
$.stars.addEventListener('change', () => { paintStars(); $.rateError.textContent = ''; });
paintStars();
if (!forcedDept && departments.length) {
  $.department.append(el('option', { value: '', text: t('anyDepartment') }),
    ...departments.map((d) => el('option', { value: d.id, text: d.label || d.id.replace(/[-_.]+/g, ' ').replace(/^./, (c) => c.toUpperCase()) })));
  $.department.value = presetDept;
  $.department.hidden = $.departmentLabel.hidden = false;
}

// ---- the client ---------------------------------------------------------------

const client = new SwitchboardClient({ role: 'visitor', storage: safeStorage(), storageKey: `switchboard:${site}`, locale: lang });
client.setProfile({ language: navigator.language, user_agent: navigator.userAgent });
const typingOut = new TypingNotifier(client);
// the server's default bot name in the visitor's language; a custom one as it is
const author = (m) => (m.from === 'agent' ? m.author || t('agent') : m.from === 'bot' ? (m.author && m.author !== 'Assistant' ? m.author : t('bot')) : '');
const view = new TranscriptView($.log, {
  mine: (m) => m.from === 'visitor',
  label: author,
  t,
  time: timeFormatter(lang),
});

let shown = null;         // conv id on screen
let shownState = null;    // its state as last rendered, to announce changes
let started = false;
let typingTimer = null;
let lastUnread = -1;
let lastActive = null;
let mode = 'chat';        // 'chat' | 'leave' (leave a message) | 'left' (sent)
let leaveDept = '';
let waitReason = '';      // why it waits (again): 'handoff' | 'transferred' | 'requeued' | ''
let botOpts = null;       // the bot's quick replies on screen
let handoffTimer = null;
let wantStart = false;    // connect once the host is known
let denied = false;       // bad_signature: the host's identity was refused
let rateFor = null;       // the conversation the rating form is for
let endTimer = null;

function safeStorage() {
  try {
    const s = window.localStorage;
    s.setItem('switchboard:probe', '1');
    s.removeItem('switchboard:probe');
    return s;
  } catch { // blocked third-party storage: this page only
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
  if (!hostKnown) { wantStart = true; return; }
  started = true;
  client.connect();
}

// ---- rendering ----------------------------------------------------------------

function render() {
  const rec = currentRecord();
  if ((rec ? rec.conv : null) !== shown || rec?.state !== 'waiting') waitReason = '';
  shown = rec ? rec.conv : null;
  shownState = rec ? rec.state : null;
  $.subtitle.dataset.agent = rec?.agent_name || '';
  if (rateFor !== shown) {
    rateFor = shown;
    $.rate.reset();
    paintStars();
    $.rateError.textContent = '';
    $.rateSend.disabled = false;
  }
  view.clear();
  view.note(t('greeting'), 'note--greeting');
  if (rec) {
    for (const m of client.messages(rec.conv)) if (!m.internal) view.add(m);
    view.setReceipts(rec.peer);
    renderOptions();
  }
  for (const e of [...client.pending(null), ...(rec ? client.pending(rec.conv) : [])]) view.addPending(e, 'visitor');
  // The pre-chat form: whenever the next message starts a new chat.
  $.prechat.hidden = Boolean(openConv() || client.pending(null).length);
  if (!$.prechat.hidden) {
    $.name.value ||= client.name;
    $.email.value ||= client.email;
  }
  showTyping(null);
  renderState();
  view.scrollToEnd();
}

function renderState() {
  const rec = shown && client.conversation(shown);
  const state = rec ? rec.state : null;
  const leaving = mode !== 'chat';
  $.subtitle.textContent = leaving ? '' : state === 'waiting' ? t({ handoff: 'connectingPerson', transferred: 'transferring', requeued: 'requeued' }[waitReason] || 'waiting')
    : state === 'bot' ? t('withBot') : state === 'active' ? (rec.agent_name ? t('chattingWith', rec.agent_name) : '')
      : state === 'closed' ? t('closed') : '';
  const closed = state === 'closed';
  const q = state === 'waiting' && rec.queuePos;
  $.queue.textContent = q ? [t('queuePosition', q.position),
    q.estimated_wait_s > 0 ? t('estimatedWait', Math.round(q.estimated_wait_s / 60)) : ''].filter(Boolean).join(' · ') : '';
  $.queue.hidden = leaving || !q;
  $.leave.hidden = !leaving;
  $.leaveForm.hidden = mode !== 'leave';
  $.left.hidden = mode !== 'left';
  $.log.hidden = $.typing.hidden = leaving;
  $.closed.hidden = !closed || leaving;
  $.rate.hidden = !!rec?.rated;
  $.rated.hidden = !rec?.rated;
  $.composer.hidden = closed || leaving || denied;
  if ($.end.hidden = leaving || denied || !openConv()) endReset();
  if (denied) {
    $.banner.hidden = false;
    $.banner.textContent = t('badSignature');
    $.banner.dataset.status = 'denied';
    $.banner.setAttribute('role', 'alert');
  }
  $.botbar.hidden = leaving || state !== 'bot';
  if (state !== 'bot') {
    if (botOpts) dropOptions();
    endHandoff();
  }
  if (lastActive !== !!openConv()) {
    lastActive = !!openConv();
    toParent('active', { value: lastActive }); // preloaded on the next page
  }
  updateUnread();
}

// A state change seen live, in the transcript (unless a system message just said it).
function announce(rec, prevState, prevAgent) {
  const last = client.messages(rec.conv).at(-1);
  const serverSaid = last?.from === 'system' && (!rec.agent_name || last.text.includes(rec.agent_name));
  if (rec.state === 'active' && rec.agent_name && (prevState !== 'active' || prevAgent !== rec.agent_name)) {
    if (!serverSaid) view.note(t('joined', rec.agent_name));
  } else if (rec.state === 'waiting' && prevState === 'bot') {
    view.note(t('connectingPerson'));
  } else if (rec.state === 'waiting' && prevState === 'active') {
    view.note(t(waitReason === 'requeued' ? 'requeued' : 'transferring'));
  } else if (rec.state === 'closed' && prevState !== 'closed') {
    view.note(t('closed'), 'note--closed');
  }
}

function showTyping(name) {
  clearTimeout(typingTimer);
  $.typing.textContent = name ? t('typing', name) : '';
  // "off" can be lost with a connection: never for long
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

// Where the keyboard goes when the chat opens or its view changes.
function focusMain() {
  const target = mode === 'leave' ? ($.leaveEmail.value ? $.leaveText : $.leaveEmail) : mode === 'left' ? $.leftTitle
    : $.closed.hidden ? $.input : $.rate.hidden ? $.newChat : $.stars.querySelector(':checked') || stars[0];
  target.focus({ preventScroll: true });
}

// ---- client events ----------------------------------------------------------

client.on('status', (status) => {
  if (started && !denied) renderStatus($.banner, status, t);
  $.rateSend.disabled = false; // a rating in flight is lost with the connection
});

client.on('welcome', () => {
  $.who.hidden = !client.verified;
  $.who.textContent = `\u2713 ${t('verified', client.name)}`;
  if (currentRecord()?.conv !== shown) render();
  else renderState();
});

client.on('reset', render);

client.on('message', (msg, { replay }) => {
  if (msg.internal) return; // agents only
  if (msg.conv !== shown) {
    if (currentRecord()?.conv !== msg.conv) return;
    render();
  } else {
    view.add(msg);
  }
  if (botOpts?.conv === msg.conv) { // options go with the last message only
    if (msg.seq > botOpts.seq) dropOptions();
    else if (msg.seq === botOpts.seq) renderOptions();
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
  if (rec.state === 'waiting' && ['handoff', 'transferred', 'requeued'].includes(f.reason)) waitReason = f.reason;
  else if (rec.state !== 'waiting') waitReason = '';
  shownState = rec.state;
  $.subtitle.dataset.agent = rec.agent_name || '';
  announce(rec, prevState, prevAgent);
  if (rec.state === 'closed') showTyping(null);
  renderState();
  // closed live: the keyboard moves on to the rating (its composer is gone)
  if (rec.state === 'closed' && prevState !== 'closed' && document.hasFocus()) focusMain();
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

client.on('queue_position', (f) => { if (f.conv === shown) renderState(); });

// Nobody can take a new chat: the leave-a-message form, with what was typed
// (at a hand-off the chat stays with the bot: the form offers the way back).
client.on('unavailable', (f, { texts }) => {
  const rec = client.conversation(openConv());
  const withBot = !f.client_id && rec?.state === 'bot';
  endHandoff();
  if (withBot && !texts.length) {
    const last = client.messages(rec.conv).filter((m) => m.from === 'visitor').at(-1);
    if (last) texts.push(last.text);
  }
  $.leaveIntro.textContent = t(withBot ? 'leaveOrBot' : 'leaveIntro');
  $.leaveBack.textContent = t(withBot ? 'backToBot' : 'tryAgain');
  $.leftNew.textContent = t(withBot ? 'backToChat' : 'startChat');
  mode = 'leave';
  leaveDept = ID_RE.test(f.department || '') ? f.department : client.department;
  $.leaveReason.textContent = t(REASONS.includes(f.reason) ? f.reason : 'unavailable');
  $.leaveName.value ||= client.name;
  $.leaveEmail.value ||= client.email;
  if (texts.length && !$.leaveText.value.trim()) $.leaveText.value = texts.join('\n\n');
  leaveError('');
  $.leaveSend.disabled = false;
  render();
  focusMain();
});

client.on('left_message', (f, entry) => {
  if (mode !== 'leave') return; // already confirmed
  mode = 'left';
  $.leftBody.textContent = t('leftBody', entry?.email || client.email);
  $.leaveText.value = '';
  $.leaveSend.disabled = false;
  render();
  focusMain();
});

client.on('error', (f, { entry, retry }) => {
  if (f.code === 'bad_signature') {
    denied = true;
    renderState();
    return;
  }
  if (!entry && $.rateSend.disabled) { // to our rating
    $.rateSend.disabled = false;
    $.rateError.textContent = t('rateFailed');
  }
  if (entry?.type === 'leave') {
    if (!retry) {
      $.leaveSend.disabled = false;
      leaveError(t(f.code === 'bad_field' && /email/.test(f.message || '') ? 'badEmail' : 'leaveFailed'));
    }
    return;
  }
  if (!entry || retry) return;
  const failed = entry.type === 'start' ? client.pending(null) : [entry];
  for (const e of failed) {
    view.fail(e.client_id);
    client.discard(e.client_id);
  }
  showError(t('sendFailed'));
});

// ---- the bot: quick replies under its answer, "Talk to a person" ------------------

client.on('bot_options', (f) => {
  const rec = client.conversation(f.conv);
  if (f.conv !== shown || rec?.state !== 'bot' || !Number.isFinite(f.seq) || rec.lastSeq > f.seq) return; // stale
  dropOptions();
  botOpts = {
    conv: f.conv,
    seq: f.seq,
    prompt: typeof f.helpful_prompt === 'string' ? f.helpful_prompt.trim() : '',
    suggestions: (Array.isArray(f.suggestions) ? f.suggestions : []).filter((x) => x && ID_RE.test(x.entry) &&
      typeof x.title === 'string' && x.title.trim() && utf8Length(x.title) <= MAX_TEXT_BYTES).slice(0, 3),
  };
  renderOptions();
});

// Under their bot message; rebuilt with the transcript.
function renderOptions() {
  $.log.querySelector('.botopts--live')?.remove();
  const o = botOpts;
  const anchor = o && o.conv === shown && client.conversation(o.conv)?.state === 'bot' && view.bySeq.get(o.seq);
  if (!anchor) return; // rendered when its message comes
  const keep = view._nearBottom();
  const box = el('div', { class: 'botopts botopts--live' });
  if (o.prompt) {
    const answer = (helpful) => {
      const b = el('button', { type: 'button', class: 'chip', text: t(helpful ? 'yes' : 'no'),
        'aria-pressed': String(o.answered === helpful), disabled: o.answered !== undefined });
      b.addEventListener('click', () => {
        if (o.answered !== undefined || !client.feedback(o.conv, helpful)) return;
        o.answered = helpful;
        renderOptions();
        $.input.focus();
      });
      return b;
    };
    box.append(el('div', { class: 'botopts__ask', role: 'group', 'aria-label': o.prompt }, el('span', { text: o.prompt }), answer(true), answer(false)));
  }
  if (o.suggestions.length) {
    box.append(el('div', { class: 'botopts__list', role: 'group', 'aria-label': t('suggested') }, ...o.suggestions.map((x) => {
      const b = el('button', { type: 'button', class: 'chip chip--suggest', text: x.title });
      b.addEventListener('click', () => {
        view.addPending(client.suggest(o.conv, x.entry, x.title), 'visitor');
        dropOptions();
        $.input.focus();
      });
      return b;
    })));
  }
  if (box.firstChild) anchor.append(box);
  if (keep) view.scrollToEnd();
}

// Options over: an answered question stays, inert.
function dropOptions() {
  const box = $.log.querySelector('.botopts--live');
  if (box && botOpts?.answered !== undefined) {
    box.querySelector('.botopts__list')?.remove();
    box.classList.remove('botopts--live');
  } else box?.remove();
  botOpts = null;
}

function endHandoff() {
  clearTimeout(handoffTimer);
  $.handoff.disabled = false;
}

$.handoff.addEventListener('click', () => {
  const conv = openConv();
  if (!conv || !client.handoff(conv)) { showError(t('sendFailed')); return; }
  showError('');
  $.handoff.disabled = true;
  clearTimeout(handoffTimer);
  handoffTimer = setTimeout(endHandoff, 10000); // no answer: it may be pressed again
});

// ---- user actions -------------------------------------------------------------

$.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $.input.value;
  if (!text.trim()) return;
  if (utf8Length(text) > MAX_TEXT_BYTES) { showError(t('tooLong')); return; }
  showError('');
  if (!$.prechat.hidden) {
    const email = $.email.value.trim();
    if (email && !validEmail(email)) { showError(t('badEmail')); $.email.focus(); return; }
    client.setIdentity({ name: $.name.value, email });
    client.department = forcedDept || $.department.value;
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
  // Enter sends, Shift+Enter is a new line; never while an IME composes
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
  // scrollHeight leaves the borders out; border-box heights include them
  $.input.style.height = `${Math.min($.input.scrollHeight + $.input.offsetHeight - $.input.clientHeight, 140)}px`;
}

$.newChat.addEventListener('click', () => {
  for (const rec of [...client.convs.values()]) if (rec.state === 'closed') client.forget(rec.conv);
  render();
  $.input.focus();
});

function leaveError(text) {
  $.leaveError.textContent = text;
}

$.leaveForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const email = $.leaveEmail.value.trim();
  const text = $.leaveText.value;
  if (!validEmail(email)) { leaveError(t('badEmail')); $.leaveEmail.focus(); return; }
  if (!text.trim()) { leaveError(t('needText')); $.leaveText.focus(); return; }
  if (utf8Length(text) > MAX_TEXT_BYTES) { leaveError(t('tooLong')); $.leaveText.focus(); return; }
  leaveError('');
  $.leaveSend.disabled = true;
  client.setIdentity({ name: $.leaveName.value, email });
  client.leaveMessage({ name: client.name, email, text, department: leaveDept });
  start();
});

// Never a dead end: back to the chat.
function backToChat(text = '') {
  mode = 'chat';
  if (text.trim() && !$.input.value.trim()) $.input.value = text;
  $.leaveText.value = '';
  render();
  autosize();
  $.input.focus();
}
$.leaveBack.addEventListener('click', () => backToChat($.leaveText.value));
$.leftNew.addEventListener('click', () => backToChat());

// ---- the end: end, rate, transcript ---------------------------------------

// Two presses, so that a stray click does not end a chat.
$.end.addEventListener('click', () => {
  const conv = openConv();
  if (!$.end.dataset.confirm) {
    $.end.dataset.confirm = '1';
    $.end.textContent = t('endConfirm');
    endTimer = setTimeout(endReset, 5000);
  } else if (conv && !client.close(conv)) showError(t('sendFailed'));
});

function endReset() {
  clearTimeout(endTimer);
  delete $.end.dataset.confirm;
  $.end.textContent = t('endChat');
}

$.rate.addEventListener('submit', (e) => {
  e.preventDefault();
  const score = Number($.rate.elements.score.value);
  const comment = $.rateComment.value;
  const error = !score ? 'pickScore' : utf8Length(comment.trim()) > 2048 ? 'tooLong' : !client.rate(shown, score, comment) ? 'rateFailed' : '';
  $.rateError.textContent = error && t(error);
  $.rateSend.disabled = !error;
  if (error) (score ? $.rateComment : stars[0]).focus();
});

client.on('rated', (f) => {
  if (f.conv !== shown) return;
  renderState();
  $.rated.focus();
});

// Made here from the messages held (all: a visitor resumes from seq 0).
$.transcript.addEventListener('click', () => {
  const rec = client.conversation(shown);
  if (!rec) return;
  const msgs = client.messages(rec.conv);
  const when = (ms) => (ms ? new Date(ms).toLocaleString(lang) : '');
  const lines = [t('title'), `${rec.conv} · ${when(msgs[0]?.ts)}`, '', ...(rec.floor ? ['…'] : []),
    ...msgs.map((m) => `[${when(m.ts)}] ${m.from === 'system' ? '' : `${m.from === 'visitor' ? client.name || t('you') : author(m)}: `}${m.text}`)];
  const a = el('a', { href: URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/plain;charset=utf-8' })),
    download: `chat-${rec.conv.replace(/[^\w-]/g, '')}.txt` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
});

$.minimise.addEventListener('click', () => toParent('close'));
addEventListener('keydown', (e) => { if (e.key === 'Escape' && embedded) toParent('close'); });
document.addEventListener('visibilitychange', onVisibility);

// ---- go -----------------------------------------------------------------------

render();
if (client.token || client.outbox.size) start(); // a returning visitor
toParent('ready');
if (!hostKnown) setTimeout(onHost, 3000); // no loader answer: go on without
