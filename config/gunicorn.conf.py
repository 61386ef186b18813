"""Gunicorn settings for CodeDrill (`gunicorn -c config/gunicorn.conf.py config.wsgi:application`).

Concurrency is this file's job, nothing in the app's code. gthread workers: a generation waits
seconds on the model, and a thread waiting on I/O releases the GIL, so one process serves other
pages meanwhile. Two processes per core (WEB_CONCURRENCY) use the cores; threads per process
(GUNICORN_THREADS) cover the generations in flight: GENERATION_MAX_IN_FLIGHT (32 per process,
settings.py) stays below `threads` (48), so slow model calls can never take every thread. The
figures these were chosen from are in docs/BENCHMARKS.md (`make bench`).
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
# Two processes per core: a process runs one thread's Python at a time (the GIL), and a request
# that waits on the database hands it over; with more processes fewer threads compete for each GIL.
workers = int(os.environ.get("WEB_CONCURRENCY", "") or 2 * multiprocessing.cpu_count())
threads = int(os.environ.get("GUNICORN_THREADS", "") or 48)
# Each worker gets its own listening socket and the kernel spreads new connections between them;
# with one shared socket a busy worker often accepted every keep-alive connection of a burst.
reuse_port = True
# Above OPENAI_TIMEOUT (30 s by default) plus one retry, so a slow model call is never killed mid-way.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "") or 75)
graceful_timeout = 30
keepalive = 5
# Load the app once in the master; workers fork with it ready.
preload_app = True
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind a proxy that terminates TLS, trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
