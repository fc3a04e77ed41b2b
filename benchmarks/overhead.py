"""Per-call overhead of espkit against raw requests, on a local zero-latency server.

Both sides make the same call (Mailgun's GET /v4/domains/{name}) to a keep-alive HTTP server
on 127.0.0.1 and decode the JSON; espkit additionally validates the name, goes through the
limiter, the retry loop, error mapping and builds a typed Domain. The client-side rate limit is
raised out of the way (the point is pipeline cost, not Mailgun's 5 requests/second).

The raw side gets the same one-time setup espkit does, so the ratio is espkit's own cost and not
a handicap: the auth object is made once and set on the session, the URL is built once, and the
proxy environment is read once (``trust_env`` off after resolving it, as espkit's transport
does) instead of on every call. The naive loop most scripts write (auth tuple per call,
``trust_env`` re-read each time) is printed beside it for reference.

    python benchmarks/overhead.py [calls]

Prints calls/second, wall and CPU microseconds per call for each, and the ratios (target
<= 1.2x).
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

import espkit

DOMAIN = "bench.example.com"
BODY = json.dumps({
    "domain": {
        "name": DOMAIN, "id": "5f1b2c3d4e5f60718293a4b5", "state": "active",
        "created_at": "Tue, 14 Jul 2026 10:00:00 GMT", "type": "custom",
        "spam_action": "disabled", "wildcard": False, "web_scheme": "https",
        "smtp_login": f"postmaster@{DOMAIN}", "require_tls": False,
        "skip_verification": False, "is_disabled": False,
    },
    "sending_dns_records": [
        {"record_type": "TXT", "name": DOMAIN, "value": "v=spf1 include:mailgun.org ~all",
         "valid": "valid", "is_active": True, "cached": []},
        {"record_type": "TXT", "name": f"smtp._domainkey.{DOMAIN}", "value": "k=rsa; p=MIGf",
         "valid": "valid", "is_active": True, "cached": []},
        {"record_type": "CNAME", "name": f"email.{DOMAIN}", "value": "mailgun.org",
         "valid": "valid", "is_active": True, "cached": []},
    ],
    "receiving_dns_records": [
        {"record_type": "MX", "value": "mxa.mailgun.org", "priority": "10", "valid": "valid",
         "is_active": True, "cached": []},
    ],
}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per response and no Nagle: otherwise delayed ACKs add ~40 ms to every call
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def serve(ports: multiprocessing.Queue[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ports.put(server.server_address[1])
    server.serve_forever()


def timed(fn: object, calls: int, rounds: int = 5) -> tuple[float, float, float]:
    """Best-of-rounds wall seconds per call (best, not mean: the floor is the overhead),
    their median, and the best client CPU seconds per call. The server runs in another
    process, so CPU time is the client's own cost, and other jobs on the machine barely
    move it: the ratio of CPU times is the figure that survives a loaded machine."""
    assert callable(fn)
    for _ in range(max(50, calls // 10)):
        fn()
    samples, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        cpu.append((time.process_time() - start_cpu) / calls)
        samples.append((time.perf_counter() - start) / calls)
    return min(samples), statistics.median(samples), min(cpu)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    # the server runs in its own process so it does not compete with the client for the GIL
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=10)}"

    naive_session = requests.Session()

    def naive() -> object:
        r = naive_session.get(f"{base}/v4/domains/{DOMAIN}", auth=("api", "key-bench"),
                              timeout=(5, 30))
        r.raise_for_status()
        return r.json()

    # the same one-time setup espkit's transport makes: auth, URL and proxies resolved once
    session = requests.Session()
    session.auth = requests.auth.HTTPBasicAuth("api", "key-bench")
    url = f"{base}/v4/domains/{DOMAIN}"
    session.proxies = requests.utils.get_environ_proxies(url)
    session.trust_env = False

    def raw() -> object:
        r = session.get(url, timeout=(5, 30))
        r.raise_for_status()
        return r.json()

    acct = espkit.connect("mailgun", api_key="key-bench", base_url=base, rate_limit=1e6)

    def sdk() -> object:
        return acct.domains.get(DOMAIN)

    assert isinstance(sdk(), espkit.Domain)
    # interleaved so that a burst of load from elsewhere falls on both sides alike
    raw_best, raw_med, raw_cpu = timed(raw, calls)
    sdk_best, sdk_med, sdk_cpu = timed(sdk, calls)
    naive_best, naive_med, naive_cpu = timed(naive, calls)
    raw_best2, raw_med2, raw_cpu2 = timed(raw, calls)
    raw_best, raw_med = min(raw_best, raw_best2), min(raw_med, raw_med2)
    raw_cpu = min(raw_cpu, raw_cpu2)
    server.terminate()

    print(f"calls per round          {calls}")
    print(f"naive requests loop      {naive_best * 1e6:8.1f} us/call  ({1 / naive_best:8.0f}/s)"
          f"  median {naive_med * 1e6:.1f} us, CPU {naive_cpu * 1e6:.1f} us"
          "  (auth per call, proxy env re-read)")
    print(f"raw requests, set up     {raw_best * 1e6:8.1f} us/call  ({1 / raw_best:8.0f}/s)"
          f"  median {raw_med * 1e6:.1f} us, CPU {raw_cpu * 1e6:.1f} us")
    print(f"espkit domains.get       {sdk_best * 1e6:8.1f} us/call  ({1 / sdk_best:8.0f}/s)"
          f"  median {sdk_med * 1e6:.1f} us, CPU {sdk_cpu * 1e6:.1f} us")
    print(f"espkit overhead          {(sdk_best - raw_best) * 1e6:8.1f} us/call")
    ratio = sdk_best / raw_best
    print(f"ratio espkit / raw       {ratio:8.2f}x  (target <= 1.20x)"
          f"  {'PASS' if ratio <= 1.2 else 'FAIL'}")
    cpu_ratio = sdk_cpu / raw_cpu
    print(f"CPU ratio espkit / raw   {cpu_ratio:8.2f}x  (target <= 1.20x)"
          f"  {'PASS' if cpu_ratio <= 1.2 else 'FAIL'}")
    print(f"ratio espkit / naive     {sdk_best / naive_best:8.2f}x  (for reference, no target)")


if __name__ == "__main__":
    main()
