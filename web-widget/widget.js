/* Switchboard widget loader: <script src="https://HOST/widget.js" data-site="…" async>
 * (attributes and window.SwitchboardSettings: README.md). A launcher button and
 * an iframe to HOST/chat.html; plain script, no dependencies, keep it tiny. */
(function () {
  'use strict';
  if (window.__switchboardWidget) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="/widget.js"][data-site]') ||
    document.querySelector('script[src*="widget.js"]');
  if (!script) return;

  var origin = new URL(script.src, location.href).origin;
  var site = script.getAttribute('data-site') || 'default';
  var locale = script.getAttribute('data-locale') || '';
  var depts = script.getAttribute('data-departments') || '';
  var dept = script.getAttribute('data-department') || '';
  // new messages while hidden: a beep (opt-in), "(N) New message — title" (opt-out)
  var sound = script.getAttribute('data-sound') === 'on';
  var titleAlert = script.getAttribute('data-title') !== 'off';
  var lang = (locale || navigator.language || 'en').toLowerCase().split(/[-_]/)[0];
  var LABELS = { // launcher only; the chat's own strings live in chat.js
    en: ['Open chat', 'Close chat', ' unread', 'Chat', 'New message'],
    hi: ['चैट खोलें', 'चैट बंद करें', ' अपठित', 'चैट', 'नया संदेश'],
    tr: ['Sohbeti aç', 'Sohbeti kapat', ' okunmamış', 'Sohbet', 'Yeni mesaj']
  };
  var L = LABELS[lang] || LABELS.en;
  var KEY = 'switchboard:' + site + ':';
  var open = false;
  var unread = 0;
  var frame = null;
  var frameWin = null;
  var focusOnReady = false;

  function store(kind, name, value) {
    try {
      var s = window[kind];
      if (value === undefined) return s.getItem(KEY + name);
      if (value === null) s.removeItem(KEY + name); else s.setItem(KEY + name, value);
    } catch (e) { /* storage blocked */ }
    return null;
  }

  function css(node, styles) {
    for (var k in styles) node.style[k] = styles[k];
    return node;
  }

  var button = css(document.createElement('button'), {
    position: 'fixed', right: '20px', bottom: '20px', zIndex: '2147483000',
    width: '60px', height: '60px', padding: '0', border: '0', borderRadius: '50%',
    background: '#0b6e4f', color: '#fff', cursor: 'pointer',
    boxShadow: '0 4px 14px rgba(0,0,0,.25)', font: '600 26px/1 system-ui, sans-serif'
  });
  button.type = 'button';
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', 'switchboard-frame');
  var SVG = 'http://www.w3.org/2000/svg';
  var icon = document.createElementNS(SVG, 'svg');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('width', '28');
  icon.setAttribute('height', '28');
  icon.setAttribute('aria-hidden', 'true');
  icon.setAttribute('focusable', 'false');
  var path = document.createElementNS(SVG, 'path');
  path.setAttribute('fill', 'currentColor');
  icon.appendChild(path);
  var BUBBLE = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z';
  var CROSS = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';
  var badge = css(document.createElement('span'), {
    position: 'absolute', top: '-4px', right: '-4px', minWidth: '22px', height: '22px',
    padding: '0 6px', borderRadius: '11px', background: '#b3261e', color: '#fff',
    font: '700 12px/22px system-ui, sans-serif', textAlign: 'center', display: 'none'
  });
  badge.setAttribute('aria-hidden', 'true');
  button.appendChild(icon);
  button.appendChild(badge);

  function label() {
    button.setAttribute('aria-label', (open ? L[1] : L[0]) + (unread && !open ? ' (' + unread + L[2] + ')' : ''));
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.style.display = unread && !open ? 'block' : 'none';
    path.setAttribute('d', open ? CROSS : BUBBLE);
  }

  function ensureFrame() {
    if (frame) return;
    var q = '?site=' + encodeURIComponent(site) + (locale ? '&locale=' + encodeURIComponent(locale) : '') +
      (depts ? '&departments=' + encodeURIComponent(depts) : '') + (dept ? '&department=' + encodeURIComponent(dept) : '') +
      (/^https?:$/.test(location.protocol) ? '&parent=' + encodeURIComponent(location.origin) : '');
    frame = css(document.createElement('iframe'), {
      position: 'fixed', right: '20px', bottom: '92px', zIndex: '2147483000',
      width: '370px', height: '560px', maxWidth: 'calc(100vw - 40px)', maxHeight: 'calc(100vh - 112px)',
      border: '0', borderRadius: '14px', background: '#fff',
      boxShadow: '0 8px 30px rgba(0,0,0,.25)', display: 'none', colorScheme: 'normal'
    });
    frame.id = 'switchboard-frame';
    frame.title = L[3];
    // Keeps the chat from navigating the host page (pointless on the chat's own origin).
    if (origin !== location.origin) {
      frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox allow-downloads');
    }
    frame.src = origin + '/chat.html' + q;
    document.body.appendChild(frame);
    frameWin = frame.contentWindow;
    layout();
  }

  // Phones: the chat fills the screen, with its own close button.
  var small = window.matchMedia('(max-width: 480px)');
  function layout() {
    if (!frame) return;
    var full = small.matches;
    css(frame, full
      ? { right: '0', bottom: '0', width: '100%', height: '100%', maxWidth: 'none', maxHeight: 'none', borderRadius: '0' }
      : { right: '20px', bottom: '92px', width: '370px', height: '560px', maxWidth: 'calc(100vw - 40px)', maxHeight: 'calc(100vh - 112px)', borderRadius: '14px' });
    button.style.display = full && open ? 'none' : 'block';
  }
  if (small.addEventListener) small.addEventListener('change', layout);

  var frameReady = false; // until the chat says "ready" its window is not ours to post to
  function post(msg) {
    msg.source = 'switchboard';
    if (frameWin && frameReady) frameWin.postMessage(msg, origin);
  }

  // byUser: move the focus (into the chat, or back to the button); never on a page load.
  function setOpen(value, byUser) {
    open = value;
    if (open) ensureFrame();
    if (frame) frame.style.display = open ? 'block' : 'none';
    button.setAttribute('aria-expanded', String(open));
    store('sessionStorage', 'open', open ? '1' : null); // open across the site's pages
    label();
    layout();
    if (open && byUser) frame.focus();
    focusOnReady = open && !!byUser; // the chat may not have loaded yet
    post({ type: 'state', open: open, focus: focusOnReady });
    if (!open && byUser) button.focus();
  }

  button.addEventListener('click', function () { setOpen(!open, true); });

  var audio = null;
  var heard = false; // the first count was unread before: no alert
  var ownTitle = '';
  var hostTitle = '';
  // WebAudio: allowed once the visitor has used the page.
  function beep() {
    var ua = navigator.userActivation;
    if (ua && !ua.hasBeenActive) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
      var t = audio.currentTime, o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.1, t);
      g.gain.exponentialRampToValueAtTime(0.001, t + 0.3);
      o.connect(g);
      g.connect(audio.destination);
      o.start(t);
      o.stop(t + 0.3);
    } catch (e) { /* no audio */ }
  }
  function retitle() {
    var away = document.hidden || !document.hasFocus();
    if (document.title !== ownTitle) hostTitle = document.title; // the page's, maybe changed
    ownTitle = unread && away && titleAlert ? '(' + unread + ') ' + L[4] + ' \u2014 ' + hostTitle : '';
    if (ownTitle) document.title = ownTitle; else if (document.title !== hostTitle) document.title = hostTitle;
  }
  window.addEventListener('focus', retitle);
  document.addEventListener('visibilitychange', retitle);

  window.addEventListener('message', function (e) {
    if (e.origin !== origin || !frameWin || e.source !== frameWin) return;
    var d = e.data;
    if (!d || d.source !== 'switchboard') return;
    if (d.type === 'ready') {
      frameReady = true;
      // plain data only: postMessage cannot clone functions
      var settings = null;
      try { settings = JSON.parse(JSON.stringify(window.SwitchboardSettings || null)); } catch (err) { /* not plain data */ }
      post({ type: 'host', page: location.href.split('#')[0], settings: settings });
      post({ type: 'state', open: open, focus: focusOnReady });
      focusOnReady = false;
    } else if (d.type === 'unread') {
      var n = Math.max(0, Number(d.count) || 0);
      if (n > unread && heard && sound) beep();
      unread = n;
      heard = true;
      label();
      retitle();
    }
    else if (d.type === 'close') setOpen(false, true);
    else if (d.type === 'active') store('localStorage', 'active', d.value ? '1' : null);
  });

  function init() {
    document.body.appendChild(button);
    label();
    if (store('sessionStorage', 'open') === '1') setOpen(true, false);
    // A chat going on: load it now, for the unread badge.
    else if (store('localStorage', 'active') === '1') ensureFrame();
  }

  window.__switchboardWidget = { open: function () { setOpen(true, true); }, close: function () { setOpen(false, false); } };
  if (document.body) init(); else document.addEventListener('DOMContentLoaded', init);
})();
