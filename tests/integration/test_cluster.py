"""Several nodes on one Redis (--redis, --node-id): a real redis-server
started here on a free loopback port and three real server processes.
Cross-node chat; the router node killed (a new router within 5 s, queued
conversations assigned); a node with live conversations killed (its clients
resume on another node, nothing acknowledged lost or doubled); Redis
restarted (an error, never a false ack, while it is down; service back
within 5 s; nothing acknowledged lost); many visitors and agents at once
(nobody over capacity, no conversation assigned twice).
Run: python3 tests/integration/test_cluster.py"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import async_test  # noqa: E402

S = h.TIMEOUT_SCALE
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """redis-server with an append-only file synced on every write: a
    restart loses nothing it acknowledged."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sb-it-redis-")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis flushes and exits
            self.proc.wait(timeout=10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def healthz(srv):
    status, _, body = h.http_get(srv.port, "/healthz", timeout=2.0)
    return json.loads(body) if status == 200 else {}


class Cluster:
    def __init__(self, n=3, args=(), agents=None):
        self.redis = Redis().start()
        self.nodes = []
        try:
            for i in range(n):
                srv = h.Server(["--redis", "127.0.0.1:%d" % self.redis.port,
                                "--node-id", "n%d" % i, "--lease-ms", "1500", "--renew-ms", "300",
                                "--node-ttl-ms", "1500", "--shutdown-grace-ms", "300"]
                               + list(args), agents=agents, name="node%d" % i)
                self.nodes.append(srv)
                srv.start()
        except BaseException:
            self.close()  # no redis-server or node left behind
            raise

    def close(self):
        failure = None
        for n in self.nodes:  # every node stopped, even if one complains
            try:
                n.__exit__(None, None, None)
            except AssertionError as e:
                failure = failure or e
        self.redis.close()
        if failure:
            raise failure

    async def router(self, timeout=5.0, among=None):
        """The node that routes, waiting up to ``timeout`` for one."""
        deadline = time.monotonic() + timeout * S
        while time.monotonic() < deadline:
            for n in among or self.nodes:
                if n.alive():
                    try:
                        if healthz(n).get("routes"):
                            return n
                    except OSError:
                        pass
            await asyncio.sleep(0.05)
        raise AssertionError("no node routes within %.1fs" % timeout)


async def reconnect_visitor(srv, token, label):
    c = await h.Client.connect(srv, label=label)
    await h.hello(c, "visitor", token=token)
    c.token = token
    return c


async def retry(fn, timeout=8.0):
    """Calls ``fn`` until it does not raise (a cluster settling down)."""
    deadline = time.monotonic() + timeout * S
    while True:
        try:
            return await fn()
        except (AssertionError, h.Closed, OSError, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.cluster = None

    def tearDown(self):
        if self.cluster:
            self.cluster.close()

    @async_test(timeout=90)
    async def test_visitor_on_one_node_and_agent_on_another_chat_both_ways(self):
        self.cluster = c = Cluster(3)
        await c.router()
        a, b = c.nodes[0], c.nodes[1]
        v = await h.visitor(a, name="Vera")
        ev = await h.open_conversation(v, text="hello from node 0")
        conv = ev["conv"]
        self.assertEqual(ev["_ack"]["seq"], 1)
        ag = await h.agent(b, h.ASHA)
        await h.take(ag, expect_conv=conv, v=v)
        msgs, _ = await h.resume(ag, conv)
        self.assertEqual([m["text"] for m in msgs], ["hello from node 0"])
        ack = await h.say(ag, conv, "hello from node 1")
        self.assertEqual(ack["seq"], 2)
        await h.recv_message(v, conv, seq=2, text="hello from node 1")
        ack = await h.say(v, conv, "and back")
        self.assertEqual(ack["seq"], 3)
        await h.recv_message(ag, conv, seq=3, text="and back")
        # Typing crosses nodes too, not echoed to its sender.
        await v.send({"type": "typing", "conv": conv, "on": True})
        t = await ag.recv("typing")
        self.assertEqual((t["conv"], t["from"]), (conv, "visitor"))

    @async_test(timeout=120)
    async def test_the_router_killed_another_takes_over_and_assigns_the_queue(self):
        self.cluster = c = Cluster(3, ["--assign-mode", "auto", "--queue-without-agents", "on"])
        router = await c.router()
        others = [n for n in c.nodes if n is not router]
        v = await h.visitor(others[0], name="Vera")
        ev = await h.open_conversation(v, text="anyone?")
        conv = ev["conv"]
        self.assertEqual(ev["state"], "waiting")
        router.kill()
        t0 = time.monotonic()
        new = await c.router(among=others)
        took = time.monotonic() - t0
        self.assertLess(took, 5.0 * S, "a new router after %.1fs" % took)
        # The visitor's node closed it (1012) or will: it comes back anywhere.
        ag = await retry(lambda: h.agent(others[1], h.ASHA))
        # Assigned at sign-in (then listed in welcome) or just after.
        mine = [s for s in ag.welcome["conversations"] if s["conv"] == conv]
        if not mine:
            mine = [await ag.recv("conversation", timeout=5,
                                  where=lambda m: m.get("conv") == conv
                                  and m.get("state") == "active")]
        self.assertEqual((mine[0]["state"], mine[0]["agent_id"]), ("active", "a1"))
        v2 = await retry(lambda: reconnect_visitor(others[0], v.token, "visitor-again"))
        msgs, _ = await h.resume(v2, conv)
        self.assertEqual([m["text"] for m in msgs], ["anyone?"])
        self.assertTrue(new.alive())

    @async_test(timeout=120)
    async def test_a_node_killed_its_clients_resume_elsewhere_nothing_lost_or_doubled(self):
        self.cluster = c = Cluster(3)
        router = await c.router()
        doomed = next(n for n in c.nodes if n is not router)
        other = next(n for n in c.nodes if n is not router and n is not doomed)
        v = await h.visitor(doomed, name="Vera")
        conv = (await h.open_conversation(v, text="m0"))["conv"]
        ag = await h.agent(other, h.ASHA)
        await h.take(ag, expect_conv=conv, v=v)
        await h.resume(ag, conv)
        acked = ["m0"]
        for i in range(1, 6):
            await h.say(v, conv, "m%d" % i, client_id="v-%d" % i)
            acked.append("m%d" % i)
        doomed.kill()
        # The visitor resends what it is unsure of under the same client id
        # and resumes on a surviving node.
        v2 = await retry(lambda: reconnect_visitor(other, v.token, "visitor-moved"))
        await h.say(v2, conv, "m5", client_id="v-5")   # a resend: duplicate
        await h.say(v2, conv, "m6", client_id="v-6")
        acked.append("m6")
        msgs, _ = await h.resume(v2, conv)
        texts = [m["text"] for m in msgs]
        self.assertEqual(texts, acked)
        seqs = [m["seq"] for m in msgs]
        self.assertEqual(seqs, sorted(set(seqs)))
        # The agent (on a node that lived) sees the same, once each.
        ag2 = await retry(lambda: h.agent(other, h.ASHA))
        msgs, _ = await h.resume(ag2, conv)
        self.assertEqual([m["text"] for m in msgs], acked)

    @async_test(timeout=150)
    async def test_redis_restarted_errors_not_false_acks_then_service_resumes(self):
        self.cluster = c = Cluster(3)
        await c.router()
        a, b = c.nodes[0], c.nodes[1]
        v = await h.visitor(a, name="Vera")
        conv = (await h.open_conversation(v, text="before"))["conv"]
        ag = await h.agent(b, h.ASHA)
        await h.take(ag, expect_conv=conv, v=v)
        await h.say(v, conv, "acked before", client_id="v-1")
        c.redis.stop()
        # While Redis is down: an error or a closed connection, never an ack.
        got = None
        try:
            await v.send({"type": "message", "conv": conv, "client_id": "v-2", "text": "during"})
            got = await v.recv(("ack", "error"), timeout=5)
        except (h.Closed, asyncio.TimeoutError):
            pass
        self.assertFalse(got and got["type"] == "ack",
                         "acknowledged while Redis was down: %s" % got)
        c.redis.start()
        t0 = time.monotonic()
        await c.router(timeout=6.0)
        self.assertLess(time.monotonic() - t0, 5.0 * S + 1.0)

        # While the cluster settles a node may close once more (1012): the
        # client reconnects, resends under the same client id and resumes.
        async def resend_and_resume():
            v2 = await reconnect_visitor(a, v.token, "visitor-after")
            await h.say(v2, conv, "during", client_id="v-2")
            msgs, _ = await h.resume(v2, conv)
            return msgs
        msgs = await retry(resend_and_resume, timeout=10)
        self.assertEqual([m["text"] for m in msgs], ["before", "acked before", "during"])

    @async_test(timeout=240)
    async def test_many_visitors_and_agents_nobody_over_capacity_nothing_assigned_twice(self):
        cap = 3
        agents = [{"id": "g%d" % i, "name": "Agent%d" % i, "email": "g%d@example.com" % i,
                   "password": "pass-%d" % i, "role": "agent", "capacity": cap,
                   "departments": []} for i in range(20)]
        self.cluster = c = Cluster(3, ["--assign-mode", "auto", "--queue-without-agents", "on",
                                       "--rate-per-s", "1000", "--rate-burst", "1000",
                                       "--max-queue", "1000",
                                       # a slow machine must not move the
                                       # router mid-test (that is tested above)
                                       "--lease-ms", "8000", "--renew-ms", "500"],
                                   agents=agents)
        await c.router()
        ags = []
        for i, who in enumerate(agents):
            ags.append(await h.agent(c.nodes[i % 3], who))

        async def one(i):
            vv = await h.visitor(c.nodes[(i + 1) % 3], name="V%d" % i)
            await h.open_conversation(vv, text="hi %d" % i)
            return vv
        visitors = await asyncio.gather(*(one(i) for i in range(200)))
        self.assertEqual(len(visitors), 200)
        # Read what each agent is given until every seat is taken and the
        # rest wait (bounded): assignments come as agents' frames.
        held = {}
        deadline = time.monotonic() + 60 * S
        while True:
            for ag in ags:
                while True:
                    try:
                        m = await ag.recv("conversation", timeout=0.05,
                                          where=lambda m: m.get("reason") == "assigned")
                    except AssertionError:  # nothing more for now
                        break
                    held.setdefault(m["conv"], []).append(ag.id)
            settled = sum(len(w) for w in held.values()) >= 20 * cap
            if settled and healthz(await c.router())["waiting"] == 200 - 20 * cap:
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        per_agent = {}
        for conv, who in held.items():
            self.assertEqual(len(who), 1, "%s assigned to %s" % (conv, who))
            per_agent[who[0]] = per_agent.get(who[0], 0) + 1
        self.assertEqual(len(held), 20 * cap)  # every seat taken, nobody twice
        self.assertTrue(all(n <= cap for n in per_agent.values()), per_agent)
        self.assertEqual(healthz(await c.router())["waiting"], 200 - 20 * cap)


if __name__ == "__main__":
    h.run_tests(__file__)
