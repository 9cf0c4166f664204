"""The cluster test: two app instances behind nginx on PostgreSQL and Redis, as in production.

    make cluster-test
    .venv/bin/python tools/cluster_test.py            # a throw-away PostgreSQL server
    DATABASE_URL=postgresql://postgres@127.0.0.1:54330/postgres \\
        .venv/bin/python tools/cluster_test.py        # a fresh database on that server

Issue 11 asks that everything holding state across requests works with several app instances.
This proves it end to end with the production configuration itself — ``deploy/gunicorn.conf.py``,
the settings of ``deploy/coordinator.env.example`` (the test's database and Redis in place of
its addresses) and ``deploy/nginx/coordinator.conf`` (placeholders filled with temporary ports
and paths):

a. installs nginx and Redis from Debian's packages if they are missing (and PostgreSQL when no
   ``DATABASE_URL`` is given), starts a throw-away PostgreSQL cluster, Redis, ``coordinator
   init`` and a seeded coordinator with patients, two gunicorn instances sharing the secrets
   (read from files, as systemd's credentials give them) and Redis as the rate-limit store,
   and nginx with a self-signed certificate that the client trusts alone;
b. signs in on instance A and continues on instance B with the same cookies, then through
   nginx, where both instances serve the one session (a test-only ``X-Upstream`` header names
   the instance that answered); also the HTTP→HTTPS redirect, the static files, HSTS and the
   body-size limit;
c. trips the sign-in rate limit through nginx across both instances: N failed sign-ins are
   answered, served by both, and the next gets 429 (separate counters would allow 2N or more);
   another client address is not limited, a forged ``X-Forwarded-For`` does not escape it;
d. appends journal notes and contacts to one patient from many threads at once, through A, B
   and nginx; the database holds exactly what was posted, and ``coordinator verify-journal``
   finds both chains intact with as many entries as the database holds;
e. stops instance A: nginx moves the signed-in session to B, a GET and a POST alike.

Everything listens on 127.0.0.1 on free ports and lives in a temporary folder; every process is
stopped and every folder (and the fresh database) removed at the end, also on failure, on
Ctrl-C and when the hard limit of ten minutes is reached. Each step prints ``ok: …``; a failure
prints what was wrong and the end of the servers' logs. Exit status 0 when everything passed,
1 on a failure, 2 at the time limit, 130 when interrupted.

This file is the command: the time limit, the signals, the order of the steps and the summary.
The steps are in the package ``tools/cluster/``: ``services`` (packages, PostgreSQL, Redis,
processes), ``instances`` (gunicorn), ``proxy`` (nginx), ``client`` (the test's browser),
``startup`` (step a), ``checks`` (steps b, c and e) and ``journal`` (step d).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

# This script's folder is on the import path: the steps are the package tools/cluster/.
from cluster.checks import (
    failover,
    proxy_edges,
    rate_limit_across_instances,
    session_across_instances,
)
from cluster.journal import concurrent_journal
from cluster.report import Failed, Timings
from cluster.services import show_logs
from cluster.startup import build

from coordinator.extensions import db

#: Seconds the whole run may take before it is stopped (exit status 2).
HARD_LIMIT = 600


class Overrun(Exception):
    """The run took longer than :data:`HARD_LIMIT`."""


def run_all(workdir: Path, timings: Timings) -> None:
    """Every step in order, each building on the last; the servers' logs shown on a failure."""
    with ExitStack() as stack:
        try:
            cluster, app, instance = build(stack, workdir, timings)
        except SystemExit as error:  # load.py's helpers give up this way
            raise Failed(str(error)) from None
        try:
            browser = session_across_instances(cluster, timings)
            proxy_edges(cluster, browser, timings)
            rate_limit_across_instances(cluster, timings)
            concurrent_journal(cluster, browser, app, instance, timings)
            failover(cluster, browser, timings)
        except Failed:
            show_logs(workdir)
            raise
        finally:
            with app.app_context():
                db.engine.dispose()


def _overrun(_signal: int, _frame: FrameType | None) -> None:
    raise Overrun()


def _terminated(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt()  # unwind as Ctrl-C does: everything is stopped and removed


def main() -> int:
    timings = Timings()
    signal.signal(signal.SIGALRM, _overrun)
    signal.signal(signal.SIGTERM, _terminated)
    signal.alarm(HARD_LIMIT)
    try:
        with tempfile.TemporaryDirectory(prefix="coordinator-cluster-") as folder:
            workdir = Path(folder)
            if os.geteuid() == 0:
                workdir.chmod(0o711)  # nginx's workers (nobody) pass through to their folder
            run_all(workdir, timings)
    except Failed as failure:
        print(f"FAILED: {failure}", flush=True)
        return 1
    except Overrun:
        print(f"FAILED: the run took longer than its limit of {HARD_LIMIT} s and was stopped.")
        return 2
    except KeyboardInterrupt:
        print("Interrupted: every server was stopped and the temporary files removed.")
        return 130
    finally:
        signal.alarm(0)
    total = time.monotonic() - timings.started
    print(f"\nCluster test passed in {total:.1f} s:")
    for step, seconds in timings.steps:
        print(f"  {seconds:6.1f} s  {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
