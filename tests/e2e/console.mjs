// Browser tests of the agent console's support features: the visitor context
// (verified identity, attributes, page, language, browser, earlier
// conversations with resolution and CSAT), canned replies (shared and
// personal, /shortcut and search, placeholders), private notes, close with a
// resolution, the supervisors' live dashboard and read-only supervision,
// sound and desktop alerts, XSS in everything a visitor or host page sends,
// and an agent token that cannot reach another agent's conversation.
// Visitors are bare WebSocket clients (lib.mjs wsClient), so every frame a
// visitor receives can be checked. Run by run.sh (node --test); screenshots go
// to artifacts/console-*.png.
import { describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newContext, screenshot, signIn, hashPassword, sleep, login, wsClient,
  T, HOOK, setup, texts, checkClean,
} from './lib.mjs';
import { XSS_PAYLOADS, xssFired, foreignElements } from './payloads.mjs';

let browser;
setup(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); }, HOOK);

const ALICE = { id: 'alice', name: 'Alice Park', email: 'alice@example.com', password: 'pw-alice', role: 'agent' };
const BOB = { id: 'bob', name: 'Bob Stone', email: 'bob@example.com', password: 'pw-bob', role: 'agent' };
const SUE = { id: 'sue', name: 'Sue Visor', email: 'sue@example.com', password: 'pw-sue', role: 'supervisor' };
const SECRET = 'console-test-shared-secret-0123456789';
const sign = (userId) => createHmac('sha256', SECRET).update(userId).digest('hex');

const VISITOR = { name: 'Ayşe Yılmaz', email: 'ayse@example.com', user_id: 'u-1001' };
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const NOTE = 'VIP customer: refund for 5521 pre-approved by finance';
const TRANSFER_NOTE = 'Bob, please finish the refund';
const CANNED_HELLO = 'Hi {visitor.name}, I am {agent.name}. Order {order.id} is on its way.';
const CANNED_REFUND = 'Hello {visitor.name}, your refund is approved. — {agent.name}';

// Stubs recording what the alerts do: the Notification API (permission granted
// on request) and WebAudio oscillators; document.hasFocus follows __focus.
function recordAlerts() {
  window.__alerts = { beeps: 0, shown: [], asked: 0 };
  window.__focus = true;
  document.hasFocus = () => window.__focus;
  class FakeNotification {
    constructor(title, opts = {}) { window.__alerts.shown.push({ title, body: opts.body || '' }); }
    close() {}
  }
  FakeNotification.permission = 'default';
  FakeNotification.requestPermission = async () => {
    window.__alerts.asked++;
    FakeNotification.permission = 'granted';
    return 'granted';
  };
  window.Notification = FakeNotification;
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    createOscillator() {
      const osc = super.createOscillator();
      const start = osc.start.bind(osc);
      osc.start = (...a) => { window.__alerts.beeps++; return start(...a); };
      return osc;
    }
  };
}

const alertsOf = (page) => page.evaluate(() => window.__alerts);
const statValue = (page, key) => page.locator(`#dashboard-body [data-stat="${key}"] .stat__value`);
async function waitStat(page, key, value) {
  await page.waitForFunction(([k, v]) => document.querySelector(`#dashboard-body [data-stat="${k}"] .stat__value`)?.textContent === v,
    [key, value], { timeout: 15000 }).catch(async () => {
    throw new Error(`dashboard ${key}: wanted ${value}, shows ${await statValue(page, key).textContent().catch(() => '?')}`);
  });
}
const agentLoad = (page, id) => page.locator(`#dashboard-body tr[data-agent="${id}"] [data-field="load"]`);
const field = (page, name) => page.locator(`#context-body [data-field="${name}"]`);

async function setPresence(page, status) {
  await page.selectOption('#presence', status);
  await page.waitForSelector(`#presence[data-status="${status}"]`);
}

/** A visitor that starts a chat (the bot answers first) and asks for a person. */
async function escalate(visitor, text, clientId) {
  visitor.send({ type: 'start', client_id: clientId, text });
  const { conv } = await visitor.wait((f) => f.type === 'conversation' && f.client_id === clientId);
  await visitor.wait((f) => f.type === 'message' && f.conv === conv && f.from === 'bot');
  const since = visitor.frames.length;
  visitor.send({ type: 'handoff', conv });
  await visitor.wait((f) => f.type === 'conversation' && f.conv === conv && (f.state === 'waiting' || f.state === 'active'), { since });
  return conv;
}

async function rate(visitor, conv, score, comment) {
  const since = visitor.frames.length;
  visitor.send({ type: 'rate', conv, score, ...(comment ? { comment } : {}) });
  const answer = await visitor.wait((f) => (f.type === 'rated' || f.type === 'error') && f.conv === conv, { since });
  assert.equal(answer.type, 'rated', JSON.stringify(answer));
  assert.equal(answer.score, score);
}

const hasText = (visitor, text) => visitor.frames.some((f) => JSON.stringify(f).includes(text));

describe('agent console: context, canned replies, notes, resolution, dashboard, supervision', () => {
  let server, secretDir, aliceCtx, bobCtx, sueCtx, alice, bob, sue, v1, v2, v3, conv1, conv2, conv3;
  const clients = [];
  const cspViolations = [];

  const it = setup(async () => {
    secretDir = mkdtempSync(join(tmpdir(), 'sb-e2e-secret-'));
    const secretFile = join(secretDir, 'identity.secret');
    writeFileSync(secretFile, SECRET);
    const agents = [];
    for (const a of [ALICE, BOB, SUE]) {
      agents.push({ id: a.id, name: a.name, email: a.email, role: a.role, capacity: 3, departments: [],
        password_hash: await hashPassword(a.password) });
    }
    // the bot answers first; with everyone away a hand-off waits in the queue
    server = await startServer({ agents, args: ['--bot', 'on', '--queue-without-agents', 'on', '--identity-secret-file', secretFile,
      '--dashboard-interval-ms', '200'] });
    aliceCtx = await newContext(browser);
    await aliceCtx.addInitScript(recordAlerts);
    bobCtx = await newContext(browser);
    sueCtx = await newContext(browser, { viewport: { width: 1280, height: 860 } });
    alice = await aliceCtx.newPage();
    bob = await bobCtx.newPage();
    sue = await sueCtx.newPage();
    for (const page of [alice, bob, sue]) { // the console runs under the server's CSP (no unsafe-inline)
      page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
    }
  });
  after(async () => {
    for (const c of [v1, v2, v3, ...clients]) c?.close();
    for (const c of [aliceCtx, bobCtx, sueCtx]) await c?.close();
    await server?.stop();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  }, HOOK);

  it('agents and a supervisor sign in; only the supervisor has the dashboard; alerts ask for permission', T, async () => {
    await signIn(sue, server.url, SUE);
    await setPresence(sue, 'away'); // supervising, not taking chats
    await sue.locator('#dashboard-toggle').click();
    await sue.locator('#dashboard:not([hidden])').waitFor();
    assert.equal(await sue.locator('#dashboard-toggle').getAttribute('aria-pressed'), 'true');
    await waitStat(sue, 'conversations', '0');
    await signIn(bob, server.url, BOB);
    await setPresence(bob, 'away');
    await signIn(alice, server.url, ALICE);
    await setPresence(alice, 'away');
    for (const id of ['alice', 'bob', 'sue']) await sue.locator(`#dashboard-body tr[data-agent="${id}"][data-status="away"]`).waitFor();
    assert.equal(await alice.locator('#dashboard-toggle').isHidden(), true, 'agents have no dashboard');
    assert.equal(await bob.locator('#dashboard-toggle').isHidden(), true);

    // sound and desktop notifications: off until the agent turns them on (a click)
    assert.equal(await alice.locator('#alerts').getAttribute('aria-pressed'), 'false');
    assert.equal((await alertsOf(alice)).asked, 0, 'no permission asked without a gesture');
    await alice.locator('#alerts').click();
    assert.equal(await alice.locator('#alerts').getAttribute('aria-pressed'), 'true');
    await alice.waitForFunction(() => window.__alerts.asked === 1 && window.__alerts.beeps >= 1);
    await alice.locator('#alerts[data-permission="granted"]').waitFor();
    for (const [who, ctx] of [['alice', aliceCtx], ['bob', bobCtx], ['sue', sueCtx]]) checkClean(ctx, who);
  });

  it('a verified visitor escalates from the bot: the queue, and the dashboard with a ticking longest wait', T, async () => {
    v1 = await wsClient(server.url, {
      role: 'visitor', name: VISITOR.name, email: VISITOR.email, user_id: VISITOR.user_id, signature: sign(VISITOR.user_id),
      attributes: { plan: 'gold', order: '5521', 'crm.segment': 'vip' }, page: 'https://shop.example/cart?step=2',
      language: 'tr-TR', user_agent: UA,
    });
    assert.equal(v1.welcome.type, 'welcome', JSON.stringify(v1.welcome));
    assert.equal(v1.welcome.verified, true);
    conv1 = await escalate(v1, 'Where is my order 5521?', 's-1');

    const entry = alice.locator('.queue__item', { hasText: VISITOR.name });
    await entry.waitFor();
    assert.equal(await entry.locator('.queue__first').textContent(), 'Where is my order 5521?');
    await screenshot(alice, 'console-01-queue');

    await waitStat(sue, 'conversations', '1');
    await waitStat(sue, 'waiting', '1');
    const row = sue.locator(`#dashboard-body tr[data-conv="${conv1}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /Ayşe Yılmaz/);
    // the bot routed it to a department (its knowledge base says which)
    const longest = sue.locator('#dashboard-body .dash__queue tr[data-department] [data-field="longest"]').first();
    const first = await longest.textContent();
    assert.match(first, /^\d+ s$/);
    await sue.waitForFunction((before) => {
      const n = document.querySelector('#dashboard-body .dash__queue tr[data-department] [data-field="longest"]');
      return n && n.textContent !== before;
    }, first, { timeout: 5000 });
    await screenshot(sue, 'console-02-dashboard-waiting');
  });

  it('the agent goes online and gets it with the visitor context; replies; closes as solved; the visitor rates', T, async () => {
    const beeps = (await alertsOf(alice)).beeps;
    await setPresence(alice, 'online');
    await alice.locator('#conv-title', { hasText: VISITOR.name }).waitFor();
    await alice.locator('#log .msg--visitor', { hasText: 'Where is my order 5521?' }).waitFor();
    await alice.locator('#log .msg--bot').first().waitFor();
    await alice.waitForFunction((n) => window.__alerts.beeps > n, beeps); // the new conversation beeped

    // the visitor context
    await field(alice, 'name').filter({ hasText: VISITOR.name }).waitFor();
    assert.equal(await field(alice, 'email').textContent(), VISITOR.email);
    assert.equal(await field(alice, 'verified').textContent(), 'Verified');
    assert.equal(await field(alice, 'user_id').textContent(), VISITOR.user_id);
    const page = field(alice, 'page').locator('a');
    assert.equal(await page.getAttribute('href'), 'https://shop.example/cart?step=2');
    assert.equal(await page.textContent(), 'https://shop.example/cart?step=2');
    assert.match(await page.getAttribute('rel'), /\bnoopener\b/);
    assert.equal(await field(alice, 'language').textContent(), 'tr-TR');
    assert.equal(await field(alice, 'browser').textContent(), 'Chrome 126 on Windows');
    assert.equal(await field(alice, 'browser').getAttribute('title'), UA);
    const attrs = await field(alice, 'attributes').evaluate((dl) => Object.fromEntries(
      [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    assert.deepEqual(attrs, { plan: 'gold', order: '5521', 'crm.segment': 'vip' });
    assert.equal(await alice.locator('#context-body .history__item').count(), 1);
    assert.equal(await alice.locator(`#context-body .history__item--here[data-conv="${conv1}"]`).count(), 1);

    await waitStat(sue, 'waiting', '0');
    await agentLoad(sue, 'alice').filter({ hasText: '1/3' }).waitFor();
    assert.notEqual(await statValue(sue, 'avg_wait').textContent(), '—');

    await alice.locator('#input').fill('Let me check that for you.');
    await alice.locator('#input').press('Enter');
    await v1.wait((f) => f.type === 'message' && f.conv === conv1 && f.from === 'agent' && f.text === 'Let me check that for you.');
    await sue.waitForFunction(() => document.querySelector('#dashboard-body [data-stat="avg_first_response"] .stat__value')?.textContent !== '—');

    // close with a resolution
    await alice.locator('#close-conv').click();
    await alice.locator('#close-dialog[open]').waitFor();
    assert.equal(await alice.locator('#close-other').isHidden(), true);
    await alice.selectOption('#close-resolution', 'solved');
    await alice.locator('#close-send').click();
    await alice.locator('#close-dialog[open]').waitFor({ state: 'detached' });
    const closed = await v1.wait((f) => f.type === 'conversation' && f.conv === conv1 && f.state === 'closed');
    if ('resolution' in closed) assert.equal(closed.resolution, 'solved');
    await alice.locator('#composer').waitFor({ state: 'hidden' });
    await waitStat(sue, 'closed', '1');
    await agentLoad(sue, 'alice').filter({ hasText: '0/3' }).waitFor();

    await rate(v1, conv1, 4, 'Quick help <b>thanks</b>');
    await waitStat(sue, 'csat', '4.0 / 5');
    checkClean(aliceCtx, 'alice');
  });

  it('canned replies: shared ones by a supervisor, personal ones by an agent; edit, delete, search, conflicts', T, async () => {
    // the supervisor adds a shared reply
    await sue.locator('#canned-open').click();
    await sue.locator('#canned-dialog[open]').waitFor();
    assert.equal(await sue.locator('#canned-shared-label').isVisible(), true);
    await sue.fill('#canned-shortcut', 'refund');
    await sue.fill('#canned-text', CANNED_REFUND);
    await sue.check('#canned-shared');
    await sue.locator('#canned-save').click();
    await sue.locator('#canned-list li[data-shortcut="refund"][data-shared="true"]').waitFor();
    assert.equal(await sue.locator('#canned-shortcut').inputValue(), '', 'the form is reset after a save');
    await sue.locator('#canned-close').click();

    // an agent sees it (pushed), cannot change it, cannot make shared ones, adds personal ones
    await alice.locator('#canned-open').click();
    const refund = alice.locator('#canned-list li[data-shortcut="refund"]');
    await refund.waitFor();
    assert.equal(await refund.getByRole('button', { name: 'Edit' }).count(), 0);
    assert.equal(await refund.getByRole('button', { name: 'Delete' }).count(), 0);
    assert.equal(await alice.locator('#canned-shared-label').isHidden(), true);
    await alice.fill('#canned-shortcut', 'hello');
    await alice.fill('#canned-text', CANNED_HELLO);
    await alice.locator('#canned-save').click();
    await alice.locator('#canned-list li[data-shortcut="hello"][data-shared="false"]').waitFor();

    // the same shortcut twice: the server's conflict, explained
    await alice.fill('#canned-shortcut', 'hello');
    await alice.fill('#canned-text', 'another hello');
    await alice.locator('#canned-save').click();
    await alice.locator('#canned-error', { hasText: 'taken' }).waitFor();
    // a bad shortcut never leaves the console
    await alice.fill('#canned-shortcut', 'no spaces');
    await alice.locator('#canned-save').click();
    await alice.locator('#canned-error', { hasText: 'letters, digits' }).waitFor();

    // edit, then delete (two clicks: no window.confirm)
    await alice.locator('#canned-new').click();
    await alice.fill('#canned-shortcut', 'tmp');
    await alice.fill('#canned-text', 'temporary');
    await alice.locator('#canned-save').click();
    const tmp = alice.locator('#canned-list li[data-shortcut="tmp"]');
    await tmp.waitFor();
    await tmp.getByRole('button', { name: 'Edit' }).click();
    assert.equal(await alice.locator('#canned-form-title').textContent(), 'Edit /tmp');
    await alice.fill('#canned-text', 'temporary, edited');
    await alice.locator('#canned-save').click();
    await tmp.locator('.canned__text', { hasText: 'temporary, edited' }).waitFor();
    assert.equal(await alice.locator('#canned-list li[data-shortcut="tmp"]').count(), 1, 'edited in place');
    await tmp.getByRole('button', { name: 'Delete' }).click();
    await tmp.getByRole('button', { name: 'Really delete?' }).click();
    await tmp.waitFor({ state: 'detached' });

    // search
    await alice.fill('#canned-search', 'approved');
    await alice.waitForFunction(() => [...document.querySelectorAll('#canned-list li')].map((n) => n.dataset.shortcut).join() === 'refund');
    await alice.fill('#canned-search', '');
    await alice.waitForFunction(() => document.querySelectorAll('#canned-list li').length === 2);
    await screenshot(alice, 'console-03-canned-replies');
    await alice.locator('#canned-close').click();
    checkClean(aliceCtx, 'alice');
    checkClean(sueCtx, 'sue');
  });

  it('the same person on another device: history with resolution and CSAT, a /shortcut reply filled in, a private note the visitor never gets', T, async () => {
    v2 = await wsClient(server.url, {
      role: 'visitor', name: VISITOR.name, email: VISITOR.email, user_id: VISITOR.user_id, signature: sign(VISITOR.user_id),
      attributes: { plan: 'gold', order: '5521' }, page: 'https://shop.example/orders/5521', language: 'tr-TR', user_agent: UA,
    });
    assert.equal(v2.welcome.verified, true);
    conv2 = await escalate(v2, 'I want a refund for 5521', 's-2');
    const item = alice.locator(`#convs .conv[data-conv="${conv2}"]`);
    await item.waitFor();
    await item.click();
    await alice.locator('#log .msg--visitor', { hasText: 'I want a refund for 5521' }).waitFor();

    // the history: this conversation and the one from the other device
    await alice.locator('#context-body .history__item').nth(1).waitFor();
    const previous = alice.locator(`#context-body .history__item[data-conv="${conv1}"]`);
    assert.equal(await previous.locator('[data-field="resolution"]').textContent(), 'solved');
    assert.equal(await previous.locator('[data-field="csat"]').getAttribute('data-score'), '4');
    assert.equal(await previous.locator('[data-field="csat_comment"]').textContent(), 'Quick help <b>thanks</b>');
    assert.equal(await alice.locator(`#context-body .history__item--here[data-conv="${conv2}"]`).count(), 1);
    assert.equal(await field(alice, 'page').textContent(), 'https://shop.example/orders/5521');

    // "/hel" offers the personal reply; Tab inserts it with the placeholders filled
    await alice.locator('#input').pressSequentially('/hel', { delay: 30 });
    const option = alice.locator('#canned-suggest [data-shortcut="hello"]');
    await option.waitFor();
    assert.equal(await option.getAttribute('aria-selected'), 'true');
    await screenshot(alice, 'console-04-canned-shortcut');
    await alice.locator('#input').press('Tab');
    await alice.locator('#canned-suggest').waitFor({ state: 'hidden' });
    const filled = 'Hi Ayşe Yılmaz, I am Alice Park. Order {order.id} is on its way.';
    assert.equal(await alice.locator('#input').inputValue(), filled, 'known placeholders filled, unknown ones kept');
    await alice.locator('#input').press('Enter');
    const got = await v2.wait((f) => f.type === 'message' && f.conv === conv2 && f.from === 'agent');
    assert.equal(got.text, filled);

    // a private note
    await alice.check('input[name="mode"][value="note"]');
    await alice.locator('#composer[data-mode="note"]').waitFor();
    assert.equal(await alice.locator('#note-hint').isVisible(), true);
    assert.equal(await alice.locator('#send').textContent(), 'Add note');
    await alice.locator('#input').fill(NOTE);
    await alice.locator('#input').press('Enter');
    const note = alice.locator('#log .msg--internal[data-seq]', { hasText: NOTE });
    await note.waitFor();
    assert.equal(await note.locator('.msg__author').textContent(), 'Internal note · Alice Park');
    assert.equal(await note.locator('.msg__private').textContent(), 'Only agents see this');
    assert.equal(await alice.locator('#log .msg--pending').count(), 0);
    await screenshot(alice, 'console-05-note-and-context');
    await alice.check('input[name="mode"][value="reply"]');

    // the visitor: a message after the note arrives, the note never did; not on a replay either
    v2.send({ type: 'message', conv: conv2, client_id: 'v2-after-note', text: 'Is it done?' });
    await alice.locator('#log .msg--visitor', { hasText: 'Is it done?' }).waitFor();
    const since = v2.frames.length;
    v2.send({ type: 'resume', conv: conv2, after: 0 });
    await v2.wait((f) => f.type === 'replayed' && f.conv === conv2, { since });
    assert.equal(hasText(v2, NOTE), false, 'the visitor never received the note');
    assert.equal(v2.frames.filter((f) => f.internal).length, 0);

    // a desktop notification when the console is not in view
    await alice.evaluate(() => { window.__focus = false; });
    v2.send({ type: 'message', conv: conv2, client_id: 'v2-there', text: 'Are you there?' });
    await alice.waitForFunction(() => window.__alerts.shown.some((n) => n.body === 'Are you there?'));
    const shown = (await alertsOf(alice)).shown.find((n) => n.body === 'Are you there?');
    assert.equal(shown.title, `New message from ${VISITOR.name}`);
    await alice.evaluate(() => { window.__focus = true; });
    checkClean(aliceCtx, 'alice');
  });

  it('transfer to a second agent, who sees transcript and note; the supervisor follows read-only; close with a tag; CSAT', T, async () => {
    await setPresence(bob, 'online');
    await alice.locator('#transfer').click();
    await alice.check('input[name="target"][value="agent"]');
    await alice.fill('#transfer-to', 'bob');
    await alice.fill('#transfer-note', TRANSFER_NOTE);
    await alice.locator('#transfer-send').click();
    await alice.locator('#transfer-dialog[open]').waitFor({ state: 'detached' });
    await alice.locator(`#convs .conv[data-state="departed"][data-conv="${conv2}"]`).waitFor();

    await bob.locator('#conv-title', { hasText: VISITOR.name }).waitFor();
    await bob.locator('#log .msg--visitor', { hasText: 'I want a refund for 5521' }).waitFor();
    await bob.locator('#log .msg--agent', { hasText: 'I am Alice Park' }).waitFor();
    await bob.locator('#log .msg--internal', { hasText: NOTE }).waitFor();
    await bob.locator('#log .msg--internal', { hasText: TRANSFER_NOTE }).waitFor();
    await field(bob, 'name').filter({ hasText: VISITOR.name }).waitFor();
    await agentLoad(sue, 'alice').filter({ hasText: '0/3' }).waitFor();
    await agentLoad(sue, 'bob').filter({ hasText: '1/3' }).waitFor();

    // the supervisor opens it from the dashboard: read-only, live
    const row = sue.locator(`#dashboard-body tr[data-conv="${conv2}"]`);
    await row.filter({ hasText: 'Bob Stone' }).waitFor();
    await row.getByRole('button', { name: 'Watch' }).click();
    await sue.locator('#conversation:not([hidden])').waitFor();
    await sue.locator('#readonly:not([hidden])').waitFor();
    assert.match(await sue.locator('#conv-state').textContent(), /^Read-only · Active · with Bob Stone/);
    for (const id of ['#composer', '#close-conv', '#transfer']) assert.equal(await sue.locator(id).isHidden(), true, `${id} hidden`);
    await sue.locator('#log .msg--internal', { hasText: NOTE }).waitFor();
    await sue.locator('#log .msg--visitor', { hasText: 'Is it done?' }).waitFor();
    assert.equal(await sue.locator('#log .msg--mine').count(), 0, 'nothing shown as the supervisor\'s own');
    await sue.locator(`#watching .conv[data-conv="${conv2}"]`).waitFor();
    assert.equal(await sue.locator(`#convs .conv[data-conv="${conv2}"]`).count(), 0);
    await field(sue, 'name').filter({ hasText: VISITOR.name }).waitFor();
    v2.send({ type: 'message', conv: conv2, client_id: 'v2-live', text: 'Thanks, Bob' });
    await sue.locator('#log .msg--visitor', { hasText: 'Thanks, Bob' }).waitFor();
    await screenshot(sue, 'console-06-readonly');

    // the second agent inserts the shared reply from the search
    await bob.locator('#canned-pick').click();
    await bob.fill('#canned-search', 'refund');
    await bob.locator('#canned-list li[data-shortcut="refund"]').getByRole('button', { name: 'Insert' }).click();
    await bob.locator('#canned-dialog[open]').waitFor({ state: 'detached' });
    const refundText = 'Hello Ayşe Yılmaz, your refund is approved. — Bob Stone';
    assert.equal(await bob.locator('#input').inputValue(), refundText);
    await bob.locator('#input').press('Enter');
    assert.equal((await v2.wait((f) => f.type === 'message' && f.conv === conv2 && f.text === refundText)).from, 'agent');
    await sue.locator('#log .msg--agent', { hasText: refundText }).waitFor();

    // close with a free-text resolution (checked in the console first)
    await bob.locator('#close-conv').click();
    await bob.selectOption('#close-resolution', 'other');
    await bob.locator('#close-other').waitFor({ state: 'visible' });
    await bob.fill('#close-other', 'refund approved!');
    await bob.locator('#close-send').click();
    await bob.locator('#close-error', { hasText: 'resolution tag' }).waitFor();
    await bob.fill('#close-other', 'refund.approved');
    await screenshot(bob, 'console-07-close-resolution');
    await bob.locator('#close-send').click();
    await v2.wait((f) => f.type === 'conversation' && f.conv === conv2 && f.state === 'closed');
    await sue.locator('#conv-state', { hasText: 'Closed' }).waitFor();
    assert.equal(await sue.locator('#composer').isHidden(), true);

    await rate(v2, conv2, 5, '');
    await sue.locator('#dashboard-toggle').click();
    await waitStat(sue, 'conversations', '2');
    await waitStat(sue, 'closed', '2');
    await waitStat(sue, 'csat', '4.5 / 5');
    assert.equal(await sue.locator('#dashboard-body [data-stat="csat"] .stat__sub').textContent(), '2 ratings');
    await agentLoad(sue, 'bob').filter({ hasText: '0/3' }).waitFor();
    assert.equal(await sue.locator('#dashboard-body tr[data-conv]').count(), 0, 'no open conversations');
    await screenshot(sue, 'console-08-dashboard');

    // the closed conversation's resolution, in the history the next agent sees
    await bob.locator(`#context-body .history__item[data-conv="${conv2}"] [data-field="resolution"]`, { hasText: 'refund.approved' }).waitFor();
    for (const [who, ctx] of [['alice', aliceCtx], ['bob', bobCtx], ['sue', sueCtx]]) checkClean(ctx, who);
  });

  it(`${XSS_PAYLOADS.length} XSS payloads in visitor text, name, attributes, page and browser show literally and run nothing`, T, async () => {
    assert.ok(XSS_PAYLOADS.length >= 30);
    await setPresence(bob, 'away'); // so the chat goes to Alice
    const evilName = '<img src=x onerror="window.__xss=1">Eve';
    const evilPage = 'http://example.com/"><img src=x onerror=window.__xss=1>';
    const evilUa = '<svg onload="window.__xss=1"> Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0';
    const attributes = Object.fromEntries(XSS_PAYLOADS.slice(0, 20).map((p, i) => [`x.${i}`, p]));
    const hello = { role: 'visitor', name: evilName, email: 'eve@example.com', attributes, page: evilPage, language: 'en', user_agent: evilUa };
    v3 = await wsClient(server.url, hello);
    assert.equal(v3.welcome.type, 'welcome', JSON.stringify(v3.welcome));
    conv3 = await escalate(v3, XSS_PAYLOADS[0], 'x-0');
    for (const [i, p] of XSS_PAYLOADS.slice(1).entries()) { // within the server's frame rate
      v3.send({ type: 'message', conv: conv3, client_id: `x-${i + 1}`, text: p });
      await sleep(60);
    }
    await v3.wait((f) => f.type === 'ack' && f.client_id === `x-${XSS_PAYLOADS.length - 1}`);

    const item = alice.locator(`#convs .conv[data-conv="${conv3}"]`);
    await item.waitFor();
    await item.click();
    await alice.waitForFunction((n) => document.querySelectorAll('#log .msg--visitor[data-seq]').length >= n, XSS_PAYLOADS.length);
    await field(alice, 'attributes').locator('dd').nth(19).waitFor();
    await sleep(500); // give anything that could run a chance to

    assert.equal(await alice.locator('#conv-title').textContent(), evilName);
    assert.equal(await alice.locator(`#convs .conv[data-conv="${conv3}"] .conv__name`).textContent(), evilName);
    const shown = await texts(alice);
    for (const p of XSS_PAYLOADS) assert.equal(shown.filter((x) => x === p).length, 1, `shown literally once: ${p}`);
    assert.deepEqual(await foreignElements(alice), [], 'no element came from a payload');
    assert.equal(await field(alice, 'name').textContent(), evilName);
    const attrs = await field(alice, 'attributes').evaluate((dl) => Object.fromEntries(
      [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    assert.deepEqual(attrs, attributes);
    const link = field(alice, 'page').locator('a');
    assert.equal(await link.textContent(), evilPage);
    assert.match(await link.getAttribute('href'), /^http:\/\/example\.com\//);
    assert.match(await link.getAttribute('rel'), /\bnoopener\b/);
    assert.equal(await field(alice, 'browser').getAttribute('title'), evilUa);
    assert.equal(await field(alice, 'browser').textContent(), 'Firefox 128 on Linux');
    // the context panel holds only the elements it builds, none with a handler or a foreign URL
    const odd = await alice.evaluate(() => [...document.querySelectorAll('#context-body *')].filter((n) =>
      !['DIV', 'P', 'SPAN', 'DL', 'DT', 'DD', 'H3', 'OL', 'LI', 'A', 'BLOCKQUOTE'].includes(n.tagName) ||
      [...n.attributes].some((a) => /^on/i.test(a.name)) ||
      (n.tagName === 'A' && !/^https?:$/.test(new URL(n.href).protocol))).map((n) => n.outerHTML));
    assert.deepEqual(odd, []);
    await screenshot(alice, 'console-09-xss');

    // back on a javascript: "page": the pushed context shows it as text, never a link
    const again = await wsClient(server.url, { ...hello, token: v3.welcome.token, page: 'javascript:window.__xss=1' });
    clients.push(again);
    assert.equal(again.welcome.type, 'welcome', JSON.stringify(again.welcome));
    await field(alice, 'page').filter({ hasText: 'javascript:window.__xss=1' }).waitFor();
    assert.equal(await field(alice, 'page').locator('a').count(), 0);

    // the supervisor's dashboard shows the name literally too
    const row = sue.locator(`#dashboard-body tr[data-conv="${conv3}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.dash__visitor').textContent(), evilName);
    await sleep(300);
    for (const page of [alice, bob, sue]) assert.equal(await xssFired(page), null);
    for (const [who, ctx] of [['alice', aliceCtx], ['bob', bobCtx], ['sue', sueCtx]]) checkClean(ctx, who);
  });

  it('another agent\'s token cannot open, read or write someone else\'s conversation', T, async () => {
    const { token } = await login(server.url, BOB);
    const b = await wsClient(server.url, { role: 'agent', token });
    clients.push(b);
    assert.equal(b.welcome.type, 'welcome');
    assert.notEqual(b.welcome.supervisor, true);
    for (const frame of [
      { type: 'resume', conv: conv3, after: 0 },
      { type: 'visitor_info', conv: conv3 },
      { type: 'message', conv: conv3, client_id: 'bob-sneaks-in', text: 'hello from Bob' },
      { type: 'note', conv: conv3, client_id: 'bob-note', text: 'note from Bob' },
    ]) {
      const since = b.frames.length;
      b.send(frame);
      const answer = await b.wait((f) => f.conv === conv3 && ['error', 'replayed', 'visitor_info', 'ack', 'message'].includes(f.type), { since });
      assert.equal(answer.type, 'error', `${frame.type}: ${JSON.stringify(answer)}`);
      assert.equal(answer.code, 'forbidden', `${frame.type}: ${JSON.stringify(answer)}`);
    }
    await sleep(300);
    assert.equal(b.frames.some((f) => f.type === 'message' && f.conv === conv3), false, 'no message of it reached Bob');
    assert.equal(b.frames.some((f) => f.type === 'visitor_info'), false);
    assert.equal(b.frames.some((f) => f.type === 'dashboard'), false, 'agents get no dashboard');
    assert.equal(hasText(v3, 'hello from Bob'), false);
    assert.deepEqual(cspViolations, [], 'nothing the CSP refused');
    await screenshot(alice, 'console-10-after-forbidden');
  });
});
