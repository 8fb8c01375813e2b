// Browser tests of the canned-answer bot (server --bot on): its answers in the
// widget with "Was this helpful?" and suggested questions, the "Talk to a
// person" button, the hand-off to an agent in the console (the bot exchange
// and the internal hand-off note), nobody there at hand-off (leave a message,
// or keep chatting with the bot), and answers in Hindi and Turkish.
// Run by run.sh with run.mjs (node --test); screenshots go to artifacts/.
import { describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startShop, launchBrowser, newContext, screenshot, chatFrame, signIn, sleep, DEMO_AGENT,
  T, HOOK, setup, frameOf, texts, openWidget, send, checkClean,
} from './lib.mjs';

let browser;
setup(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); }, HOOK);

const BOT_ON = ['--bot', 'on'];
const DEVANAGARI = /[\u0900-\u097F]/;

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

const botCount = (chat) => chat.locator('#log .msg--bot').count();

describe('the bot answers first, then hands off to a person', () => {
  let server, visitorCtx, agentCtx, visitor, agent, chat, sent;
  const name = 'Priya Sharma';
  const REPLY = 'Hi Priya, I am looking at your order now.';

  const it = setup(async () => {
    // the agent is signed in but away at the hand-off: the visitor queues and
    // sees the queue; the agent going online gets the chat (auto mode)
    server = await startServer({ args: [...BOT_ON, '--queue-without-agents', 'on'] });
    visitorCtx = await newContext(browser, { viewport: { width: 1000, height: 800 } });
    agentCtx = await newContext(browser);
    visitor = await visitorCtx.newPage();
    agent = await agentCtx.newPage();
    sent = recordSent(visitor);
  });
  after(async () => {
    await visitorCtx?.close();
    await agentCtx?.close();
    await server?.stop();
  }, HOOK);

  it('a knowledge-base question gets the bot\'s answer, with yes / no and suggested questions', T, async () => {
    await visitor.goto(`${server.url}/demo/`);
    chat = await openWidget(visitor);
    await chat.locator('#name').fill(name);
    assert.equal(await chat.locator('#botbar').isHidden(), true, 'no "Talk to a person" before a chat');
    await send(chat.locator('#input'), 'Where is my order?');

    const start = await waitForFrame(sent, (f) => f.type === 'start', 'start');
    assert.equal(start.locale, 'en', 'start carries the widget\'s language');
    assert.equal(start.text, 'Where is my order?');

    await chat.locator('#log .msg--bot', { hasText: 'You can follow your order' }).waitFor();
    const seq = await chat.locator('#log .msg--bot', { hasText: 'You can follow your order' }).getAttribute('data-seq');
    const answer = chat.locator(`#log .msg--bot[data-seq="${seq}"]`);
    assert.equal(await answer.locator('.msg__author').textContent(), 'Assistant');
    await chat.locator('#subtitle', { hasText: 'Chatting with our assistant' }).waitFor();
    const handoff = chat.locator('#handoff');
    await handoff.waitFor({ state: 'visible' });
    assert.equal(await handoff.textContent(), 'Talk to a person');

    // the options sit under the answer they belong to
    const ask = answer.locator('.botopts__ask');
    await ask.waitFor();
    assert.match(await ask.textContent(), /Was this helpful\?/);
    assert.deepEqual(await ask.getByRole('button').allTextContents(), ['Yes', 'No']);
    const suggestions = answer.locator('.chip--suggest');
    await suggestions.first().waitFor();
    const titles = await suggestions.allTextContents();
    assert.ok(titles.length >= 1 && titles.length <= 3, `suggestions: ${titles}`);
    assert.ok(titles.includes('My order is late'), `suggestions: ${titles}`);
    await screenshot(visitor, '21-widget-bot-answer');

    // a suggestion is sent as the visitor's message; the bot answers it
    const bots = await botCount(chat);
    await suggestions.filter({ hasText: 'My order is late' }).click();
    const sug = await waitForFrame(sent, (f) => f.type === 'suggestion', 'suggestion');
    assert.equal(sug.entry, 'shipping.late');
    assert.equal(sug.text, 'My order is late');
    assert.ok(sug.client_id && sug.client_id !== start.client_id);
    await chat.locator('#log .msg--visitor[data-seq]', { hasText: 'My order is late' }).waitFor();
    await chat.locator('#log .msg--bot').nth(bots).waitFor();
    assert.equal(await answer.locator('.botopts').count(), 0, 'the old options are gone');
    assert.equal(await chat.locator('#log .botopts--live').count(), 1, 'one set of options at a time');
    await chat.locator('#log .msg--bot').nth(bots).locator('.botopts__ask').waitFor();
    const shown = await texts(frameOf(visitor));
    assert.equal(shown.filter((t) => t === 'My order is late').length, 1, 'the suggestion shows once');
  });

  it('the options survive a reload; "Yes" sends feedback and is disabled once answered', T, async () => {
    const before = await texts(frameOf(visitor));
    await visitor.reload();
    chat = chatFrame(visitor);
    await visitor.waitForSelector('#switchboard-frame', { state: 'visible' });
    await chat.locator('#log .msg--bot').last().locator('.botopts__ask').waitFor(); // sent again after the replay
    const seq = await chat.locator('#log .msg--bot').last().getAttribute('data-seq');
    const last = chat.locator(`#log .msg--bot[data-seq="${seq}"]`);
    assert.deepEqual(await texts(frameOf(visitor)), before, 'the same transcript after the reload');

    const bots = await botCount(chat);
    const yes = last.locator('.botopts__ask').getByRole('button', { name: 'Yes' });
    await yes.click();
    const fb = await waitForFrame(sent, (f) => f.type === 'feedback', 'feedback');
    assert.equal(fb.helpful, true);
    assert.equal(fb.conv, sent.find((f) => f.type === 'suggestion').conv);
    // the bot thanks; the answered question stays, disabled, "Yes" marked
    await chat.locator('#log .msg--bot').nth(bots).waitFor();
    await last.locator('.botopts__ask button[aria-pressed="true"]', { hasText: 'Yes' }).waitFor();
    for (const b of await last.locator('.botopts__ask button').all()) assert.equal(await b.isDisabled(), true);
    assert.equal(await last.locator('.chip--suggest').count(), 0);
    assert.equal(sent.filter((f) => f.type === 'feedback').length, 1);
    checkClean(visitorCtx, 'visitor');
  });

  it('"Talk to a person": the visitor sees the hand-off and the queue; the agent gets the bot exchange and the note, and replies', T, async () => {
    await signIn(agent, server.url, DEMO_AGENT);
    await agent.selectOption('#presence', 'away');
    await agent.waitForSelector('#presence[data-status="away"]');

    await chat.locator('#handoff').click();
    const ho = await waitForFrame(sent, (f) => f.type === 'handoff', 'handoff');
    assert.equal(ho.conv, sent.find((f) => f.type === 'suggestion').conv);
    await chat.locator('#log .note', { hasText: 'Connecting you to a person…' }).waitFor();
    await chat.locator('#subtitle', { hasText: 'Connecting you to a person…' }).waitFor();
    await chat.locator('#queue', { hasText: 'You are next in the queue' }).waitFor();
    await chat.locator('#botbar').waitFor({ state: 'hidden' });
    assert.equal(await chat.locator('#log .botopts--live').count(), 0, 'no options after the hand-off');
    await screenshot(visitor, '22-widget-bot-handoff-queue');

    // the queue shows a message of the visitor's (PROTOCOL.md says the first one;
    // the server sends the last one before the hand-off: 'My order is late')
    const entry = agent.locator('.queue__item', { hasText: name });
    await entry.waitFor();
    assert.ok(['Where is my order?', 'My order is late'].includes(await entry.locator('.queue__first').textContent()));
    await screenshot(agent, '23-console-queue-after-handoff');

    // online again: auto mode gives it to the agent, with the whole bot exchange
    await agent.selectOption('#presence', 'online');
    await chat.locator('#subtitle', { hasText: 'Chatting with Demo Agent' }).waitFor();
    assert.equal(await chat.locator('#queue').isHidden(), true);
    await agent.locator('#conv-title', { hasText: name }).waitFor();
    const log = agent.locator('#log');
    await log.locator('.msg--visitor', { hasText: 'Where is my order?' }).waitFor();
    const botAnswer = log.locator('.msg--bot:not(.msg--internal)', { hasText: 'You can follow your order' });
    await botAnswer.waitFor();
    assert.equal(await botAnswer.locator('.msg__author').textContent(), 'Assistant (bot)');
    await log.locator('.msg--visitor', { hasText: 'My order is late' }).waitFor();
    const note = log.locator('.msg--internal');
    await note.first().waitFor();
    assert.match(await note.first().locator('.msg__author').textContent(), /^Internal note · Assistant \(bot\)$/);
    assert.match(await note.first().locator('.msg__text').textContent(), /hand|visitor/i);
    const agentTexts = await texts(agent);
    assert.ok(agentTexts.indexOf('Where is my order?') < agentTexts.indexOf('My order is late'), 'in order');
    await screenshot(agent, '24-console-bot-exchange-and-note');

    await agent.locator('#input').fill(REPLY);
    await agent.locator('#input').press('Enter');
    const reply = chat.locator('#log .msg--agent', { hasText: REPLY });
    await reply.waitFor();
    assert.equal(await reply.locator('.msg__author').textContent(), 'Demo Agent');

    // the bot stays silent after the hand-off; the visitor never sees the note
    await send(chat.locator('#input'), 'Where is my order?');
    await agent.locator('#log .msg--visitor', { hasText: 'Where is my order?' }).nth(1).waitFor();
    await sleep(500);
    const frame = frameOf(visitor);
    assert.equal(await frame.evaluate(() => document.querySelectorAll('.msg--internal').length), 0);
    const widgetTexts = await texts(frame);
    const noteText = await note.first().locator('.msg__text').textContent();
    assert.ok(!widgetTexts.includes(noteText), 'the hand-off note is for agents only');
    const botsNow = await frame.evaluate(() => document.querySelectorAll('#log .msg--bot').length);
    await sleep(300);
    assert.equal(await frame.evaluate(() => document.querySelectorAll('#log .msg--bot').length), botsNow, 'no bot answer after the hand-off');
    assert.equal(await chat.locator('#botbar').isHidden(), true);
    await screenshot(visitor, '25-widget-agent-after-bot');
    checkClean(visitorCtx, 'visitor');
    checkClean(agentCtx, 'agent');
  });
});

describe('the bot when nobody is there, and in Hindi and Turkish', () => {
  let server, shop;

  const it = setup(async () => {
    server = await startServer({ args: BOT_ON }); // no agent signs in
    shop = await startShop(server.url);
  });
  after(async () => {
    await shop?.close();
    await server?.stop();
  }, HOOK);

  it('nobody there at the hand-off: leave a message, or keep chatting with the bot', T, async () => {
    const ctx = await newContext(browser, { viewport: { width: 1000, height: 760 } });
    try {
      const page = await ctx.newPage();
      await page.goto(shop.page({ 'data-site': 'shop-bot' }));
      const chat = await openWidget(page);
      await send(chat.locator('#input'), 'How do I return an item?');
      await chat.locator('#log .msg--bot').first().waitFor();
      await chat.locator('#handoff').click();

      // the form, with the reason and the way back to the bot
      await chat.locator('#leave-form').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#leave-reason').textContent(), 'Nobody is available to chat right now.');
      assert.equal(await chat.locator('#leave-back').textContent(), 'Keep chatting with the assistant');
      assert.match(await chat.locator('#leave-intro').textContent(), /or keep chatting with the assistant/);
      assert.equal(await chat.locator('#leave-text').inputValue(), 'How do I return an item?');
      await screenshot(page, '26-widget-bot-nobody-there');
      await chat.locator('#leave-back').click();
      await chat.locator('#composer').waitFor({ state: 'visible' });
      await chat.locator('#botbar').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#handoff').isEnabled(), true);
      assert.equal(await chat.locator('#subtitle').textContent(), 'Chatting with our assistant');

      // the bot still answers
      const bots = await botCount(chat);
      await send(chat.locator('#input'), 'Where is my order?');
      const answer = chat.locator('#log .msg--bot').nth(bots);
      await answer.waitFor();
      await chat.locator('#log .msg--bot', { hasText: 'You can follow your order' }).waitFor();

      // ... and the message can be left too, then back to the chat
      await chat.locator('#handoff').click();
      await chat.locator('#leave-form').waitFor({ state: 'visible' });
      await chat.locator('#leave-email').fill('asha@example.com');
      await chat.locator('#leave-send').click();
      await chat.locator('#left').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#left-new').textContent(), 'Back to the chat');
      await chat.locator('#left-new').click();
      await chat.locator('#botbar').waitFor({ state: 'visible' });
      assert.equal(await chat.locator('#prechat').isHidden(), true, 'the same chat, not a new one');
      await chat.locator('#log .msg--bot', { hasText: 'You can follow your order' }).waitFor();
      checkClean(ctx, 'visitor');
    } finally {
      await ctx.close();
    }
  });

  for (const [locale, s] of Object.entries({
    hi: { question: 'मेरा ऑर्डर कहाँ है?', bot: 'सहायक', talk: 'किसी व्यक्ति से बात करें', subtitle: 'हमारे सहायक से बातचीत', yes: 'हाँ', no: 'नहीं', script: DEVANAGARI },
    tr: { question: 'Siparişim nerede?', bot: 'Asistan', talk: 'Bir temsilciyle görüş', subtitle: 'Asistanımızla sohbet', yes: 'Evet', no: 'Hayır', script: /[çğıöşüİ]/i },
  })) {
    it(`the ${locale === 'hi' ? 'Hindi' : 'Turkish'} UI: a ${locale === 'hi' ? 'Hindi' : 'Turkish'} question gets an answer in that language`, T, async () => {
      const ctx = await newContext(browser, { viewport: { width: 900, height: 760 }, locale: 'en-US' });
      try {
        const page = await ctx.newPage();
        const sent = recordSent(page);
        await page.goto(shop.page({ 'data-locale': locale, 'data-site': `shop-bot-${locale}` }));
        const chat = await openWidget(page);
        await send(chat.locator('#input'), s.question);
        const answer = chat.locator('#log .msg--bot').first();
        await answer.waitFor();
        const text = await answer.locator('.msg__text').textContent();
        assert.match(text, s.script, `an answer in ${locale}: ${text}`);
        assert.match(text, /shop\.example\.com/, 'the order-tracking answer');
        assert.equal(await answer.locator('.msg__author').textContent(), s.bot);
        assert.equal(await chat.locator('#handoff').textContent(), s.talk);
        assert.equal(await chat.locator('#subtitle').textContent(), s.subtitle);
        const ask = answer.locator('.botopts__ask');
        await ask.waitFor();
        assert.match(await ask.locator('span').textContent(), s.script, 'the server\'s prompt, in the answer\'s language');
        assert.deepEqual(await ask.getByRole('button').allTextContents(), [s.yes, s.no]);
        const start = await waitForFrame(sent, (f) => f.type === 'start', 'start');
        assert.equal(start.locale, locale, 'start carries the widget\'s language');
        await screenshot(page, `27-widget-bot-${locale}`);
        checkClean(ctx, locale);
      } finally {
        await ctx.close();
      }
    });
  }
});
