"""Figure 4: listing 100,000 domains is streamed; the client's RSS grows by less than 50 MB.

The server (``esp_server.py``, in a child process) holds 100,000 domains; the script iterates
``acct.domains.list()`` and only counts, while a thread samples this process's RSS every
2 ms. Growth = peak RSS during the iteration - RSS just before it (after a warm-up call, so
imports, the session and the connection are already paid for). For contrast it then does
``list(acct.domains.list())``, which keeps every Domain, and reports that growth too.

    python benchmarks/list_stream.py [domains] [--page-size N]

Server: rate limit 100 req/s per key, 25 ms latency; espkit's page size defaults to
Mailgun's maximum, 1,000, so 100,000 domains are 100 GET /v4/domains calls.
"""

from __future__ import annotations

import argparse
import gc
import threading
import time

import esp_server
import psutil

import espkit

LIMIT_MB = 50.0


class PeakRss:
    """Samples RSS in a thread; ``peak`` is the highest value seen since ``start``."""

    def __init__(self, interval: float = 0.002) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def mb(n: float) -> float:
    return n / (1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("domains", type=int, nargs="?", default=100_000)
    parser.add_argument("--page-size", type=int, default=None,
                        help="espkit page size (default: the provider's, 1000 for Mailgun)")
    args = parser.parse_args()
    n = args.domains

    print(f"list_stream: {esp_server.machine()}")
    server = esp_server.start(rate=100, latency=0.025, preload=n, process=True)
    try:
        acct = espkit.connect("mailgun", api_key="key-bench", base_url=server.url,
                              rate_limit=100)
        next(iter(acct.domains.list(page_size=1)))  # warm-up: imports, session, connection
        proc = psutil.Process()
        gc.collect()
        before = proc.memory_info().rss
        count = 0
        first_at = None
        start = time.perf_counter()
        with PeakRss() as streamed:
            for _domain in acct.domains.list(page_size=args.page_size):
                count += 1
                if first_at is None:
                    first_at = time.perf_counter() - start
        elapsed = time.perf_counter() - start
        after = proc.memory_info().rss
        pages = server.stats()["by_method"].get("GET", 0) - 1
        growth = mb(streamed.peak - before)

        gc.collect()
        before_all = proc.memory_info().rss
        with PeakRss() as materialised:
            kept = list(acct.domains.list(page_size=args.page_size))
        kept_count = len(kept)
        del kept
        growth_all = mb(materialised.peak - before_all)
    finally:
        server.stop()

    ok = count == n and growth < LIMIT_MB
    print(f"server                      {server.url}, {n:,} domains, 100 req/s, 25 ms latency")
    print(f"domains listed              {count:,} of {n:,} in {pages} pages, {elapsed:.2f} s "
          f"({count / elapsed:,.0f}/s)")
    print(f"first domain after          {first_at * 1000 if first_at else float('nan'):.0f} ms")
    print(f"RSS before / peak / after   {mb(before):.1f} / {mb(streamed.peak):.1f} / "
          f"{mb(after):.1f} MB")
    print(f"RSS growth, streamed        {growth:.1f} MB  (target < {LIMIT_MB:.0f} MB)  "
          f"{esp_server.verdict(ok)}")
    print(f"RSS growth, list() of all   {growth_all:.1f} MB  ({kept_count:,} Domain objects "
          "kept; for contrast, no target)")


if __name__ == "__main__":
    main()
