"""Visitor context and the console's server side with the real server:
verified identity (HMAC-SHA256 with a shared secret file), visitor_info with
the CRM history, CSAT and resolution tags surviving a restart, canned replies
and their rights, supervisors' read-only access and their pushed dashboard,
and an agent kept out of another agent's conversation.
Run: python3 tests/integration/test_context.py"""

import hashlib
import hmac
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import async_test  # noqa: E402

SECRET = b"host-shared-secret-for-tests-0123"


def sign(user_id, secret=SECRET):
    return hmac.new(secret, user_id.encode(), hashlib.sha256).hexdigest()


def secret_file(tmp, content=SECRET + b"\n"):
    path = os.path.join(tmp, "identity.secret")
    with open(path, "wb") as f:
        f.write(content)
    return path


class IdentityTest(unittest.TestCase):
    @async_test()
    async def test_signed_ids_verify_and_wrong_ones_are_refused(self):
        tmp = tempfile.mkdtemp(prefix="sb-it-identity-")
        with h.Server(["--identity-secret-file", secret_file(tmp)]) as srv:
            c = await h.Client.connect(srv)
            w = await h.hello(c, "visitor", name="Ayşe", user_id="cust-1001",
                              signature=sign("cust-1001"), attributes={"plan": "pro"})
            self.assertTrue(w.get("verified"), w)

            bad = await h.Client.connect(srv)
            await bad.send({"type": "hello", "version": 1, "role": "visitor",
                            "user_id": "cust-1001", "signature": sign("cust-1002")})
            await bad.expect_error("bad_signature")
            await bad.expect_close(4001)

            # Signed with another secret: refused as well.
            other = await h.Client.connect(srv)
            await other.send({"type": "hello", "version": 1, "role": "visitor",
                              "user_id": "cust-1001", "signature": sign("cust-1001", b"x" * 32)})
            await other.expect_error("bad_signature")

            # Unsigned visitors are welcome unless the server requires identity.
            anon = await h.visitor(srv, name="Anon")
            self.assertFalse(anon.welcome.get("verified", False))

    @async_test()
    async def test_required_identity_refuses_anonymous_visitors(self):
        tmp = tempfile.mkdtemp(prefix="sb-it-identity-")
        with h.Server(["--identity-secret-file", secret_file(tmp),
                       "--require-identity", "on"]) as srv:
            anon = await h.Client.connect(srv)
            await anon.send({"type": "hello", "version": 1, "role": "visitor", "name": "Anon"})
            await anon.expect_error("bad_signature")
            await anon.expect_close(4001)
            ok = await h.Client.connect(srv)
            w = await h.hello(ok, "visitor", user_id="u-7", signature=sign("u-7"))
            self.assertTrue(w.get("verified"))

    def test_a_short_secret_file_stops_the_server_with_a_clear_message(self):
        tmp = tempfile.mkdtemp(prefix="sb-it-identity-")
        srv = h.Server(["--identity-secret-file", secret_file(tmp, b"short\n")])
        p = subprocess.run(srv.command(), capture_output=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"at least 16 bytes", p.stderr)


class ContextTest(unittest.TestCase):
    @async_test(timeout=90)
    async def test_context_history_csat_and_resolution_survive_a_restart(self):
        tmp = tempfile.mkdtemp(prefix="sb-it-context-")
        with h.Server(["--identity-secret-file", secret_file(tmp)]) as srv:
            v = await h.Client.connect(srv, label="visitor")
            await h.hello(v, "visitor", name="Ayşe", email="ayse@example.com",
                          user_id="cust-9", signature=sign("cust-9"),
                          attributes={"order": "A-17", "plan": "<b>pro</b>"},
                          page="https://shop.example/cart?x=<script>", language="tr-TR",
                          user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
            token = v.token
            ev = await h.open_conversation(v, text="Siparişim nerede?")
            first = ev["conv"]
            asha = await h.agent(srv, h.ASHA)
            await h.take(asha, expect_conv=first, v=v)
            await asha.send({"type": "close", "conv": first, "resolution": "solved"})
            closed = await v.recv("conversation", where=lambda m: m.get("state") == "closed")
            self.assertEqual(closed.get("resolution"), "solved")
            await v.send({"type": "rate", "conv": first, "score": 4, "comment": "hızlı, teşekkürler"})
            rated = await v.recv(("rated", "error"))
            self.assertEqual(rated, {"type": "rated", "conv": first, "score": 4})

            srv.kill()
            srv.restart()

            # Same user on a second device: a new visitor, the same history.
            v2 = await h.Client.connect(srv, label="visitor-2")
            await h.hello(v2, "visitor", name="Ayşe", user_id="cust-9", signature=sign("cust-9"),
                          page="https://shop.example/orders")
            self.assertNotEqual(v2.id, v.id)
            second = (await h.open_conversation(v2, text="Bir sorum daha var"))["conv"]
            asha = await h.agent(srv, h.ASHA)
            await h.take(asha, expect_conv=second, v=v2)
            await asha.send({"type": "visitor_info", "conv": second})
            info = await asha.recv(("visitor_info", "error"))
            self.assertEqual(info["type"], "visitor_info", info)
            vis = info["visitor"]
            self.assertTrue(vis["verified"])
            self.assertEqual(vis["user_id"], "cust-9")
            self.assertEqual(vis["page"], "https://shop.example/orders")
            self.assertEqual([c["conv"] for c in info["history"]], [second, first])
            past = info["history"][1]
            self.assertEqual((past["csat_score"], past["csat_comment"], past["resolution"]),
                             (4, "hızlı, teşekkürler", "solved"))

            # The first device comes back on a new page: the agent of an open
            # conversation hears it; here the first device has none, so check
            # its own stored context through the closed conversation.
            await asha.send({"type": "visitor_info", "conv": first})
            old = await asha.recv(("visitor_info", "error"))
            self.assertEqual(old["type"], "visitor_info", old)
            self.assertEqual(old["visitor"]["attributes"], {"order": "A-17", "plan": "<b>pro</b>"})
            self.assertEqual(old["visitor"]["page"], "https://shop.example/cart?x=<script>")
            self.assertEqual(old["visitor"]["language"], "tr-TR")
            self.assertIn("Chrome/120.0", old["visitor"]["user_agent"])
            self.assertEqual(old["visitor"]["email"], "ayse@example.com")
            self.assertTrue(token)

    @async_test()
    async def test_rating_an_open_conversation_is_refused(self):
        with h.Server() as srv:
            v = await h.visitor(srv)
            conv = (await h.open_conversation(v, text="hi"))["conv"]
            await v.send({"type": "rate", "conv": conv, "score": 5})
            await v.expect_error("bad_field", conv=conv)
            await v.send({"type": "rate", "conv": conv, "score": 9})
            await v.expect_error("bad_field")


class AgentsTest(unittest.TestCase):
    @async_test(timeout=90)
    async def test_canned_replies_rights_and_persistence(self):
        with h.Server() as srv:
            asha = await h.agent(srv, h.ASHA)
            bo = await h.agent(srv, h.BO)
            sam = await h.agent(srv, h.SAM)
            await asha.send({"type": "canned_save", "shortcut": "hello",
                             "text": "Merhaba {visitor.name}, ben {agent.name}."})
            mine = await asha.recv(("canned", "error"))
            self.assertEqual(mine["type"], "canned", mine)
            self.assertEqual(len(mine["items"]), 1)
            own_id = mine["items"][0]["id"]

            await asha.send({"type": "canned_save", "shortcut": "all", "text": "x", "shared": True})
            await asha.expect_error("forbidden")
            await bo.send({"type": "canned_delete", "id": own_id})
            await bo.expect_error("forbidden")
            await asha.send({"type": "canned_save", "shortcut": "bad shortcut!", "text": "x"})
            await asha.expect_error("bad_field")

            await sam.send({"type": "canned_save", "shortcut": "refund",
                            "text": "Refunds take 3–5 days.", "shared": True})
            await sam.recv("canned")
            await bo.recv("canned_changed")
            srv.kill()
            srv.restart()
            bo = await h.agent(srv, h.BO)
            await bo.send({"type": "canned_list"})
            items = (await bo.recv("canned"))["items"]
            self.assertEqual([(i["shortcut"], i["shared"]) for i in items], [("refund", True)])
            asha = await h.agent(srv, h.ASHA)
            await asha.send({"type": "canned_list"})
            items = (await asha.recv("canned"))["items"]
            self.assertEqual(sorted(i["shortcut"] for i in items), ["hello", "refund"])

    @async_test(timeout=90)
    async def test_supervisor_dashboard_and_read_only_access(self):
        with h.Server(["--assign-mode", "auto", "--dashboard-interval-ms", "100"]) as srv:
            sam = await h.agent(srv, h.SAM)
            self.assertTrue(sam.welcome.get("supervisor"))
            d0 = await sam.recv("dashboard")
            await sam.send({"type": "presence", "status": "away"})  # not assigned anything
            await sam.recv("presence", where=lambda m: m.get("status") == "away")
            asha = await h.agent(srv, h.ASHA)
            bo = await h.agent(srv, h.BO)
            await bo.send({"type": "presence", "status": "away"})
            await bo.recv("presence", where=lambda m: m.get("status") == "away")
            base = d0["today"]["conversations"]

            v = await h.visitor(srv, name="<img src=x onerror=alert(1)>")
            conv = (await h.open_conversation(v, text="help"))["conv"]
            d = await sam.recv("dashboard", timeout=5,
                               where=lambda m: m["today"]["conversations"] == base + 1
                               and any(c["conv"] == conv and c["agent_id"] == "a1"
                                       for c in m["conversations"]))
            loads = {a["id"]: a["load"] for a in d["agents"]}
            self.assertEqual(loads.get("a1"), 1, d["agents"])
            self.assertEqual(d["conversations"][0]["visitor_name"], "<img src=x onerror=alert(1)>")

            await h.resume(asha, conv)
            await asha.send({"type": "note", "conv": conv, "client_id": "n1", "text": "secret note"})
            await asha.recv("ack", where=lambda m: m.get("client_id") == "n1")

            # Another agent can neither read nor write it; the supervisor reads it.
            for frame in ({"type": "resume", "conv": conv},
                          {"type": "visitor_info", "conv": conv},
                          {"type": "message", "conv": conv, "client_id": "b1", "text": "hi"}):
                await bo.send(frame)
                await bo.expect_error("forbidden")
            msgs, _ = await h.resume(sam, conv)
            self.assertEqual([m["text"] for m in msgs], ["help", "secret note"])
            self.assertTrue(msgs[1]["internal"])
            await sam.send({"type": "message", "conv": conv, "client_id": "s1", "text": "x"})
            await sam.expect_error("forbidden")
            await h.say(v, conv, "live line")
            await h.recv_message(sam, conv, text="live line")
            # A visitor's token opens nothing of an agent's.
            await v.send({"type": "visitor_info", "conv": conv})
            await v.expect_error("forbidden")

            await h.say(asha, conv, "on it")
            await asha.send({"type": "close", "conv": conv, "resolution": "solved"})
            await v.recv("conversation", where=lambda m: m.get("state") == "closed")
            await v.send({"type": "rate", "conv": conv, "score": 5})
            await v.recv("rated")
            d = await sam.recv("dashboard", timeout=5,
                               where=lambda m: m["today"]["csat_count"] >= 1
                               and not any(c["conv"] == conv for c in m["conversations"]))
            self.assertGreaterEqual(d["today"]["closed"], 1)
            self.assertGreaterEqual(d["today"]["responded"], 1)
            self.assertEqual(d["today"]["csat_total"], 5)


if __name__ == "__main__":
    h.run_tests(__file__)
