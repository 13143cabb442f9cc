#!/usr/bin/env python3
"""Load driver of ci/bench-memory.sh: login bursts and a mixed soak against a running app,
with the server's resident memory read from /proc/PID/status.

Usage: bench_memory.py burst BASE PID EMAIL PASSWORD CONCURRENCY ROUNDS BOUND_MB IDLE_SECONDS
       bench_memory.py soak  BASE PID EMAIL PASSWORD ME_EMAIL SECONDS IDLE_SECONDS

Exit status 1 when a check fails: a 5xx other than 503 with Retry-After, a connection error,
or (burst) peak RSS above BOUND_MB.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse
from collections import Counter


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                return response.status, response.getheader("Retry-After"), data
            except (ConnectionError, http.client.HTTPException, OSError):
                # A keep-alive connection the server closed (idle timeout): reconnect once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.bad = []

    def record(self, what, status, retry_after, body):
        with self.lock:
            self.statuses[status] += 1
            if status >= 500 and not (status == 503 and retry_after):
                self.bad.append(f"{what}: {status} {body[:200]!r}")

    def error(self, what, error):
        with self.lock:
            self.statuses["connection error"] += 1
            self.bad.append(f"{what}: {error}")


def login_once(base, email, password, tally, barrier=None):
    client = Client(base)
    if barrier is not None:
        barrier.wait()
    try:
        status, retry_after, body = client.request(
            "POST", "/api/v1/auth/login", {"email": email, "password": password}
        )
        tally.record("login", status, retry_after, body)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        tally.error("login", error)


def burst(base, pid, email, password, concurrency, rounds, bound_mb, idle_seconds):
    ok = True
    before = rss_kib(pid)
    print(f"  RSS before: {mib(before)}")
    for round_number in range(1, rounds + 1):
        tally = Tally()
        barrier = threading.Barrier(concurrency)
        threads = [
            threading.Thread(target=login_once, args=(base, email, password, tally, barrier))
            for _ in range(concurrency)
        ]
        peak = 0
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_kib(pid))
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        high_water = rss_kib(pid, "VmHWM")
        print(
            f"  burst {round_number}: {concurrency} concurrent logins in {elapsed:.1f} s, "
            f"statuses {dict(sorted(tally.statuses.items(), key=str))}, "
            f"RSS peak sampled {mib(peak)}, high-water mark {mib(high_water)}, "
            f"after {mib(rss_kib(pid))}"
        )
        for line in tally.bad[:10]:
            print(f"    FAIL {line}")
        ok = ok and not tally.bad
    high_water = rss_kib(pid, "VmHWM")
    verdict = "ok" if high_water <= bound_mb * 1024 else "FAIL"
    print(f"  peak RSS (VmHWM) {mib(high_water)} against the bound {bound_mb} MiB: {verdict}")
    time.sleep(idle_seconds)
    idle = rss_kib(pid)
    print(f"  after {idle_seconds} s idle: RSS {mib(idle)} (released {mib(max(0, high_water - idle))} "
          f"of the peak; {mib(max(0, idle - before))} above the RSS before the bursts)")
    return ok and verdict == "ok"


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def soak(base, pid, email, password, me_email, seconds, idle_seconds):
    setup = Client(base)
    status, _, body = setup.request(
        "POST", "/api/v1/auth/login", {"email": me_email, "password": password}
    )
    if status != 200:
        print(f"  cannot log in the auth/me account: {status} {body[:200]!r}")
        return False
    token = json.loads(body)["access_token"]
    stop = time.monotonic() + seconds
    me_tally, login_tally, live_tally = Tally(), Tally(), Tally()
    live_latencies = []

    def me_worker():
        client = Client(base)
        while time.monotonic() < stop:
            try:
                status, retry_after, body = client.request(
                    "GET", "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                )
                me_tally.record("auth/me", status, retry_after, body)
            except Exception as error:  # noqa: BLE001
                me_tally.error("auth/me", error)

    def login_worker():
        client = Client(base)
        while time.monotonic() < stop:
            try:
                status, retry_after, body = client.request(
                    "POST", "/api/v1/auth/login", {"email": email, "password": password}
                )
                login_tally.record("login", status, retry_after, body)
            except Exception as error:  # noqa: BLE001
                login_tally.error("login", error)

    def live_worker():
        client = Client(base)
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                status, retry_after, body = client.request("GET", "/health/live")
                live_latencies.append(time.monotonic() - started)
                live_tally.record("health/live", status, retry_after, body)
            except Exception as error:  # noqa: BLE001
                live_tally.error("health/live", error)
            time.sleep(0.02)

    before = rss_kib(pid)
    threads = [threading.Thread(target=me_worker) for _ in range(64)]
    threads += [threading.Thread(target=login_worker) for _ in range(4)]
    threads.append(threading.Thread(target=live_worker))
    for thread in threads:
        thread.start()
    peak = before
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_kib(pid))
        time.sleep(0.2)
    after = rss_kib(pid)
    time.sleep(idle_seconds)
    idle = rss_kib(pid)

    ok = True
    for name, tally in (("auth/me x64", me_tally), ("login x4", login_tally),
                        ("health/live", live_tally)):
        total = sum(count for key, count in tally.statuses.items() if key != "connection error")
        print(f"  {name}: {total} requests ({total / seconds:.0f}/s), "
              f"statuses {dict(sorted(tally.statuses.items(), key=str))}, "
              f"errors {len(tally.bad)}")
        for line in tally.bad[:5]:
            print(f"    FAIL {line}")
        ok = ok and not tally.bad
    print(f"  /health/live p50 {percentile(live_latencies, 0.50) * 1000:.1f} ms, "
          f"p99 {percentile(live_latencies, 0.99) * 1000:.1f} ms")
    print(f"  RSS before {mib(before)}, peak {mib(peak)}, after {mib(after)}, "
          f"after {idle_seconds} s idle {mib(idle)} (released {mib(max(0, peak - idle))})")
    return ok


def main(argv):
    mode = argv[1]
    if mode == "burst":
        base, pid, email, password = argv[2], int(argv[3]), argv[4], argv[5]
        ok = burst(base, pid, email, password, int(argv[6]), int(argv[7]), int(argv[8]),
                   int(argv[9]))
    elif mode == "soak":
        base, pid, email, password, me_email = argv[2], int(argv[3]), argv[4], argv[5], argv[6]
        ok = soak(base, pid, email, password, me_email, int(argv[7]), int(argv[8]))
    else:
        print(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
