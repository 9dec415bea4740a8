"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

gunicorn runs behind nginx (``deploy/nginx.conf``), which buffers whole
requests and answers slow clients itself: sync workers then only ever see
complete requests from nginx and are never held by a slow sender. Without
nginx in front, a handful of slowloris connections occupies every sync
worker (docs/hardening.md has the measurements).

Every value can be moved by an environment variable (``GUNICORN_*``).

With ``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes its metric values
to files in that directory and any worker serving ``/metrics`` adds them up
(protection.core.metrics): on start, stale files of a previous run are removed;
when a worker exits, its counts are folded into archive files and its own
files and "live" gauges removed (protection.core.metricsfiles).
"""

import os
from pathlib import Path
from typing import Any

# nginx proxies to this address (a loopback port; a unix socket also works:
# GUNICORN_BIND=unix:/run/gatehouse/gunicorn.sock).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "sync"
# A request that takes longer than this is killed (a worker stuck on a
# backing service); gatehouse's own deadlines (Redis 0.25 s, PostgreSQL
# connect 3 s, reCAPTCHA total) are all far below it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 2
# Small requests only: gatehouse's bodies are under 16 KiB, its headers short.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Recycle workers now and then so no slow leak can grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = 1000

# --- What a client may say about the request's path and scheme ---------------
# gunicorn's default trusts SCRIPT_NAME and PATH_INFO request headers from
# loopback (forwarder_headers + forwarded_allow_ips = 127.0.0.1): anyone whose
# request nginx forwards could then move the routed path. No path header is
# trusted from anyone, and headers with "_" in their name are dropped.
forwarder_headers = ""
header_map = "drop"
# Who may set X-Forwarded-Proto (wsgi.url_scheme): the local nginx only.
# The client IP is resolved by gatehouse itself (GATEHOUSE_TRUSTED_PROXIES).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


# --- The control socket (gunicorn 25.1+, ``gunicornc``) ------------------------
# By default gunicorn opens $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl:
# one path for every instance of the user, so a second instance on the host
# (a blue/green deploy, a second site) takes the first one's socket. Off
# unless GUNICORN_CONTROL_SOCKET names a path of this instance's own
# (e.g. /run/gatehouse/gunicorn.ctl).
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# --- gunicorn's own log lines in the application's format ----------------------
# GATEHOUSE_LOG_FORMAT (json by default, as config/settings.py): one JSON
# object per line on stderr, with the fields Django's lines have. gunicorn's
# access log stays off: the application writes one access line per request
# itself, with the route and the request id (logger gatehouse.access).
_LOG_FORMAT = "text" if os.environ.get("GATEHOUSE_LOG_FORMAT", "").lower() == "text" else "json"
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        "text": {"format": "{asctime} {levelname} {name} [-] {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": _LOG_FORMAT,
            "stream": "ext://sys.stderr",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": _LOG_FORMAT,
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": "WARNING", "handlers": ["console"]},
    # No level here: gunicorn's --log-level / GUNICORN loglevel keeps deciding.
    "loggers": {
        "gunicorn.error": {"handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Its counts go into the archive files; its own files and live gauges go.
        from protection.core.metricsfiles import metrics_process_exited

        metrics_process_exited(worker.pid)


# --- Nothing counted in memory is lost when a worker exits ---------------------
# Denials added up under a flood (and block hits) are written by an idle timer
# in each worker, and whatever is left when the worker exits (SIGHUP reload,
# max_requests recycling, shutdown): protection.core.flushing.
def post_worker_init(worker: Any) -> None:
    from protection.core.flushing import process_flusher_start

    process_flusher_start()


def worker_exit(server: Any, worker: Any) -> None:
    try:
        from protection.core.flushing import process_flush_all
    except Exception:  # the worker never loaded the app: nothing to write
        return
    process_flush_all()
