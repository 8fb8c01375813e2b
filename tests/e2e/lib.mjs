// Helpers for the browser tests: the real switchboard binary on a free port
// with a temporary data folder, and Debian's Chromium driven by playwright-core
// (never a downloaded browser).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = resolve(process.env.SB_SOURCE_DIR || join(here, '..', '..'));
export const BINARY = resolve(process.env.SB_BINARY || join(SOURCE_DIR, 'build', 'switchboard'));
export const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = join(here, 'artifacts');
export const DEMO_AGENT = { email: 'demo@switchboard.local', password: 'switchboard-demo', name: 'Demo Agent', id: 'demo' };

mkdirSync(ARTIFACTS, { recursive: true });

/** Starts the server; resolves once it prints where it listens. */
export async function startServer({ args = [], agents = null } = {}) {
  const data = mkdtempSync(join(tmpdir(), 'sb-e2e-data-'));
  const argv = ['--port', '0', '--bind', '127.0.0.1', '--data', data, '--web', join(SOURCE_DIR, 'web-widget'),
    '--shutdown-grace-ms', '500', '--kb', join(SOURCE_DIR, 'kb'),
    // the bot answers first only in the tests that ask for it
    ...(args.includes('--bot') ? [] : ['--bot', 'off']), ...args,
    // extra settings for every test server, e.g. SB_E2E_SERVER_ARGS="--queue-without-agents off"
    ...(process.env.SB_E2E_SERVER_ARGS || '').split(/\s+/).filter(Boolean)];
  if (agents) {
    const file = join(data, 'agents.json');
    writeFileSync(file, JSON.stringify({ agents }, null, 2));
    argv.push('--agents', file);
  } else {
    argv.push('--demo-agent');
  }
  let log = '';
  let proc;
  // keepData: a restart, whose data folder must survive a failed attempt
  const launch = (args, keepData = false) => new Promise((resolveUrl, reject) => {
    proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; // this process's output only
    const fail = reject;
    reject = (err) => { // no server: kill whatever started, keep no data folder
      proc.kill('SIGKILL');
      if (!keepData) rmSync(data, { recursive: true, force: true });
      fail(err);
    };
    const timer = setTimeout(() => reject(new Error(`server did not start in 15 s:\n${out}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      out += chunk;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolveUrl(m[1].replace(/\/$/, '')); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`server exited (${code ?? sig}):\n${out}`)); });
    proc.on('error', (err) => { clearTimeout(timer); reject(err); });
  }).then((u) => { proc.removeAllListeners('exit'); return u; });
  const url = await launch(argv);
  const halt = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    url,
    data,
    log: () => log,
    /** Stops the process (SIGTERM, as a deploy would) and starts it again on the
     *  same port and data folder; `down()` (async) runs while it is stopped. */
    async restart({ down = null } = {}) {
      await halt();
      if (down) await down();
      const port = new URL(url).port;
      const again = argv.map((a, i) => (argv[i - 1] === '--port' ? port : a));
      for (let i = 0; ; i++) { // the port may linger a moment after the old process
        try {
          await launch(again, true);
          return;
        } catch (err) {
          if (i >= 10 || !/address|in use|bind/i.test(err.message)) throw err;
          await sleep(300);
        }
      }
    },
    async stop() {
      await halt();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Argon2id hash of a password, from the binary itself. */
export function hashPassword(password) {
  return new Promise((resolveHash, reject) => {
    const p = spawn(BINARY, ['hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { err += c; });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolveHash(out.trim()) : reject(new Error(`hash-password: ${code} ${err}`))));
    p.stdin.on('error', () => {}); // the spawn error is reported above
    p.stdin.end(`${password}\n`);
  });
}

/** Headless Chromium with a fresh profile (playwright gives each launch its own --user-data-dir). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: false, // the flags below choose the headless mode
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
}

/** A browser context that records page errors and any dialog (which must never open). */
export async function newContext(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, ...opts });
  context.dialogs = [];
  context.pageErrors = [];
  context.on('page', (page) => watchPage(context, page));
  return context;
}

function watchPage(context, page) {
  page.on('dialog', (d) => { context.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => context.pageErrors.push(e.message));
  if (process.env.SB_E2E_DEBUG) { // SB_E2E_DEBUG=1: log every WebSocket frame and console line
    const tag = () => (page.isClosed() ? '?' : new URL(page.url()).pathname);
    page.on('console', (m) => console.log(`[${tag()}] console: ${m.text()}`));
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => console.log(`[${tag()}] > ${String(f.payload).slice(0, 300)}`));
      ws.on('framereceived', (f) => console.log(`[${tag()}] < ${String(f.payload).slice(0, 300)}`));
    });
  }
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** The visitor chat inside the widget's iframe. */
export function chatFrame(page) {
  return page.frameLocator('#switchboard-frame');
}

/** A shop on another origin (its own port on 127.0.0.1) whose pages embed the
 *  widget with one tag. shop.page(attrs, head) -> URL of a page with those data-*
 *  attributes on the script tag and `head` (HTML, e.g. a settings script) before it. */
export async function startShop(serverUrl) {
  const pages = new Map();
  const srv = createServer((req, res) => {
    const body = pages.get(new URL(req.url, 'http://x').pathname);
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(body || 'not found');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${srv.address().port}`;
  return {
    origin,
    page(attrs = {}, head = '') {
      const attr = Object.entries({ 'data-site': 'shop', ...attrs })
        .map(([k, v]) => ` ${k}="${String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`).join('');
      const path = `/shop-${pages.size + 1}.html`;
      pages.set(path, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><h1>A shop on another origin</h1><p>It embeds the Switchboard widget with one tag.</p>${head}
<script src="${serverUrl}/widget.js"${attr} async></script></body></html>`);
      return origin + path;
    },
    close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
  };
}

/** Signs an agent in on the console page and waits until connected. */
export async function signIn(page, serverUrl, { email, password }) {
  await page.goto(`${serverUrl}/console/`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#signin-button');
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('#status[data-status="online"]');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- shared by the test files -------------------------------------------------

export const T = { timeout: 60000 };
export const HOOK = { timeout: 60000 };

/** A setup that fails is reported by every test that needed it (as a failure,
 *  not as "cancelled"), so the summary's "# fail N" counts it. Returns the
 *  test function to use in that suite. */
export function setup(fn) {
  let error = null;
  before(async () => { try { await fn(); } catch (e) { error = e; } }, HOOK);
  return (name, opts, body) => test(name, opts, async (t) => {
    if (error) throw new Error(`setup failed: ${error.message}`, { cause: error });
    await body(t);
  });
}

export const frameOf = (page) => page.frames().find((f) => /\/chat\.html/.test(f.url()));

/** Texts of the message bubbles in a transcript (page or frame). */
export const texts = (target) => target.evaluate(() => [...document.querySelectorAll('#log .msg .msg__text')].map((n) => n.textContent));

/** Opens the widget from its launcher; returns the chat's frame locator. */
export async function openWidget(page) {
  await page.click('button[aria-controls="switchboard-frame"]');
  await page.waitForSelector('#switchboard-frame', { state: 'visible' });
  const chat = chatFrame(page);
  await chat.locator('#input').waitFor();
  // chat.js has run: it fills the greeting in
  await chat.locator('#log .note--greeting').waitFor();
  return chat;
}

export async function send(locator, text) {
  await locator.fill(text);
  await locator.press('Enter');
}

export function checkClean(context, label) {
  assert.deepEqual(context.dialogs, [], `${label}: a dialog opened`);
  assert.deepEqual(context.pageErrors, [], `${label}: page errors`);
}

// ---- protocol clients without a browser (console.mjs) --------------------------

/** Signs an agent in over HTTP; resolves with the login answer ({token, agent, …}). */
export async function login(serverUrl, { email, password }) {
  const res = await fetch(`${serverUrl}/api/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, `login ${email}: HTTP ${res.status}`);
  return res.json();
}

/** A bare protocol client on /ws (the `ws` bundled with playwright-core, pinned
 *  by package-lock.json): sends `hello` (role and fields as given) and keeps
 *  every frame it receives in `frames`. `wait(pred, {since})` resolves with the
 *  first frame (from index `since` on, default 0) that matches, `send(frame)`
 *  sends one, `close()` ends it. Resolves once the welcome (or an error) came. */
export async function wsClient(serverUrl, hello) {
  const { default: bundle } = await import('playwright-core/lib/utilsBundle');
  const ws = new bundle.ws(`${serverUrl.replace(/^http/, 'ws')}/ws`);
  const frames = [];
  const waiters = new Set();
  ws.on('message', (data) => {
    let f;
    try { f = JSON.parse(String(data)); } catch { return; }
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) { waiters.delete(w); clearTimeout(w.timer); w.resolve(f); }
  });
  await new Promise((resolveOpen, reject) => { ws.once('open', resolveOpen); ws.once('error', reject); });
  const client = {
    frames,
    closed: new Promise((r) => ws.once('close', (code) => r(code))),
    send(frame) { ws.send(JSON.stringify(frame)); },
    wait(pred, { since = 0, timeout = 15000 } = {}) {
      const seen = frames.slice(since).find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveFrame, reject) => {
        const w = { pred, resolve: resolveFrame };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching frame in ${timeout} ms; got: ${frames.map((x) => JSON.stringify(x).slice(0, 160)).join('\n')}`));
        }, timeout);
        waiters.add(w);
      });
    },
    close() { ws.close(); },
  };
  client.send({ type: 'hello', version: 1, ...hello });
  client.welcome = await client.wait((f) => f.type === 'welcome' || f.type === 'error');
  return client;
}
