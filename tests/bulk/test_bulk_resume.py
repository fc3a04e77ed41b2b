"""kill -9 at arbitrary moments, then resume: the end state is exactly the requested set, no
create is ever re-sent for a domain that had landed, and the report tells the truth."""

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

import espkit
from espkit.bulk import Bulk, Journal
from espkit.testing import emulator

N = 1500
#: kill the worker after this many items are journalled done, one round each
KILL_AT = (40, 400, 900)

CHILD = textwrap.dedent("""
    import sys
    import espkit
    from espkit.bulk import Bulk

    sandbox_db, journal, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # a little latency so there are always requests in flight when the kill comes
    acct = espkit.connect("sandbox", path=sandbox_db, latency=0.001)
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
        [sys.executable, str(script), str(sandbox_db), str(journal), str(N)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while done_in(journal) < at:
            if child.poll() is not None:
                err = child.stderr.read().decode() if child.stderr else ""
                pytest.fail(f"the bulk run ended before the kill (rc {child.returncode}): {err}")
            if time.monotonic() > deadline:
                pytest.fail(f"no progress to {at} items within 60 s")
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
