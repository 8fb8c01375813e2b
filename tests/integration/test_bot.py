"""The canned-answer bot with the real server and real WebSocket clients:
answers from the shipped knowledge base (English, Hindi, Turkish), stored and
resumable bot messages, hand-off to the right department's agent (asked for in
Hindi, two "not helpful", repeated misses, the button), silence after the
hand-off, nobody there at hand-off, knowledge base reload (file change and
POST /api/kb/reload) and an invalid --kb at start.
Run: python3 tests/integration/test_bot.py"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, SAM, async_test  # noqa: E402

S = h.TIMEOUT_SCALE
KB_DIR = os.path.join(h.SOURCE_DIR, "kb")
BOT_NAME = "Switchy"
QUIET = 1.0 * S  # "the bot says nothing": watched this long

PASSWORD = "bot-pass-1"  # one password for the department agents: one hash
RITA = {"id": "d1", "name": "Rita", "email": "rita@example.com", "password": PASSWORD,
        "role": "agent", "capacity": 5, "departments": ["billing"]}
OTTO = {"id": "d2", "name": "Otto", "email": "otto@example.com", "password": PASSWORD,
        "role": "agent", "capacity": 5, "departments": ["orders"]}


def load_kb(folder=KB_DIR):
    out = {}
    for lang in ("en", "hi", "tr"):
        with open(os.path.join(folder, lang + ".json"), encoding="utf-8") as f:
            doc = json.load(f)
        out[lang] = {e["id"]: e for e in doc["entries"]}
    return out


KB = load_kb()


def answer(lang, entry):
    return KB[lang][entry]["answer"]


def args(assign="auto", queue_without_agents="on", kb=KB_DIR, *extra):
    # A short shutdown grace: the harness stops the server while the event loop
    # is blocked, so open clients cannot answer its close frames.
    return ["--bot", "on", "--kb", kb, "--bot-name", BOT_NAME,
            "--assign-mode", assign, "--queue-without-agents", queue_without_agents,
            "--shutdown-grace-ms", "300"] + list(extra)


def dump(x):
    return json.dumps(x, ensure_ascii=False)[:2500]


def is_bot(m):
    return m.get("from") == "bot"


async def start_bot(v, text, locale, client_id=None):
    """Visitor ``start`` with a first message and a locale; asserts state "bot"
    and the ack of the text. Returns (conversation event, ack)."""
    cid = client_id or h.new_client_id("start")
    await v.send({"type": "start", "client_id": cid, "text": text, "locale": locale})
    ev = await v.recv(("conversation", "unavailable", "error"),
                      where=lambda m: m["type"] == "error" or m.get("client_id") == cid)
    if ev["type"] != "conversation":
        raise AssertionError("%s: start answered with %s" % (v.label, dump(ev)))
    if ev.get("state") != "bot":
        raise AssertionError("%s: new conversation should start in state bot: %s" % (v.label, dump(ev)))
    ack = await v.recv(("ack", "error"), where=lambda m: m.get("client_id") == cid)
    if ack["type"] != "ack" or ack.get("conv") != ev["conv"]:
        raise AssertionError("%s: start text not acknowledged: %s" % (v.label, dump(ack)))
    return ev, ack


async def bot_message(c, conv, timeout=h.RECV_TIMEOUT):
    """The next message from the bot in ``conv``."""
    return await c.recv("message", timeout, where=lambda m: m.get("conv") == conv and is_bot(m))


async def bot_options(c, conv, seq, timeout=h.RECV_TIMEOUT):
    return await c.recv("bot_options", timeout, where=lambda m: m.get("conv") == conv and m.get("seq") == seq)


async def bot_silent(test, clients, conv, within=QUIET, what=""):
    """No bot message, bot_options or error reaches any of ``clients`` for ``conv``."""
    await asyncio.gather(*[
        c.expect_none(("message", "bot_options", "error"), within,
                      where=lambda m: (m["type"] == "error"
                                       or (m.get("conv") == conv
                                           and (m["type"] == "bot_options" or is_bot(m)))))
        for c in clients])


async def expect_handoff(test, v, conv, department):
    """The visitor's "conversation" waiting/handoff event, with ``department``."""
    ev = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") != "bot")
    test.assertEqual((ev.get("state"), ev.get("reason")), ("waiting", "handoff"), dump(ev))
    test.assertEqual(ev.get("department"), department, dump(ev))
    return ev


def check_answer_options(test, opts, lang, entry, seq):
    """bot_options after an answer: helpful prompt, the entry's follow-ups as
    quick replies (title = first question), a "talk to a person" button."""
    test.assertEqual(opts.get("seq"), seq, dump(opts))
    prompt = opts.get("helpful_prompt")
    test.assertIsInstance(prompt, str, dump(opts))
    test.assertTrue(prompt.strip(), dump(opts))
    test.assertIs(opts.get("offer_handoff"), True, dump(opts))
    sugg = opts.get("suggestions")
    test.assertIsInstance(sugg, list, dump(opts))
    want = [{"entry": f, "title": KB[lang][f]["questions"][0]}
            for f in KB[lang][entry].get("follow_ups", [])][:3]
    test.assertEqual(sugg, want, dump(opts))
    return prompt


async def agent_transcript(ag, conv):
    msgs, rep = await h.resume(ag, conv, 0)
    return msgs, rep


def rows(msgs):
    return [(m.get("from"), bool(m.get("internal")), m.get("text")) for m in msgs]


class BotAnswersTest(unittest.TestCase):

    @async_test(60)
    async def test_known_english_question_answered_stored_and_resumable(self):
        with h.Server(args("manual", "on")) as srv:
            ag = await h.agent(srv, ASHA)
            q0 = await ag.recv("queue")
            self.assertEqual(q0.get("waiting"), [], dump(q0))

            v = await h.visitor(srv, name="Vera")
            q_text = "Where is my order?"
            ev, ack = await start_bot(v, q_text, "en")
            conv = ev["conv"]
            self.assertEqual((ev.get("agent_id"), ev.get("agent_name"), ev.get("department")),
                             ("", "", ""), dump(ev))
            self.assertEqual(ack.get("seq"), 1, dump(ack))
            echo = await h.recv_message(v, conv, seq=1, text=q_text)
            self.assertEqual(echo.get("from"), "visitor", dump(echo))

            bm = await bot_message(v, conv)
            self.assertEqual(bm.get("seq"), 2, dump(bm))
            self.assertEqual(bm.get("text"), answer("en", "orders.track"), dump(bm))
            self.assertEqual(bm.get("author"), BOT_NAME, dump(bm))
            self.assertNotIn("internal", bm, dump(bm))
            self.assertIsInstance(bm.get("ts"), int, dump(bm))
            opts = await bot_options(v, conv, 2)
            prompt = check_answer_options(self, opts, "en", "orders.track", 2)
            self.assertEqual(prompt, "Was this helpful?", dump(opts))

            # with the bot: not queued for agents, no queue position
            await v.expect_none("queue_position", 0.3)
            await ag.expect_none("queue", 0.3, where=lambda m: any(
                e.get("conv") == conv for e in m.get("waiting", [])))

            # a second session of the same visitor: welcome lists it in state bot,
            # resume from 0 replays the bot's message, then the options again
            v2 = await h.visitor(srv, name="Vera", token=v.token, label="visitor:Vera#2")
            convs = v2.welcome.get("conversations")
            self.assertEqual([(c.get("conv"), c.get("state"), c.get("last_seq")) for c in convs],
                             [(conv, "bot", 2)], dump(v2.welcome))
            msgs, rep = await h.resume(v2, conv, 0)
            self.assertEqual([(m.get("seq"), m.get("from"), m.get("text")) for m in msgs],
                             [(1, "visitor", q_text), (2, "bot", answer("en", "orders.track"))], dump(msgs))
            self.assertEqual(msgs[1].get("author"), BOT_NAME, dump(msgs[1]))
            self.assertEqual(rep.get("last_seq"), 2, dump(rep))
            opts2 = await bot_options(v2, conv, 2)
            self.assertEqual(opts2, opts, "bot_options after the replay differ from the live ones")

            # PROTOCOL.md, message: client_id is "" for bot messages (live and replayed)
            self.assertEqual(bm.get("client_id"), "",
                             "live bot message: PROTOCOL.md says client_id \"\" for bot messages: %s" % dump(bm))
            self.assertEqual(msgs[1].get("client_id"), "",
                             "replayed bot message: PROTOCOL.md says client_id \"\": %s" % dump(msgs[1]))
            for c in (v, v2, ag):
                await c.close()

    @async_test(60)
    async def test_turkish_with_and_without_diacritics(self):
        with h.Server(args("manual", "on")) as srv:
            want = answer("tr", "orders.track")
            cases = [("siparişim nerede", "tr"), ("siparisim nerede", "tr"),
                     ("Siparişim nerede?", "tr-TR"), ("siparisim nerede", "tr-TR"),
                     ("SİPARİŞİM NEREDE", "en")]  # diacritics say Turkish whatever the hint
            got = []
            for i, (text, locale) in enumerate(cases):
                v = await h.visitor(srv, name="Ayşe%d" % i)
                ev, _ = await start_bot(v, text, locale)
                bm = await bot_message(v, ev["conv"])
                opts = await bot_options(v, ev["conv"], bm["seq"])
                got.append((text, locale, bm.get("text") == want, opts.get("helpful_prompt")))
                await v.close()
            prompt = got[0][3]
            self.assertTrue(prompt, got)
            self.assertNotEqual(prompt, "Was this helpful?", "Turkish answer asked in English: %s" % got)
            self.assertEqual([(t, l, True, prompt) for t, l, _, _ in got], got,
                             "every case should get orders.track's Turkish answer and prompt")


class HandoffTest(unittest.TestCase):

    @async_test(60)
    async def test_hindi_person_request_goes_to_the_last_entrys_department(self):
        with h.Server(args("auto", "off"), agents=[RITA, OTTO]) as srv:
            rita = await h.agent(srv, RITA)
            otto = await h.agent(srv, OTTO)
            v = await h.visitor(srv, name="Ravi")
            q1 = "रिफंड में कितना समय लगता है?"
            ev, _ = await start_bot(v, q1, "hi")
            conv = ev["conv"]
            self.assertEqual(KB["hi"]["billing.refund_timing"]["department"], "billing")
            bm = await bot_message(v, conv)
            self.assertEqual(bm.get("text"), answer("hi", "billing.refund_timing"), dump(bm))
            opts = await bot_options(v, conv, bm["seq"])
            prompt = check_answer_options(self, opts, "hi", "billing.refund_timing", bm["seq"])
            self.assertNotEqual(prompt, "Was this helpful?", "Hindi answer asked in English: %s" % dump(opts))
            # still with the bot: no agent has been told anything about it
            for ag in (rita, otto):
                await ag.expect_none("conversation", 0.2, where=lambda m: m.get("conv") == conv)

            q2 = "मुझे किसी इंसान से बात करनी है"
            await h.say(v, conv, q2)
            bye = await bot_message(v, conv)
            self.assertNotIn("internal", bye, dump(bye))
            await expect_handoff(self, v, conv, "billing")
            act = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            self.assertEqual((act.get("agent_name"), act.get("agent_id"), act.get("reason")),
                             ("Rita", RITA["id"], "assigned"), dump(act))
            rev = await rita.recv("conversation", where=lambda m: m.get("conv") == conv)
            self.assertEqual((rev.get("state"), rev.get("department")), ("active", "billing"), dump(rev))
            await otto.expect_none("conversation", 0.3, where=lambda m: m.get("conv") == conv)

            # the agent sees the whole bot exchange plus the internal hand-off note
            msgs, rep = await agent_transcript(rita, conv)
            self.assertEqual([m["seq"] for m in msgs], list(range(1, len(msgs) + 1)), dump(msgs))
            self.assertEqual(rows(msgs)[:4],
                             [("visitor", False, q1), ("bot", False, answer("hi", "billing.refund_timing")),
                              ("visitor", False, q2), ("bot", False, bye["text"])], dump(msgs))
            self.assertEqual(len(msgs), 5, dump(msgs))
            note = msgs[4]
            self.assertIs(note.get("internal"), True, dump(note))
            self.assertEqual(note.get("from"), "bot", dump(note))
            self.assertIn("visitor_asked", note.get("text", ""), dump(note))
            self.assertIn("billing", note.get("text", ""), dump(note))
            self.assertEqual(rep.get("last_seq"), 5, dump(rep))

            # the visitor never gets the note: not live, not replayed
            await v.expect_none("message", 0.3, where=lambda m: m.get("internal"))
            self.assertEqual([m for m in v.seen if m.get("internal")], [], dump(v.seen))
            v2 = await h.visitor(srv, name="Ravi", token=v.token, label="visitor:Ravi#2")
            vmsgs, _ = await h.resume(v2, conv, 0)
            self.assertEqual([m["seq"] for m in vmsgs], [1, 2, 3, 4], dump(vmsgs))
            self.assertEqual([m for m in vmsgs if m.get("internal")], [], dump(vmsgs))
            # and no bot_options once handed off
            await v2.expect_none("bot_options", 0.3)
            for c in (v, v2, rita, otto):
                await c.close()

    @async_test(60)
    async def test_bot_silent_after_handoff(self):
        with h.Server(args("manual", "on")) as srv:
            v = await h.visitor(srv, name="Sila")
            ev, _ = await start_bot(v, "How do I cancel my order?", "en")
            conv = ev["conv"]
            bm = await bot_message(v, conv)
            self.assertEqual(bm.get("text"), answer("en", "orders.cancel"), dump(bm))
            await bot_options(v, conv, bm["seq"])
            await h.say(v, conv, "I want to talk to a human")
            bye = await bot_message(v, conv)
            hev = await v.recv("conversation", where=lambda m: m.get("conv") == conv)
            self.assertEqual((hev.get("state"), hev.get("reason")), ("waiting", "handoff"), dump(hev))
            self.assertEqual(hev.get("department"), "orders", dump(hev))

            # waiting: a known question gets no bot reply
            a1 = await h.say(v, conv, "Where is my order?")
            await h.recv_message(v, conv, seq=a1["seq"], text="Where is my order?")
            await bot_silent(self, [v], conv, what="a message while waiting")
            # feedback and handoff are ignored: no error, nothing stored, no state change
            await v.send({"type": "feedback", "conv": conv, "helpful": False})
            await v.send({"type": "feedback", "conv": conv, "helpful": True})
            await v.send({"type": "handoff", "conv": conv})
            await v.expect_none(("message", "bot_options", "error", "conversation", "unavailable", "ack"), QUIET,
                                where=lambda m: (m["type"] in ("error", "unavailable")
                                                 or (m.get("conv") == conv and m.get("seq", 1 << 62) > a1["seq"])))
            # a suggestion is kept as the visitor's message only
            cid = h.new_client_id("sug")
            await v.send({"type": "suggestion", "conv": conv, "client_id": cid,
                          "entry": "orders.track", "text": "Where is my order?"})
            sack = await v.recv(("ack", "error"), where=lambda m: m.get("client_id") == cid)
            self.assertEqual(sack["type"], "ack", dump(sack))
            self.assertEqual(sack.get("seq"), a1["seq"] + 1, "feedback/handoff stored something: %s" % dump(sack))
            sm = await h.recv_message(v, conv, seq=sack["seq"], text="Where is my order?")
            self.assertEqual((sm.get("from"), sm.get("client_id")), ("visitor", cid), dump(sm))
            await bot_silent(self, [v], conv, what="a suggestion after hand-off")

            # an agent takes it; still no bot, whatever the visitor sends
            ag = await h.agent(srv, ASHA)
            await h.take(ag, expect_conv=conv, v=v)
            msgs, _ = await agent_transcript(ag, conv)
            a2 = await h.say(v, conv, "How much does shipping cost?")
            await h.recv_message(ag, conv, seq=a2["seq"], text="How much does shipping cost?")
            await v.send({"type": "handoff", "conv": conv})
            await v.send({"type": "feedback", "conv": conv, "helpful": False})
            await bot_silent(self, [v, ag], conv, what="messages while active")

            self.assertEqual(rows(msgs),
                             [("visitor", False, "How do I cancel my order?"),
                              ("bot", False, answer("en", "orders.cancel")),
                              ("visitor", False, "I want to talk to a human"),
                              ("bot", False, bye["text"]),
                              ("bot", True, msgs[4]["text"] if len(msgs) > 4 else None),
                              ("visitor", False, "Where is my order?"),
                              ("visitor", False, "Where is my order?")], dump(msgs))
            self.assertIn("visitor_asked", msgs[4]["text"], dump(msgs[4]))
            # the visitor's sessions saw no bot message after the hand-off
            after = [m for m in v.seen if m.get("type") == "message" and is_bot(m) and m["seq"] > bye["seq"]]
            self.assertEqual(after, [], dump(after))
            for c in (v, ag):
                await c.close()

    @async_test(60)
    async def test_not_helpful_twice_and_repeated_misses_hand_off(self):
        with h.Server(args("manual", "on", KB_DIR, "--bot-max-misses", "2")) as srv:
            ag = await h.agent(srv, ASHA)

            # "not helpful" twice (a "helpful" in between only thanks)
            v = await h.visitor(srv, name="Nia")
            ev, _ = await start_bot(v, "How do I get an invoice?", "en")
            conv = ev["conv"]
            bm = await bot_message(v, conv)
            self.assertEqual(bm.get("text"), answer("en", "billing.invoice"), dump(bm))
            await bot_options(v, conv, bm["seq"])
            await v.send({"type": "feedback", "conv": conv, "helpful": True})
            thanks = await bot_message(v, conv)
            self.assertNotIn(thanks.get("text"), ("", answer("en", "billing.invoice")), dump(thanks))
            await bot_options(v, conv, thanks["seq"])
            await v.send({"type": "feedback", "conv": conv, "helpful": False})
            r1 = await bot_message(v, conv)
            o1 = await bot_options(v, conv, r1["seq"])
            self.assertIs(o1.get("offer_handoff"), True, dump(o1))
            await v.expect_none("conversation", 0.3, where=lambda m: m.get("conv") == conv)
            await v.send({"type": "feedback", "conv": conv, "helpful": False})
            await bot_message(v, conv)
            await expect_handoff(self, v, conv, "billing")
            await h.take(ag, expect_conv=conv, v=v)
            msgs, _ = await agent_transcript(ag, conv)
            notes = [m for m in msgs if m.get("internal")]
            self.assertEqual(len(notes), 1, dump(msgs))
            self.assertIn("not_helpful", notes[0].get("text", ""), dump(notes))
            self.assertIs(msgs[-1].get("internal"), True, "the note comes last: %s" % dump(msgs))

            # misses: a known question (shipping), then two questions it cannot answer
            w = await h.visitor(srv, name="Mo")
            ev, _ = await start_bot(w, "How much does shipping cost?", "en")
            conv2 = ev["conv"]
            bm = await bot_message(w, conv2)
            self.assertEqual(bm.get("text"), answer("en", "shipping.cost"), dump(bm))
            await bot_options(w, conv2, bm["seq"])
            await h.say(w, conv2, "zxqv blorf wibble")
            miss = await bot_message(w, conv2)
            mo = await bot_options(w, conv2, miss["seq"])
            self.assertNotIn("helpful_prompt", mo, dump(mo))
            self.assertEqual((mo.get("suggestions"), mo.get("offer_handoff")), ([], True), dump(mo))
            await w.expect_none("conversation", 0.3, where=lambda m: m.get("conv") == conv2)
            await h.say(w, conv2, "purple elephant trombone")
            await bot_message(w, conv2)
            await expect_handoff(self, w, conv2, "shipping")
            await h.take(ag, expect_conv=conv2, v=w)
            msgs, _ = await agent_transcript(ag, conv2)
            notes = [m for m in msgs if m.get("internal")]
            self.assertEqual(len(notes), 1, dump(msgs))
            self.assertIn("repeated_misses", notes[0].get("text", ""), dump(notes))
            for c in (v, w, ag):
                await c.close()

    @async_test(60)
    async def test_max_misses_setting_is_honoured(self):
        with h.Server(args("manual", "on", KB_DIR, "--bot-max-misses", "3")) as srv:
            v = await h.visitor(srv, name="Tri")
            ev, _ = await start_bot(v, "zxqv blorf wibble", "en")
            conv = ev["conv"]
            for text in ("purple elephant trombone", "quantum banana accordion"):
                bm = await bot_message(v, conv)
                await bot_options(v, conv, bm["seq"])
                await v.expect_none("conversation", 0.2, where=lambda m: m.get("conv") == conv)
                await h.say(v, conv, text)
            await bot_message(v, conv)
            await expect_handoff(self, v, conv, "")
            await v.close()

    @async_test(60)
    async def test_handoff_button_with_nobody_online_stays_with_the_bot(self):
        with h.Server(args("auto", "off")) as srv:
            v = await h.visitor(srv, name="Lale")
            ev, _ = await start_bot(v, "Do you offer cash on delivery?", "en")
            conv = ev["conv"]
            bm = await bot_message(v, conv)
            self.assertEqual(bm.get("text"), answer("en", "billing.cod"), dump(bm))
            await bot_options(v, conv, bm["seq"])

            await v.send({"type": "handoff", "conv": conv})
            un = await v.recv(("unavailable", "error", "conversation"),
                              where=lambda m: m["type"] != "conversation" or m.get("conv") == conv)
            self.assertEqual(un["type"], "unavailable", dump(un))
            self.assertEqual((un.get("reason"), un.get("department")), ("no_agents", "billing"), dump(un))
            self.assertNotIn("client_id", un, dump(un))
            await v.expect_none(("conversation", "error", "queue_position"), QUIET)
            # a reconnecting session sees the conversation still with the bot
            v2 = await h.visitor(srv, name="Lale", token=v.token, label="visitor:Lale#2")
            self.assertEqual([(c.get("conv"), c.get("state")) for c in v2.welcome.get("conversations")],
                             [(conv, "bot")], dump(v2.welcome))
            await v2.close()

            # and the bot keeps answering
            v.backlog = [m for m in v.backlog if m.get("type") not in ("message", "bot_options")]
            a = await h.say(v, conv, "How much does shipping cost?")
            bm2 = await bot_message(v, conv)
            self.assertGreater(bm2["seq"], a["seq"], dump(bm2))
            self.assertEqual(bm2.get("text"), answer("en", "shipping.cost"), dump(bm2))
            await bot_options(v, conv, bm2["seq"])

            # once an agent is online the button hands off (to the last entry's department)
            ag = await h.agent(srv, ASHA)
            await v.send({"type": "handoff", "conv": conv})
            await expect_handoff(self, v, conv, "shipping")
            act = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            self.assertEqual(act.get("agent_id"), ASHA["id"], dump(act))
            await ag.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            for c in (v, ag):
                await c.close()


class KnowledgeReloadTest(unittest.TestCase):

    NEW_Q = "Do you sell unicorn saddles?"
    NEW_A1 = "Unicorn saddles are in the Stable section: https://shop.example.com/unicorn (reload-1)"
    NEW_A2 = "Unicorn saddles moved: https://shop.example.com/stable/unicorn (reload-2)"

    def setUp(self):
        self.kb = tempfile.mkdtemp(prefix="sb-it-kb-")
        for name in os.listdir(KB_DIR):
            if name.endswith(".json"):
                shutil.copy(os.path.join(KB_DIR, name), os.path.join(self.kb, name))
        with open(os.path.join(KB_DIR, "en.json"), encoding="utf-8") as f:
            self.en = json.load(f)

    def tearDown(self):
        shutil.rmtree(self.kb, ignore_errors=True)

    def write(self, name, content):
        """Atomic replace, so a poll never reads half a file."""
        tmp = os.path.join(self.kb, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, os.path.join(self.kb, name))

    def en_with(self, answer_text):
        doc = json.loads(json.dumps(self.en))
        doc["entries"].append({
            "id": "test.unicorn", "department": "support",
            "questions": [self.NEW_Q, "unicorn saddle availability", "where can I buy a unicorn saddle"],
            "answer": answer_text})
        return json.dumps(doc, ensure_ascii=False, indent=1)

    async def ask(self, v, conv, text):
        await h.say(v, conv, text)
        bm = await bot_message(v, conv)
        await bot_options(v, conv, bm["seq"])
        return bm["text"]

    async def ask_until(self, v, conv, text, want, within):
        deadline = time.monotonic() + within
        got = []
        while True:
            got.append(await self.ask(v, conv, text))
            if got[-1] == want:
                return
            if time.monotonic() > deadline:
                raise AssertionError("bot did not answer %r with %r within %.1fs; got %s"
                                     % (text, want, within, dump(got[-5:])))
            await asyncio.sleep(0.15)

    def reload(self, srv, token):
        hdrs = {} if token is None else {"Authorization": "Bearer " + token}
        status, _, body = h.http_request(srv.port, "POST", "/api/kb/reload", body=b"", headers=hdrs)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        return status, doc, body

    @async_test(60)
    async def test_reload_on_change_broken_file_kept_and_admin_endpoint(self):
        # misses never hand off here: the test asks the same question until answered
        with h.Server(args("manual", "on", self.kb, "--kb-poll-ms", "300", "--bot-max-misses", "0")) as srv:
            v = await h.visitor(srv, name="Kim")
            ev, _ = await start_bot(v, self.NEW_Q, "en")
            conv = ev["conv"]
            first = await bot_message(v, conv)
            await bot_options(v, conv, first["seq"])
            self.assertNotEqual(first.get("text"), self.NEW_A1)

            # a new entry in the English file is answered within ~2 s
            self.write("en.json", self.en_with(self.NEW_A1))
            await self.ask_until(v, conv, self.NEW_Q, self.NEW_A1, 2.0 * S)
            self.assertEqual(await self.ask(v, conv, "Where is my order?"), answer("en", "orders.track"))

            # a broken file: the old knowledge base keeps answering
            self.write("en.json", '{"language": "en", "entries": [ {"id": "oops", ')
            await asyncio.sleep(1.0 * S)  # several polls
            self.assertEqual(await self.ask(v, conv, self.NEW_Q), self.NEW_A1)
            self.assertEqual(await self.ask(v, conv, "How do I reset my password?"),
                             answer("en", "account.password_reset"))
            srv.assert_alive("after a broken knowledge base file")
            with open(srv.err_path, "rb") as f:
                err = f.read().decode(errors="replace")
            self.assertIn("en.json", err, "the failed reload should be logged naming the file:\n" + err[-3000:])

            # POST /api/kb/reload: supervisors only; a failed reload is a 422 naming the file
            sam = await h.alogin(srv, SAM["email"], SAM["password"])
            asha = await h.alogin(srv, ASHA["email"], ASHA["password"])
            status, doc, body = await asyncio.to_thread(self.reload, srv, sam)
            self.assertEqual(status, 422, body[:1000])
            self.assertIsInstance(doc, dict, body[:1000])
            errors = doc.get("errors")
            self.assertIsInstance(errors, list, body[:1000])
            self.assertTrue(errors and all(isinstance(e, str) for e in errors), body[:1000])
            self.assertTrue(any("en.json" in e for e in errors), body[:1000])
            status, doc, body = await asyncio.to_thread(self.reload, srv, asha)
            self.assertEqual(status, 403, body[:1000])
            status, doc, body = await asyncio.to_thread(self.reload, srv, None)
            self.assertEqual(status, 401, body[:1000])
            status, doc, body = await asyncio.to_thread(self.reload, srv, "not-a-token")
            self.assertEqual(status, 401, body[:1000])
            self.assertEqual(await self.ask(v, conv, self.NEW_Q), self.NEW_A1)

            # fixed again: the supervisor's reload succeeds and takes effect at once
            self.write("en.json", self.en_with(self.NEW_A2))
            status, doc, body = await asyncio.to_thread(self.reload, srv, sam)
            self.assertEqual(status, 200, body[:1000])
            total = sum(len(KB[lang]) for lang in KB) + 1
            self.assertEqual(doc, {"status": "reloaded", "entries": total}, body[:1000])
            self.assertEqual(await self.ask(v, conv, self.NEW_Q), self.NEW_A2)
            await v.close()

    @async_test(60)
    async def test_invalid_kb_at_start_exits_naming_the_file(self):
        tr = os.path.join(self.kb, "tr.json")
        with open(tr, encoding="utf-8") as f:
            doc = json.load(f)
        doc["entries"][0]["answer"] = "   "
        entry_id = doc["entries"][0]["id"]
        broken = [
            ("tr.json", json.dumps(doc, ensure_ascii=False), [entry_id, "answer"]),
            ("hi.json", '{"language": "hi", "entries": [', []),
        ]
        srv = h.Server(args("manual", "on", self.kb), name="badkb")
        try:
            for name, content, more in broken:
                # restore every file, then break only this one
                for n in ("en.json", "hi.json", "tr.json"):
                    shutil.copy(os.path.join(KB_DIR, n), os.path.join(self.kb, n))
                self.write(name, content)
                p = await asyncio.to_thread(
                    subprocess.run, srv.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, timeout=15 * S, cwd=h.SOURCE_DIR)
                out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
                self.assertNotEqual(p.returncode, 0, "started with a broken %s:\n%s" % (name, out[-2000:]))
                self.assertNotIn("listening", p.stdout.decode(errors="replace"), out[-2000:])
                for word in [name] + more:
                    self.assertIn(word, p.stderr.decode(errors="replace"),
                                  "error for a broken %s should name %r:\n%s" % (name, word, out[-2000:]))
            # a folder that does not exist
            missing = os.path.join(self.kb, "no-such-folder")
            cmd = srv.command()
            cmd[len(cmd) - 1 - cmd[::-1].index("--kb") + 1] = missing
            p = await asyncio.to_thread(
                subprocess.run, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=15 * S, cwd=h.SOURCE_DIR)
            err = p.stderr.decode(errors="replace")
            self.assertNotEqual(p.returncode, 0, "started with a missing --kb folder:\n" + err[-2000:])
            self.assertIn(missing, err, err[-2000:])
        finally:
            srv._cleanup_tmp(keep=False)


if __name__ == "__main__":
    h.run_tests(__file__)
