"""The WebSocket transport under load: the server gathers every frame queued
for a socket in one loop turn into one write, beside the frames Beast writes
itself (pongs, keep-alive pings, the close frame). These tests check that
nothing interleaves or is lost: pings answered mid-stream, the server's own
pings keeping an idle client open, a slow reader closed with 4008 after the
whole frames it was sent, and a close frame behind the frames before it.
Run: python3 tests/integration/test_transport.py"""

import asyncio
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import async_test  # noqa: E402

FAST = ["--rate-per-s", "100000", "--rate-burst", "100000"]


async def read_until_closed(client, timeout=10):
    """Every frame until the server closes the connection (each parsed)."""
    frames = []
    while True:
        try:
            frames.append(await client.recv(None, timeout=timeout))
        except AssertionError:
            if client.closed_exc is None:
                raise
            return frames


class TransportTest(unittest.TestCase):

    @async_test(90)
    async def test_pings_answered_mid_stream_and_every_frame_arrives_whole_in_order(self):
        with h.Server(FAST) as srv:
            v, ag, conv = await h.pair(srv)
            # Sizes on both sides of the 125/126-byte frame-length boundary.
            texts = ["m%03d %s" % (i, "x" * ((i * 37) % 400)) for i in range(300)]
            pongs = []

            async def ping_all_along():
                for _ in range(40):
                    pongs.append(await ag.ws.ping())
                    await asyncio.sleep(0.002)
            pinger = asyncio.create_task(ping_all_along())
            for i, t in enumerate(texts):  # not waiting for acks: many per turn
                await v.send({"type": "message", "conv": conv, "client_id": "f-%d" % i, "text": t})
            got = [await h.recv_message(ag, conv) for _ in texts]
            await pinger
            await asyncio.wait_for(asyncio.gather(*pongs), 5 * h.TIMEOUT_SCALE)
            self.assertEqual([m["text"] for m in got], texts)
            seqs = [m["seq"] for m in got]
            self.assertEqual(seqs, sorted(set(seqs)))
            acks = [await v.recv("ack", where=lambda m, i=i: m.get("client_id") == "f-%d" % i)
                    for i in range(len(texts))]
            self.assertEqual([a["seq"] for a in acks], seqs)

    @async_test(60)
    async def test_server_pings_keep_an_idle_answering_client_open(self):
        # Beast pings at half the idle timeout through the same buffer as the
        # data; a client that answers stays, and its frames stay whole.
        with h.Server(["--idle-timeout-ms", "600"]) as srv:
            v, ag, conv = await h.pair(srv)
            await asyncio.sleep(2.0)
            a = await h.say(v, conv, "after a quiet while")
            m = await h.recv_message(ag, conv, seq=a["seq"])
            self.assertEqual(m["text"], "after a quiet while")

    @async_test(120)
    async def test_slow_reader_is_closed_4008_after_whole_frames_and_others_go_on(self):
        with h.Server(FAST) as srv:  # --send-queue-bytes: its default, 1 MiB
            v, ag, conv = await h.pair(srv)
            big = "y" * 8000
            sent = []
            for i in range(60):
                a = await h.say(v, conv, "%03d %s" % (i, big))
                sent.append(a["seq"])
                await h.recv_message(ag, conv, seq=a["seq"])
            # A second session of the visitor asks for the transcript again
            # and again and never reads.
            slow = await h.visitor(srv, name="Vera", token=v.token, label="slow")
            sock = slow.ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            for _ in range(120):
                await slow.send({"type": "resume", "conv": conv, "after": 0})
            # The others are not held up meanwhile.
            a = await h.say(v, conv, "still here")
            await h.recv_message(ag, conv, seq=a["seq"])
            # Reading now: whole JSON frames (the harness parses each), then 4008.
            frames = await read_until_closed(slow)
            self.assertEqual(slow.closed_exc.code, 4008, slow.closed_exc)
            # What was being written when the limit was hit still arrived.
            self.assertGreater(len([m for m in frames if m.get("type") == "message"]), 0)
            # Nothing was lost from the conversation: a new session gets it all.
            again = await h.visitor(srv, name="Vera", token=v.token, label="again")
            msgs, _ = await h.resume(again, conv, 0)
            seqs = [m["seq"] for m in msgs]
            self.assertEqual(seqs, sorted(set(seqs)))
            for s in sent + [a["seq"]]:
                self.assertIn(s, seqs)

    @async_test(60)
    async def test_error_then_close_arrive_in_that_order(self):
        # A frame over the size limit: the server closes with 1009; a bad
        # frame before it is answered first, in order.
        with h.Server() as srv:
            c = await h.Client.connect(srv, max_size=2 ** 24)
            await c.send("not json")
            await c.send("x" * (70 * 1024))
            frames = await read_until_closed(c)
            self.assertEqual([m.get("type") for m in frames], ["error"], frames)
            self.assertEqual(frames[0].get("code"), "bad_json", frames)
            self.assertEqual(c.closed_exc.code, 1009, c.closed_exc)


if __name__ == "__main__":
    h.run_tests(__file__)
