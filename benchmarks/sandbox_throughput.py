"""Throughput of the sandbox ESP through espkit's full pipeline (managers, transport,
requests, adapter, emulator, SQLite): what ``espkit demo`` and test suites can expect.

    python benchmarks/sandbox_throughput.py [domains]

Prints domains created, read and listed per second, in memory and on a file, and with 8
threads sharing one account.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import espkit


def rate(label: str, n: int, fn: Callable[[int], object]) -> None:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {n / elapsed:8.0f}/s  ({elapsed / n * 1e6:6.0f} us each)")


def threaded(label: str, acct: espkit.Account, n: int, threads: int = 8) -> None:
    def work(worker: int) -> None:
        for i in range(worker, n, threads):
            acct.domains.create(f"t{i}.bench.example")

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {n / elapsed:8.0f}/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with espkit.connect("sandbox", path=":memory:") as acct:
        rate("create (memory)", n, lambda i: acct.domains.create(f"d{i}.bench.example"))
        rate("get (memory)", n, lambda i: acct.domains.get(f"d{i}.bench.example"))
        rate("verify (memory)", n, lambda i: acct.domains.verify(f"d{i}.bench.example"))
        start = time.perf_counter()
        listed = sum(1 for _ in acct.domains.list())
        print(f"{'list (memory, pages of 100)':<34} "
              f"{listed / (time.perf_counter() - start):8.0f}/s")
        threaded("create (memory, 8 threads)", acct, n)
    with tempfile.TemporaryDirectory() as tmp, \
            espkit.connect("sandbox", path=os.path.join(tmp, "bench.db")) as acct:
        rate("create (file, WAL)", n, lambda i: acct.domains.create(f"d{i}.bench.example"))


if __name__ == "__main__":
    main()
