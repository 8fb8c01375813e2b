"""Chat basics: visitor <-> agent both ways, acks, seqs, typing, receipts, close,
welcome on reconnect. Run: python3 tests/integration/test_chat.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, async_test  # noqa: E402


class ChatTest(unittest.TestCase):

    @async_test(60)
    async def test_visitor_and_agent_chat_both_ways(self):
        with h.Server() as srv:
            v = await h.visitor(srv, name="Vera")
            self.assertEqual(v.welcome.get("version"), 1, v.welcome)
            self.assertEqual(v.welcome.get("name"), "Vera", v.welcome)
            self.assertEqual(v.welcome.get("conversations"), [], v.welcome)

            # start with a first message: conversation waiting + ack + message event
            await v.send({"type": "start", "client_id": "s1", "text": "Hello, anyone there?"})
            ev = await v.recv("conversation")
            conv = ev["conv"]
            self.assertEqual(ev.get("state"), "waiting", ev)
            self.assertEqual(ev.get("visitor_name"), "Vera", ev)
            ack0 = await v.recv("ack", where=lambda m: m.get("conv") == conv)
            self.assertIsInstance(ack0.get("seq"), int, ack0)
            self.assertFalse(ack0.get("duplicate"), ack0)
            m0 = await h.recv_message(v, conv, seq=ack0["seq"], text="Hello, anyone there?")
            self.assertEqual(m0.get("from"), "visitor", m0)

            # the agent signs in, sees the queue, takes the conversation
            ag = await h.agent(srv, ASHA)
            self.assertEqual(ag.welcome.get("name"), "Asha", ag.welcome)
            q = await ag.recv("queue", where=lambda m: any(e.get("conv") == conv for e in m.get("waiting", [])))
            entry = [e for e in q["waiting"] if e["conv"] == conv][0]
            self.assertEqual(entry.get("visitor_name"), "Vera", q)
            self.assertIsInstance(entry.get("since"), int, q)

            await ag.send({"type": "take"})
            aev = await ag.recv("conversation", where=lambda m: m.get("conv") == conv)
            self.assertEqual(aev.get("state"), "active", aev)
            self.assertEqual(aev.get("agent_name"), "Asha", aev)
            vev = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            self.assertEqual(vev.get("agent_name"), "Asha", vev)
            # the queue no longer lists it
            await ag.recv("queue", where=lambda m: all(e.get("conv") != conv for e in m.get("waiting", [])))

            # transcript for the agent
            msgs, rep = await h.resume(ag, conv, 0)
            self.assertEqual([(m["seq"], m["text"]) for m in msgs], [(ack0["seq"], "Hello, anyone there?")])
            self.assertEqual(rep.get("last_seq"), ack0["seq"], rep)

            last = ack0["seq"]
            transcript = [(last, "visitor", "Hello, anyone there?")]
            script = [(ag, "agent", "Hi Vera, Asha here. How can I help?"),
                      (v, "visitor", "My order has not arrived."),
                      (v, "visitor", "Order #1234 — ünïcödé ✓ 🚚"),
                      (ag, "agent", "Let me check that for you."),
                      (ag, "agent", "It ships tomorrow.")]
            for sender, role, text in script:
                other = v if sender is ag else ag
                cid = h.new_client_id(role)
                ack = await h.say(sender, conv, text, client_id=cid)
                self.assertGreater(ack["seq"], last, "seqs must strictly increase: %s after %s" % (ack, last))
                self.assertFalse(ack.get("duplicate"), ack)
                self.assertIsInstance(ack.get("ts"), int, ack)
                last = ack["seq"]
                for who in (sender, other):  # the sender gets its own message event too
                    m = await h.recv_message(who, conv, seq=ack["seq"], text=text)
                    self.assertEqual(m.get("from"), role, m)
                    self.assertEqual(m.get("client_id"), cid, m)
                    self.assertEqual(m.get("author"), "Asha" if role == "agent" else "Vera", m)
                    self.assertIsInstance(m.get("ts"), int, m)
                transcript.append((last, role, text))

            # both transcripts agree, in order
            for who in (v, ag):
                msgs, rep = await h.resume(who, conv, 0)
                self.assertEqual([(m["seq"], m["from"], m["text"]) for m in msgs], transcript)
                self.assertEqual(rep.get("last_seq"), last, rep)
            srv.assert_alive()

    @async_test(60)
    async def test_typing_reaches_only_the_other_side(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            await v.send({"type": "typing", "conv": conv, "on": True})
            t = await ag.recv("typing")
            self.assertEqual((t.get("conv"), t.get("from"), t.get("on")), (conv, "visitor", True), t)
            await v.expect_none("typing")

            await v.send({"type": "typing", "conv": conv, "on": False})
            t = await ag.recv("typing")
            self.assertEqual((t.get("conv"), t.get("from"), t.get("on")), (conv, "visitor", False), t)

            await ag.send({"type": "typing", "conv": conv, "on": True})
            t = await v.recv("typing")
            self.assertEqual((t.get("conv"), t.get("from"), t.get("on")), (conv, "agent", True), t)
            await ag.expect_none("typing")
            # typing is not stored: no message event anywhere
            await v.expect_none("message", within=0.2)
            await ag.expect_none("message", within=0.2)

    @async_test(60)
    async def test_receipts_are_relayed(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            a1 = await h.say(ag, conv, "first from agent")
            await h.recv_message(v, conv, seq=a1["seq"])
            v1 = await h.say(v, conv, "first from visitor")
            await h.recv_message(ag, conv, seq=v1["seq"])

            await v.send({"type": "receipt", "conv": conv, "kind": "delivered", "seq": a1["seq"]})
            r = await ag.recv("receipt")
            self.assertEqual((r.get("conv"), r.get("kind"), r.get("seq"), r.get("by")),
                             (conv, "delivered", a1["seq"], "visitor"), r)
            await v.send({"type": "receipt", "conv": conv, "kind": "read", "seq": a1["seq"]})
            r = await ag.recv("receipt")
            self.assertEqual((r.get("conv"), r.get("kind"), r.get("seq"), r.get("by")),
                             (conv, "read", a1["seq"], "visitor"), r)

            await ag.send({"type": "receipt", "conv": conv, "kind": "read", "seq": v1["seq"]})
            r = await v.recv("receipt")
            self.assertEqual((r.get("conv"), r.get("kind"), r.get("seq"), r.get("by")),
                             (conv, "read", v1["seq"], "agent"), r)

    @async_test(60)
    async def test_close_by_agent(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            await h.say(v, conv, "thanks, bye")
            await ag.send({"type": "close", "conv": conv})
            for who in (v, ag):
                ev = await who.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "closed")
                self.assertEqual(ev.get("reason"), "closed_by_agent", ev)
            await v.send({"type": "message", "conv": conv, "client_id": "after-close", "text": "wait!"})
            err = await v.expect_error("conv_closed")
            self.assertEqual(err.get("conv"), conv, err)
            await ag.send({"type": "message", "conv": conv, "client_id": "after-close-a", "text": "one more"})
            await ag.expect_error("conv_closed")
            await v.expect_none("message", where=lambda m: m.get("text") in ("wait!", "one more"))
            # the closed conversation is no longer listed as open
            v2 = await h.visitor(srv, name="Vera", token=v.token)
            self.assertEqual(v2.id, v.id)
            self.assertNotIn(conv, [c.get("conv") for c in v2.welcome.get("conversations", [])], v2.welcome)
            # a new start opens a new conversation
            ev = await h.open_conversation(v2)
            self.assertNotEqual(ev["conv"], conv)
            self.assertEqual(ev.get("state"), "waiting", ev)

    @async_test(60)
    async def test_close_by_visitor(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            await v.send({"type": "close", "conv": conv})
            for who in (v, ag):
                ev = await who.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "closed")
                self.assertEqual(ev.get("reason"), "closed_by_visitor", ev)
            await ag.send({"type": "message", "conv": conv, "client_id": "x", "text": "hello?"})
            await ag.expect_error("conv_closed")

    @async_test(60)
    async def test_welcome_lists_open_conversations_on_reconnect(self):
        with h.Server() as srv:
            v = await h.visitor(srv, name="Rita")
            ev = await h.open_conversation(v, text="first")
            conv = ev["conv"]
            ack = ev["_ack"]
            token, vid = v.token, v.id
            await v.close()

            v2 = await h.visitor(srv, name="Rita", token=token)
            self.assertEqual(v2.id, vid, "same token must give the same visitor id")
            convs = v2.welcome.get("conversations")
            self.assertEqual(len(convs), 1, v2.welcome)
            c = convs[0]
            self.assertEqual((c.get("conv"), c.get("state"), c.get("last_seq"), c.get("visitor_name")),
                             (conv, "waiting", ack["seq"], "Rita"), c)

            # start again returns the same open conversation
            again = await h.open_conversation(v2)
            self.assertEqual(again["conv"], conv, again)

            ag = await h.agent(srv, ASHA)
            await h.take(ag, expect_conv=conv, v=v2)
            a = await h.say(ag, conv, "hello Rita")
            await v2.close()

            v3 = await h.visitor(srv, name="Rita", token=token)
            self.assertEqual(v3.id, vid)
            convs = v3.welcome.get("conversations")
            self.assertEqual(len(convs), 1, v3.welcome)
            c = convs[0]
            self.assertEqual((c.get("conv"), c.get("state"), c.get("last_seq"), c.get("agent_name")),
                             (conv, "active", a["seq"], "Asha"), c)

            # a different visitor does not see it
            other = await h.visitor(srv, name="Otto")
            self.assertNotEqual(other.id, vid)
            self.assertEqual(other.welcome.get("conversations"), [], other.welcome)

    @async_test(60)
    async def test_take_with_empty_queue(self):
        with h.Server() as srv:
            ag = await h.agent(srv, ASHA)
            q = await ag.recv("queue")
            self.assertEqual(q.get("waiting"), [], q)
            await ag.send({"type": "take"})
            await ag.expect_error("nothing_waiting")
            # still usable: a visitor arrives, the agent sees the queue change and takes it
            v = await h.visitor(srv)
            ev = await h.open_conversation(v)
            await ag.recv("queue", where=lambda m: any(e.get("conv") == ev["conv"] for e in m.get("waiting", [])))
            await h.take(ag, expect_conv=ev["conv"], v=v)


class NoteTest(unittest.TestCase):

    @async_test(60)
    async def test_private_note_reaches_agents_never_the_visitor(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            # visitor follows the conversation (it started it)
            await ag.send({"type": "note", "conv": conv, "client_id": "n-1",
                           "text": "VIP customer, be generous"})
            ack = await ag.recv("ack", where=lambda m: m.get("client_id") == "n-1")
            note = await h.recv_message(ag, conv, seq=ack["seq"])
            self.assertTrue(note.get("internal"), note)
            self.assertEqual(note.get("from"), "agent", note)
            # the visitor gets the next message, not the note
            a2 = await h.say(ag, conv, "How can I help?")
            m = await h.recv_message(v, conv)
            self.assertEqual(m.get("seq"), a2["seq"], m)
            self.assertEqual(m.get("text"), "How can I help?", m)
            # nor on resume
            msgs, _ = await h.resume(v, conv, 0)
            self.assertNotIn(ack["seq"], [x.get("seq") for x in msgs], msgs)
            self.assertFalse(any(x.get("internal") for x in msgs), msgs)
            # a visitor cannot write notes
            await v.send({"type": "note", "conv": conv, "client_id": "n-2", "text": "hi"})
            err = await v.recv("error", where=lambda e: e.get("client_id") == "n-2")
            self.assertEqual(err.get("code"), "forbidden", err)
            for c in (v, ag):
                await c.close()


if __name__ == "__main__":
    h.run_tests(__file__)
