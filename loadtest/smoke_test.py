#!/usr/bin/env python3
"""Smoke run of switchboard-loadtest against the real server (CTest: loadtest.smoke).

Starts the switchboard binary on a free port with a temporary data folder and
the demo agent, runs a few seconds of the conversations scenario with a few
pairs (and a tiny idle run), and checks: exit status 0, nothing lost or
duplicated, and a well-formed JSON report. Python 3 standard library only.

Environment: SB_BINARY (server), SB_LOADTEST (harness), SB_SOURCE_DIR (repo root).
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR") or os.path.dirname(HERE)
SERVER = os.environ.get("SB_BINARY") or os.path.join(SOURCE_DIR, "build", "switchboard")
LOADTEST = os.environ.get("SB_LOADTEST") or os.path.join(SOURCE_DIR, "build", "loadtest",
                                                          "switchboard-loadtest")
LISTENING = "switchboard listening on http://127.0.0.1:"

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


def server_has_option(name):
    p = subprocess.run([SERVER, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    return name in p.stdout


def start_server(tmp, name, extra=()):
    web = os.path.join(SOURCE_DIR, "web-widget")
    if not os.path.isdir(web):  # the server only needs a folder to serve
        web = os.path.join(tmp, "web")
        os.makedirs(web, exist_ok=True)
    log = open(os.path.join(tmp, name + ".log"), "w")
    proc = subprocess.Popen(
        [SERVER, "--port", "0", "--data", os.path.join(tmp, name), "--demo-agent", "--web", web,
         "--bind", "127.0.0.1", "--rate-per-s", "100000", "--rate-burst", "100000"] + list(extra),
        stdout=subprocess.PIPE, stderr=log, text=True)
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith(LISTENING):
            return proc, int(line[len(LISTENING):].strip().rstrip("/"))
    proc.kill()
    raise RuntimeError("server did not print its port; see " + log.name)


def run_loadtest(args, timeout=150):
    cmd = [LOADTEST] + args + ["--quiet"]
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    print(p.stdout, flush=True)
    return p.returncode


def check_report(path, scenario):
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        check(False, "report %s is JSON: %s" % (path, e))
        return None
    check(r.get("tool") == "switchboard-loadtest", "report names the tool")
    check(r.get("scenario") == scenario, "report scenario is " + scenario)
    for key in ("parameters", "machine", "throughput", "latency_us", "errors", "lost",
                "duplicated", "server", "harness", "ok", "argv", "measured_s"):
        check(key in r, "report has '%s'" % key)
    m = r.get("machine", {})
    check(isinstance(m.get("nproc"), int) and m["nproc"] >= 1, "machine.nproc")
    check(isinstance(m.get("cpu_model"), str) and isinstance(m.get("kernel"), str),
          "machine.cpu_model and kernel")
    for name, h in r.get("latency_us", {}).items():
        for q in ("count", "p50", "p90", "p99", "p99_9", "max"):
            check(q in h, "latency %s has %s" % (name, q))
        if h.get("count"):
            check(h["p50"] <= h["p90"] <= h["p99"] <= h["p99_9"] <= h["max"],
                  "latency %s percentiles are ordered" % name)
    check(r.get("lost") == 0, "nothing lost (%s)" % r.get("lost"))
    check(r.get("duplicated") == 0, "nothing duplicated (%s)" % r.get("duplicated"))
    check(r.get("ok") is True, "report says ok")
    check("cpu_s" in r.get("server", {}), "server CPU seconds read from /proc")
    return r


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    tmp = tempfile.mkdtemp(prefix="sb-loadtest-smoke-")
    proc = None
    bot = server_has_option("--bot")
    try:
        # Conversations go straight to the agents' queue (as in BENCHMARKS.md).
        proc, port = start_server(tmp, "server", ["--bot", "off"] if bot else [])
        report = os.path.join(tmp, "conversations.json")
        rc = run_loadtest(["conversations", "--port", str(port), "--pairs", "3", "--rate", "20",
                           "--duration", "3", "--server-pid", str(proc.pid), "--json", report,
                           "--label", "smoke"])
        check(rc == 0, "conversations exit status 0 (got %d)" % rc)
        r = check_report(report, "conversations")
        if r:
            lat = r["latency_us"]
            check(lat.get("visitor->agent", {}).get("count", 0) > 0 and
                  lat.get("agent->visitor", {}).get("count", 0) > 0,
                  "both directions delivered")
            check(r["throughput"].get("delivered_per_s", 0) > 0, "a delivery rate")
            check(r["figures"].get("sent") == r["figures"].get("delivered"),
                  "every message sent was delivered")
            check(r["parameters"].get("pairs") == 3, "parameters echo --pairs")

        report = os.path.join(tmp, "idle.json")
        rc = run_loadtest(["idle", "--port", str(port), "--connections", "20", "--hold", "1",
                           "--server-pid", str(proc.pid), "--json", report])
        check(rc == 0, "idle exit status 0 (got %d)" % rc)
        r = check_report(report, "idle")
        if r:
            check(r["figures"].get("connections_held") == 20, "20 idle connections held")
            check("rss_after_kb" in r["server"], "server RSS read from /proc")
        stop(proc)
        proc = None

        kb = os.path.join(SOURCE_DIR, "kb")
        if bot and os.path.isdir(kb):
            # The product default: the bot answers first, visitors hand off.
            proc, port = start_server(tmp, "server-bot", ["--kb", kb])
            report = os.path.join(tmp, "conversations-bot.json")
            rc = run_loadtest(["conversations", "--port", str(port), "--pairs", "2", "--rate", "10",
                               "--duration", "2", "--server-pid", str(proc.pid), "--json",
                               report])
            check(rc == 0, "conversations with the bot on: exit status 0 (got %d)" % rc)
            check_report(report, "conversations")
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        check(False, "smoke run: %r" % (e,))
    finally:
        stop(proc)
        if failed:
            for name in ("server.log", "server-bot.log"):
                try:
                    with open(os.path.join(tmp, name)) as f:
                        print("--- %s ---\n%s" % (name, f.read()[-4000:]))
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
