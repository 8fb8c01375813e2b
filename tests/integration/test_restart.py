"""Durability and shutdown: SIGKILL + restart on the same data dir loses no
acknowledged message; SIGTERM closes clients with 1001 and exits 0.
Run: python3 tests/integration/test_restart.py"""

import asyncio
import os
import signal
import sys
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, async_test  # noqa: E402


class RestartTest(unittest.TestCase):

    @async_test(90)
    async def test_sigkill_then_restart_keeps_every_acknowledged_message(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv, visitor_name="Kim", text="before the crash")
            # the transcript as acknowledged: seq -> (from, text)
            acked = {}
            msgs, _ = await h.resume(v, conv, 0)
            for m in msgs:
                acked[m["seq"]] = (m["from"], m["text"])
            self.assertEqual(list(acked.values()), [("visitor", "before the crash")])
            for i in range(3):
                a = await h.say(ag, conv, "agent line %d" % i)
                acked[a["seq"]] = ("agent", "agent line %d" % i)
                b = await h.say(v, conv, "visitor line %d — ✓" % i)
                acked[b["seq"]] = ("visitor", "visitor line %d — ✓" % i)
            # a burst: SIGKILL right after the last ack arrives
            cids = ["burst-%d" % i for i in range(20)]
            for i, cid in enumerate(cids):
                await v.send({"type": "message", "conv": conv, "client_id": cid, "text": "burst %d" % i})
            for i, cid in enumerate(cids):
                a = await v.recv("ack", where=lambda m, cid=cid: m.get("client_id") == cid)
                acked[a["seq"]] = ("visitor", "burst %d" % i)
            srv.kill()
            self.assertEqual(len(acked), 1 + 6 + 20)
            seqs = sorted(acked)
            self.assertEqual(len(set(seqs)), len(seqs))
            token, vid = v.token, v.id
            for c in (v, ag):
                await c.drop()

            srv.restart()

            # the visitor comes back with its token
            v2 = await h.visitor(srv, name="Kim", token=token)
            self.assertEqual(v2.id, vid)
            summary = [c for c in v2.welcome.get("conversations", []) if c.get("conv") == conv]
            self.assertEqual(len(summary), 1, v2.welcome)
            self.assertEqual((summary[0].get("state"), summary[0].get("last_seq"), summary[0].get("agent_name")),
                             ("active", seqs[-1], "Asha"), summary[0])
            msgs, rep = await h.resume(v2, conv, 0)
            self.assertEqual({m["seq"]: (m["from"], m["text"]) for m in msgs}, acked)
            self.assertEqual([m["seq"] for m in msgs], seqs, "replay must be in seq order")
            self.assertEqual(rep.get("last_seq"), seqs[-1], rep)

            # start returns the same open conversation
            again = await h.open_conversation(v2)
            self.assertEqual(again["conv"], conv)

            # the agent (new login) still owns it and can keep chatting
            ag2 = await h.agent(srv, ASHA)
            owned = [c for c in ag2.welcome.get("conversations", []) if c.get("conv") == conv]
            self.assertEqual(len(owned), 1, ag2.welcome)
            self.assertEqual(owned[0].get("state"), "active", owned[0])
            amsgs, _ = await h.resume(ag2, conv, 0)
            self.assertEqual({m["seq"]: (m["from"], m["text"]) for m in amsgs}, acked)
            a = await h.say(ag2, conv, "still here after the restart")
            self.assertGreater(a["seq"], seqs[-1])
            await h.recv_message(v2, conv, seq=a["seq"], text="still here after the restart")
            b = await h.say(v2, conv, "great")
            self.assertGreater(b["seq"], a["seq"])
            await h.recv_message(ag2, conv, seq=b["seq"], text="great")

            # a resend of an acknowledged client_id after the restart is still a duplicate
            await v2.send({"type": "message", "conv": conv, "client_id": cids[-1], "text": "burst 19"})
            d = await v2.recv("ack", where=lambda m: m.get("client_id") == cids[-1])
            self.assertTrue(d.get("duplicate"), d)
            self.assertEqual(d.get("seq"), max(s for s, (_, t) in acked.items() if t == "burst 19"), d)

            # the queue was rebuilt too: a waiting conversation survives a crash
            w = await h.visitor(srv, name="Wes")
            wev = await h.open_conversation(w, text="queued before crash")
            wtoken = w.token
            srv.kill()
            for c in (v2, ag2, w):
                await c.drop()
            srv.restart()
            ag3 = await h.agent(srv, ASHA)
            q = await ag3.recv("queue")
            self.assertIn(wev["conv"], [e.get("conv") for e in q.get("waiting", [])], q)
            w2 = await h.visitor(srv, name="Wes", token=wtoken)
            await h.take(ag3, expect_conv=wev["conv"], v=w2)
            msgs, _ = await h.resume(ag3, wev["conv"], 0)
            self.assertEqual([m["text"] for m in msgs], ["queued before crash"])

    @async_test(60)
    async def test_sigterm_closes_clients_with_1001_and_exits_0(self):
        with h.Server() as srv:
            v, ag, conv = await h.pair(srv, visitor_name="Tess")
            a = await h.say(v, conv, "last words")
            idle = await h.Client.connect(srv, label="no-hello")
            srv.signal(signal.SIGTERM)
            for c in (v, ag):
                await c.expect_close(1001, timeout=8)
            # a connection that never said hello is closed too (1001 as well)
            await idle.expect_close(1001, timeout=8)
            rc = await srv.wait_exit(10)
            self.assertEqual(rc, 0, "exit code after SIGTERM\n" + srv.logs())
            # it stopped accepting
            with self.assertRaises((OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake)):
                await h.Client.connect(srv, timeout=2)

            # and a clean shutdown kept the data
            srv.restart()
            v2 = await h.visitor(srv, name="Tess", token=v.token)
            msgs, _ = await h.resume(v2, conv, 0)
            self.assertIn((a["seq"], "last words"), [(m["seq"], m["text"]) for m in msgs])


if __name__ == "__main__":
    h.run_tests(__file__)
