// The supervisors' dashboard, drawn from the server's pushed `dashboard` frame:
// today's figures, the queue per department (its longest wait ticking here
// from oldest_since), every agent's status and load, and the open
// conversations, each of which can be opened (read-only unless it is ours).
import { el } from '../ui.js';

const str = (v) => (typeof v === 'string' ? v : '');
const num = (v) => (Number.isFinite(v) ? v : 0);

/** 42 s, 3 min 05 s, 1 h 04 min. */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** CSAT average as "4.5" (one decimal), '' when nobody rated. */
export function csatAverage(today) {
  const count = num(today?.csat_count);
  return count > 0 ? (num(today.csat_total) / count).toFixed(1) : '';
}

function table(caption, cls, heads, rows, empty) {
  return el('section', { class: `dash__block ${cls}` },
    el('h3', { text: caption }),
    rows.length
      ? el('table', { class: 'dash__table' },
        el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, ...rows))
      : el('p', { class: 'muted', text: empty }));
}

/**
 * Fills root from frame d. opts: t (strings), myId (our agent id), onOpen(conversation summary).
 */
export function renderDashboard(root, d, { t, myId, onOpen, watching }) {
  const today = d.today && typeof d.today === 'object' ? d.today : {};
  const departments = (Array.isArray(d.departments) ? d.departments : []).filter((x) => x && typeof x === 'object');
  const agents = (Array.isArray(d.agents) ? d.agents : []).filter((x) => x && typeof x === 'object');
  const convs = (Array.isArray(d.conversations) ? d.conversations : []).filter((x) => x && typeof x === 'object' && str(x.conv));
  const waiting = departments.reduce((n, x) => n + num(x.waiting), 0);
  const csat = csatAverage(today);

  const stat = (key, label, value, sub = '') => el('div', { class: 'stat', 'data-stat': key },
    el('span', { class: 'stat__value', text: value }),
    el('span', { class: 'stat__label', text: label }),
    sub ? el('span', { class: 'stat__sub muted', text: sub }) : null);
  const stats = el('div', { class: 'stats' },
    stat('conversations', t('dashConversations'), String(num(today.conversations))),
    stat('closed', t('dashClosed'), String(num(today.closed))),
    stat('waiting', t('dashWaiting'), String(waiting)),
    stat('avg_wait', t('dashAvgWait'), num(today.assigned) ? duration(num(today.avg_wait_ms)) : '—', t('dashOf', num(today.assigned))),
    stat('avg_first_response', t('dashAvgFirstResponse'), num(today.responded) ? duration(num(today.avg_first_response_ms)) : '—',
      t('dashOf', num(today.responded))),
    stat('csat', t('dashCsat'), csat ? `${csat} / 5` : '—', t('dashRatings', num(today.csat_count))));

  const deptRows = departments.map((x) => el('tr', { 'data-department': str(x.department) },
    el('td', { text: str(x.department) || t('noDepartment') }),
    el('td', { class: 'num', 'data-field': 'waiting', text: String(num(x.waiting)) }),
    el('td', { class: 'num', 'data-field': 'longest', 'data-since': num(x.oldest_since) })));

  const agentRows = agents.map((a) => {
    const status = ['online', 'away', 'offline'].includes(a.status) ? a.status : 'offline';
    return el('tr', { 'data-agent': str(a.id), 'data-status': status },
      el('td', { text: str(a.name) || str(a.id) }),
      el('td', {}, el('span', { class: `dot dot--${status}`, 'aria-hidden': 'true' }), el('span', { 'data-field': 'status', text: t(status) })),
      el('td', { class: 'num', 'data-field': 'load', text: `${num(a.load)}/${num(a.capacity)}` }));
  });

  const convRows = convs.map((c) => {
    const mine = str(c.agent_id) && c.agent_id === myId;
    const open = el('button', { type: 'button', class: 'button button--quiet button--small', text: mine ? t('open') : t('watch'),
      title: mine ? '' : t('watchTitle'), 'aria-pressed': watching.has(c.conv) ? 'true' : null });
    open.addEventListener('click', () => onOpen(c));
    return el('tr', { 'data-conv': c.conv, 'data-state': str(c.state) },
      el('td', { class: 'dash__visitor', text: str(c.visitor_name) || t('visitor') }),
      el('td', { text: str(c.agent_name) || (c.state === 'bot' ? t('bot') : '—') }),
      el('td', { text: str(c.department) || '—' }),
      el('td', { text: t(str(c.state)) }),
      el('td', { class: 'num', 'data-since': num(c.since) }),
      el('td', {}, open));
  });

  root.replaceChildren(stats,
    el('div', { class: 'dash__grid' },
      table(t('dashQueue'), 'dash__queue', [t('department'), t('dashWaiting'), t('dashLongest')], deptRows, t('nobodyWaiting')),
      table(t('dashAgents'), 'dash__agents', [t('agent'), t('status'), t('dashLoad')], agentRows, t('dashNoAgents'))),
    table(t('dashOpen'), 'dash__convs', [t('visitor'), t('agent'), t('department'), t('state'), t('dashOpenFor'), ''], convRows, t('dashNoOpen')));
  tickDashboard(root);
}

/** The clocks: longest waits and conversation ages, from their start times. */
export function tickDashboard(root, now = Date.now()) {
  for (const n of root.querySelectorAll('[data-since]')) {
    const since = Number(n.dataset.since);
    n.textContent = since > 0 ? duration(now - since) : '—';
  }
}
