// Browser end-to-end tests: the real server binary, Debian's Chromium, the real
// widget and console. Run: node --test --test-reporter=tap run.mjs
// Env: SB_BINARY (server binary), SB_SOURCE_DIR (repo root). Screenshots go to
// tests/e2e/artifacts/.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startShop, launchBrowser, newContext, screenshot, chatFrame, signIn, hashPassword, sleep, DEMO_AGENT,
  T, HOOK, setup, frameOf, texts, openWidget, send, checkClean,
} from './lib.mjs';
import { XSS_PAYLOADS, xssFired, foreignElements } from './payloads.mjs';
import { measure } from './size.mjs';

let browser;

setup(async () => { browser = await launchBrowser(); }); // each suite's setup fails without it
after(async () => { await browser?.close(); }, HOOK);

test('the widget stays within its size budget', () => {
  const { loader, total, ok } = measure();
  console.log(`widget.js ${loader} B gzipped, widget app ${total} B gzipped`);
  assert.ok(loader <= 5 * 1024, `widget.js is ${loader} B gzipped (> 5 KB)`);
  assert.ok(total <= 30 * 1024, `the widget app is ${total} B gzipped (> 30 KB)`);
  assert.ok(ok);
});

describe('a visitor and an agent (auto-assign)', () => {
  let server, visitorCtx, agentCtx, visitor, agent, chat;
  const name = 'Ayşe Yılmaz';

  const it = setup(async () => {
    server = await startServer();
    visitorCtx = await newContext(browser, { viewport: { width: 1100, height: 760 } });
    agentCtx = await newContext(browser);
    visitor = await visitorCtx.newPage();
    agent = await agentCtx.newPage();
  });
  after(async () => {
    await visitorCtx?.close();
    await agentCtx?.close();
    await server?.stop();
  }, HOOK);

  it('the demo page shows the launcher', T, async () => {
    await visitor.goto(`${server.url}/demo/`);
    const launcher = visitor.locator('button[aria-controls="switchboard-frame"]');
    await launcher.waitFor({ state: 'visible' });
    assert.equal(await launcher.getAttribute('aria-label'), 'Open chat');
    assert.equal(await visitor.locator('#switchboard-frame').count(), 0, 'no iframe before the first click');
    await screenshot(visitor, '01-demo-launcher');
  });

  it('visitor starts a chat; the agent gets it, replies; names and typing show', T, async () => {
    await signIn(agent, server.url, DEMO_AGENT);
    await agent.selectOption('#presence', 'online');
    await agent.waitForSelector('#presence[data-status="online"]');
    await agent.waitForFunction(() => /0\/\d+ chats/.test(document.querySelector('#load').textContent));

    if (!visitor.url().endsWith('/demo/')) await visitor.goto(`${server.url}/demo/`);
    chat = await openWidget(visitor);
    await chat.locator('#prechat').waitFor({ state: 'visible' });
    await screenshot(visitor, '02-widget-prechat');
    await chat.locator('#name').fill(name);
    await chat.locator('#email').fill('ayse@example.com');
    await send(chat.locator('#input'), 'Hello, where is my order 5521?');
    await chat.locator('#log .msg--visitor[data-seq]').first().waitFor();

    // auto mode: assigned at once; the visitor sees the agent's name
    await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
    // ... and it shows up in the agent's conversations, opened with its transcript
    await agent.locator('#convs .conv', { hasText: name }).waitFor();
    await agent.locator('#conv-title', { hasText: name }).waitFor();
    await agent.locator('#log .msg--visitor', { hasText: 'where is my order 5521?' }).waitFor();
    await agent.waitForFunction(() => /1\/\d+ chats/.test(document.querySelector('#load').textContent));

    // typing, both ways
    await chat.locator('#input').pressSequentially('I am typ', { delay: 20 });
    await agent.locator('#typing', { hasText: `${name} is typing` }).waitFor();
    await chat.locator('#input').fill('');
    await agent.locator('#input').pressSequentially('Hi Ay', { delay: 20 });
    await chat.locator('#typing', { hasText: 'Demo Agent is typing' }).waitFor();
    await screenshot(visitor, '03-widget-agent-typing');
    await agent.locator('#input').fill('Hi Ayşe, order 5521 ships today.');
    await agent.locator('#input').press('Enter');

    const reply = chat.locator('#log .msg--agent', { hasText: 'order 5521 ships today' });
    await reply.waitFor();
    assert.equal(await reply.locator('.msg__author').textContent(), 'Demo Agent');
    await chat.locator('#typing:empty').waitFor({ state: 'attached' });
    await send(chat.locator('#input'), 'Thank you!');
    await agent.locator('#log .msg--visitor', { hasText: 'Thank you!' }).waitFor();
    await screenshot(visitor, '04-widget-chat');
    await screenshot(agent, '05-console-chat');
    checkClean(visitorCtx, 'visitor');
    checkClean(agentCtx, 'agent');
  });

  it('a reload keeps the conversation: history intact, nothing twice', T, async () => {
    const before = await texts(frameOf(visitor));
    await visitor.reload();
    chat = chatFrame(visitor);
    await visitor.waitForSelector('#switchboard-frame', { state: 'visible' }); // it stays open across pages
    await chat.locator('#log .msg--agent', { hasText: 'order 5521 ships today' }).waitFor();
    await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
    await sleep(500); // let the resume replay finish
    const frame = frameOf(visitor);
    const after = await texts(frame);
    assert.deepEqual(after, before, 'the same transcript after the reload');
    const seqs = await frame.evaluate(() => [...document.querySelectorAll('#log .msg')].map((n) => n.dataset.seq));
    assert.equal(new Set(seqs).size, seqs.length, `no seq twice: ${seqs}`);
    for (const text of ['Hello, where is my order 5521?', 'Hi Ayşe, order 5521 ships today.', 'Thank you!']) {
      assert.equal(after.filter((t) => t === text).length, 1, `"${text}" once`);
    }
    await send(chat.locator('#input'), 'Sent after the reload');
    await agent.locator('#log .msg--visitor', { hasText: 'Sent after the reload' }).waitFor();
    await sleep(300);
    assert.equal((await texts(agent)).filter((t) => t === 'Sent after the reload').length, 1);
    await screenshot(visitor, '06-widget-after-reload');
  });

  it(`${XSS_PAYLOADS.length} XSS payloads from visitor and agent render literally and run nothing`, T, async () => {
    assert.ok(XSS_PAYLOADS.length >= 30);
    const ctx = await newContext(browser, { viewport: { width: 1100, height: 760 } });
    try {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/demo/`);
      const xchat = await openWidget(page);
      const evilName = '<img src=x onerror="window.__xss=1">Eve';
      await xchat.locator('#name').fill(evilName);
      for (const p of XSS_PAYLOADS) {
        await send(xchat.locator('#input'), p);
        await sleep(40);
      }
      // the agent opens it (the name is shown literally) and answers with the same list
      const item = agent.locator('#convs .conv', { hasText: evilName });
      await item.waitFor();
      await item.click();
      await agent.locator('#conv-title', { hasText: evilName }).waitFor();
      await agent.waitForFunction((n) => document.querySelectorAll('#log .msg--visitor[data-seq]').length >= n, XSS_PAYLOADS.length);
      for (const p of XSS_PAYLOADS) {
        await agent.locator('#input').fill(p);
        await agent.locator('#input').press('Enter');
        await sleep(40);
      }
      const frame = frameOf(page);
      await frame.waitForFunction((n) => document.querySelectorAll('#log .msg--agent[data-seq]').length >= n, XSS_PAYLOADS.length);
      await agent.waitForFunction((n) => document.querySelectorAll('#log .msg--agent[data-seq]').length >= n, XSS_PAYLOADS.length);
      await sleep(500); // give anything that could run a chance to
      for (const [who, target] of [['visitor', frame], ['agent', agent]]) {
        const shown = await texts(target);
        for (const p of XSS_PAYLOADS) {
          assert.equal(shown.filter((t) => t === p).length, 2, `${who}: payload shown literally, once from each side: ${p}`);
        }
        assert.deepEqual(await foreignElements(target), [], `${who}: no element came from a payload`);
      }
      assert.equal(await agent.locator('#conv-title').textContent(), evilName);
      assert.equal(await xssFired(page), null);
      assert.equal(await xssFired(agent), null);
      assert.equal(await xssFired(visitor), null);
      checkClean(ctx, 'visitor');
      checkClean(agentCtx, 'agent');
      await screenshot(page, '07-xss-widget');
      await screenshot(agent, '08-xss-console');
    } finally {
      await ctx.close();
    }
  });
});

describe('nobody there: leave a message; languages', () => {
  let server, shop, agentCtx, agent;

  const it = setup(async () => {
    server = await startServer();
    shop = await startShop(server.url);
  });
  after(async () => {
    await agentCtx?.close();
    await shop?.close();
    await server?.stop();
  }, HOOK);

  it('no agent online: the leave-a-message form, then the console\'s offline panel', T, async () => {
    const ctx = await newContext(browser, { viewport: { width: 1000, height: 720 } });
    const evilName = '<svg onload="window.__xss=1">Ravi';
    try {
      const page = await ctx.newPage();
      // a shop on another origin, with a department list, "billing" preselected
      await page.goto(shop.page({ 'data-departments': 'orders=Orders & returns,billing=Billing', 'data-department': 'billing' }));
      const chat = await openWidget(page);
      assert.equal(await chat.locator('#department').inputValue(), 'billing');
      assert.deepEqual(await chat.locator('#department option').allTextContents(), ['Any department', 'Orders & returns', 'Billing']);
      await chat.locator('#name').fill(evilName);
      await send(chat.locator('#input'), 'I was charged twice for order 5521');
      await chat.locator('#leave-form').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#leave-reason').textContent(), 'Nobody is available to chat right now.');
      assert.equal(await chat.locator('#leave-text').inputValue(), 'I was charged twice for order 5521');
      assert.equal(await chat.locator('#leave-name').inputValue(), evilName);
      await chat.locator('#leave-send').click(); // no email yet
      await chat.locator('#leave-error', { hasText: 'valid email' }).waitFor();
      await chat.locator('#leave-email').fill('ravi@example.com');
      await screenshot(page, '09-leave-form');
      await chat.locator('#leave-send').click();
      await chat.locator('#left').waitFor({ state: 'visible' });
      assert.match(await chat.locator('#left-body').textContent(), /ravi@example\.com/);
      await screenshot(page, '10-leave-sent');
      // no dead end: back to a chat form
      await chat.locator('#left-new').click();
      await chat.locator('#composer').waitFor({ state: 'visible' });
      await chat.locator('#prechat').waitFor({ state: 'visible' });
      checkClean(ctx, 'visitor');
      assert.equal(await xssFired(page), null);
    } finally {
      await ctx.close();
    }

    agentCtx = await newContext(browser);
    agent = await agentCtx.newPage();
    await signIn(agent, server.url, DEMO_AGENT);
    await agent.locator('#offline-count', { hasText: '(1)' }).waitFor();
    await agent.click('#offline-toggle');
    const item = agent.locator('#offline-list .offline__item').first();
    await item.waitFor();
    assert.equal(await item.locator('.offline__name').textContent(), evilName);
    assert.equal(await item.locator('.offline__email').textContent(), 'ravi@example.com');
    assert.equal(await item.locator('.offline__dept').textContent(), 'billing');
    assert.equal(await item.locator('.offline__text').textContent(), 'I was charged twice for order 5521');
    await screenshot(agent, '11-console-offline');
    await item.getByRole('button', { name: 'Mark handled' }).click();
    await agent.waitForFunction(() => !document.querySelector('#offline-list .offline__item:not(.offline__item--handled)'));
    await agent.locator('#offline-count:empty').waitFor({ state: 'attached' });
    assert.equal(await xssFired(agent), null);
    // the agent goes offline again, for the language tests below
    await agent.selectOption('#presence', 'offline');
    await agent.waitForSelector('#presence[data-status="offline"]');
    checkClean(agentCtx, 'agent');
  });

  for (const [locale, s] of Object.entries({
    hi: { launcher: 'चैट खोलें', title: 'हमसे बात करें', placeholder: 'अपना संदेश लिखें…', reason: 'इस समय चैट के लिए कोई उपलब्ध नहीं है।', leaveTitle: 'संदेश छोड़ें', text: 'मेरा ऑर्डर कहाँ है?' },
    tr: { launcher: 'Sohbeti aç', title: 'Bize yazın', placeholder: 'Mesajınızı yazın…', reason: 'Şu anda sohbet için uygun kimse yok.', leaveTitle: 'Mesaj bırakın', text: 'Siparişim nerede?' },
  })) {
    it(`the ${locale === 'hi' ? 'Hindi' : 'Turkish'} UI renders (data-locale="${locale}")`, T, async () => {
      const ctx = await newContext(browser, { viewport: { width: 900, height: 720 }, locale: 'en-US' });
      try {
        const page = await ctx.newPage();
        await page.goto(shop.page({ 'data-locale': locale, 'data-site': `shop-${locale}` }));
        const launcher = page.locator('button[aria-controls="switchboard-frame"]');
        await launcher.waitFor();
        assert.equal(await launcher.getAttribute('aria-label'), s.launcher);
        const chat = await openWidget(page);
        const frame = frameOf(page);
        await frame.waitForFunction((l) => document.documentElement.lang === l, locale); // set by chat.js
        assert.equal(await chat.locator('#title').textContent(), s.title);
        // every UI string exists in every language
        const missing = await frame.evaluate(async () => {
          const { STRINGS } = await import('/chat.js');
          const en = Object.keys(STRINGS.en);
          return Object.entries(STRINGS).flatMap(([l, table]) => en.filter((k) => typeof table[k] !== typeof STRINGS.en[k]).map((k) => `${l}.${k}`));
        });
        assert.deepEqual(missing, []);
        assert.equal(await chat.locator('#input').getAttribute('placeholder'), s.placeholder);
        await screenshot(page, `12-widget-${locale}`);
        await send(chat.locator('#input'), s.text);
        await chat.locator('#leave-form').waitFor({ state: 'visible' });
        assert.equal(await chat.locator('#leave-title').textContent(), s.leaveTitle);
        assert.equal(await chat.locator('#leave-reason').textContent(), s.reason);
        if (locale === 'hi') {
          // Devanagari is drawn with a real font: the text is wider than one
          // box per character would be, and the font is installed.
          const fonts = await frame.evaluate(() => document.fonts.check('15px "Lohit Devanagari"'));
          assert.ok(fonts, 'a Devanagari font is available');
        }
        await screenshot(page, `13-leave-${locale}`);
        checkClean(ctx, locale);
      } finally {
        await ctx.close();
      }
    });
  }
});

describe('routing in the console: offers, queue, transfer with a note', () => {
  let server, shop, deniz, ravi, visitorCtx, denizCtx, raviCtx, visitor, chat, frame;
  const DENIZ = { id: 'deniz', name: 'Deniz Kaya', email: 'deniz@example.com', password: 'pw-deniz' };
  const RAVI = { id: 'ravi', name: 'Ravi Kumar', email: 'ravi@example.com', password: 'pw-ravi' };
  const NOTE = 'Refund for order 7734 approved, please confirm';

  const it = setup(async () => {
    const agents = [];
    for (const [a, departments] of [[DENIZ, []], [RAVI, ['billing']]]) {
      agents.push({ id: a.id, name: a.name, email: a.email, role: 'agent', capacity: 3, departments,
        password_hash: await hashPassword(a.password) });
    }
    server = await startServer({ agents, args: ['--assign-mode', 'offer', '--offer-timeout-ms', '45000'] });
    shop = await startShop(server.url);
    denizCtx = await newContext(browser);
    raviCtx = await newContext(browser);
    visitorCtx = await newContext(browser, { viewport: { width: 1000, height: 760 } });
    deniz = await denizCtx.newPage();
    ravi = await raviCtx.newPage();
    visitor = await visitorCtx.newPage();
  });
  after(async () => {
    for (const c of [visitorCtx, denizCtx, raviCtx]) await c?.close();
    await shop?.close();
    await server?.stop();
  }, HOOK);

  it('offer mode: the visitor sees the queue position; the agent gets an offer with a countdown and accepts', T, async () => {
    await signIn(ravi, server.url, RAVI);
    await ravi.selectOption('#presence', 'away'); // so the offer goes to Deniz
    await ravi.waitForSelector('#presence[data-status="away"]');
    await signIn(deniz, server.url, DENIZ);

    await visitor.goto(shop.page({ 'data-department': 'orders' })); // one department: forced, no select
    chat = await openWidget(visitor);
    frame = frameOf(visitor);
    assert.equal(await chat.locator('#department').isHidden(), true);
    await chat.locator('#name').fill('Meera');
    await send(chat.locator('#input'), 'Can I change my delivery address?');
    await chat.locator('#subtitle', { hasText: 'Waiting for an agent' }).waitFor();
    await chat.locator('#queue', { hasText: 'You are next in the queue' }).waitFor();
    await screenshot(visitor, '14-widget-queue-position');

    const offer = deniz.locator('#offers .offer', { hasText: 'Meera' });
    await offer.waitFor();
    assert.equal(await offer.locator('.offer__dept').textContent(), 'orders');
    assert.equal(await offer.locator('.offer__first').textContent(), 'Can I change my delivery address?');
    const left = Number(/(\d+) s left/.exec(await offer.locator('.offer__countdown').textContent())?.[1]);
    assert.ok(left > 30 && left <= 45, `countdown ${left}`);
    // the queue, grouped by department, shows the offered conversation
    const group = deniz.locator('.queue__group[data-department="orders"]');
    await group.locator('.queue__item', { hasText: 'Meera' }).waitFor();
    assert.match(await group.locator('.queue__dept').textContent(), /orders \(1\)/);
    assert.equal(await group.locator('.queue__pos').first().textContent(), '#1');
    await screenshot(deniz, '15-console-offer');

    await offer.getByRole('button', { name: 'Accept' }).click();
    await deniz.locator('#offers .offer').waitFor({ state: 'detached' });
    await deniz.locator('#conv-title', { hasText: 'Meera' }).waitFor();
    await deniz.locator('#log .msg--visitor', { hasText: 'delivery address' }).waitFor();
    await chat.locator('#subtitle', { hasText: 'Chatting with Deniz Kaya' }).waitFor();
    assert.equal(await chat.locator('#queue').isHidden(), true);
    await deniz.locator('#input').fill('Yes, which address should we use?');
    await deniz.locator('#input').press('Enter');
    await chat.locator('#log .msg--agent', { hasText: 'which address' }).waitFor();
  });

  it('transfer to an agent with a note: the note is for agents only', T, async () => {
    await ravi.selectOption('#presence', 'online');
    await ravi.waitForSelector('#presence[data-status="online"]');
    await deniz.click('#transfer');
    await deniz.locator('#transfer-dialog[open]').waitFor();
    await deniz.check('input[name="target"][value="agent"]');
    await deniz.fill('#transfer-to', 'nobody-here');
    await deniz.click('#transfer-send');
    await deniz.locator('#transfer-error', { hasText: 'offline or away' }).waitFor(); // the server's "unavailable"
    await deniz.fill('#transfer-to', 'ravi');
    await deniz.fill('#transfer-note', NOTE);
    await screenshot(deniz, '16-console-transfer-dialog');
    await deniz.click('#transfer-send');
    await deniz.locator('#transfer-dialog[open]').waitFor({ state: 'detached' });
    // it left Deniz: marked, read-only
    await deniz.locator('#convs .conv[data-state="departed"]', { hasText: 'Meera' }).waitFor();
    assert.equal(await deniz.locator('#composer').isHidden(), true);

    // Ravi has it, with the transcript and the note, shown as an internal note
    await ravi.locator('#conv-title', { hasText: 'Meera' }).waitFor();
    await ravi.locator('#log .msg--visitor', { hasText: 'delivery address' }).waitFor();
    const note = ravi.locator('#log .msg--internal', { hasText: NOTE });
    await note.waitFor();
    assert.match(await note.locator('.msg__author').textContent(), /Internal note/);
    await screenshot(ravi, '17-console-transferred-note');

    await chat.locator('#subtitle', { hasText: 'Chatting with Ravi Kumar' }).waitFor();
    await ravi.locator('#input').fill('Hello Meera, Ravi here.');
    await ravi.locator('#input').press('Enter');
    await chat.locator('#log .msg--agent', { hasText: 'Ravi here' }).waitFor();
    const shown = await texts(frame);
    assert.ok(!shown.some((t) => t.includes(NOTE) || t.includes('Transferred by')), 'the visitor never sees the note');
    assert.equal(await frame.evaluate(() => document.querySelectorAll('.msg--internal').length), 0);
    await screenshot(visitor, '18-widget-transferred');
  });

  it('transfer to a department: the visitor waits again; a declined offer is removed', T, async () => {
    await ravi.click('#transfer');
    await ravi.check('input[name="target"][value="department"]');
    await ravi.fill('#transfer-to', 'billing');
    await ravi.fill('#transfer-note', 'Billing question after all');
    await ravi.click('#transfer-send');
    await ravi.locator('#transfer-dialog[open]').waitFor({ state: 'detached' });
    await ravi.locator('#convs .conv[data-state="departed"]', { hasText: 'Meera' }).waitFor();
    await chat.locator('#subtitle', { hasText: 'You are being transferred' }).waitFor();
    await chat.locator('#queue', { hasText: 'in the queue' }).waitFor();

    // not straight back to Ravi: offered to Deniz, who declines
    const offer = deniz.locator('#offers .offer', { hasText: 'Meera' });
    await offer.waitFor();
    assert.equal(await ravi.locator('#offers .offer').count(), 0);
    await offer.getByRole('button', { name: 'Decline' }).click();
    await offer.waitFor({ state: 'detached' });
    await deniz.locator('.queue__group[data-department="billing"] .queue__item', { hasText: 'Meera' }).waitFor();
    await screenshot(visitor, '19-widget-transferring');
    await screenshot(deniz, '20-console-queue');
    for (const [who, ctx] of [['visitor', visitorCtx], ['deniz', denizCtx], ['ravi', raviCtx]]) checkClean(ctx, who);
  });
});
