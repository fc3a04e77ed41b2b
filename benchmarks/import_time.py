"""How long `import espkit` takes next to `import requests`, each in a fresh interpreter.

`import espkit` loads the errors and the models only; the account (and with it requests and
the providers), the bulk engine, SQLite, the fleet loader, click and rich load on first use.
Each figure is the median of `-X importtime`'s cumulative time for the top-level module over
RUNS fresh interpreters, taken alternately so that both see the same machine load.

    python benchmarks/import_time.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 15
TARGET = 1.5  # import espkit <= 1.5 x import requests
HEAVY = ("espkit.bulk", "espkit.fleet.loader", "sqlite3", "click", "rich", "yaml", "jsonschema",
         "dns.resolver", "redis", "boto3")


def cumulative_us(statement: str, module: str) -> int:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                         capture_output=True, text=True, check=True).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise SystemExit(f"{module} not in -X importtime output")


def loaded_by_import_espkit() -> list[str]:
    code = ("import sys, espkit; print(' '.join(m for m in " + repr(HEAVY)
            + " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def main() -> None:
    times: dict[str, list[int]] = {"requests": [], "espkit": []}
    for _ in range(RUNS):
        for module in times:
            times[module].append(cumulative_us(f"import {module}", module))
    med = {m: statistics.median(t) for m, t in times.items()}
    ratio = med["espkit"] / med["requests"]
    print(f"import requests: {med['requests'] / 1000:7.1f} ms (median of {RUNS})")
    print(f"import espkit:   {med['espkit'] / 1000:7.1f} ms (median of {RUNS})")
    print(f"espkit / requests: {ratio:.2f}x (target <= {TARGET}x) "
          f"{'PASS' if ratio <= TARGET else 'FAIL'}")
    heavy = loaded_by_import_espkit()
    print(f"heavy modules loaded by `import espkit`: {', '.join(heavy) or 'none'} "
          f"{'PASS' if not heavy else 'FAIL'}")
    code = ("import time; t = time.perf_counter(); import espkit; espkit.connect; "
            "print(time.perf_counter() - t)")
    first = statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout) for _ in range(5))
    print(f"import espkit, then espkit.connect (loads the account layer and requests): "
          f"{first * 1000:.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
