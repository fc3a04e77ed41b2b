"""kill -9 mid-job, then resume: the end state is exactly the requested set, no create is
ever re-sent for a domain that had landed, and the report tells the truth.

The moment of each kill is the test's, not the scheduler's: past the creates it wants done,
the worker holds its creates at the sandbox's door (half of them before they reach the
sandbox, half after they landed, before the answer comes back) until it is killed. So the
job is always mid-way at the kill, however busy the machine, and both kinds of item in
flight are there to be reconciled on resume.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from support.hang import HANG

import espkit
from espkit.bulk import Bulk, Journal
from espkit.testing import emulator

N = 1500
#: kill the worker after this many items are journalled done, one round each
KILL_AT = (40, 400, 900)

CHILD = textwrap.dedent("""
    import sqlite3, sys, threading, time
    import espkit
    from espkit.bulk import Bulk
    from espkit.sandbox.adapter import SandboxAdapter

    sandbox_db, journal, n, at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
            done = db.execute("SELECT COUNT(*) FROM items WHERE state = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # the first run: no journal yet
        done = 0
    lock = threading.Lock()
    creates = [0]
    send = SandboxAdapter.send

    def held(self, request, *args, **kwargs):
        # the creates that take the job to `at` done go through; the rest are held until
        # the kill, odd ones before they reach the sandbox, even ones after they landed
        if request.method != "POST" or request.path_url != "/v1/domains":
            return send(self, request, *args, **kwargs)
        with lock:
            creates[0] += 1
            number = creates[0]
        if number <= at - done:
            return send(self, request, *args, **kwargs)
        if number % 2:
            time.sleep(600)
        response = send(self, request, *args, **kwargs)
        time.sleep(600)
        return response

    SandboxAdapter.send = held
    acct = espkit.connect("sandbox", path=sandbox_db)
    names = [f"d{i:05d}.kill.example" for i in range(n)]
    Bulk(acct, journal=journal).create_domains(names)
""")


def done_in(journal: Path) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM items WHERE state = 'done'")
                       .fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def run_and_kill(script: Path, sandbox_db: Path, journal: Path, at: int) -> None:
    child = subprocess.Popen(
        [sys.executable, str(script), str(sandbox_db), str(journal), str(N), str(at)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    give_up = time.monotonic() + HANG  # a bound on a hang: the creates take a second or two
    try:
        while done_in(journal) < at:
            if child.poll() is not None:
                err = child.stderr.read().decode() if child.stderr else ""
                pytest.fail(f"the bulk run ended before the kill (rc {child.returncode}): {err}")
            if time.monotonic() > give_up:
                pytest.fail(f"no progress to {at} items within {HANG:g} s")
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_nine_then_resume_converges_without_duplicates(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    sandbox_db, journal = tmp_path / "sandbox.db", tmp_path / "run.db"
    for at in KILL_AT:
        run_and_kill(script, sandbox_db, journal, at)

    states = Journal(str(journal)).counts()
    assert states["done"] >= KILL_AT[-1]
    assert states["done"] < N  # the kill came before the end
    assert states["inflight"] > 0  # held at the kill: reconciled below, not merely 0 == 0

    acct = espkit.connect("sandbox", path=str(sandbox_db))
    emu = emulator(acct)
    emu.history.clear()
    report = Bulk(acct, journal=str(journal)).create_domains(
        f"d{i:05d}.kill.example" for i in range(N))

    wanted = {f"d{i:05d}.kill.example" for i in range(N)}
    assert {d.name for d in acct.domains.list()} == wanted
    assert report.ok
    assert report.counts["skipped"] == states["done"]
    assert report.counts["created"] == N - states["done"]
    # every domain was created by this job, so a single "existed" would mean a create was
    # re-sent after it had landed (the kill between the request and its journal entry)
    assert Journal(str(journal)).outcomes() == {"created": N}
    posts = Counter(o for m, p, o in emu.history if m == "POST")
    assert posts[409] == 0
    assert posts[201] <= report.counts["created"]  # read-back-confirmed ones sent nothing
    # items in flight at the last kill were settled by reading back first
    assert report.reconciled == states["inflight"]
