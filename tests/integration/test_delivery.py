"""Delivery guarantees: idempotent resend by client_id, resume after a
disconnect, several sessions of one visitor. Run: python3 tests/integration/test_delivery.py"""

import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, async_test  # noqa: E402


class DeliveryTest(unittest.TestCase):

    @async_test(60)
    async def test_same_client_id_three_times_is_stored_once(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv)
            before = await h.say(v, conv, "warm-up")
            await h.recv_message(ag, conv, seq=before["seq"])
            await h.recv_message(v, conv, seq=before["seq"])

            cid = "dup-cid-1"
            frame = {"type": "message", "conv": conv, "client_id": cid, "text": "only once please"}
            acks = []
            for _ in range(3):
                await v.send(frame)
                acks.append(await v.recv("ack", where=lambda m: m.get("client_id") == cid))
            seqs = [a["seq"] for a in acks]
            self.assertEqual(len(set(seqs)), 1, "all acks must carry the same seq: %s" % acks)
            self.assertGreater(seqs[0], before["seq"])
            self.assertEqual([bool(a.get("duplicate")) for a in acks], [False, True, True], acks)

            # exactly one message event on each side
            m = await h.recv_message(ag, conv, seq=seqs[0], text="only once please")
            self.assertEqual(m.get("client_id"), cid, m)
            await h.recv_message(v, conv, seq=seqs[0])
            await ag.expect_none("message", where=lambda m: m.get("client_id") == cid)
            await v.expect_none("message", where=lambda m: m.get("client_id") == cid, within=0.1)

            nxt = await h.say(v, conv, "after the duplicates")
            self.assertGreater(nxt["seq"], seqs[0], nxt)
            self.assertFalse(nxt.get("duplicate"), nxt)
            for who in (v, ag):
                await h.recv_message(who, conv, seq=nxt["seq"])

            # the stored transcript holds it once
            for who in (v, ag):
                msgs, rep = await h.resume(who, conv, 0)
                self.assertEqual([m["client_id"] for m in msgs].count(cid), 1, msgs)
                got = [m["seq"] for m in msgs]
                self.assertEqual(got, sorted(set(got)), "replay must be strictly increasing: %s" % got)
                self.assertEqual(rep.get("last_seq"), nxt["seq"], rep)

            # the same client_id from the agent is a different message (ids are per author)
            a = await h.say(ag, conv, "agent uses the same id", client_id=cid)
            self.assertFalse(a.get("duplicate"), a)
            self.assertGreater(a["seq"], nxt["seq"])

    @async_test(60)
    async def test_resume_after_disconnect_gets_exactly_the_missed_messages(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv, visitor_name="Dora")
            a0 = await h.say(v, conv, "I'll be right back")
            await h.recv_message(ag, conv, seq=a0["seq"])
            m = await h.recv_message(v, conv, seq=a0["seq"])
            last_seen = m["seq"]
            token, vid = v.token, v.id
            await v.drop()  # vanish without a close handshake, like a lost network
            await asyncio.sleep(0.2)

            texts = ["missed one", "missed two", "missed three"]
            acks = [await h.say(ag, conv, t) for t in texts]
            seqs = [a["seq"] for a in acks]
            self.assertEqual(seqs, sorted(seqs))
            self.assertGreater(seqs[0], last_seen)

            v2 = await h.visitor(srv, name="Dora", token=token)
            self.assertEqual(v2.id, vid)
            summary = [c for c in v2.welcome.get("conversations", []) if c.get("conv") == conv]
            self.assertEqual(len(summary), 1, v2.welcome)
            self.assertEqual(summary[0].get("last_seq"), seqs[-1], summary)

            await v2.send({"type": "resume", "conv": conv, "after": last_seen})
            got = await v2.recv_n(4, ("message", "replayed"), where=lambda m: m.get("conv") == conv)
            self.assertEqual([g["type"] for g in got], ["message"] * 3 + ["replayed"], got)
            self.assertEqual([(g["seq"], g["text"], g["from"]) for g in got[:3]],
                             [(s, t, "agent") for s, t in zip(seqs, texts)])
            self.assertEqual(got[3].get("last_seq"), seqs[-1], got[3])
            await v2.expect_none("message", where=lambda m: m.get("conv") == conv and m.get("seq", 0) <= seqs[-1])

            # now live again, both ways
            live = await h.say(ag, conv, "welcome back")
            await h.recv_message(v2, conv, seq=live["seq"], text="welcome back")
            back = await h.say(v2, conv, "thanks")
            self.assertGreater(back["seq"], live["seq"])
            await h.recv_message(ag, conv, seq=back["seq"], text="thanks")
            await h.recv_message(v2, conv, seq=back["seq"], text="thanks")

            # resuming from the latest seq replays nothing
            msgs, rep = await h.resume(v2, conv, back["seq"])
            self.assertEqual(msgs, [])
            self.assertEqual(rep.get("last_seq"), back["seq"], rep)

    @async_test(60)
    async def test_two_sessions_of_one_visitor_both_get_live_messages(self):
        with h.Server() as srv:
            v1, ag, conv = await h.pair(srv, visitor_name="Tab")
            first = await h.say(ag, conv, "hello tab one")
            await h.recv_message(v1, conv, seq=first["seq"])

            v2 = await h.visitor(srv, name="Tab", token=v1.token, label="visitor:Tab#2")
            self.assertEqual(v2.id, v1.id)
            self.assertIn(conv, [c.get("conv") for c in v2.welcome.get("conversations", [])], v2.welcome)
            msgs, rep = await h.resume(v2, conv, 0)
            self.assertIn(first["seq"], [m["seq"] for m in msgs])

            # agent -> both visitor sessions
            for i in range(3):
                a = await h.say(ag, conv, "live %d" % i)
                for s in (v1, v2):
                    await h.recv_message(s, conv, seq=a["seq"], text="live %d" % i)
            # visitor session 2 -> agent and session 1 (and itself)
            b = await h.say(v2, conv, "typed in tab two")
            for s in (ag, v1, v2):
                m = await h.recv_message(s, conv, seq=b["seq"], text="typed in tab two")
                self.assertEqual(m.get("from"), "visitor", m)
            # session 1 leaving does not detach session 2
            await v1.close()
            c = await h.say(ag, conv, "still there?")
            await h.recv_message(v2, conv, seq=c["seq"], text="still there?")


if __name__ == "__main__":
    h.run_tests(__file__)
