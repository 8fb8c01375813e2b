// Sound and desktop notifications for new offers, conversations and messages.
// Off until the agent turns them on with the topbar toggle: that click is the
// user gesture browsers want before they ask for the Notification permission
// or let a page make sound. The beep is synthesized (WebAudio), no audio file.
const KEY = 'switchboard:console:alerts';
const MIN_GAP_MS = 700; // a burst of messages beeps once

export class Alerts {
  /** button: the toggle (aria-pressed); t: the console's strings. */
  constructor(button, t) {
    this.button = button;
    this.t = t;
    this.enabled = false;
    try { this.enabled = localStorage.getItem(KEY) === 'on'; } catch { /* no storage: off */ }
    this.audio = null;
    this.lastBeep = 0;
    button.addEventListener('click', () => this.toggle());
    // An AudioContext made without a gesture (alerts on from an earlier visit)
    // starts suspended; the agent's first click or key press unlocks it.
    const unlock = () => { if (this.audio?.state === 'suspended') this.audio.resume().catch(() => {}); };
    addEventListener('pointerdown', unlock, true);
    addEventListener('keydown', unlock, true);
    this.render();
  }

  toggle() {
    this.enabled = !this.enabled;
    try { localStorage.setItem(KEY, this.enabled ? 'on' : 'off'); } catch { /* memory only */ }
    if (this.enabled) {
      this._context(); // made inside the click: allowed to play
      if (typeof Notification === 'function' && Notification.permission === 'default') {
        Promise.resolve(Notification.requestPermission()).then(() => this.render(), () => this.render());
      }
      this.beep();
    }
    this.render();
  }

  render() {
    const permission = typeof Notification === 'function' ? Notification.permission : 'unsupported';
    this.button.setAttribute('aria-pressed', String(this.enabled));
    this.button.textContent = this.t(this.enabled ? 'alertsOn' : 'alertsOff');
    this.button.title = this.t('alertsTitle', this.enabled, permission);
    this.button.dataset.permission = permission;
  }

  /** Something new: a beep, and a desktop notification when the console is not in view. */
  notify({ title, body = '', tag = '', onClick = null }) {
    if (!this.enabled) return;
    this.beep();
    if (document.visibilityState === 'visible' && document.hasFocus()) return;
    if (typeof Notification !== 'function' || Notification.permission !== 'granted') return;
    try {
      // title and body are plain text to the browser; never markup
      const n = new Notification(title, { body: body.length > 140 ? `${body.slice(0, 139)}…` : body, tag: tag || undefined, silent: true });
      n.onclick = () => { window.focus(); onClick?.(); n.close(); };
    } catch { /* e.g. Android Chrome wants a service worker for this */ }
  }

  beep() {
    const now = Date.now();
    if (!this.enabled || now - this.lastBeep < MIN_GAP_MS) return;
    const ctx = this._context();
    if (!ctx) return;
    this.lastBeep = now;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime + 0.01;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t0);
    osc.frequency.setValueAtTime(1320, t0 + 0.09);
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.15, t0 + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.22);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + 0.25);
  }

  _context() {
    if (this.audio) return this.audio;
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    try { this.audio = Ctx ? new Ctx() : null; } catch { this.audio = null; }
    return this.audio;
  }
}
