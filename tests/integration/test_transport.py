"""The WebSocket transport under load: the server gathers every frame queued
for a socket in one loop turn into one write, beside the frames Beast writes
itself (pongs, keep-alive pings, the close frame). These tests check that
nothing interleaves or is lost: pings answered mid-stream, the server's own
pings keeping an idle client open, a slow reader closed with 4008 after the
whole frames it was sent, and a close frame behind the frames before it.
Run: python3 tests/integration/test_transport.py"""

import asyncio
import base64
import os
import socket
import struct
import sys
import time
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


class RawClient:
    """A WebSocket client on a plain socket, for what a library client will not
    send or will answer by itself (unmasked frames, silence, raw close frames)."""

    def __init__(self, srv):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (srv.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("closed during the handshake: %r" % head)
            head += chunk
        status, _, self.buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise AssertionError("no 101: %r" % status)

    def send_frame(self, opcode, payload=b"", fin=True, masked=True):
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        m = 0x80 if masked else 0
        if n < 126:
            head = struct.pack("!BB", first, m | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, m | 126, n)
        else:
            head = struct.pack("!BBQ", first, m | 127, n)
        if masked:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError()
            self.buf += chunk

    def read_frame(self, timeout=5.0):
        """(opcode, payload) of the server's next frame; EOFError at the end."""
        deadline = time.monotonic() + timeout * h.TIMEOUT_SCALE
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame")
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(at + n, deadline)
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return b0 & 0x0F, payload

    def read_until_eof(self, timeout=5.0):
        frames = []
        while True:
            try:
                frames.append(self.read_frame(timeout))
            except EOFError:
                return frames

    def close(self):
        self.sock.close()


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


    @async_test(60)
    async def test_frame_rules_over_a_raw_socket(self):
        with h.Server() as srv:
            # A fragmented hello with a ping between its fragments.
            c = RawClient(srv)
            hello = b'{"type":"hello","version":1,"role":"visitor","name":"Frag"}'
            c.send_frame(0x1, hello[:10], fin=False)
            c.send_frame(0x9, b"ping-data")
            c.send_frame(0x0, hello[10:30], fin=False)
            c.send_frame(0x0, hello[30:], fin=True)
            op, payload = c.read_frame()
            self.assertEqual((op, payload), (0xA, b"ping-data"))  # the pong, same payload
            op, payload = c.read_frame()
            self.assertEqual(op, 0x1)
            self.assertIn(b'"welcome"', payload)
            # The client closes with its own code: echoed, then the server
            # ends the TCP connection.
            c.send_frame(0x8, struct.pack("!H", 4321) + b"bye")
            frames = c.read_until_eof()
            self.assertEqual(frames, [(0x8, struct.pack("!H", 4321))])
            c.close()

            # Protocol violations: a close frame with 1002, then the end.
            for label, send in (
                    ("unmasked", lambda c: c.send_frame(0x1, b"{}", masked=False)),
                    ("reserved opcode", lambda c: c.send_frame(0x3, b"x")),
                    ("continuation first", lambda c: c.send_frame(0x0, b"x")),
                    ("long ping", lambda c: c.send_frame(0x9, b"p" * 126)),
                    ("bad close code", lambda c: c.send_frame(0x8, struct.pack("!H", 1005)))):
                c = RawClient(srv)
                send(c)
                frames = c.read_until_eof()
                self.assertEqual(frames, [(0x8, struct.pack("!H", 1002))], label)
                c.close()
            # The server still serves.
            v, ag, conv = await h.pair(srv)
            a = await h.say(v, conv, "after the violations")
            await h.recv_message(ag, conv, seq=a["seq"])

    @async_test(60)
    async def test_a_client_that_answers_no_ping_is_closed_at_the_idle_timeout(self):
        with h.Server(["--idle-timeout-ms", "800"]) as srv:
            c = RawClient(srv)
            t0 = time.monotonic()
            frames = c.read_until_eof(timeout=10)
            took = time.monotonic() - t0
            self.assertEqual([op for op, _ in frames], [0x9], frames)  # one ping, no answer
            self.assertGreaterEqual(took, 0.7)
            self.assertLess(took, 3.0 * h.TIMEOUT_SCALE)
            c.close()


    @async_test(90)
    async def test_a_peer_that_pings_and_never_reads_is_a_slow_consumer(self):
        # Pongs count against --send-queue-bytes like any frame: a client that
        # floods pings without reading is closed with 4008, not buffered for.
        with h.Server(["--send-queue-bytes", "65536"]) as srv:
            c = RawClient(srv)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            ping = b"p" * 125
            frame = bytearray()
            for _ in range(100000):  # ~13 MB of pings
                key = os.urandom(4)
                frame += struct.pack("!BB", 0x89, 0x80 | len(ping)) + key
                frame += bytes(b ^ key[i % 4] for i, b in enumerate(ping))
                if len(frame) > 1 << 20:
                    await asyncio.get_running_loop().run_in_executor(None, c.sock.sendall,
                                                                      bytes(frame))
                    frame = bytearray()
            # Everything the server sent, until it closed: pongs, then 4008.
            c.sock.settimeout(20 * h.TIMEOUT_SCALE)
            got = bytearray(c.buf)
            while True:
                chunk = c.sock.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            self.assertTrue(got.endswith(b"\x88\x02" + struct.pack("!H", 4008)), got[-16:])
            self.assertLess(len(got), 100000 * 127)  # not every ping was answered
            c.close()
            # The server is fine.
            v, ag, conv = await h.pair(srv)
            await h.say(v, conv, "still serving")


if __name__ == "__main__":
    h.run_tests(__file__)
