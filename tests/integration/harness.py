"""Integration-test harness for the Switchboard server.

Stdlib + Debian's python3-websockets (10.x, asyncio API) only.

* ``Server``: a context manager that runs the real ``switchboard`` binary on a
  free loopback port with a temporary data dir, a tiny fixture web dir and an
  agents file (hashes made with ``switchboard hash-password``). It can be
  SIGTERMed, SIGKILLed and restarted on the same data dir. Its stderr/stdout go
  to files that are printed when a test fails inside the ``with`` block.
* ``Client``: a thin async wrapper around a websockets connection with
  ``send`` / ``recv(types, timeout, where)`` / ``expect_none`` /
  ``expect_error`` / ``expect_close``. Frames that do not match a ``recv``
  filter are kept in a backlog (in arrival order) for later ``recv`` calls.
* helpers: ``login``, ``visitor``, ``agent``, ``open_conversation``,
  ``take``, ``resume``, ``say``, ``run_tests``.

Every wait is bounded; a test never hangs (there is also a process watchdog
in ``run_tests``).

Environment: SB_BINARY (server binary; default <repo>/build/switchboard),
SB_SOURCE_DIR (repo root), SB_KEEP_TMP=1 keeps temp dirs, SB_VERBOSE=1
prints every frame.
"""

import asyncio
import faulthandler
import functools
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import websockets
import websockets.exceptions
import websockets.frames

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("SB_BINARY") or os.path.join(SOURCE_DIR, "build", "switchboard")
VERBOSE = os.environ.get("SB_VERBOSE") == "1"

# SB_TIMEOUT_SCALE stretches the waits for slow builds (e.g. sanitizers).
TIMEOUT_SCALE = float(os.environ.get("SB_TIMEOUT_SCALE") or 1)
START_TIMEOUT = 10.0 * TIMEOUT_SCALE   # server start: listening line + /healthz
RECV_TIMEOUT = 5.0 * TIMEOUT_SCALE     # default wait for one expected frame
CLOSE_TIMEOUT = 5.0 * TIMEOUT_SCALE    # default wait for a close
QUIET_WINDOW = 0.6     # how long "nothing arrives" is watched

# The agents every Server gets unless told otherwise.
AGENTS = [
    {"id": "a1", "name": "Asha", "email": "asha@example.com", "password": "asha-pass-1",
     "role": "agent", "capacity": 20, "departments": []},
    {"id": "a2", "name": "Bo", "email": "bo@example.com", "password": "bo-pass-2",
     "role": "agent", "capacity": 20, "departments": []},
    {"id": "s1", "name": "Sam", "email": "sam@example.com", "password": "sam-pass-3",
     "role": "supervisor", "capacity": 20, "departments": []},
]
ASHA = AGENTS[0]
BO = AGENTS[1]
SAM = AGENTS[2]

# Fixture web dir content (also used by the HTTP tests to compare bodies).
WEB_FILES = {
    "index.html": b"<!doctype html><html><head><title>fixture</title></head><body>fixture-index</body></html>\n",
    "a.js": b"// fixture-js\nconsole.log('fixture');\n",
    "a.css": b"/* fixture-css */ body { color: #123456; }\n",
    "sub/b.js": b"// fixture-sub-js\n",
}
# Files placed OUTSIDE the web dir (in its parent); no request may ever see them.
SECRET_MARKER = "SB-SECRET-7f3a9c-must-never-be-served"
OUTSIDE_FILES = {
    "secret.txt": SECRET_MARKER + "\n",
    "CMakeLists.txt": "# " + SECRET_MARKER + "\ncmake_minimum_required(VERSION 3.0)\n",
}

_hash_cache = {}


def log(*args):
    if VERBOSE:
        print("[harness]", *args, file=sys.stderr, flush=True)


def hash_password(password):
    """Argon2id hash made by the server binary itself (cached per process)."""
    if password not in _hash_cache:
        p = subprocess.run([BINARY, "hash-password"], input=(password + "\n").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        out = p.stdout.decode().strip()
        if p.returncode != 0 or not out.startswith("$argon2id$"):
            raise RuntimeError("hash-password failed: rc=%s stdout=%r stderr=%r"
                               % (p.returncode, out, p.stderr.decode(errors="replace")))
        _hash_cache[password] = out.splitlines()[-1].strip()
    return _hash_cache[password]


# ---------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------

class Server:
    """Runs one switchboard process. Use as ``with Server(...) as srv:``."""

    _ids = itertools.count(1)

    def __init__(self, args=(), agents=None, name=None):
        self.args = list(args)
        self.agents = AGENTS if agents is None else agents
        self.name = name or "sb%d" % next(self._ids)
        self.tmp = tempfile.mkdtemp(prefix="sb-it-%s-" % self.name)
        self.data_dir = os.path.join(self.tmp, "data")
        self.web_dir = os.path.join(self.tmp, "web")
        self.agents_file = os.path.join(self.tmp, "agents.json")
        os.makedirs(self.data_dir)
        for rel, content in WEB_FILES.items():
            path = os.path.join(self.web_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        for rel, content in OUTSIDE_FILES.items():
            with open(os.path.join(self.tmp, rel), "w") as f:
                f.write(content)
        doc = {"agents": [
            {k: v for k, v in a.items() if k != "password"} | {"password_hash": hash_password(a["password"])}
            for a in self.agents]}
        with open(self.agents_file, "w") as f:
            json.dump(doc, f, indent=1)
        self.proc = None
        self.port = None
        self.starts = 0
        self.expected_exit = False
        self._out = None
        self._err = None

    # -- lifecycle ----------------------------------------------------------
    def command(self):
        # Tests assign by hand ("take") and queue without agents online unless
        # they choose otherwise.
        mode = [] if "--assign-mode" in self.args else ["--assign-mode", "manual"]
        if "--queue-without-agents" not in self.args:
            mode += ["--queue-without-agents", "on"]
        if "--bot" not in self.args:
            mode += ["--bot", "off"]  # conversations go straight to the router
        return [BINARY, "--port", "0", "--bind", "127.0.0.1", "--data", self.data_dir,
                "--web", self.web_dir, "--agents", self.agents_file] + mode + self.args

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        self.expected_exit = False
        self.out_path = os.path.join(self.tmp, "stdout.%d.log" % self.starts)
        self.err_path = os.path.join(self.tmp, "stderr.%d.log" % self.starts)
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        log("start", " ".join(self.command()))
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, cwd=SOURCE_DIR)
        deadline = time.monotonic() + START_TIMEOUT
        pat = re.compile(rb"switchboard listening on http://127\.0\.0\.1:(\d+)")
        self.port = None
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                m = pat.search(f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            rc = self.proc.poll()
            self._force_stop()
            raise AssertionError("server did not print its listening line within %.0fs (rc=%s)\n%s"
                                 % (START_TIMEOUT, rc, self.logs()))
        while time.monotonic() < deadline:
            try:
                status, _, _ = http_get(self.port, "/healthz", timeout=1.0)
                if status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        rc = self.proc.poll()
        self._force_stop()
        raise AssertionError("server never answered /healthz 200 (rc=%s)\n%s" % (rc, self.logs()))

    def restart(self):
        """Start again on the same data dir (after stop/kill)."""
        assert self.proc.poll() is not None, "stop or kill the server before restart"
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, what=""):
        if not self.alive():
            raise AssertionError("server died%s: rc=%s\n%s"
                                 % (" " + what if what else "", self.proc.returncode, self.logs()))

    def signal(self, sig):
        self.expected_exit = True
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL and reap (a crash)."""
        self.expected_exit = True
        self.proc.kill()
        self.proc.wait(timeout=10)
        return self.proc.returncode

    def terminate(self, timeout=10.0):
        """SIGTERM and wait (blocking); returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("server did not exit within %.0fs of SIGTERM\n%s" % (timeout, self.logs()))

    async def wait_exit(self, timeout=10.0):
        """Wait for the process to exit without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return rc
            await asyncio.sleep(0.05)
        return None

    @property
    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    def _force_stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.expected_exit = True
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self._out, self._err):
            if f is not None and not f.closed:
                f.close()

    # -- urls / logs ----------------------------------------------------------
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def logs(self, limit=12000):
        parts = []
        for i in range(1, self.starts + 1):
            for kind in ("stdout", "stderr"):
                path = os.path.join(self.tmp, "%s.%d.log" % (kind, i))
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                text = data.decode(errors="replace")
                if len(text) > limit:
                    text = "...[%d bytes cut]...\n" % (len(text) - limit) + text[-limit:]
                parts.append("----- server %s (start %d, %s) -----\n%s" % (self.name, i, kind, text))
        return "\n".join(parts)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self._cleanup_tmp(keep=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        crashed = (self.proc is not None and self.proc.poll() is not None
                   and not self.expected_exit)
        crash_rc = self.proc.poll() if crashed else None
        self._force_stop()
        failed = exc_type is not None or crashed
        if failed:
            print("\n===== server logs (%s) =====\n%s\n===== end of server logs ====="
                  % (self.name, self.logs()), file=sys.stderr, flush=True)
        self._cleanup_tmp(keep=failed)
        if crashed and exc_type is None:
            raise AssertionError("server %s exited on its own during the test (rc=%s)" % (self.name, crash_rc))
        return False

    def _cleanup_tmp(self, keep):
        if os.environ.get("SB_KEEP_TMP") == "1":
            print("[harness] kept %s" % self.tmp, file=sys.stderr)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# HTTP helpers (http.client: the path is sent exactly as given)
# ---------------------------------------------------------------------------

def http_request(port, method, path, body=None, headers=None, timeout=5.0):
    """Returns (status, headers dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def http_get(port, path, timeout=5.0, headers=None):
    return http_request(port, "GET", path, headers=headers, timeout=timeout)


def login_raw(srv, email, password):
    """POST /api/login; returns (status, parsed JSON or None, raw body)."""
    status, _, body = http_request(srv.port, "POST", "/api/login",
                                   body={"email": email, "password": password})
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, doc, body


def login(srv, email=ASHA["email"], password=ASHA["password"]):
    status, doc, body = login_raw(srv, email, password)
    if status != 200 or not isinstance(doc, dict) or not doc.get("token"):
        raise AssertionError("login %s failed: %s %r" % (email, status, body[:300]))
    return doc["token"]


async def alogin(srv, email=ASHA["email"], password=ASHA["password"]):
    return await asyncio.to_thread(login, srv, email, password)


# ---------------------------------------------------------------------------
# WebSocket client
# ---------------------------------------------------------------------------

class Closed(Exception):
    pass


def _matches(msg, types, where):
    if types is not None:
        if isinstance(types, str):
            types = (types,)
        if msg.get("type") not in types:
            return False
    return where is None or where(msg)


class Client:
    """One WebSocket connection. Frames not yet consumed wait in ``backlog``."""

    _ids = itertools.count(1)

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.backlog = []
        self.seen = []          # every frame received, in order (for diagnostics)
        self.closed_exc = None  # ConnectionClosed once the socket is closed
        self.welcome = None
        self.id = None
        self.token = None

    @classmethod
    async def connect(cls, srv_or_url, label=None, origin=None, headers=None,
                      max_size=2 ** 23, timeout=5.0):
        url = srv_or_url.ws_url if isinstance(srv_or_url, Server) else srv_or_url
        ws = await websockets.connect(url, origin=origin, extra_headers=headers or {},
                                      max_size=max_size, open_timeout=timeout,
                                      close_timeout=2, ping_interval=None,
                                      compression=None)
        return cls(ws, label or "client%d" % next(cls._ids))

    # -- sending ------------------------------------------------------------
    async def send(self, obj):
        """dict/list -> JSON text frame; str -> text frame as is; bytes -> binary frame."""
        data = json.dumps(obj) if isinstance(obj, (dict, list)) else obj
        log(self.label, ">>", data if isinstance(data, str) else repr(data)[:200])
        try:
            await self.ws.send(data)
        except websockets.exceptions.ConnectionClosed as e:
            self.closed_exc = e
            raise Closed(e) from None

    async def send_raw_text(self, payload: bytes):
        """A TEXT frame with arbitrary payload bytes (e.g. invalid UTF-8)."""
        log(self.label, ">> raw text", repr(payload)[:200])
        await self.ws.write_frame(True, websockets.frames.Opcode.TEXT, payload)

    # -- receiving ----------------------------------------------------------
    async def _read(self, timeout):
        """Read one frame, parsed. Raises asyncio.TimeoutError or Closed."""
        if self.closed_exc is not None:
            raise Closed(self.closed_exc)
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as e:
            self.closed_exc = e
            raise Closed(e) from None
        log(self.label, "<<", data if isinstance(data, str) else repr(data)[:200])
        if not isinstance(data, str):
            raise AssertionError("%s: server sent a binary frame: %r" % (self.label, data[:200]))
        try:
            msg = json.loads(data)
        except ValueError:
            raise AssertionError("%s: server sent non-JSON text: %r" % (self.label, data[:300])) from None
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            raise AssertionError("%s: server frame is not an object with a type: %r" % (self.label, data[:300]))
        self.seen.append(msg)
        return msg

    def _take_backlog(self, types, where):
        for i, msg in enumerate(self.backlog):
            if _matches(msg, types, where):
                return self.backlog.pop(i)
        return None

    def _describe(self):
        tail = self.seen[-12:]
        return "%s received (last %d): %s" % (self.label, len(tail),
                                               json.dumps(tail)[:3000])

    async def recv(self, types=None, timeout=RECV_TIMEOUT, where=None):
        """The next frame matching ``types`` (str or tuple) and ``where``;
        non-matching frames stay in the backlog."""
        msg = self._take_backlog(types, where)
        if msg is not None:
            return msg
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: timed out after %.1fs waiting for %s%s\n%s"
                                     % (self.label, timeout, types or "any frame",
                                        " (with condition)" if where else "", self._describe()))
            try:
                msg = await self._read(left)
            except asyncio.TimeoutError:
                continue
            except Closed as c:
                e = c.args[0]
                raise AssertionError("%s: connection closed (code %s %r) while waiting for %s\n%s"
                                     % (self.label, e.code, e.reason, types or "any frame",
                                        self._describe())) from None
            if _matches(msg, types, where):
                return msg
            self.backlog.append(msg)

    async def recv_n(self, n, types=None, timeout=RECV_TIMEOUT, where=None):
        return [await self.recv(types, timeout, where) for _ in range(n)]

    async def expect_none(self, types=None, within=QUIET_WINDOW, where=None):
        """Assert no frame matching types/where arrives within ``within`` seconds
        (and none is waiting in the backlog)."""
        for msg in self.backlog:
            if _matches(msg, types, where):
                raise AssertionError("%s: unexpected %s frame: %s" % (self.label, types, json.dumps(msg)))
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                msg = await self._read(left)
            except asyncio.TimeoutError:
                return
            except Closed:
                return
            if _matches(msg, types, where):
                raise AssertionError("%s: unexpected %s frame: %s" % (self.label, types, json.dumps(msg)))
            self.backlog.append(msg)

    async def expect_error(self, code, timeout=RECV_TIMEOUT, **fields):
        """The next error frame must have this code (and these field values)."""
        err = await self.recv("error", timeout)
        if err.get("code") != code:
            raise AssertionError("%s: expected error %r, got %s" % (self.label, code, json.dumps(err)))
        if not isinstance(err.get("message", ""), str):
            raise AssertionError("%s: error message is not a string: %s" % (self.label, json.dumps(err)))
        for k, v in fields.items():
            if err.get(k) != v:
                raise AssertionError("%s: error %s: expected %s=%r: %s" % (self.label, code, k, v, json.dumps(err)))
        return err

    async def expect_close(self, code, timeout=CLOSE_TIMEOUT):
        """Wait until the connection closes; assert the close code the server sent.
        Frames received before the close are kept in the backlog."""
        deadline = time.monotonic() + timeout
        while self.closed_exc is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: connection not closed within %.1fs (expected close %s)\n%s"
                                     % (self.label, timeout, code, self._describe()))
            try:
                msg = await self._read(left)
                self.backlog.append(msg)
            except asyncio.TimeoutError:
                continue
            except Closed:
                break
        got = self.ws.close_code
        if got != code:
            raise AssertionError("%s: expected close code %s, got %s (reason %r)\n%s"
                                 % (self.label, code, got, self.ws.close_reason, self._describe()))
        return got

    async def still_open(self):
        """Assert the connection has not been closed by the server."""
        if self.closed_exc is not None or self.ws.closed:
            raise AssertionError("%s: connection was closed (code %s)" % (self.label, self.ws.close_code))

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass

    async def drop(self):
        """Abort the TCP connection without a close handshake."""
        self.ws.transport.abort()
        try:
            await asyncio.wait_for(self.ws.wait_closed(), 3)
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Protocol helpers
# ---------------------------------------------------------------------------

_cid = itertools.count(1)


def new_client_id(prefix="c"):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_cid))


async def hello(client, role, **fields):
    await client.send(dict({"type": "hello", "version": 1, "role": role}, **fields))
    w = await client.recv(("welcome", "error"))
    if w["type"] == "error":
        raise AssertionError("%s: hello rejected: %s" % (client.label, json.dumps(w)))
    client.welcome = w
    client.id = w.get("id")
    client.token = w.get("token")
    return w


async def visitor(srv, name="Vera", token=None, email=None, label=None):
    """Connect + hello as a visitor; returns the Client (``.welcome``, ``.id``, ``.token``)."""
    c = await Client.connect(srv, label=label or "visitor:%s" % name)
    fields = {"name": name}
    if token is not None:
        fields["token"] = token
    if email is not None:
        fields["email"] = email
    w = await hello(c, "visitor", **fields)
    if w.get("role") != "visitor" or not w.get("id"):
        raise AssertionError("bad visitor welcome: %s" % json.dumps(w))
    if token is None and not w.get("token"):
        raise AssertionError("visitor welcome without a resume token: %s" % json.dumps(w))
    if token is not None and not c.token:
        c.token = token
    return c


async def agent(srv, who=ASHA, token=None, label=None):
    """Log in (unless a token is given), connect + hello as an agent."""
    if token is None:
        token = await alogin(srv, who["email"], who["password"])
    c = await Client.connect(srv, label=label or "agent:%s" % who["name"])
    w = await hello(c, "agent", token=token)
    if w.get("role") not in ("agent", "supervisor") or w.get("id") != who["id"]:
        raise AssertionError("bad agent welcome for %s: %s" % (who["id"], json.dumps(w)))
    c.login_token = token
    return c


async def say(client, conv, text, client_id=None, timeout=RECV_TIMEOUT):
    """Send a message and wait for its ack; returns the ack."""
    cid = client_id or new_client_id()
    await client.send({"type": "message", "conv": conv, "client_id": cid, "text": text})
    ack = await client.recv(("ack", "error"), timeout, where=lambda m: m.get("client_id") == cid)
    if ack["type"] == "error":
        raise AssertionError("%s: message %r rejected: %s" % (client.label, text, json.dumps(ack)))
    if ack.get("conv") != conv or not isinstance(ack.get("seq"), int):
        raise AssertionError("%s: bad ack: %s" % (client.label, json.dumps(ack)))
    return ack


async def recv_message(client, conv, seq=None, text=None, timeout=RECV_TIMEOUT):
    """The next message event of ``conv`` (optionally a given seq)."""
    def where(m):
        return m.get("conv") == conv and (seq is None or m.get("seq") == seq)
    m = await client.recv("message", timeout, where=where)
    if text is not None and m.get("text") != text:
        raise AssertionError("%s: expected text %r, got %s" % (client.label, text, json.dumps(m)))
    return m


async def open_conversation(v, text=None, client_id=None):
    """Visitor ``start``; returns the "conversation" event (``["conv"]`` is the id).
    With ``text``, also waits for its ack and returns it as ``event["_ack"]``."""
    cid = client_id or new_client_id("start")
    msg = {"type": "start", "client_id": cid}
    if text is not None:
        msg["text"] = text
    await v.send(msg)
    ev = await v.recv(("conversation", "error"))
    if ev["type"] == "error":
        raise AssertionError("%s: start rejected: %s" % (v.label, json.dumps(ev)))
    if not ev.get("conv") or ev.get("state") not in ("waiting", "active"):
        raise AssertionError("%s: bad conversation event for start: %s" % (v.label, json.dumps(ev)))
    if text is not None:
        ev["_ack"] = await v.recv("ack", where=lambda m: m.get("conv") == ev["conv"])
    return ev


async def take(ag, expect_conv=None, v=None):
    """Agent ``take``; asserts the agent (and visitor ``v``, if given) get
    "conversation" state active for the expected conv. Returns the conv id."""
    await ag.send({"type": "take"})
    ev = await ag.recv(("conversation", "error"),
                       where=lambda m: m["type"] == "error" or m.get("state") == "active")
    if ev["type"] == "error":
        raise AssertionError("%s: take failed: %s" % (ag.label, json.dumps(ev)))
    conv = ev["conv"]
    if expect_conv is not None and conv != expect_conv:
        raise AssertionError("%s: took %s, expected %s" % (ag.label, conv, expect_conv))
    if v is not None:
        vev = await v.recv("conversation", where=lambda m: m.get("conv") == conv and m.get("state") == "active")
        if not vev.get("agent_name"):
            raise AssertionError("visitor's active event lacks agent_name: %s" % json.dumps(vev))
    return conv


async def resume(client, conv, after=0, timeout=RECV_TIMEOUT):
    """Send resume; returns (message events in order, replayed event).
    Message events of ``conv`` already sitting unconsumed in the backlog were
    received before the resume was sent, so they are dropped first; a test
    must consume the live events it caused before calling this."""
    client.backlog = [m for m in client.backlog
                      if not (m.get("type") == "message" and m.get("conv") == conv)]
    await client.send({"type": "resume", "conv": conv, "after": after})
    msgs = []
    while True:
        m = await client.recv(("message", "replayed", "error"), timeout,
                              where=lambda m: m.get("conv") == conv)
        if m["type"] == "error":
            raise AssertionError("%s: resume failed: %s" % (client.label, json.dumps(m)))
        if m["type"] == "replayed":
            return msgs, m
        msgs.append(m)


async def pair(srv, visitor_name="Vera", who=ASHA, text=None, ag=None):
    """A visitor with a conversation taken by an agent. Returns (visitor, agent, conv).
    The agent has resumed from 0, so its backlog holds no transcript."""
    v = await visitor(srv, name=visitor_name)
    ev = await open_conversation(v, text=text)
    conv = ev["conv"]
    if ag is None:
        ag = await agent(srv, who)
    await take(ag, expect_conv=conv, v=v)
    await resume(ag, conv, 0)
    return v, ag, conv


# ---------------------------------------------------------------------------
# Test running
# ---------------------------------------------------------------------------

def async_test(timeout=60):
    """Decorator: run an ``async def test_...`` with asyncio.run, bounded."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            async def bounded():
                return await asyncio.wait_for(fn(self, *a, **kw), timeout * TIMEOUT_SCALE)
            try:
                return asyncio.run(bounded())
            except asyncio.TimeoutError:
                raise AssertionError("test exceeded its %ss bound" % timeout) from None
        return wrapper
    return deco


def run_tests(module_file, watchdog=280):
    """Entry point for ``python3 test_x.py [TestCase.test_name ...]``:
    runs the module's tests, prints a one-line summary, exits 0 only if all pass."""
    name = os.path.splitext(os.path.basename(module_file))[0]
    faulthandler.enable()
    faulthandler.dump_traceback_later(watchdog * TIMEOUT_SCALE, exit=True)
    if not (os.path.isfile(BINARY) and os.access(BINARY, os.X_OK)):
        print("%s: FAIL: server binary not found or not executable: %s (set SB_BINARY)" % (name, BINARY))
        sys.exit(2)
    main = sys.modules["__main__"]
    loader = unittest.defaultTestLoader
    if len(sys.argv) > 1:
        suite = loader.loadTestsFromNames(sys.argv[1:], main)
    else:
        suite = loader.loadTestsFromModule(main)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    took = time.monotonic() - t0
    bad = [t.id().split(".", 1)[-1] for t, _ in result.failures + result.errors]
    status = "OK" if result.wasSuccessful() else "FAIL"
    print("%s: %s: %d run, %d failed, %d errors, %d skipped in %.1fs%s"
          % (name, status, result.testsRun, len(result.failures), len(result.errors),
             len(result.skipped), took, (" [" + ", ".join(bad) + "]") if bad else ""))
    sys.stdout.flush()
    sys.exit(0 if result.wasSuccessful() else 1)
