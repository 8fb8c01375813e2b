#!/usr/bin/env python3
"""Prints two switchboard-loadtest JSON reports side by side with ratios.

    compare.py switchboard.json relay.json
"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return "%.3g" % v if abs(v) < 100 else "%.0f" % v
    return "%d" % v


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2]) if len(sys.argv) > 2 else None
    if not a:
        print("no report at", sys.argv[1])
        return 1
    la, lb = a.get("label") or "A", (b.get("label") if b else None) or "B"
    rows = []
    for k, v in a.get("throughput", {}).items():
        rows.append((k + " /s", v, b["throughput"].get(k) if b else None))
    for name, h in a.get("latency_us", {}).items():
        hb = b["latency_us"].get(name, {}) if b else {}
        for q in ("p50", "p99", "p99_9", "max"):
            rows.append(("%s %s (us)" % (name, q), h.get(q), hb.get(q)))
    for k in ("server_rss_per_conn_bytes", "server_cpu_us_per_message",
              "server_cpu_us_per_delivery", "server_cpu_us_per_connect"):
        if k in a.get("figures", {}):
            rows.append((k, a["figures"][k], b["figures"].get(k) if b else None))
    rows.append(("server cpu s", a.get("server", {}).get("cpu_s"),
                 b.get("server", {}).get("cpu_s") if b else None))
    rows.append(("server waited for a CPU s", a.get("server", {}).get("runqueue_wait_s"),
                 b.get("server", {}).get("runqueue_wait_s") if b else None))
    rows.append(("errors", a["errors"]["total"], b["errors"]["total"] if b else None))
    rows.append(("lost", a["lost"], b["lost"] if b else None))
    print("%-40s %14s %14s %8s" % ("", la, lb, la + "/" + lb))
    for name, x, y in rows:
        ratio = "%.2f" % (x / y) if isinstance(x, (int, float)) and y else "-"
        print("%-40s %14s %14s %8s" % (name, fmt(x), fmt(y), ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
