"""gunicorn settings for one Coordinator instance, read from the environment.

    gunicorn -c deploy/gunicorn.conf.py 'coordinator:create_app()'

One instance serves one loopback port; nginx (deploy/nginx/coordinator.conf) spreads requests
over several instances and terminates TLS. The systemd template (deploy/systemd/
coordinator@.service) starts one instance per port; ``tools/cluster_test.py`` starts two with
this same file. The app's own settings (database, keys, rate-limit store) come from the
``COORDINATOR_*`` variables in the README; the server's from these:

    GUNICORN_BIND              address to listen on (default 127.0.0.1:8000; loopback only,
                               nginx in front)
    GUNICORN_WORKERS           worker processes (default 2 × cores + 1, at most 8)
    GUNICORN_TIMEOUT           seconds a worker may be silent before it is killed (default 60)
    GUNICORN_GRACEFUL_TIMEOUT  seconds requests in progress get at stop/restart (default 30)
    GUNICORN_MAX_REQUESTS      requests a worker serves before it is replaced (default 2000;
                               0: never)
    GUNICORN_ACCESS_LOG        access-log file, ``-`` for standard output (the journal under
                               systemd; default), empty for none
    GUNICORN_PRELOAD           1 to import the app once in the master (default 0, see below)
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: each request has a process to itself, and nginx buffers slow clients in front
# of them (the setup gunicorn's documentation asks for). The app is mostly database and
# argon2 work, which threads would not speed up. 2 × cores + 1 is gunicorn's rule of thumb;
# the cap keeps a large host from opening more database connections than PostgreSQL's
# max_connections allows (each worker keeps a small pool) once several instances run.
workers = _int("GUNICORN_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8))
worker_class = "sync"

# A worker silent this long is killed and replaced (the request gets a 502 from nginx). The
# slowest pages, the region reports, take seconds (docs/performance.md); nginx waits longer
# (proxy_read_timeout 75 s) so that gunicorn's limit is the one that acts.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (systemctl stop/restart) requests in progress get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle client connection is kept open. Sync workers close every connection after
# its response anyway, so this matters only with a threaded worker class; kept at gunicorn's
# default for that case (nginx holds the keep-alive connections to browsers).
keepalive = 2

# Replace each worker after a number of requests (a jitter spreads the restarts), so that a
# slow leak in a dependency cannot grow without bound. Replacement is graceful.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max(max_requests // 10, 0)

# Not preloaded: each worker builds its own app, so no database connection or key material
# is shared across fork, and `systemctl reload` (SIGHUP) loads new code into new workers. A
# preloaded app saves a little memory per worker and refuses a bad configuration once at
# start instead of in every worker; GUNICORN_PRELOAD=1 chooses that.
preload_app = os.environ.get("GUNICORN_PRELOAD", "0").strip() == "1"

# gunicorn's own view of the scheme (wsgi.url_scheme) trusts X-Forwarded-Proto only from the
# proxy on loopback. The app's view of client address, scheme, host and port comes from
# werkzeug's ProxyFix (COORDINATOR_TRUSTED_PROXIES=1), which counts proxies instead.
forwarded_allow_ips = "127.0.0.1,::1"

# The access log: the connecting address (nginx's), the client address nginx forwarded,
# method, path without the query string, status, size and duration in microseconds. No query
# string, referrer or user agent: patient data never travels in URLs here (search is a POST),
# and a log of URLs should not be where that promise is tested. Bodies are never logged.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(m)s %(U)s" %(s)s %(B)s %(D)s'
errorlog = "-"
loglevel = "info"

# gunicorn ≥ 25.1 opens a control socket at a fixed per-user path by default; several
# instances under one service user would fight over it, and nothing here uses it.
control_socket_disable = True

proc_name = f"coordinator-{bind.rsplit(':', 1)[-1]}"
