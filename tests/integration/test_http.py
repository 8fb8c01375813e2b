"""HTTP surface: health, static files, path traversal, login, Origin policy on
the WebSocket upgrade, connection cap. Run: python3 tests/integration/test_http.py"""

import asyncio
import json
import os
import socket
import sys
import time
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import ASHA, SAM, async_test  # noqa: E402

ALLOWED = ["http://allowed.example", "https://widget.example.com:8443"]


def raw_http(port, request: bytes, timeout=5.0):
    """Send raw bytes, return (status, body bytes). For targets http.client refuses."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        s.settimeout(timeout)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                lines = head.split(b"\r\n")
                clen = [l.split(b":", 1)[1].strip() for l in lines[1:] if l.lower().startswith(b"content-length:")]
                if clen and len(rest) >= int(clen[0]):
                    break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
    return status, data.partition(b"\r\n\r\n")[2]


class HttpTest(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = h.Server(["--allowed-origins", ",".join(ALLOWED)], name="http")
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def tearDown(self):
        # print the server's logs if this test failed
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not outcome.success
        if failed:
            print("\n===== server logs =====\n%s\n=====" % self.srv.logs(), file=sys.stderr)
        self.srv.assert_alive("after " + self.id())

    # -- health + static ------------------------------------------------------
    def test_healthz(self):
        status, headers, body = h.http_get(self.srv.port, "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body).get("status"), "ok", body)
        self.assertIn("json", headers.get("content-type", ""), headers)

    def test_static_files_mime_and_cache_control(self):
        expect = {
            "/index.html": ("text/html",),
            "/a.js": ("application/javascript", "text/javascript"),
            "/a.css": ("text/css",),
            "/sub/b.js": ("application/javascript", "text/javascript"),
        }
        for path, types in expect.items():
            with self.subTest(path=path):
                status, headers, body = h.http_get(self.srv.port, path)
                self.assertEqual(status, 200, (path, body[:200]))
                self.assertEqual(body, h.WEB_FILES[path[1:]])
                ctype = headers.get("content-type", "").split(";")[0].strip().lower()
                self.assertIn(ctype, types, headers)
                self.assertTrue(headers.get("cache-control"), "no Cache-Control on %s: %s" % (path, headers))
                self.assertEqual(int(headers.get("content-length", len(body))), len(body))

    def test_unknown_paths_404(self):
        for path in ("/nope.html", "/missing/a.js", "/a.js.bak", "/api/nope", "/sub/c.js"):
            with self.subTest(path=path):
                status, _, body = h.http_get(self.srv.port, path)
                self.assertEqual(status, 404, (path, body[:200]))

    def test_path_traversal_never_escapes_the_web_dir(self):
        strict = [
            "/../CMakeLists.txt",
            "/../secret.txt",
            "/../agents.json",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/%2e%2e%2fsecret.txt",
            "/..%2fsecret.txt",
            "/..%2Fsecret.txt",
            "/sub/../../secret.txt",
            "/sub/..%2f..%2fsecret.txt",
            "/sub/%2e%2e/%2e%2e/secret.txt",
            "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/../../../../../../../../etc/passwd",
            "/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/%252e%252e/secret.txt",
            "//etc/passwd",
            "/%2Fetc%2Fpasswd",
            "/%2fetc/passwd",
        ]
        lenient = [  # 400 is an acceptable answer too
            "/..%5csecret.txt",
            "/..\\secret.txt",
            "/%2e%2e%5c%2e%2e%5csecret.txt",
            "/index.html%00.js",
            "/%00../secret.txt",
            "/%c0%ae%c0%ae/secret.txt",
            "/..;/secret.txt",
        ]
        tmp_parent = os.path.basename(self.srv.tmp)
        sneaky = ["/../%s/secret.txt" % tmp_parent, "/../../%s/%s/secret.txt" % (
            os.path.basename(os.path.dirname(self.srv.tmp)), tmp_parent)]
        with open(os.path.join(h.SOURCE_DIR, "CMakeLists.txt"), "rb") as f:
            repo_cmake = f.read()[:60]
        for path in strict + sneaky + lenient:
            with self.subTest(path=path):
                req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                       % (path, self.srv.port)).encode("latin-1")
                status, body = raw_http(self.srv.port, req)
                allowed = (404,) if path in strict + sneaky else (400, 404)
                self.assertIn(status, allowed, "%s -> %s %r" % (path, status, body[:200]))
                self.assertNotIn(h.SECRET_MARKER.encode(), body, path)
                self.assertNotIn(b"root:", body, path)
                self.assertNotIn(b"password_hash", body, path)
                self.assertNotIn(repo_cmake, body, path)
        # the server is fine afterwards
        status, _, body = h.http_get(self.srv.port, "/a.js")
        self.assertEqual((status, body), (200, h.WEB_FILES["a.js"]))

    # -- login ----------------------------------------------------------------
    def test_login_ok(self):
        for who in (ASHA, SAM):
            with self.subTest(who=who["id"]):
                status, doc, body = h.login_raw(self.srv, who["email"], who["password"])
                self.assertEqual(status, 200, body)
                self.assertTrue(isinstance(doc.get("token"), str) and doc["token"], doc)
                self.assertIn("expires_at", doc)
                self.assertEqual(doc.get("agent"), {"id": who["id"], "name": who["name"], "role": who["role"]}, doc)
                self.assertNotIn(b"argon2", body)
                self.assertNotIn(who["password"].encode(), body)
        # two logins give working tokens
        t1 = h.login(self.srv)
        t2 = h.login(self.srv)
        for t in (t1, t2):
            async def go(t=t):
                a = await h.agent(self.srv, ASHA, token=t)
                await a.close()
            asyncio.run(asyncio.wait_for(go(), 15))

    def test_login_bad_credentials_401(self):
        for email, pw in ((ASHA["email"], "wrong"), (ASHA["email"], ""), ("nobody@example.com", "x"),
                          (ASHA["email"], SAM["password"])):
            with self.subTest(email=email, pw=pw):
                status, doc, body = h.login_raw(self.srv, email, pw)
                self.assertEqual(status, 401, body)
                self.assertEqual(doc, {"error": "bad_credentials"})

    def test_login_bad_json_400(self):
        for body in (b"{not json", b"", b"[]", b'"str"', b'{"email":"asha@example.com"'):
            with self.subTest(body=body):
                status, _, resp = h.http_request(self.srv.port, "POST", "/api/login", body=body,
                                                 headers={"Content-Type": "application/json"})
                self.assertEqual(status, 400, resp)
        # wrong field types are a bad request too, not a crash
        for doc in ({"email": 1, "password": 2}, {"email": None, "password": "x"}, {}):
            with self.subTest(doc=doc):
                status, _, resp = h.http_request(self.srv.port, "POST", "/api/login", body=doc)
                self.assertIn(status, (400, 401), resp)

    # -- Origin policy -------------------------------------------------------
    @async_test(30)
    async def test_origin_policy_on_upgrade(self):
        port = self.srv.port
        ok = [None, "http://127.0.0.1:%d" % port] + ALLOWED
        bad = ["http://evil.example", "http://localhost:%d" % port, "http://127.0.0.1:%d.evil.example" % port,
               "http://allowed.example.evil.example", "https://allowed.example", "http://127.0.0.1",
               "null"]
        for origin in ok:
            with self.subTest(origin=origin):
                c = await h.Client.connect(self.srv, origin=origin, label="origin-ok")
                await h.hello(c, "visitor", name="O")
                await c.close()
        for origin in bad:
            with self.subTest(origin=origin):
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                    c = await h.Client.connect(self.srv, origin=origin, label="origin-bad")
                    await c.close()
                self.assertEqual(cm.exception.status_code, 403)


class ConnectionCapTest(unittest.TestCase):

    @async_test(60)
    async def test_connection_cap_503(self):
        with h.Server(["--max-connections", "2"]) as srv:
            c1 = await h.visitor(srv, name="One")
            c2 = await h.visitor(srv, name="Two")
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                c3 = await h.Client.connect(srv, label="third")
                await c3.close()
            self.assertEqual(cm.exception.status_code, 503)
            # the two admitted connections still work
            ev = await h.open_conversation(c1)
            self.assertTrue(ev["conv"])
            await h.open_conversation(c2)
            # a slot frees up when one leaves
            await c1.close()
            deadline = time.monotonic() + 5
            while True:
                try:
                    c3 = await h.visitor(srv, name="Three")
                    break
                except websockets.exceptions.InvalidStatusCode as e:
                    self.assertEqual(e.status_code, 503)
                    if time.monotonic() > deadline:
                        raise AssertionError("slot not freed 5s after a client closed")
                    await asyncio.sleep(0.1)
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                c4 = await h.Client.connect(srv, label="fourth")
                await c4.close()
            self.assertEqual(cm.exception.status_code, 503)
            await c3.close()
            await c2.close()


if __name__ == "__main__":
    h.run_tests(__file__)
