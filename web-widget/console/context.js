// The visitor context beside a conversation, from the server's visitor_info
// frame: who (name, email, a verified badge), where (page, language, browser),
// the host page's custom attributes, and earlier conversations with their
// resolution and rating. Everything the visitor or the host page sent is set
// as text; the page becomes a link only when it is a plain http(s) URL.
import { el } from '../ui.js';

const str = (v) => (typeof v === 'string' ? v : '');
const num = (v) => (Number.isFinite(v) ? v : 0);

/** A URL worth linking to: http(s), no credentials in it. Else null. */
export function safeHttpUrl(text) {
  let url;
  try { url = new URL(text); } catch { return null; }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return null;
  return url;
}

const BROWSERS = [
  ['Edge', /\bEdg(?:e|A|iOS)?\/(\d+)/],
  ['Opera', /\b(?:OPR|Opera)\/(\d+)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['Chrome', /(?:Chrome|CriOS)\/(\d+)/], // Chromium and HeadlessChrome too
  ['Safari', /\bVersion\/(\d+)(?:\.\d+)*(?: Mobile\/\w+)? Safari\//],
];
const SYSTEMS = [
  ['Windows', /Windows NT|Win64|Windows/],
  ['Android', /Android/],
  ['iOS', /iPhone|iPad|iPod/],
  ['ChromeOS', /\bCrOS\b/],
  ['macOS', /Mac OS X|Macintosh/],
  ['Linux', /Linux|X11/],
];

/** "Chrome 126 on Windows" from a User-Agent string ('' when there is none). */
export function browserName(ua) {
  ua = str(ua);
  if (!ua.trim()) return '';
  let name = '';
  for (const [label, re] of BROWSERS) {
    const m = re.exec(ua);
    if (m) { name = `${label} ${m[1]}`; break; }
  }
  if (!name) { // a client that is no browser: its first product token
    const m = /^([A-Za-z][\w.-]{0,30})\/(\d+)/.exec(ua);
    name = m && m[1] !== 'Mozilla' ? `${m[1]} ${m[2]}` : '';
  }
  const os = SYSTEMS.find(([, re]) => re.test(ua))?.[0] || '';
  if (!name) return os ? `${os} browser` : 'Unknown browser';
  return os ? `${name} on ${os}` : name;
}

/**
 * Fills root with the context of one conversation.
 * frame: the visitor_info frame (null: not loaded yet); conv: the conversation on screen.
 */
export function renderVisitor(root, frame, { conv, t, date }) {
  if (!frame) {
    root.replaceChildren(el('p', { class: 'muted', text: t('contextLoading') }));
    return;
  }
  const v = frame.visitor && typeof frame.visitor === 'object' ? frame.visitor : {};
  const name = str(v.name);
  const verified = v.verified === true;
  const who = el('div', { class: 'ctx__who' },
    el('p', { class: 'ctx__name' },
      el('span', { 'data-field': 'name', text: name || t('visitor') }),
      verified ? el('span', { class: 'badge badge--verified', 'data-field': 'verified', title: t('verifiedTitle'), text: t('verified') }) : null),
    str(v.email) ? el('p', { class: 'ctx__email', 'data-field': 'email', text: v.email }) : null);

  const facts = el('dl', { class: 'ctx__facts' });
  const fact = (key, label, value, attrs = {}) => {
    if (!value) return;
    facts.append(el('dt', { text: label }), el('dd', { 'data-field': key, ...attrs }, value));
  };
  if (verified) fact('user_id', t('userId'), str(v.user_id));
  const page = str(v.page);
  if (page) {
    const url = safeHttpUrl(page);
    fact('page', t('page'), url ? el('a', { href: url.href, rel: 'noopener noreferrer', target: '_blank', text: page }) : page);
  }
  fact('language', t('language'), str(v.language));
  const ua = str(v.user_agent);
  fact('browser', t('browser'), browserName(ua), { title: ua });
  fact('created', t('firstSeen'), num(v.created) ? date(v.created) : '');
  fact('last_seen', t('lastSeen'), num(v.last_seen) ? date(v.last_seen) : '');

  const attrs = v.attributes && typeof v.attributes === 'object' && !Array.isArray(v.attributes) ? Object.entries(v.attributes) : [];
  const attrList = el('dl', { class: 'ctx__attrs', 'data-field': 'attributes' },
    ...attrs.flatMap(([k, val]) => [el('dt', { text: k }), el('dd', { text: String(val ?? '') })]));

  const history = Array.isArray(frame.history) ? frame.history.filter((h) => h && typeof h === 'object') : [];
  const items = history.map((h) => {
    const here = h.conv === conv;
    const score = Math.max(0, Math.min(5, Math.round(num(h.csat_score))));
    return el('li', { class: `history__item${here ? ' history__item--here' : ''}`, 'data-conv': str(h.conv) },
      el('p', { class: 'history__head' },
        el('span', { class: 'history__date', text: num(h.created) ? date(h.created) : '' }),
        el('span', { class: 'history__state', text: here ? t('thisConversation') : t(str(h.state) || 'closed') })),
      el('p', { class: 'history__who muted', text: [str(h.department), str(h.agent_name)].filter(Boolean).join(' · ') }),
      el('p', { class: 'history__outcome' },
        str(h.resolution) ? el('span', { class: 'tag', 'data-field': 'resolution', text: h.resolution }) : null,
        score ? el('span', { class: 'history__csat', 'data-field': 'csat', 'data-score': score, 'aria-label': t('csatOf', score),
          text: `${'\u2605'.repeat(score)}${'\u2606'.repeat(5 - score)} ${score}/5` })
          : h.state === 'closed' ? el('span', { class: 'muted', text: t('notRated') }) : null),
      str(h.csat_comment) ? el('blockquote', { class: 'history__comment', 'data-field': 'csat_comment', text: h.csat_comment }) : null);
  });

  root.replaceChildren(who, facts,
    el('h3', { class: 'ctx__sub', text: t('attributes') }),
    attrs.length ? attrList : el('p', { class: 'muted', text: t('noAttributes') }),
    el('h3', { class: 'ctx__sub', text: t('history', history.length) }),
    items.length ? el('ol', { class: 'history' }, ...items) : el('p', { class: 'muted', text: t('noHistory') }));
}
