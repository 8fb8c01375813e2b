"""Routing with the real server: auto assignment and the queue, offer mode,
agent drop and its grace period, business hours and offline messages,
transfer, presence, and capacity under concurrent arrivals.
Run: python3 tests/integration/test_routing.py"""

import asyncio
import datetime
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import async_test  # noqa: E402

S = h.TIMEOUT_SCALE
PASSWORD = "routing-pass-1"  # one password for every routing agent: one hash


def ragent(i, name, capacity, departments=()):
    return {"id": "r%d" % i, "name": name, "email": "%s@example.com" % name.lower(),
            "password": PASSWORD, "role": "agent", "capacity": capacity,
            "departments": list(departments)}


def agents_of(n, capacity, departments=()):
    names = ["Ada", "Ben", "Cem", "Dil", "Eli", "Fay"]
    return [ragent(i + 1, names[i], capacity, departments) for i in range(n)]


def args(mode="auto", queue_without_agents="off", *extra):
    # A short shutdown grace: the harness stops the server while the event loop
    # is blocked, so open clients cannot answer its close frames.
    return ["--assign-mode", mode, "--queue-without-agents", queue_without_agents,
            "--shutdown-grace-ms", "300"] + list(extra)


# ---------------------------------------------------------------------------
# Frame bookkeeping: every frame a client got is in ``client.seen``.
# ---------------------------------------------------------------------------

async def drain(c):
    """Move every frame already on the wire into the backlog (and ``seen``)."""
    while c.closed_exc is None:
        try:
            c.backlog.append(await c._read(0.005))
        except asyncio.TimeoutError:
            return
        except h.Closed:
            return


async def until(clients, cond, timeout=h.RECV_TIMEOUT, what="condition"):
    """Read frames from ``clients`` until ``cond()`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        for c in clients:
            await drain(c)
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s\n%s"
                                 % (timeout, what, "\n".join(c._describe() for c in clients)))
        await asyncio.sleep(0.02)


async def quiet(clients, seconds):
    """Collect frames from all clients for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for c in clients:
            await drain(c)
        await asyncio.sleep(0.02)
    for c in clients:
        await drain(c)


def frames(c, type_, **match):
    return [m for m in c.seen if m.get("type") == type_
            and all(m.get(k) == v for k, v in match.items())]


def latest(c, type_, **match):
    got = frames(c, type_, **match)
    return got[-1] if got else None


def actives(c):
    """Conversation ids of the "conversation" active events ``c`` got, in order."""
    return [m["conv"] for m in frames(c, "conversation", state="active")]


def position_of(v, conv):
    p = latest(v, "queue_position", conv=conv)
    return None if p is None else p.get("position")


def queue_convs(c):
    q = latest(c, "queue")
    return None if q is None else [e.get("conv") for e in q.get("waiting", [])]


def state_events(c, conv):
    return [m for m in frames(c, "conversation", conv=conv)]


def dump(x):
    return json.dumps(x)[:2500]


async def start(v, client_id=None, **fields):
    """Visitor start; returns the answer (conversation, unavailable or error)."""
    cid = client_id or h.new_client_id("start")
    await v.send(dict({"type": "start", "client_id": cid}, **fields))
    return await v.recv(("conversation", "unavailable", "error"),
                        where=lambda m: m["type"] == "error" or m.get("client_id") == cid)


async def login_agent(srv, who, label=None):
    return await h.agent(srv, who, label=label or "agent:%s" % who["id"])


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------

class AutoAssignTest(unittest.TestCase):

    @async_test(60)
    async def test_three_agents_ten_visitors_fair_then_queue_moves_on_close(self):
        team = agents_of(3, capacity=2)
        with h.Server(args("auto"), agents=team) as srv:
            ags = [await login_agent(srv, a) for a in team]
            by_name = {a["name"]: c for a, c in zip(team, ags)}
            vs, convs = [], []
            for i in range(10):
                v = await h.visitor(srv, name="V%02d" % i)
                ev = await start(v, text="question %d" % i)
                self.assertEqual(ev["type"], "conversation", ev)
                self.assertEqual(ev.get("state"), "waiting", "start answers waiting first: %s" % dump(ev))
                vs.append(v)
                convs.append(ev["conv"])
            clients = ags + vs
            assigned, waiting = convs[:6], convs[6:]

            def settled():
                return (all(any(m.get("conv") == c for m in frames(v, "conversation", state="active"))
                            for v, c in zip(vs[:6], assigned))
                        and [position_of(v, c) for v, c in zip(vs[6:], waiting)] == [1, 2, 3, 4]
                        and all(queue_convs(a) == waiting for a in ags))
            await until(clients, settled, what="6 assigned, 4 queued at 1..4")
            await quiet(clients, 0.5)  # nothing further may happen

            # 6 assigned evenly: 2 "conversation" active events per agent, 6 distinct conversations
            per_agent = {a["id"]: actives(c) for a, c in zip(team, ags)}
            for aid, got in per_agent.items():
                self.assertEqual(len(got), 2, "agent %s active events: %s" % (aid, per_agent))
            flat = [c for got in per_agent.values() for c in got]
            self.assertEqual(sorted(flat), sorted(assigned), per_agent)
            # each visitor is told who took it, and it is the agent that got the event
            for v, conv in zip(vs[:6], assigned):
                ev = [m for m in frames(v, "conversation", conv=conv, state="active")]
                self.assertEqual(len(ev), 1, dump(v.seen))
                self.assertEqual(ev[0].get("reason"), "assigned", ev)
                holder = by_name.get(ev[0].get("agent_name"))
                self.assertIsNotNone(holder, ev)
                self.assertIn(conv, actives(holder), ev)
            # the first six never waited in a queue they could see moving past 0
            for v in vs[6:]:
                self.assertEqual(actives(v), [], "queued visitor %s was assigned: %s" % (v.label, dump(v.seen)))
            # latest positions: 1..4 in arrival order, with an integer estimate
            for i, (v, conv) in enumerate(zip(vs[6:], waiting)):
                p = latest(v, "queue_position", conv=conv)
                self.assertEqual(p.get("position"), i + 1, p)
                self.assertIsInstance(p.get("estimated_wait_s"), int, p)
                self.assertGreaterEqual(p["estimated_wait_s"], 0, p)
                self.assertEqual([m for m in frames(v, "queue_position") if m.get("conv") != conv], [])
            # the agents' queue: the 4, in order, positions 1..4
            for a in ags:
                q = latest(a, "queue")
                self.assertEqual([(e["conv"], e.get("position")) for e in q["waiting"]],
                                 list(zip(waiting, [1, 2, 3, 4])), dump(q))
                for e, i in zip(q["waiting"], range(6, 10)):
                    self.assertEqual(e.get("visitor_name"), "V%02d" % i, e)
                    self.assertEqual(e.get("department"), "", e)
                    self.assertEqual(e.get("first_message"), "question %d" % i, e)
                    self.assertEqual(e.get("offered_to"), "", e)
                    self.assertIsInstance(e.get("since"), int, e)
            # presence: every agent at load 2 of 2
            for a in ags:
                p = latest(a, "presence")
                self.assertIsNotNone(p, a._describe())
                self.assertEqual((p.get("status"), p.get("load"), p.get("capacity")), ("online", 2, 2), p)

            # closing one active conversation hands the head of the queue over at once
            closer = ags[0]
            closing = actives(closer)[0]
            closing_visitor = vs[convs.index(closing)]
            t0 = time.monotonic()
            await closer.send({"type": "close", "conv": closing})
            ev = await closing_visitor.recv("conversation", where=lambda m: m.get("state") == "closed")
            self.assertEqual(ev.get("reason"), "closed_by_agent", ev)
            head = await vs[6].recv("conversation", timeout=1.0 * S,
                                    where=lambda m: m.get("conv") == waiting[0] and m.get("state") == "active")
            self.assertLess(time.monotonic() - t0, 1.0 * S, "the head was not assigned at once")
            self.assertEqual(head.get("agent_name"), team[0]["name"], head)
            self.assertEqual(head.get("reason"), "assigned", head)
            await closer.recv("conversation", timeout=1.0 * S,
                              where=lambda m: m.get("conv") == waiting[0] and m.get("state") == "active")
            rest = waiting[1:]
            await until(clients, lambda: [position_of(v, c) for v, c in zip(vs[7:], rest)] == [1, 2, 3]
                        and all(queue_convs(a) == rest for a in ags),
                        timeout=2.0 * S, what="positions 1..3 after the head left")
            await quiet(clients, 0.4)
            # nobody else moved: one new assignment in total, to the agent who freed room
            self.assertEqual([len(actives(c)) for c in ags], [3, 2, 2], {a.label: actives(a) for a in ags})
            for v in vs[7:]:
                self.assertEqual(actives(v), [], dump(v.seen))
            self.assertEqual([position_of(v, c) for v, c in zip(vs[7:], rest)], [1, 2, 3])


class OfferModeTest(unittest.TestCase):

    @async_test(60)
    async def test_offer_timeout_accept_decline_and_not_offered(self):
        team = agents_of(2, capacity=2)
        with h.Server(args("offer", "off", "--offer-timeout-ms", "1500"), agents=team) as srv:
            ags = [await login_agent(srv, a) for a in team]
            name_of = {c: a["name"] for a, c in zip(team, ags)}
            va = await h.visitor(srv, name="Offa")
            ev = await start(va, text="anyone?")
            self.assertEqual(ev.get("state"), "waiting", ev)
            conv_a = ev["conv"]

            # exactly one agent is offered it
            def offers(c, conv):
                return frames(c, "offer", conv=conv)
            await until(ags, lambda: sum(len(offers(c, conv_a)) for c in ags) >= 1, what="an offer")
            t_offer = time.monotonic()
            first = next(c for c in ags if offers(c, conv_a))
            second = next(c for c in ags if c is not first)
            off = offers(first, conv_a)[0]
            self.assertEqual(off.get("visitor_name"), "Offa", off)
            self.assertEqual(off.get("department"), "", off)
            self.assertEqual(off.get("first_message"), "anyone?", off)
            self.assertIsInstance(off.get("deadline"), int, off)
            self.assertLess(abs(off["deadline"] - (now_ms() + 1500)), 800, "deadline not ~1.5 s ahead: %s" % off)
            self.assertEqual(offers(second, conv_a), [], "offered to two agents at once")
            # the queue shows who holds it
            await until(ags, lambda: all(
                [(e["conv"], e.get("offered_to")) for e in (latest(c, "queue") or {}).get("waiting", [])]
                == [(conv_a, first.id)] for c in ags), what="queue entry offered_to")

            # ignored: nothing for ~1 s, then offer_ended timeout and the next agent gets it
            await first.expect_none("offer_ended", within=1.0)
            self.assertEqual(offers(second, conv_a), [])
            ended = await first.recv("offer_ended", timeout=2.5 * S, where=lambda m: m.get("conv") == conv_a)
            took = time.monotonic() - t_offer
            self.assertEqual(ended.get("reason"), "timeout", ended)
            self.assertGreater(took, 1.2, "offer ended too early (%.2fs)" % took)
            self.assertLess(took, 1.5 + 1.2 * S, "offer ended too late (%.2fs)" % took)
            off2 = await second.recv("offer", timeout=2.0 * S, where=lambda m: m.get("conv") == conv_a)
            self.assertIsInstance(off2.get("deadline"), int, off2)
            await va.expect_none("conversation", within=0.1)  # still waiting

            # accept: both sides active, the offer ends as accepted
            await second.send({"type": "accept", "conv": conv_a})
            aev = await second.recv("conversation", where=lambda m: m.get("conv") == conv_a)
            self.assertEqual((aev.get("state"), aev.get("reason"), aev.get("agent_name")),
                             ("active", "assigned", name_of[second]), aev)
            vev = await va.recv("conversation", where=lambda m: m.get("conv") == conv_a)
            self.assertEqual((vev.get("state"), vev.get("agent_name")), ("active", name_of[second]), vev)
            # the agent who let it time out cannot accept it now
            await first.send({"type": "accept", "conv": conv_a})
            await first.expect_error("not_offered", conv=conv_a)
            # nor a conversation that was never offered
            await first.send({"type": "accept", "conv": "c_never_offered"})
            await first.expect_error("not_offered")
            await first.send({"type": "decline", "conv": conv_a})
            await first.expect_error("not_offered")
            await quiet([first, second], 0.3)
            self.assertEqual(len(actives(second)), 1, dump(second.seen))
            self.assertEqual(actives(first), [], dump(first.seen))
            # PROTOCOL.md (accept): "the agent's sessions receive offer_ended with reason accepted"
            acc = [m for m in frames(second, "offer_ended", conv=conv_a) if m.get("reason") != "timeout"]
            self.assertEqual([m.get("reason") for m in acc], ["accepted"],
                             "accepting agent's offer_ended frames: %s" % dump(frames(second, "offer_ended")))

    @async_test(60)
    async def test_decline_moves_on_and_is_remembered(self):
        team = agents_of(2, capacity=2)
        with h.Server(args("offer", "off", "--offer-timeout-ms", "1500"), agents=team) as srv:
            ags = [await login_agent(srv, a) for a in team]

            def offers(c, conv):
                return frames(c, "offer", conv=conv)
            # decline: offer_ended declined, offered to the next agent
            vb = await h.visitor(srv, name="Decla")
            ev = await start(vb)
            conv_b = ev["conv"]
            await until(ags, lambda: sum(len(offers(c, conv_b)) for c in ags) >= 1, what="an offer for B")
            p = next(c for c in ags if offers(c, conv_b))
            q = next(c for c in ags if c is not p)
            self.assertEqual(offers(q, conv_b), [], "offered to two agents at once")
            await p.send({"type": "decline", "conv": conv_b})
            d = await p.recv("offer_ended", where=lambda m: m.get("conv") == conv_b)
            self.assertEqual(d.get("reason"), "declined", d)
            await q.recv("offer", timeout=1.0 * S, where=lambda m: m.get("conv") == conv_b)
            # the other declines too: nobody is left; declines are remembered
            await q.send({"type": "decline", "conv": conv_b})
            d2 = await q.recv("offer_ended", where=lambda m: m.get("conv") == conv_b)
            self.assertEqual(d2.get("reason"), "declined", d2)
            await quiet(ags + [vb], 2.0)  # longer than the offer timeout
            self.assertEqual(len(offers(p, conv_b)), 1, "offered again after a decline: %s" % dump(p.seen))
            self.assertEqual(len(offers(q, conv_b)), 1, "offered again after a decline: %s" % dump(q.seen))
            self.assertEqual(actives(vb), [], dump(vb.seen))
            self.assertEqual([(e["conv"], e.get("offered_to")) for e in latest(p, "queue")["waiting"]],
                             [(conv_b, "")])
            await p.send({"type": "accept", "conv": conv_b})
            await p.expect_error("not_offered", conv=conv_b)
            # a visitor cannot accept
            await vb.send({"type": "accept", "conv": conv_b})
            await vb.expect_error("forbidden")


class AgentDropTest(unittest.TestCase):

    @async_test(60)
    async def test_dropped_agent_keeps_conversation_during_grace_then_requeued_once(self):
        team = [ragent(1, "Ada", 1), ragent(2, "Ben", 2)]
        with h.Server(args("auto", "off", "--drop-grace-ms", "2000"), agents=team) as srv:
            a1 = await login_agent(srv, team[0])
            v = await h.visitor(srv, name="Dropped")
            ev = await start(v, text="hi")
            conv = ev["conv"]
            act = await v.recv("conversation", where=lambda m: m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Ada", act)
            await a1.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            a2 = await login_agent(srv, team[1])
            await until([a2], lambda: queue_convs(a2) == [], what="a2's first queue")

            t0 = time.monotonic()
            await a1.drop()
            # within the grace: still Ada's; the visitor sees nothing, the queue does not list it
            await quiet([v, a2], 1.0)
            self.assertEqual(state_events(v, conv)[-1].get("state"), "active")
            self.assertEqual(len(state_events(v, conv)), 2, dump(v.seen))
            for q in frames(a2, "queue"):
                self.assertNotIn(conv, [e.get("conv") for e in q.get("waiting", [])], dump(q))
            self.assertEqual(actives(a2), [])

            # after the grace: requeued (reason requeued), then Ben, who has room, gets it
            rq = await v.recv("conversation", timeout=3.0 * S,
                              where=lambda m: m.get("conv") == conv and m.get("state") == "waiting")
            took = time.monotonic() - t0
            self.assertEqual(rq.get("reason"), "requeued", rq)
            self.assertGreater(took, 1.8, "requeued before the grace ended (%.2fs)" % took)
            self.assertLess(took, 2.0 + 1.5 * S, "requeued long after the grace (%.2fs)" % took)
            act = await v.recv("conversation", timeout=1.0 * S,
                               where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Ben", act)
            await a2.recv("conversation", timeout=1.0 * S,
                          where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            # exactly once
            await quiet([v, a2], 1.5)
            reqs = [m for m in state_events(v, conv) if m.get("reason") == "requeued"]
            self.assertEqual(len(reqs), 1, dump(v.seen))
            self.assertEqual(actives(a2), [conv], dump(a2.seen))
            self.assertEqual(state_events(v, conv)[-1].get("state"), "active", dump(v.seen))
            # Ben can talk to the visitor
            msgs, _ = await h.resume(a2, conv, 0)
            self.assertEqual([m["text"] for m in msgs], ["hi"])
            ack = await h.say(a2, conv, "Ben here")
            await h.recv_message(v, conv, seq=ack["seq"], text="Ben here")

    @async_test(60)
    async def test_requeued_conversation_goes_to_the_front_of_the_queue(self):
        team = [ragent(1, "Ada", 1), ragent(2, "Ben", 1)]
        with h.Server(args("auto", "off", "--drop-grace-ms", "2000"), agents=team) as srv:
            a1 = await login_agent(srv, team[0])
            a2 = await login_agent(srv, team[1])
            await a2.send({"type": "presence", "status": "away"})
            await a2.recv("presence", where=lambda m: m.get("status") == "away")
            v1 = await h.visitor(srv, name="First")
            conv1 = (await start(v1))["conv"]
            await v1.recv("conversation", where=lambda m: m.get("state") == "active")
            v2 = await h.visitor(srv, name="Second")
            conv2 = (await start(v2))["conv"]
            await until([v2, a2], lambda: position_of(v2, conv2) == 1 and queue_convs(a2) == [conv2],
                        what="second visitor queued at 1")

            await a1.drop()
            await quiet([v1, v2, a2], 1.0)
            self.assertEqual(len(state_events(v1, conv1)), 2, dump(v1.seen))
            self.assertEqual(queue_convs(a2), [conv2])
            self.assertEqual(position_of(v2, conv2), 1)

            rq = await v1.recv("conversation", timeout=3.0 * S, where=lambda m: m.get("conv") == conv1
                               and m.get("state") == "waiting")
            self.assertEqual(rq.get("reason"), "requeued", rq)
            await until([v1, v2, a2], lambda: position_of(v1, conv1) == 1 and position_of(v2, conv2) == 2
                        and queue_convs(a2) == [conv1, conv2], timeout=2.0 * S,
                        what="requeued conversation at the front")
            q = latest(a2, "queue")
            self.assertEqual([e.get("position") for e in q["waiting"]], [1, 2], dump(q))

            # Ben back online: takes the front one at once
            await a2.send({"type": "presence", "status": "online"})
            act = await v1.recv("conversation", timeout=1.0 * S, where=lambda m: m.get("conv") == conv1
                                and m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Ben", act)
            await until([v2, a2], lambda: position_of(v2, conv2) == 1 and queue_convs(a2) == [conv2],
                        timeout=2.0 * S, what="second back at 1")
            await quiet([v1, v2], 1.0)
            self.assertEqual(len([m for m in state_events(v1, conv1) if m.get("reason") == "requeued"]), 1)
            self.assertEqual(actives(v2), [])

    @async_test(60)
    async def test_agent_back_within_grace_keeps_the_conversation(self):
        team = [ragent(1, "Ada", 1), ragent(2, "Ben", 2)]
        with h.Server(args("auto", "off", "--drop-grace-ms", "2000"), agents=team) as srv:
            a1 = await login_agent(srv, team[0])
            v = await h.visitor(srv, name="Loyal")
            conv = (await start(v, text="still there?"))["conv"]
            await v.recv("conversation", where=lambda m: m.get("state") == "active")
            a2 = await login_agent(srv, team[1])  # has room: would get it on a requeue
            t0 = time.monotonic()
            await a1.drop()
            await asyncio.sleep(1.0)
            a1b = await login_agent(srv, team[0], label="agent:r1#2")
            listed = [c for c in a1b.welcome.get("conversations", []) if c.get("conv") == conv]
            self.assertEqual(len(listed), 1, "welcome must list the kept conversation: %s" % dump(a1b.welcome))
            self.assertEqual((listed[0].get("state"), listed[0].get("agent_name")), ("active", "Ada"), listed)
            # well past the original grace: no requeue, nobody else got it
            await quiet([v, a2, a1b], max(0.5, 3.2 - (time.monotonic() - t0)))
            self.assertEqual(len(state_events(v, conv)), 2, dump(v.seen))
            self.assertEqual([m for m in frames(v, "conversation") if m.get("reason") == "requeued"], [])
            self.assertEqual(actives(a2), [], dump(a2.seen))
            for q in frames(a2, "queue"):
                self.assertNotIn(conv, [e.get("conv") for e in q.get("waiting", [])], dump(q))
            p = latest(a1b, "presence")
            self.assertIsNotNone(p, a1b._describe())
            self.assertEqual((p.get("status"), p.get("load")), ("online", 1), p)
            # and Ada carries on
            msgs, _ = await h.resume(a1b, conv, 0)
            self.assertEqual([m["text"] for m in msgs], ["still there?"])
            ack = await h.say(a1b, conv, "yes, back")
            await h.recv_message(v, conv, seq=ack["seq"], text="yes, back")


def _hhmm(minute):
    return "24:00" if minute >= 1440 else "%02d:%02d" % divmod(minute, 60)


def _ranges_around(center, half):
    """[center-half, center+half) in minutes of a day, split at midnight."""
    lo, hi = center - half, center + half
    if lo < 0:
        return ["00:00-%s" % _hhmm(hi), "%s-24:00" % _hhmm(1440 + lo)]
    if hi > 1440:
        return ["%s-24:00" % _hhmm(lo), "00:00-%s" % _hhmm(hi - 1440)]
    return ["%s-%s" % (_hhmm(lo), _hhmm(hi))]


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class NoOneThereTest(unittest.TestCase):

    @async_test(60)
    async def test_outside_business_hours_leave_message_and_offline_list(self):
        utc = datetime.datetime.now(datetime.timezone.utc)
        m_utc = utc.hour * 60 + utc.minute
        m_ist = (m_utc + 180) % 1440  # Europe/Istanbul is UTC+3 all year
        hours = {
            # default: closed every day
            "": {"time_zone": "UTC", "days": {d: [] for d in DAYS}},
            # open now in Istanbul
            "billing": {"time_zone": "Europe/Istanbul", "days": {d: _ranges_around(m_ist, 60) for d in DAYS}},
            # open now only if read as UTC: in Istanbul it is 3 h later, so closed
            "support": {"time_zone": "Europe/Istanbul", "days": {d: _ranges_around(m_utc, 60) for d in DAYS}},
        }
        team = [ragent(1, "Ada", 3)]
        srv = h.Server(args("auto", "off"), agents=team)
        path = os.path.join(srv.tmp, "hours.json")
        with open(path, "w") as f:
            json.dump(hours, f)
        srv.args += ["--business-hours", path]
        with srv:
            ag = await login_agent(srv, team[0])
            v = await h.visitor(srv, name="Late")
            ev = await start(v, client_id="st-1", text="hello?")
            self.assertEqual(ev["type"], "unavailable", ev)
            self.assertEqual((ev.get("reason"), ev.get("department"), ev.get("client_id")),
                             ("closed_hours", "", "st-1"), ev)
            await v.expect_none(("conversation", "ack", "message"), within=0.4)
            ev = await start(v, department="support")
            self.assertEqual((ev.get("type"), ev.get("reason"), ev.get("department")),
                             ("unavailable", "closed_hours", "support"), ev)
            self.assertEqual(v.welcome.get("conversations"), [])
            # an open department works (and the visitor is not stuck)
            vb = await h.visitor(srv, name="Billing")
            ev = await start(vb, department="billing")
            self.assertEqual((ev.get("type"), ev.get("department")), ("conversation", "billing"), ev)
            await vb.recv("conversation", where=lambda m: m.get("state") == "active")
            # no conversation was opened for the first visitor
            v_again = await h.visitor(srv, name="Late", token=v.token, label="visitor:Late#2")
            self.assertEqual(v_again.welcome.get("conversations"), [], v_again.welcome)
            await until([ag], lambda: actives(ag) == [ev["conv"]], what="the agent got only the billing chat")

            # leave a message
            await v.send({"type": "leave_message", "client_id": "lm-1", "name": "Late Larry",
                          "email": "larry@example.com", "text": "Please call me back"})
            left = await v.recv(("left_message", "error"))
            self.assertEqual(left["type"], "left_message", left)
            self.assertEqual(left.get("client_id"), "lm-1", left)
            om = left.get("id")
            self.assertTrue(isinstance(om, str) and om, left)

            def item(lst):
                got = [i for i in (lst or {}).get("items", []) if i.get("id") == om]
                return got[0] if got else None
            pushed = await ag.recv("offline_messages", where=lambda m: item(m) is not None)
            it = item(pushed)
            self.assertEqual((it.get("name"), it.get("email"), it.get("text"), it.get("department"),
                              it.get("handled"), it.get("handled_by")),
                             ("Late Larry", "larry@example.com", "Please call me back", "", 0, ""), it)
            self.assertIsInstance(it.get("created"), int, it)
            await ag.send({"type": "offline_list"})
            listed = await ag.recv("offline_messages")
            self.assertEqual(item(listed), it, dump(listed))
            # handled: marked in the pushed list and in offline_list
            ag2 = await login_agent(srv, team[0], label="agent:r1#2")
            ag.backlog = [m for m in ag.backlog if m.get("type") != "offline_messages"]
            await ag.send({"type": "offline_handled", "id": om})
            answer = await ag.recv(("offline_messages", "error"))
            self.assertEqual(answer["type"], "offline_messages", answer)
            a_it = item(answer)
            if a_it is not None:
                self.assertNotEqual(a_it.get("handled"), 0, a_it)
            # every agent's list is pushed again, the message now marked handled
            await until([ag2], lambda: latest(ag2, "offline_messages") is not None
                        and item(latest(ag2, "offline_messages")) is not None
                        and item(latest(ag2, "offline_messages")).get("handled", 0) > 0,
                        what="a push with the message marked handled")
            await ag.send({"type": "offline_list"})
            listed = await ag.recv("offline_messages", where=lambda m: item(m) is not None)
            hi = item(listed)
            self.assertEqual(hi.get("handled_by"), "r1", hi)
            self.assertIsInstance(hi.get("handled"), int, hi)
            self.assertGreater(hi["handled"], 0, hi)
            # the visitor side of it: an agent may not leave messages, a visitor may not list them
            await v.send({"type": "offline_list"})
            await v.expect_error("forbidden")
            await ag.send({"type": "leave_message", "email": "a@b.c", "text": "x"})
            await ag.expect_error("forbidden")

    @async_test(60)
    async def test_leave_message_resend_with_same_client_id_stores_once(self):
        team = [ragent(1, "Ada", 3)]
        with h.Server(args("auto", "off"), agents=team) as srv:
            v = await h.visitor(srv, name="Twice")
            ev = await start(v)
            self.assertEqual((ev.get("type"), ev.get("reason")), ("unavailable", "no_agents"), ev)
            frame = {"type": "leave_message", "client_id": "lm-dup", "email": "twice@example.com",
                     "text": "Call me"}
            ids = []
            for _ in range(2):
                await v.send(frame)
                left = await v.recv(("left_message", "error"))
                self.assertEqual((left["type"], left.get("client_id")), ("left_message", "lm-dup"), left)
                ids.append(left.get("id"))
            # PROTOCOL.md (leave_message): "Resending with the same client_id stores
            # nothing new and answers with the same id."
            ag = await login_agent(srv, team[0])
            await ag.send({"type": "offline_list"})
            listed = await ag.recv("offline_messages")
            mine = [i.get("id") for i in listed["items"] if i.get("email") == "twice@example.com"]
            self.assertEqual((ids[1], len(mine)), (ids[0], 1),
                             "left_message ids %s; stored items %s" % (ids, mine))

    @async_test(60)
    async def test_no_agents_and_queue_full(self):
        team = [ragent(1, "Ada", 3)]
        with h.Server(args("auto", "off"), agents=team) as srv:
            v = await h.visitor(srv, name="Nobody")
            ev = await start(v, client_id="nb-1")
            self.assertEqual((ev.get("type"), ev.get("reason"), ev.get("department"), ev.get("client_id")),
                             ("unavailable", "no_agents", "", "nb-1"), ev)
            await v.expect_none("conversation", within=0.3)
            # an away agent is no one either
            ag = await login_agent(srv, team[0])
            await ag.send({"type": "presence", "status": "away"})
            await ag.recv("presence", where=lambda m: m.get("status") == "away")
            ev = await start(v)
            self.assertEqual((ev.get("type"), ev.get("reason")), ("unavailable", "no_agents"), ev)
            # once online, the same visitor gets a conversation
            await ag.send({"type": "presence", "status": "online"})
            await ag.recv("presence", where=lambda m: m.get("status") == "online")
            ev = await start(v)
            self.assertEqual(ev.get("type"), "conversation", ev)
            await v.recv("conversation", where=lambda m: m.get("state") == "active")
        with h.Server(args("auto", "on", "--max-queue", "2"), agents=team) as srv:
            vs = [await h.visitor(srv, name="Q%d" % i) for i in range(3)]
            self.assertEqual((await start(vs[0])).get("type"), "conversation")
            self.assertEqual((await start(vs[1])).get("type"), "conversation")
            ev = await start(vs[2])
            self.assertEqual((ev.get("type"), ev.get("reason")), ("unavailable", "queue_full"), ev)


class TransferTest(unittest.TestCase):

    @async_test(60)
    async def test_transfer_to_agent_with_note(self):
        team = [ragent(1, "Ada", 2, ["sales"]), ragent(2, "Ben", 2, ["sales"])]
        with h.Server(args("auto", "off"), agents=team) as srv:
            self._srv = srv
            a1 = await login_agent(srv, team[0])
            v = await h.visitor(srv, name="Tina")
            ev = await start(v, text="I was charged twice")
            conv = ev["conv"]
            await v.recv("conversation", where=lambda m: m.get("state") == "active")
            await a1.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            await h.resume(a1, conv, 0)
            hello = await h.say(a1, conv, "Let me look into it")
            await h.recv_message(v, conv, seq=hello["seq"])
            a2 = await login_agent(srv, team[1])

            # errors first: unknown agent, and a visitor cannot transfer
            await a1.send({"type": "transfer", "conv": conv, "to_agent": "nobody"})
            await a1.expect_error("unavailable", conv=conv)
            await v.send({"type": "transfer", "conv": conv, "to_agent": "r2"})
            await v.expect_error("forbidden")

            note = "VIP customer, refund approved"
            await a1.send({"type": "transfer", "conv": conv, "to_agent": "r2", "note": note})
            bev = await a2.recv("conversation", where=lambda m: m.get("conv") == conv)
            self.assertEqual((bev.get("state"), bev.get("reason"), bev.get("agent_name")),
                             ("active", "transferred", "Ben"), bev)
            vev = await v.recv("conversation",
                               where=lambda m: m.get("conv") == conv and m.get("reason") == "transferred")
            self.assertEqual((vev.get("state"), vev.get("agent_name")), ("active", "Ben"), vev)
            aev = await a1.recv("conversation",
                                where=lambda m: m.get("conv") == conv and m.get("reason") == "transferred")
            self.assertEqual(aev.get("agent_name"), "Ben", aev)
            # Ben sees the transcript, then the note as an internal message
            msgs, _ = await h.resume(a2, conv, 0)
            self.assertEqual([(m["from"], m["text"]) for m in msgs[:2]],
                             [("visitor", "I was charged twice"), ("agent", "Let me look into it")], dump(msgs))
            self.assertEqual(len(msgs), 3, dump(msgs))
            self.assertIs(msgs[2].get("internal"), True, msgs[2])
            self.assertIn(note, msgs[2].get("text", ""), msgs[2])
            for m in msgs[:2]:
                self.assertNotIn("internal", m, m)
            # Ada can no longer write to it
            await a1.send({"type": "message", "conv": conv, "client_id": "ada-late", "text": "still me"})
            await a1.expect_error("forbidden", conv=conv)
            # Ben can; the visitor gets it
            ack = await h.say(a2, conv, "Ben here, refund is on its way")
            await h.recv_message(v, conv, seq=ack["seq"])

            await self._visitor_never_sees_notes(v, conv, [note],
                                                 ["I was charged twice", "Let me look into it",
                                                  "Ben here, refund is on its way"])

    async def _visitor_never_sees_notes(self, v, conv, notes, texts):
        """Not live, not on resume after 0, not on a new session's resume."""
        await quiet([v], 0.3)
        for m in frames(v, "message"):
            self.assertNotIn("internal", m, m)
            for n in notes:
                self.assertNotIn(n, m.get("text", ""), m)
        vmsgs, _ = await h.resume(v, conv, 0)
        self.assertEqual([m["text"] for m in vmsgs], texts, dump(vmsgs))
        v2 = await h.visitor(self._srv, name="Tina", token=v.token, label=v.label + "#2")
        vmsgs2, _ = await h.resume(v2, conv, 0)
        self.assertEqual([m["seq"] for m in vmsgs2], [m["seq"] for m in vmsgs])
        await v2.close()

    @async_test(60)
    async def test_transfer_to_department(self):
        team = [ragent(1, "Ada", 2, ["sales"]), ragent(2, "Ben", 2, ["sales"]),
                ragent(3, "Cem", 2, ["billing"])]
        with h.Server(args("auto", "off"), agents=team) as srv:
            self._srv = srv
            a1 = await login_agent(srv, team[0])
            v = await h.visitor(srv, name="Tina")
            ev = await start(v, text="I was charged twice")
            conv = ev["conv"]
            await v.recv("conversation", where=lambda m: m.get("state") == "active")
            await a1.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            await h.resume(a1, conv, 0)
            hello = await h.say(a1, conv, "Let me look into it")
            await h.recv_message(v, conv, seq=hello["seq"])
            a2 = await login_agent(srv, team[1])  # sales: serves the sales queue, not billing
            a3 = await login_agent(srv, team[2])
            note2 = "billing: please confirm the refund"
            await a1.send({"type": "transfer", "conv": conv, "to_department": "billing", "note": note2})
            w = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "waiting")
            self.assertEqual((w.get("reason"), w.get("department")), ("transferred", "billing"), w)
            act = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Cem", act)
            await a3.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
            aw = await a1.recv("conversation", where=lambda m: m.get("conv") == conv
                               and m.get("reason") == "transferred" and m.get("state") == "waiting")
            self.assertEqual(aw.get("department"), "billing", aw)
            msgs, _ = await h.resume(a3, conv, 0)
            self.assertEqual([(m["from"], m["text"]) for m in msgs[:2]],
                             [("visitor", "I was charged twice"), ("agent", "Let me look into it")], dump(msgs))
            internal = [m["text"] for m in msgs if m.get("internal") is True]
            self.assertEqual(len(internal), 1, dump(msgs))
            self.assertIn(note2, internal[0])
            await quiet([a1, a2], 0.3)
            self.assertEqual(actives(a1), [conv], "Ada got it back: %s" % dump(a1.seen))
            self.assertEqual(actives(a2), [], "a sales agent got a billing chat: %s" % dump(a2.seen))
            await a1.send({"type": "message", "conv": conv, "client_id": "ada-late", "text": "still me"})
            await a1.expect_error("forbidden", conv=conv)
            ack = await h.say(a3, conv, "Cem from billing")
            await h.recv_message(v, conv, seq=ack["seq"])
            await self._visitor_never_sees_notes(v, conv, [note2],
                                                 ["I was charged twice", "Let me look into it", "Cem from billing"])
            # an unknown department is refused and nothing moves
            await a3.send({"type": "transfer", "conv": conv, "to_department": "nosuchdept", "note": "x"})
            await a3.expect_error("unavailable", conv=conv)
            await quiet([v], 0.3)
            self.assertEqual(state_events(v, conv)[-1].get("state"), "active", dump(v.seen))


class PresenceTest(unittest.TestCase):

    @async_test(60)
    async def test_away_agent_gets_nothing_and_back_online_gets_at_once(self):
        team = [ragent(1, "Ada", 2), ragent(2, "Ben", 2)]
        with h.Server(args("auto", "on"), agents=team) as srv:
            a1 = await login_agent(srv, team[0])
            p = await a1.recv("presence")
            self.assertEqual((p.get("status"), p.get("load"), p.get("capacity")), ("online", 0, 2), p)
            a1b = await h.agent(srv, team[0], token=a1.login_token, label="agent:r1#2")
            await a1.send({"type": "presence", "status": "away"})
            for s in (a1, a1b):
                p = await s.recv("presence", where=lambda m: m.get("status") == "away")
                self.assertEqual((p.get("load"), p.get("capacity")), (0, 2), p)

            v1 = await h.visitor(srv, name="P1")
            conv1 = (await start(v1))["conv"]
            await until([v1], lambda: position_of(v1, conv1) == 1, what="v1 queued")
            await quiet([v1, a1, a1b], 1.0)
            self.assertEqual(actives(v1), [], "assigned to an away agent: %s" % dump(v1.seen))
            self.assertEqual(actives(a1), [])

            # another agent comes online: gets it at once
            a2 = await login_agent(srv, team[1])
            act = await v1.recv("conversation", timeout=1.0 * S, where=lambda m: m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Ben", act)
            v2 = await h.visitor(srv, name="P2")
            conv2 = (await start(v2))["conv"]
            act = await v2.recv("conversation", timeout=1.0 * S,
                                where=lambda m: m.get("conv") == conv2 and m.get("state") == "active")
            self.assertEqual(act.get("agent_name"), "Ben", act)
            await until([a2], lambda: (latest(a2, "presence") or {}).get("load") == 2, what="Ben at load 2")
            self.assertEqual(latest(a2, "presence").get("capacity"), 2)

            # Ben is full, Ada away: the next one waits
            v3 = await h.visitor(srv, name="P3")
            conv3 = (await start(v3))["conv"]
            await until([v3], lambda: position_of(v3, conv3) == 1, what="v3 queued")
            await quiet([v3, a1], 0.6)
            self.assertEqual(actives(v3), [])
            # Ada back online: assigned at once
            t0 = time.monotonic()
            await a1b.send({"type": "presence", "status": "online"})
            act = await v3.recv("conversation", timeout=1.0 * S, where=lambda m: m.get("state") == "active")
            self.assertLess(time.monotonic() - t0, 1.0 * S)
            self.assertEqual(act.get("agent_name"), "Ada", act)
            for s in (a1, a1b):
                await s.recv("conversation", where=lambda m: m.get("conv") == conv3 and m.get("state") == "active")
                await until([s], lambda s=s: (latest(s, "presence") or {}).get("load") == 1,
                            what="Ada's presence at load 1")
                p = latest(s, "presence")
                self.assertEqual((p.get("status"), p.get("capacity")), ("online", 2), p)
                self.assertIn("online", [m.get("status") for m in frames(s, "presence")])

            # offline keeps what it holds, takes nothing new
            await a1.send({"type": "presence", "status": "offline"})
            for s in (a1, a1b):
                p = await s.recv("presence", where=lambda m: m.get("status") == "offline")
                self.assertEqual(p.get("load"), 1, p)
            v4 = await h.visitor(srv, name="P4")
            conv4 = (await start(v4))["conv"]
            await until([v4], lambda: position_of(v4, conv4) == 1, what="v4 queued")
            await quiet([v3, v4, a1], 0.6)
            self.assertEqual(actives(v4), [])
            self.assertEqual(len(state_events(v3, conv3)), 2, dump(v3.seen))
            ack = await h.say(v3, conv3, "still with Ada?")
            self.assertIsInstance(ack["seq"], int)
            # a visitor may not set presence
            await v4.send({"type": "presence", "status": "online"})
            await v4.expect_error("forbidden")


class CapacityConcurrencyTest(unittest.TestCase):

    async def _round(self, rnd):
        team = agents_of(4, capacity=3)
        with h.Server(args("auto", "on"), agents=team, name="cap%d" % rnd) as srv:
            async def one_visitor(i):
                v = await h.visitor(srv, name="C%02d" % i)
                await v.send({"type": "start", "client_id": "cs-%d" % i, "text": "hi %d" % i})
                return v
            tasks = [login_agent(srv, a) for a in team] + [one_visitor(i) for i in range(20)]
            done = await asyncio.gather(*tasks)
            ags, vs = done[:4], done[4:]
            clients = ags + vs

            def conv_of(v):
                ev = next((m for m in v.seen if m.get("type") == "conversation"), None)
                return ev and ev.get("conv")

            def assigned_count():
                return sum(1 for v in vs if actives(v))

            def queued_ok():
                pos = sorted(position_of(v, conv_of(v)) or 0 for v in vs if not actives(v))
                return pos == list(range(1, 9))
            await until(clients, lambda: all(conv_of(v) for v in vs) and assigned_count() == 12 and queued_ok()
                        and all(len(queue_convs(a) or []) == 8 for a in ags),
                        timeout=10.0 * S, what="12 assigned and 8 queued")
            await quiet(clients, 0.6)

            # per agent: never more than 3 active at once
            holder = {}
            for a, c in zip(team, ags):
                held, peak = set(), 0
                for m in c.seen:
                    if m.get("type") == "conversation" and m.get("state") == "active":
                        held.add(m["conv"])
                    elif m.get("type") == "conversation" and m.get("state") in ("closed", "waiting"):
                        held.discard(m["conv"])
                    elif m.get("type") == "presence":
                        self.assertLessEqual(m.get("load"), 3, m)
                        self.assertEqual(m.get("capacity"), 3, m)
                    peak = max(peak, len(held))
                self.assertLessEqual(peak, 3, "%s held %d at once" % (a["id"], peak))
                self.assertEqual(len(held), 3, "%s: %s" % (a["id"], sorted(held)))
                for conv in held:
                    self.assertNotIn(conv, holder, "%s assigned to %s and %s" % (conv, holder.get(conv), a["id"]))
                    holder[conv] = a["id"]
            self.assertEqual(len(holder), 12)
            names = {a["id"]: a["name"] for a in team}
            actives_v = [v for v in vs if actives(v)]
            self.assertEqual(len(actives_v), 12)
            for v in actives_v:
                conv = conv_of(v)
                self.assertEqual(actives(v), [conv], dump(v.seen))
                ev = latest(v, "conversation", conv=conv, state="active")
                self.assertEqual(ev.get("agent_name"), names[holder[conv]], ev)
            waiting = [conv_of(v) for v in vs if not actives(v)]
            self.assertEqual(len(waiting), 8)
            self.assertEqual(set(waiting) & set(holder), set())
            for a in ags:
                q = latest(a, "queue")
                self.assertEqual(sorted(e["conv"] for e in q["waiting"]), sorted(waiting), dump(q))
                self.assertEqual([e.get("position") for e in q["waiting"]], list(range(1, 9)), dump(q))
                # the agents' order and the visitors' positions agree
                for e in q["waiting"]:
                    v = next(v for v in vs if conv_of(v) == e["conv"])
                    self.assertEqual(position_of(v, e["conv"]), e["position"], (e, dump(v.seen)))
            for a in ags:
                await a.close()
            for v in vs:
                await v.close()

    @async_test(60)
    async def test_twenty_visitors_four_agents_concurrently(self):
        for rnd in range(2):
            await self._round(rnd)



class PriorityTest(unittest.TestCase):

    @async_test(30)
    async def test_department_priority_is_served_first(self):
        team = agents_of(1, 2)
        with h.Server(args("manual", "on", "--department-priority", "vip=5"), agents=team) as srv:
            plain = await h.visitor(srv, name="Plain")
            first = await start(plain)
            vip = await h.visitor(srv, name="Vip")
            second = await start(vip, department="vip")
            self.assertEqual(second["department"], "vip", second)
            ag = await login_agent(srv, team[0])
            await until([ag], lambda: queue_convs(ag) == [second["conv"], first["conv"]],
                        what="the vip conversation ahead in the queue")
            await ag.send({"type": "take"})
            got = await ag.recv("conversation", where=lambda m: m.get("state") == "active")
            self.assertEqual(got["conv"], second["conv"], got)
            for c in (plain, vip, ag):
                await c.close()


if __name__ == "__main__":
    h.run_tests(__file__)
