// Browser tests of the visitor widget's newer parts: a chat that survives a
// server restart; the end of a chat (rating, transcript download); verified
// identity from the host page; keyboard-only use; a phone-sized screen; the
// beep and title for new messages; the new strings in Hindi and Turkish.
// Run by run.sh after run.mjs and bot.mjs (node --test); screenshots go to artifacts/.
import { describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, startShop, launchBrowser, newContext, screenshot, chatFrame, signIn, sleep, DEMO_AGENT,
  T, HOOK, setup, frameOf, texts, openWidget, send, checkClean,
} from './lib.mjs';
import { xssFired } from './payloads.mjs';

let browser;
setup(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); }, HOOK);

const EVIL = '<img src=x onerror="window.__xss=1">';

/** Every frame the page's WebSockets send (the chat's, inside the iframe, too), parsed. */
function recordSent(page) {
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    try { sent.push(JSON.parse(String(f.payload))); } catch { /* not JSON */ }
  }));
  return sent;
}

async function waitForFrame(sent, pred, what) {
  for (let i = 0; i < 100; i++) {
    const f = sent.find(pred);
    if (f) return f;
    await sleep(50);
  }
  throw new Error(`no ${what} frame sent; sent: ${JSON.stringify(sent.map((f) => f.type))}`);
}

/** Asks the server as an agent, on a WebSocket of its own opened in `page` (a
 *  page of the server's origin): signs in, says hello, sends `frame`, resolves
 *  with the first frame of type `type` (or an error). */
function agentQuery(page, frame, type, creds = DEMO_AGENT) {
  return page.evaluate(async ({ creds, frame, type }) => {
    const res = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: creds.email, password: creds.password }) });
    const { token } = await res.json();
    const ws = new WebSocket(`ws://${location.host}/ws`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ws.close(); reject(new Error(`no ${type} answer`)); }, 10000);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: 1, role: 'agent', token }));
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'welcome') ws.send(JSON.stringify(frame));
        else if (f.type === type || f.type === 'error') {
          clearTimeout(timer);
          ws.close();
          resolve(f);
        }
      };
    });
  }, { creds, frame, type });
}

/** The id of the focused element inside the chat frame ('' when none). */
const focused = (frame) => frame.evaluate(() => (document.hasFocus() ? document.activeElement?.id || document.activeElement?.tagName : ''));

/** Presses Tab (or Shift+Tab) until the chat's focused element is `id`; fails after `max` presses. */
async function tabTo(page, frame, id, { back = false, max = 12 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await focused(frame) === id) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  assert.equal(await focused(frame), id, `#${id} is reachable with ${back ? 'Shift+Tab' : 'Tab'}`);
}

async function agentOnline(page, serverUrl) {
  await signIn(page, serverUrl, DEMO_AGENT);
  await page.selectOption('#presence', 'online');
  await page.waitForSelector('#presence[data-status="online"]');
}

const convOf = (frame) => frame.evaluate(() => document.querySelector('#log .msg[data-seq]') && JSON.parse(
  Object.entries(localStorage).find(([k]) => k.startsWith('switchboard:'))[1]).convs.at(-1).conv);

describe('a chat survives a server restart; at its end, a rating and the transcript', () => {
  let server, shop, visitorCtx, agentCtx, visitor, agent, chat, frame, sent, conv;
  const name = 'Ayşe Yılmaz';
  const COMMENT = `Quick and kind ${EVIL} thanks`;
  const LINES = ['Before the restart', 'Reply before the restart', 'Sent while the server was down', 'Reply after the restart'];

  const it = setup(async () => {
    server = await startServer();
    shop = await startShop(server.url);
    visitorCtx = await newContext(browser, { viewport: { width: 1000, height: 760 }, acceptDownloads: true });
    agentCtx = await newContext(browser);
    visitor = await visitorCtx.newPage();
    agent = await agentCtx.newPage();
    sent = recordSent(visitor);
  });
  after(async () => {
    await visitorCtx?.close();
    await agentCtx?.close();
    await shop?.close();
    await server?.stop();
  }, HOOK);

  it('the server restarts mid-chat: "Reconnecting…", back again, nothing lost or doubled; a message sent while down goes out after', T, async () => {
    await agentOnline(agent, server.url);
    await visitor.goto(shop.page());
    chat = await openWidget(visitor);
    frame = frameOf(visitor);
    await chat.locator('#name').fill(name);
    await send(chat.locator('#input'), LINES[0]);
    await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
    await agent.locator('#log .msg--visitor', { hasText: LINES[0] }).waitFor();
    await agent.locator('#input').fill(LINES[1]);
    await agent.locator('#input').press('Enter');
    await chat.locator('#log .msg--agent', { hasText: LINES[1] }).waitFor();
    conv = await convOf(frame);
    assert.match(conv, /\S/);

    await server.restart({
      down: async () => {
        const banner = chat.locator('#banner[data-status="reconnecting"]');
        await banner.waitFor({ state: 'visible' });
        assert.equal(await banner.textContent(), 'Reconnecting…');
        await send(chat.locator('#input'), LINES[2]);
        await chat.locator('#log .msg--pending', { hasText: LINES[2] }).waitFor();
        await screenshot(visitor, 'w01-widget-reconnecting');
      },
    });
    // back: the banner goes, the message typed meanwhile is stored once
    await chat.locator('#banner').waitFor({ state: 'hidden' });
    await chat.locator('#log .msg--visitor[data-seq]', { hasText: LINES[2] }).waitFor();
    await agent.locator('#status[data-status="online"]').waitFor({ timeout: 30000 }); // the console reconnects too
    await agent.locator('#log .msg--visitor', { hasText: LINES[2] }).waitFor();
    await agent.locator('#input').fill(LINES[3]);
    await agent.locator('#input').press('Enter');
    await chat.locator('#log .msg--agent', { hasText: LINES[3] }).waitFor();
    await sleep(500); // let any replay settle
    const shown = await texts(frame);
    for (const line of LINES) assert.equal(shown.filter((t) => t === line).length, 1, `"${line}" once in the widget: ${shown}`);
    const seqs = await frame.evaluate(() => [...document.querySelectorAll('#log .msg')].map((n) => Number(n.dataset.seq)));
    assert.equal(new Set(seqs).size, seqs.length, `no seq twice: ${seqs}`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
    const agentShown = await texts(agent);
    for (const line of LINES) assert.equal(agentShown.filter((t) => t === line).length, 1, `"${line}" once in the console`);
    // the message sent while down went out once, under the client_id it had (the server stored it once)
    const copies = sent.filter((f) => f.text === LINES[2] && f.client_id);
    assert.ok(copies.length >= 1 && new Set(copies.map((f) => f.client_id)).size === 1, 'one client_id');
    checkClean(visitorCtx, 'visitor');
  });

  it('the agent closes: the rating appears with the keyboard on it; 4 stars and a comment are sent and stored', T, async () => {
    await chat.locator('#input').click(); // the chat has the focus when the chat ends
    await agent.click('#close-conv');
    await agent.locator('#close-dialog[open]').waitFor(); // the console asks for a resolution
    await agent.selectOption('#close-resolution', 'solved');
    await agent.click('#close-send');
    await chat.locator('#rate').waitFor({ state: 'visible' });
    assert.equal(await chat.locator('#composer').isHidden(), true);
    assert.equal(await chat.locator('#end').isHidden(), true);
    assert.equal(await focused(frame), 'score-1', 'the focus moves to the rating');
    assert.equal(await chat.locator('#stars legend').textContent(), 'How was your chat?');
    assert.deepEqual(await chat.locator('#stars input').evaluateAll((l) => l.map((n) => n.getAttribute('aria-label'))),
      ['1 out of 5', '2 out of 5', '3 out of 5', '4 out of 5', '5 out of 5']);
    await chat.locator('#rate-send').click(); // no score yet
    await chat.locator('#rate-error', { hasText: 'Please choose a rating from 1 to 5.' }).waitFor();
    await chat.locator('label[for="score-4"]').click();
    assert.equal(await chat.locator('#stars').evaluate((n) => [...n.querySelectorAll('label')].map((l) => l.textContent).join('')), '★★★★☆');
    await chat.locator('#rate-comment').fill(COMMENT);
    await screenshot(visitor, 'w02-widget-rating');
    await chat.locator('#rate-send').click();
    await chat.locator('#rated').waitFor({ state: 'visible' });
    assert.equal(await chat.locator('#rated').textContent(), 'Thank you for your feedback!');
    assert.equal(await focused(frame), 'rated');
    assert.equal(await chat.locator('#rate').isHidden(), true);
    const rate = await waitForFrame(sent, (f) => f.type === 'rate', 'rate');
    assert.deepEqual(rate, { type: 'rate', conv, score: 4, comment: COMMENT });
    await screenshot(visitor, 'w03-widget-rated');

    // stored: the visitor's history, as an agent sees it
    const info = await agentQuery(agent, { type: 'visitor_info', conv }, 'visitor_info');
    assert.equal(info.type, 'visitor_info', JSON.stringify(info));
    const item = info.history.find((h) => h.conv === conv);
    assert.ok(item, JSON.stringify(info.history));
    assert.equal(item.csat_score, 4);
    assert.equal(item.csat_comment, COMMENT);
    assert.equal(item.state, 'closed');
    assert.equal(info.visitor.name, name);
    // and after a reload the widget still knows it was rated
    await visitor.reload();
    chat = chatFrame(visitor);
    await chat.locator('#rated').waitFor({ state: 'visible' });
    frame = frameOf(visitor);
    assert.equal(await xssFired(visitor), null);
    assert.equal(await xssFired(agent), null);
    checkClean(visitorCtx, 'visitor');
    checkClean(agentCtx, 'agent');
  });

  it('"Download transcript" saves the whole chat as a text file', T, async () => {
    const [download] = await Promise.all([visitor.waitForEvent('download'), chat.locator('#transcript').click()]);
    assert.match(download.suggestedFilename(), /^chat-[\w-]+\.txt$/);
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.split('\n');
    assert.equal(lines[0], 'Chat with us');
    assert.ok(lines[1].startsWith(`${conv} · `), lines[1]);
    const want = [`${name}: ${LINES[0]}`, `Demo Agent: ${LINES[1]}`, `${name}: ${LINES[2]}`, `Demo Agent: ${LINES[3]}`];
    let at = -1;
    for (const w of want) {
      const found = lines.filter((l) => l.endsWith(`] ${w}`));
      assert.equal(found.length, 1, `once: ${w}\n${text}`);
      const i = lines.indexOf(found[0]);
      assert.ok(i > at, `in order: ${w}`);
      at = i;
    }
    assert.ok(lines.every((l, i) => i < 3 || l === '' || /^\[[^\]]+\] /.test(l)), `every message line is "[time] …":\n${text}`);
    // what the file looks like, for the artifacts
    const page = await visitorCtx.newPage();
    await page.setContent('<pre id="t"></pre>');
    await page.locator('#t').evaluate((n, t) => { n.textContent = t; }, text);
    await screenshot(page, 'w04-transcript-file');
    await page.close();
    await screenshot(visitor, 'w05-widget-closed-panel');
    checkClean(visitorCtx, 'visitor');
  });
});

describe('verified identity from the host page', () => {
  let server, shop, agentCtx, agent, dir;
  const SECRET = 'e2e-shared-secret-5521';
  const sign = (id, secret = SECRET) => createHmac('sha256', secret).update(id).digest('hex');
  const settingsTag = (settings) => `<script>window.SwitchboardSettings = ${JSON.stringify(settings).replace(/</g, '\\u003c')};</script>`;
  const ATTRS = { order: '5521', plan: 'gold', note: EVIL };

  const it = setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-e2e-secret-'));
    writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
    server = await startServer({ args: ['--identity-secret-file', join(dir, 'secret')] });
    shop = await startShop(server.url);
    agentCtx = await newContext(browser);
    agent = await agentCtx.newPage();
    await agentOnline(agent, server.url);
  });
  after(async () => {
    await agentCtx?.close();
    await shop?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, HOOK);

  it('a correctly signed user: hello carries it, the widget says "Signed in", the agent sees a verified visitor', T, async () => {
    const ctx = await newContext(browser, { viewport: { width: 1000, height: 760 }, locale: 'en-US' });
    try {
      const page = await ctx.newPage();
      const sent = recordSent(page);
      const user = { id: 'cust-42', signature: sign('cust-42'), name: 'Ayşe Yılmaz', email: 'ayse@example.com' };
      const url = shop.page({}, settingsTag({ user, attributes: ATTRS }));
      await page.goto(`${url}#section`);
      const chat = await openWidget(page);
      const frame = frameOf(page);
      // the host gave the name and email: the pre-chat does not ask again
      assert.equal(await chat.locator('#name').isHidden(), true);
      assert.equal(await chat.locator('#email').isHidden(), true);
      await send(chat.locator('#input'), 'Where is order 5521?');
      const hello = await waitForFrame(sent, (f) => f.type === 'hello', 'hello');
      assert.equal(hello.user_id, 'cust-42');
      assert.equal(hello.signature, user.signature);
      assert.equal(hello.name, user.name);
      assert.equal(hello.email, user.email);
      assert.deepEqual(hello.attributes, ATTRS);
      assert.equal(hello.page, url, 'the host page, without its fragment');
      assert.equal(hello.language, 'en-US');
      assert.match(hello.user_agent, /Chrome/);
      await chat.locator('#who').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#who').textContent(), '✓ Signed in as Ayşe Yılmaz');
      await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
      const body = await frame.evaluate(() => document.body.textContent);
      assert.ok(!body.includes(user.signature) && !body.includes('cust-42'), 'nothing secret on screen');
      await screenshot(page, 'w06-widget-verified');

      const conv = await convOf(frame);
      const info = await agentQuery(agent, { type: 'visitor_info', conv }, 'visitor_info');
      assert.equal(info.type, 'visitor_info', JSON.stringify(info));
      assert.equal(info.visitor.verified, true);
      assert.equal(info.visitor.user_id, 'cust-42');
      assert.equal(info.visitor.name, user.name);
      assert.equal(info.visitor.email, user.email);
      assert.deepEqual(info.visitor.attributes, ATTRS, 'attribute values stored as sent, as text');
      assert.equal(info.visitor.page, url);
      assert.equal(info.visitor.language, 'en-US');
      await agent.locator('#log .msg--visitor', { hasText: 'Where is order 5521?' }).waitFor();
      // the console shows the attribute values as text: the payload literally, no element from it
      await agent.locator('#context', { hasText: EVIL }).waitFor();
      assert.equal(await agent.locator('#context img').count(), 0);
      await screenshot(agent, 'w07-console-verified-visitor');
      assert.equal(await xssFired(page), null);
      assert.equal(await xssFired(agent), null);

      // another user signs in on the same browser: nothing of the first one's chat shows
      const other = { id: 'cust-77', signature: sign('cust-77'), name: 'Deniz' };
      await page.goto(shop.page({}, settingsTag({ user: other })));
      const chat2 = chatFrame(page); // still open: the open state follows the visitor across the site's pages
      await chat2.locator('#log .note--greeting').waitFor();
      assert.equal(await chat2.locator('#email').isVisible(), true, 'the first user\'s email is not kept either');
      assert.equal(await chat2.locator('#email').inputValue(), '');
      await send(chat2.locator('#input'), 'I am someone else');
      await chat2.locator('#who', { hasText: 'Signed in as Deniz' }).waitFor();
      await chat2.locator('#log .msg--visitor[data-seq]', { hasText: 'I am someone else' }).waitFor();
      assert.deepEqual(await texts(frameOf(page)), ['I am someone else'], 'the first user\'s messages are gone');
      checkClean(ctx, 'visitor');
    } finally {
      await ctx.close();
    }
  });

  for (const [locale, message] of [
    ['en', 'We could not confirm your account. Please reload the page or sign in again.'],
    ['hi', 'हम आपके खाते की पुष्टि नहीं कर सके। कृपया पेज फिर से लोड करें या दोबारा साइन इन करें।'],
    ['tr', 'Hesabınızı doğrulayamadık. Lütfen sayfayı yenileyin veya yeniden oturum açın.'],
  ]) {
    it(`a wrongly signed user gets a clear message, once: no reconnect loop (${locale})`, T, async () => {
      const ctx = await newContext(browser, { viewport: { width: 1000, height: 760 } });
      try {
        const page = await ctx.newPage();
        const sent = recordSent(page);
        let sockets = 0;
        page.on('websocket', () => { sockets++; });
        const user = { id: 'cust-42', signature: sign('cust-42', 'not-the-secret') };
        await page.goto(shop.page({ 'data-locale': locale, 'data-site': `bad-${locale}` }, settingsTag({ user })));
        const chat = await openWidget(page);
        await send(chat.locator('#input'), 'Hello?');
        const banner = chat.locator('#banner[data-status="denied"]');
        await banner.waitFor({ state: 'visible' });
        assert.equal(await banner.textContent(), message);
        assert.equal(await banner.getAttribute('role'), 'alert');
        assert.equal(await chat.locator('#composer').isHidden(), true);
        await sleep(4000); // a loop would have reconnected by now (first retry: 0.25–0.5 s)
        assert.equal(sockets, 1, 'one connection');
        assert.equal(sent.filter((f) => f.type === 'hello').length, 1, 'one hello');
        assert.equal(await banner.textContent(), message, 'the message stays');
        if (locale === 'en') await screenshot(page, 'w08-widget-bad-signature');
        checkClean(ctx, locale);
      } finally {
        await ctx.close();
      }
    });
  }

  it('a malformed signature is refused before any hello', T, async () => {
    const ctx = await newContext(browser);
    try {
      const page = await ctx.newPage();
      let sockets = 0;
      page.on('websocket', () => { sockets++; });
      await page.goto(shop.page({ 'data-site': 'malformed' }, settingsTag({ user: { id: 'cust-42', signature: 'not hex' } })));
      const chat = await openWidget(page);
      await send(chat.locator('#input'), 'Hello?');
      await chat.locator('#banner[data-status="denied"]').waitFor({ state: 'visible' });
      await sleep(1000);
      assert.equal(sockets, 0);
      checkClean(ctx, 'visitor');
    } finally {
      await ctx.close();
    }
  });
});

describe('keyboard only, a phone, notifications, Hindi and Turkish', () => {
  let server, shop, agentCtx, agent;

  const it = setup(async () => {
    server = await startServer();
    shop = await startShop(server.url);
    agentCtx = await newContext(browser);
    agent = await agentCtx.newPage();
  });
  after(async () => {
    await agentCtx?.close();
    await shop?.close();
    await server?.stop();
  }, HOOK);

  it('keyboard only: pre-chat, leave a message, chat, end the chat, rate it, close the widget', T, async () => {
    const ctx = await newContext(browser, { viewport: { width: 1000, height: 760 } });
    try {
      const page = await ctx.newPage();
      const sent = recordSent(page);
      const kb = page.keyboard;
      await page.goto(shop.page({ 'data-site': 'keyboard' }));
      const launcher = page.locator('button[aria-controls="switchboard-frame"]');
      await launcher.waitFor();
      await kb.press('Tab');
      assert.equal(await launcher.evaluate((b) => b === document.activeElement), true, 'Tab reaches the launcher');
      await kb.press('Enter');
      const chat = page.frameLocator('#switchboard-frame');
      await chat.locator('#log .note--greeting').waitFor();
      const frame = frameOf(page);
      await frame.waitForFunction(() => document.hasFocus() && document.activeElement.id === 'input');
      assert.equal(await launcher.getAttribute('aria-expanded'), 'true');

      // the pre-chat fields sit before the message box
      await tabTo(page, frame, 'email', { back: true });
      await kb.type('kim@example.com');
      await tabTo(page, frame, 'name', { back: true });
      await kb.type('Kim');
      await tabTo(page, frame, 'input');
      await kb.type('Hello by keyboard');
      await kb.press('Enter');

      // nobody online: the leave-a-message form, the focus in its message
      await chat.locator('#leave-form').waitFor({ state: 'visible' });
      assert.equal(await focused(frame), 'leave-text');
      assert.equal(await chat.locator('#leave-text').inputValue(), 'Hello by keyboard');
      await tabTo(page, frame, 'leave-send');
      await kb.press('Enter');
      await chat.locator('#left').waitFor({ state: 'visible' });
      assert.equal(await focused(frame), 'left-title');
      await tabTo(page, frame, 'left-new');
      await kb.press('Enter');
      await chat.locator('#composer').waitFor({ state: 'visible' });
      assert.equal(await focused(frame), 'input');

      // an agent now: chat, then end it from the keyboard
      await agentOnline(agent, server.url);
      await kb.type('Now with a person');
      await kb.press('Enter');
      await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
      await agent.locator('#log .msg--visitor', { hasText: 'Now with a person' }).waitFor();
      await agent.locator('#input').fill('Hello Kim');
      await agent.locator('#input').press('Enter');
      await chat.locator('#log .msg--agent', { hasText: 'Hello Kim' }).waitFor();
      await page.bringToFront();
      await tabTo(page, frame, 'end', { back: true });
      assert.equal(await chat.locator('#end').textContent(), 'End chat');
      await kb.press('Enter');
      assert.equal(await chat.locator('#end').textContent(), 'Yes, end chat', 'a second press is asked for');
      await kb.press('Enter');
      await chat.locator('#rate').waitFor({ state: 'visible' });
      await frame.waitForFunction(() => document.activeElement.id === 'score-1');
      for (let i = 0; i < 3; i++) await kb.press('ArrowRight'); // radios: the arrows choose
      assert.equal(await frame.evaluate(() => document.querySelector('#rate').elements.score.value), '4');
      await screenshot(page, 'w09-widget-keyboard-stars'); // the focus ring on the fourth star
      await tabTo(page, frame, 'rate-comment');
      await kb.type('Fast, thank you');
      await screenshot(page, 'w09-widget-keyboard-comment');
      await tabTo(page, frame, 'rate-send');
      await kb.press('Enter');
      await chat.locator('#rated').waitFor({ state: 'visible' });
      assert.equal(await focused(frame), 'rated');
      const rate = await waitForFrame(sent, (f) => f.type === 'rate', 'rate');
      assert.equal(rate.score, 4);
      assert.equal(rate.comment, 'Fast, thank you');
      await tabTo(page, frame, 'transcript');
      await tabTo(page, frame, 'new-chat');
      // Escape closes the widget; the focus goes back to the launcher
      await kb.press('Escape');
      await page.locator('#switchboard-frame').waitFor({ state: 'hidden' });
      assert.equal(await launcher.evaluate((b) => b === document.activeElement), true, 'focus back on the launcher');
      // and opens again on the closed chat's next step
      await kb.press('Enter');
      await frame.waitForFunction(() => document.hasFocus() && document.activeElement.id === 'new-chat');
      await kb.press('Enter');
      await frame.waitForFunction(() => document.activeElement.id === 'input');
      checkClean(ctx, 'visitor');
    } finally {
      await ctx.close();
    }
  });

  it('a phone-sized screen: the chat fills it, its own button hides it', T, async () => {
    const ctx = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    try {
      const page = await ctx.newPage();
      await page.goto(shop.page({ 'data-site': 'phone' }));
      const chat = await openWidget(page);
      const box = await page.locator('#switchboard-frame').boundingBox();
      assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 390, 844], 'full screen');
      assert.equal(await page.locator('button[aria-controls="switchboard-frame"]').isHidden(), true, 'the launcher makes way');
      assert.equal(await chat.locator('#minimise').isVisible(), true);
      assert.equal(await chat.locator('#input').evaluate((n) => getComputedStyle(n).fontSize), '16px', 'no zoom into fields');
      // nothing sticks out sideways
      const frame = frameOf(page);
      assert.equal(await frame.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);
      await chat.locator('#name').fill('Meera');
      await chat.locator('#input').fill('Hello from my phone');
      await screenshot(page, 'w10-widget-phone');
      await chat.locator('#minimise').tap();
      await page.locator('#switchboard-frame').waitFor({ state: 'hidden' });
      await page.locator('button[aria-controls="switchboard-frame"]').waitFor({ state: 'visible' });
      checkClean(ctx, 'phone');
    } finally {
      await ctx.close();
    }
  });

  it('data-sound="on": a new message while the chat is hidden beeps and marks the title until the page has focus', T, async () => {
    if (!(await agent.locator('#presence[data-status="online"]').count())) await agentOnline(agent, server.url);
    const ctx = await newContext(browser, { viewport: { width: 1000, height: 760 } });
    try {
      const page = await ctx.newPage();
      // count the tones (the audio itself goes nowhere in a headless browser)
      await page.addInitScript(() => {
        window.__tones = 0;
        const start = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a); };
      });
      await page.goto(shop.page({ 'data-site': 'sound', 'data-sound': 'on' }));
      const chat = await openWidget(page);
      await chat.locator('#name').fill('Sam');
      await send(chat.locator('#input'), 'Ping me when you answer');
      await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
      const item = agent.locator('#convs .conv', { hasText: 'Sam' });
      await item.click();
      await agent.locator('#conv-title', { hasText: 'Sam' }).waitFor();
      await agent.locator('#log .msg--visitor', { hasText: 'Ping me' }).waitFor();

      // the visitor hides the chat and looks elsewhere (another window has the focus)
      await page.click('button[aria-controls="switchboard-frame"]');
      await page.locator('#switchboard-frame').waitFor({ state: 'hidden' });
      await page.evaluate(() => { window.__focus = Document.prototype.hasFocus; Document.prototype.hasFocus = () => false; });
      assert.equal(await page.title(), 'Shop');
      await agent.locator('#input').fill('Here is your answer');
      await agent.locator('#input').press('Enter');
      await page.waitForFunction(() => document.title === '(1) New message — Shop');
      assert.equal(await page.evaluate(() => window.__tones), 1, 'one beep');
      assert.match(await page.locator('button[aria-controls="switchboard-frame"]').getAttribute('aria-label'), /\(1 unread\)/);
      await agent.locator('#input').fill('And one more thing');
      await agent.locator('#input').press('Enter');
      await page.waitForFunction(() => document.title === '(2) New message — Shop');
      assert.equal(await page.evaluate(() => window.__tones), 2);
      await screenshot(page, 'w11-widget-unread-badge');
      // back to the page: the title is the page's own again
      await page.evaluate(() => { Document.prototype.hasFocus = window.__focus; window.dispatchEvent(new Event('focus')); });
      await page.waitForFunction(() => document.title === 'Shop');
      // opening the chat reads the messages: no beep for that
      await page.click('button[aria-controls="switchboard-frame"]');
      await chat.locator('#log .msg--agent', { hasText: 'And one more thing' }).waitFor();
      await page.waitForFunction(() => !/unread/.test(document.querySelector('button[aria-controls="switchboard-frame"]').getAttribute('aria-label')));
      // a reload: what is unread already does not beep again
      assert.equal(await page.evaluate(() => window.__tones), 2);
      checkClean(ctx, 'visitor');
    } finally {
      await ctx.close();
    }
  });

  for (const [locale, s] of Object.entries({
    hi: { end: 'चैट समाप्त करें', confirm: 'हाँ, चैट समाप्त करें', legend: 'आपकी चैट कैसी रही?', star: '5 में से 1', comment: 'टिप्पणी (वैकल्पिक)',
      send: 'रेटिंग भेजें', pick: 'कृपया 1 से 5 तक रेटिंग चुनें।', rated: 'आपकी प्रतिक्रिया के लिए धन्यवाद!', transcript: 'बातचीत डाउनलोड करें', title: 'हमसे बात करें' },
    tr: { end: 'Sohbeti bitir', confirm: 'Evet, sohbeti bitir', legend: 'Sohbetimiz nasıldı?', star: '5 üzerinden 1', comment: 'Yorum (isteğe bağlı)',
      send: 'Puanı gönder', pick: 'Lütfen 1 ile 5 arasında bir puan seçin.', rated: 'Geri bildiriminiz için teşekkürler!', transcript: 'Sohbet dökümünü indir', title: 'Bize yazın' },
  })) {
    it(`the end of a chat in ${locale === 'hi' ? 'Hindi' : 'Turkish'}: end, rate, transcript`, T, async () => {
      if (!(await agent.locator('#presence[data-status="online"]').count())) await agentOnline(agent, server.url);
      const ctx = await newContext(browser, { viewport: { width: 900, height: 760 }, locale: 'en-US', acceptDownloads: true });
      try {
        const page = await ctx.newPage();
        await page.goto(shop.page({ 'data-locale': locale, 'data-site': `end-${locale}` }));
        const chat = await openWidget(page);
        await chat.locator('#name').fill(locale === 'hi' ? 'प्रिया' : 'Ayşe');
        await send(chat.locator('#input'), locale === 'hi' ? 'मेरा ऑर्डर कहाँ है?' : 'Siparişim nerede?');
        await chat.locator('#log .msg--visitor[data-seq]').waitFor();
        const end = chat.locator('#end');
        await end.waitFor({ state: 'visible' });
        assert.equal(await end.textContent(), s.end);
        await end.click();
        assert.equal(await end.textContent(), s.confirm);
        await end.click();
        await chat.locator('#rate').waitFor({ state: 'visible' });
        assert.equal(await chat.locator('#stars legend').textContent(), s.legend);
        assert.equal(await chat.locator('#score-1').getAttribute('aria-label'), s.star);
        assert.equal(await chat.locator('label[for="rate-comment"]').textContent(), s.comment);
        assert.equal(await chat.locator('#rate-send').textContent(), s.send);
        assert.equal(await chat.locator('#transcript').textContent(), s.transcript);
        await chat.locator('#rate-send').click();
        assert.equal(await chat.locator('#rate-error').textContent(), s.pick);
        await chat.locator('label[for="score-5"]').click();
        await screenshot(page, `w12-widget-rating-${locale}`);
        await chat.locator('#rate-send').click();
        await chat.locator('#rated').waitFor({ state: 'visible' });
        assert.equal(await chat.locator('#rated').textContent(), s.rated);
        const [download] = await Promise.all([page.waitForEvent('download'), chat.locator('#transcript').click()]);
        const text = readFileSync(await download.path(), 'utf8');
        assert.equal(text.split('\n')[0], s.title);
        assert.ok(text.includes(locale === 'hi' ? 'प्रिया: मेरा ऑर्डर कहाँ है?' : 'Ayşe: Siparişim nerede?'), text);
        await screenshot(page, `w13-widget-rated-${locale}`);
        checkClean(ctx, locale);
      } finally {
        await ctx.close();
      }
    });
  }
});
