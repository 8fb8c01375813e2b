"""Bad input: every malformed frame/message gets its documented error or close
code, the offender's connection stays usable where documented, the server does
not crash and a bystander visitor+agent pair keeps chatting throughout.
Run: python3 tests/integration/test_bad_input.py"""

import asyncio
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, BO, async_test  # noqa: E402

MAX_FRAME = 4096
MAX_TEXT = 1000
HELLO_MS = 1500
LIMIT_ARGS = ["--max-frame-bytes", str(MAX_FRAME), "--max-text-bytes", str(MAX_TEXT),
              "--hello-timeout-ms", str(HELLO_MS)]


class Bystander:
    """A visitor+agent pair chatting in the background (one exchange every
    ``interval`` s); ``check()`` stops the loop, asserts nothing went wrong and
    does one more exchange each way."""

    def __init__(self, srv, interval=0.25):
        self.srv, self.interval = srv, interval
        self.exchanges = 0
        self.task = None
        self.n = 0

    async def start(self):
        self.v, self.ag, self.conv = await h.pair(self.srv, visitor_name="Bystander", who=ASHA)
        self.task = asyncio.ensure_future(self._loop())
        return self

    async def exchange(self):
        self.n += 1
        a = await h.say(self.v, self.conv, "bystander visitor %d" % self.n)
        await h.recv_message(self.ag, self.conv, seq=a["seq"], text="bystander visitor %d" % self.n)
        b = await h.say(self.ag, self.conv, "bystander agent %d" % self.n)
        self.assertGreater(b["seq"], a["seq"])
        await h.recv_message(self.v, self.conv, seq=b["seq"], text="bystander agent %d" % self.n)
        self.exchanges += 1

    @staticmethod
    def assertGreater(a, b):
        if not a > b:
            raise AssertionError("bystander seqs not increasing: %s <= %s" % (a, b))

    async def _loop(self):
        while True:
            await asyncio.sleep(self.interval)
            await self.exchange()

    async def stop(self, case=""):
        """Stop the background loop (so the test may use the pair's sockets)."""
        if self.task is None:
            return
        if self.task.done():
            exc = self.task.exception() if not self.task.cancelled() else None
            raise AssertionError("bystander chat broke during %s: %r" % (case, exc))
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.task = None
        # a cancelled exchange may leave an ack/message unconsumed: drop stale frames
        self.v.backlog.clear()
        self.ag.backlog.clear()

    async def check(self, case=""):
        """Assert the pair kept chatting (call after each case); restarts the loop."""
        await self.stop(case)
        await self.exchange()
        await self.v.still_open()
        await self.ag.still_open()
        self.srv.assert_alive("after " + case)
        self.task = asyncio.ensure_future(self._loop())


async def subject(srv, name="Sid"):
    """A visitor with its own conversation, taken by Bo: the one who misbehaves."""
    return await h.pair(srv, visitor_name=name, who=BO)


async def assert_usable(test, v, conv, tag):
    """The offender's connection still works: a valid message is acked."""
    await v.still_open()
    a = await h.say(v, conv, "still usable after " + tag)
    test.assertFalse(a.get("duplicate"), a)


class BadFramesTest(unittest.TestCase):
    """Frame-level and JSON-level garbage on one server with small limits."""

    @async_test(120)
    async def test_json_and_field_errors(self):
        # Many bad frames in a row: every frame counts against the rate limit,
        # so lift it here (the rate limit has its own test).
        with h.Server(LIMIT_ARGS + ["--rate-per-s", "1000", "--rate-burst", "1000"]) as srv:
            by = await Bystander(srv).start()
            v, bo, conv = await subject(srv)

            cases = [
                ("bad_json", "{not json"),
                ("bad_json", '{"type":"message","conv":'),
                ("bad_json", "[1,2,3]"),
                ("bad_json", '"just a string"'),
                ("bad_json", "42"),
                ("bad_json", ""),
                ("unknown_type", {"type": "dance"}),
                ("unknown_type", {"type": "MESSAGE", "conv": conv, "client_id": "x", "text": "t"}),
                ("missing_field", {"type": "message", "conv": conv, "client_id": "m1"}),
                ("missing_field", {"type": "message", "client_id": "m2", "text": "no conv"}),
                ("missing_field", {"type": "message", "conv": conv, "text": "no client id"}),
                ("missing_field", {"type": "typing", "conv": conv}),
                ("missing_field", {"type": "receipt", "conv": conv, "kind": "read"}),
                ("missing_field", {"type": "resume", "after": 0}),
                ("missing_field", {"type": "close"}),
                ("bad_field", {"type": "message", "conv": conv, "client_id": "b1", "text": 123}),
                ("bad_field", {"type": "message", "conv": 7, "client_id": "b2", "text": "x"}),
                ("bad_field", {"type": "message", "conv": conv, "client_id": ["b3"], "text": "x"}),
                ("bad_field", {"type": "typing", "conv": conv, "on": "yes"}),
                ("bad_field", {"type": "receipt", "conv": conv, "kind": "seen", "seq": 1}),
                ("bad_field", {"type": "receipt", "conv": conv, "kind": "read", "seq": "1"}),
                ("bad_field", {"type": "resume", "conv": conv, "after": -1}),
                ("bad_field", {"type": "resume", "conv": conv, "after": "0"}),
            ]
            for code, frame in cases:
                tag = "%s %s" % (code, json.dumps(frame) if not isinstance(frame, str) else repr(frame))
                with self.subTest(tag):
                    await v.send(frame)
                    await v.expect_error(code)
                    await assert_usable(self, v, conv, tag)
                    await by.check(tag)
            # none of the rejected frames produced a message event
            await bo.expect_none("message", where=lambda m: not m.get("text", "").startswith("still usable"))

    @async_test(90)
    async def test_text_length_limit(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            v, bo, conv = await subject(srv)
            # exactly at the limit: accepted (limit counts UTF-8 bytes)
            ok = await h.say(v, conv, "é" * (MAX_TEXT // 2))
            await h.recv_message(bo, conv, seq=ok["seq"], text="é" * (MAX_TEXT // 2))
            ok2 = await h.say(v, conv, "x" * MAX_TEXT)
            self.assertGreater(ok2["seq"], ok["seq"])
            for text in ("x" * (MAX_TEXT + 1), "é" * (MAX_TEXT // 2 + 1), "y" * (MAX_TEXT * 3)):
                with self.subTest(len=len(text.encode())):
                    cid = h.new_client_id("long")
                    await v.send({"type": "message", "conv": conv, "client_id": cid, "text": text})
                    err = await v.expect_error("too_long")
                    await assert_usable(self, v, conv, "too_long")
                    await by.check("too_long")
            await bo.expect_none("message", where=lambda m: len(m.get("text", "").encode()) > MAX_TEXT)
            # an over-long first message in start is refused too
            v2 = await h.visitor(srv, name="Longstart")
            await v2.send({"type": "start", "client_id": "ls", "text": "z" * (MAX_TEXT + 1)})
            await v2.expect_error("too_long")
            await by.check("too_long start")

    @async_test(90)
    async def test_frame_level_violations_close_the_connection(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()

            # frame over --max-frame-bytes -> 1009 (before and after hello)
            c = await h.Client.connect(srv, label="oversize-prehello")
            await c.send(json.dumps({"type": "hello", "version": 1, "role": "visitor", "name": "n" * MAX_FRAME}))
            await c.expect_close(1009)
            await by.check("oversize frame before hello")
            v, bo, conv = await subject(srv)
            await v.send({"type": "message", "conv": conv, "client_id": "big", "text": "q" * (MAX_FRAME + 10)})
            await v.expect_close(1009)
            await by.check("oversize frame")
            await bo.expect_none("message", where=lambda m: m.get("client_id") == "big")

            # binary frame -> 1003
            for payload in (b"\x00\x01\x02", json.dumps({"type": "hello", "version": 1, "role": "visitor"}).encode()):
                c = await h.Client.connect(srv, label="binary")
                await c.send(payload)
                await c.expect_close(1003)
                await by.check("binary frame")
            v2 = await h.visitor(srv, name="Bin")
            await v2.send(b'{"type":"start"}')
            await v2.expect_close(1003)
            await by.check("binary frame after hello")

            # invalid UTF-8 in a text frame -> 1007
            bad = [
                b'{"type":"hello","version":1,"role":"visitor","name":"\xff\xfe"}',
                b'{"type":"hello","version":1,"role":"visitor","name":"\xc0\xaf"}',        # overlong
                b'{"type":"hello","version":1,"role":"visitor","name":"\xed\xa0\x80"}',    # UTF-16 surrogate
                b'{"type":"hello","version":1,"role":"visitor","name":"\xe2\x82"}',        # truncated
                b'\x80',
            ]
            for payload in bad:
                with self.subTest(payload=payload):
                    c = await h.Client.connect(srv, label="badutf8")
                    await c.send_raw_text(payload)
                    await c.expect_close(1007)
                    await by.check("invalid utf-8 %r" % payload)
            v3 = await h.visitor(srv, name="Utf")
            ev = await h.open_conversation(v3)
            await v3.send_raw_text(('{"type":"message","conv":"%s","client_id":"u","text":"bad \xff"}'
                                    % ev["conv"]).encode("latin-1"))
            await v3.expect_close(1007)
            await by.check("invalid utf-8 after hello")

    @async_test(60)
    async def test_hello_rules(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            # anything before hello -> hello_required; the connection stays open
            c = await h.Client.connect(srv, label="prehello")
            for frame in ({"type": "start"}, {"type": "take"},
                          {"type": "message", "conv": "x", "client_id": "y", "text": "z"}):
                await c.send(frame)
                await c.expect_error("hello_required")
            await c.still_open()
            w = await h.hello(c, "visitor", name="Late")
            self.assertEqual(w.get("role"), "visitor", w)
            await by.check("hello_required")

            # second hello -> already_hello, connection usable
            ev = await h.open_conversation(c)
            await c.send({"type": "hello", "version": 1, "role": "visitor", "name": "Again"})
            await c.expect_error("already_hello")
            await c.send({"type": "hello", "version": 1, "role": "agent", "token": "whatever"})
            await c.expect_error("already_hello")
            again = await h.open_conversation(c)
            self.assertEqual(again["conv"], ev["conv"])
            await by.check("already_hello")

            # unsupported version -> unsupported_version, then a right hello works
            c2 = await h.Client.connect(srv, label="v2")
            await c2.send({"type": "hello", "version": 2, "role": "visitor"})
            await c2.expect_error("unsupported_version")
            await c2.still_open()
            await h.hello(c2, "visitor", name="Versioned")
            await by.check("unsupported_version")

            # bad role / missing role in hello
            c3 = await h.Client.connect(srv, label="badrole")
            await c3.send({"type": "hello", "version": 1, "role": "admin"})
            await c3.expect_error("bad_field")
            await by.check("bad role")

    @async_test(60)
    async def test_hello_timeout_closes_4002(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            c = await h.Client.connect(srv, label="silent")
            t0 = time.monotonic()
            await c.expect_close(4002, timeout=HELLO_MS / 1000 + 4)
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, HELLO_MS / 1000 * 0.8, "closed too early: %.2fs" % took)
            # an error frame before hello does not reset the clock
            c2 = await h.Client.connect(srv, label="chatty-no-hello")
            t0 = time.monotonic()
            await c2.send({"type": "start"})
            await c2.expect_error("hello_required")
            await c2.expect_close(4002, timeout=HELLO_MS / 1000 + 4)
            self.assertLess(time.monotonic() - t0, HELLO_MS / 1000 + 3)
            await by.check("hello timeout")


class AccessTest(unittest.TestCase):
    """Conversation access and tokens."""

    @async_test(90)
    async def test_forbidden_and_not_found(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            v, bo, conv = await subject(srv, name="Nosy")
            target = by.conv
            # the nosy visitor touches the bystander's conversation
            for frame in ({"type": "message", "conv": target, "client_id": "n1", "text": "let me in"},
                          {"type": "typing", "conv": target, "on": True},
                          {"type": "receipt", "conv": target, "kind": "read", "seq": 1},
                          {"type": "resume", "conv": target, "after": 0},
                          {"type": "close", "conv": target}):
                with self.subTest(visitor=frame["type"]):
                    await v.send(frame)
                    err = await v.expect_error("forbidden")
                    self.assertEqual(err.get("conv"), target, err)
                    await by.check("forbidden " + frame["type"])
            # another agent (Bo) is not in it either
            for frame in ({"type": "message", "conv": target, "client_id": "b1", "text": "mine now"},
                          {"type": "resume", "conv": target, "after": 0},
                          {"type": "close", "conv": target}):
                with self.subTest(agent=frame["type"]):
                    await bo.send(frame)
                    await bo.expect_error("forbidden")
                    await by.check("forbidden agent " + frame["type"])
            # nothing of the bystander conversation leaked, nothing was injected
            for c in (v, bo):
                await c.expect_none(("message", "typing", "receipt", "replayed"),
                                    where=lambda m: m.get("conv") == target)
            await by.stop("forbidden")
            for m in by.ag.seen + by.v.seen:
                self.assertFalse(m.get("type") == "message" and m.get("text") in ("let me in", "mine now"), m)
                self.assertFalse(m.get("type") == "typing", m)
                self.assertFalse(m.get("type") == "conversation" and m.get("state") == "closed", m)
            msgs, _ = await h.resume(by.v, target, 0)
            self.assertFalse([m for m in msgs if m["text"] in ("let me in", "mine now")], msgs)
            # the conversation is still active for its owners
            await by.check("after forbidden")
            # a visitor cannot take conversations
            await v.send({"type": "take"})
            err = await v.recv("error")
            self.assertIn(err.get("code"), ("forbidden", "bad_field", "unknown_type"), err)
            await by.check("visitor take")

            # unknown conversation -> not_found
            for frame in ({"type": "message", "conv": "no-such-conv", "client_id": "nf", "text": "hi"},
                          {"type": "resume", "conv": "no-such-conv", "after": 0},
                          {"type": "typing", "conv": "no-such-conv", "on": True},
                          {"type": "close", "conv": "no-such-conv"}):
                with self.subTest(not_found=frame["type"]):
                    await v.send(frame)
                    await v.expect_error("not_found")
                    await by.check("not_found " + frame["type"])
            await assert_usable(self, v, conv, "not_found")

    @async_test(60)
    async def test_bad_agent_tokens_close_4001(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            good = await h.alogin(srv, BO["email"], BO["password"])
            vis = await h.visitor(srv, name="Tok")
            tokens = {
                "garbage": "garbage",
                "forged": forge(good),
                "truncated": good[: len(good) // 2],
                "extended": good + "A",
                "visitor resume token": vis.token,
            }
            for what, tok in tokens.items():
                with self.subTest(token=what):
                    c = await h.Client.connect(srv, label="agent-" + what)
                    await c.send({"type": "hello", "version": 1, "role": "agent", "token": tok})
                    await c.expect_error("bad_token")
                    await c.expect_close(4001)
                    self.assertIsNone(c._take_backlog("welcome", None), "welcomed with a %s token" % what)
                    await by.check("bad agent token " + what)
            # hello as agent without a token at all, or with an empty one
            for extra in ({}, {"token": ""}):
                c = await h.Client.connect(srv, label="agent-no-token")
                await c.send(dict({"type": "hello", "version": 1, "role": "agent"}, **extra))
                err = await c.recv("error")
                self.assertIn(err.get("code"), ("missing_field", "bad_token", "bad_field"), err)
                await c.expect_none("welcome", within=0.3)
                await by.check("agent without token")
            # the genuine token still works
            ag = await h.agent(srv, BO, token=good)
            self.assertEqual(ag.id, BO["id"])

    @async_test(60)
    async def test_unknown_visitor_token_closes_4001(self):
        with h.Server(LIMIT_ARGS) as srv:
            by = await Bystander(srv).start()
            agent_token = await h.alogin(srv, BO["email"], BO["password"])
            for what, tok in {"unknown": "not-a-real-resume-token-0123456789",
                              "forged": forge(by.v.token),
                              "agent login token": agent_token}.items():
                with self.subTest(token=what):
                    c = await h.Client.connect(srv, label="visitor-" + what)
                    await c.send({"type": "hello", "version": 1, "role": "visitor", "token": tok})
                    await c.expect_error("bad_token")
                    await c.expect_close(4001)
                    await by.check("bad visitor token " + what)

    @async_test(60)
    async def test_expired_agent_token_closes_4001(self):
        with h.Server(LIMIT_ARGS + ["--token-ttl-s", "1"]) as srv:
            by = await Bystander(srv).start()
            fresh = await h.alogin(srv, BO["email"], BO["password"])
            ag = await h.agent(srv, BO, token=fresh)  # fresh token works
            await ag.close()
            old = await h.alogin(srv, BO["email"], BO["password"])
            await asyncio.sleep(2.5)
            c = await h.Client.connect(srv, label="expired")
            await c.send({"type": "hello", "version": 1, "role": "agent", "token": old})
            await c.expect_error("bad_token")
            await c.expect_close(4001)
            await by.check("expired token")


class RateLimitTest(unittest.TestCase):

    @async_test(60)
    async def test_rate_limited(self):
        with h.Server(["--rate-per-s", "2", "--rate-burst", "3"]) as srv:
            by = await Bystander(srv, interval=1.5).start()
            v, bo, conv = await subject(srv, name="Spammer")
            await asyncio.sleep(2.0)  # refill after the setup frames
            n = 12
            cids = ["spam-%d" % i for i in range(n)]
            for i, cid in enumerate(cids):
                await v.send({"type": "message", "conv": conv, "client_id": cid, "text": "spam %d" % i})
            answers = []
            for cid in cids:
                answers.append(await v.recv(("ack", "error"), where=lambda m, cid=cid: m.get("client_id") == cid))
            acked = [a for a in answers if a["type"] == "ack"]
            limited = [a for a in answers if a["type"] == "error"]
            self.assertTrue(limited, "no rate_limited error for %d messages in a burst: %s" % (n, answers))
            for e in limited:
                self.assertEqual(e.get("code"), "rate_limited", e)
                self.assertEqual(e.get("conv"), conv, e)  # the client can tell which message
            self.assertGreaterEqual(len(acked), 1, answers)
            self.assertLessEqual(len(acked), 3 + 2, "more accepted than burst + refill: %s" % answers)
            await v.still_open()
            await by.check("rate limit")
            # tokens refill: after a pause the same connection may send again
            await asyncio.sleep(2.0)
            a = await h.say(v, conv, "calm again")
            await h.recv_message(bo, conv, seq=a["seq"], text="calm again")
            # rejected messages were not stored
            msgs, _ = await h.resume(bo, conv, 0)
            stored = {m.get("client_id") for m in msgs}
            for e in limited:
                if e.get("client_id"):
                    self.assertNotIn(e["client_id"], stored)
            self.assertEqual(len([m for m in msgs if m["text"].startswith("spam ")]), len(acked))
            await by.check("after rate limit")


def forge(token):
    """Change one character in the middle of the token's last segment (a
    signature, typically), keeping it in the same alphabet."""
    if not token:
        return "forged"
    seg_start = token.rfind(".") + 1
    if seg_start >= len(token) - 1:
        seg_start = 0
    i = seg_start + (len(token) - seg_start) // 2
    ch = token[i]
    if ch.isdigit():
        new = "0" if ch != "0" else "1"
    elif ch.isalpha():
        new = ("a" if ch != "a" else "b") if ch.islower() else ("A" if ch != "A" else "B")
    else:
        new = "A"
    return token[:i] + new + token[i + 1:]


if __name__ == "__main__":
    h.run_tests(__file__)
