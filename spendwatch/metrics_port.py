"""One metrics-port scheme for every long-running process, and what happens when a port is taken.

Each service has its own default ``/metrics`` port on 127.0.0.1, so one of each runs on a host
without any flag (the Helm chart, the Dockerfile and docker-compose use the same numbers):

========================  ======  =========================================
service                   port    flag / setting
========================  ======  =========================================
``spendwatch worker``     6066    ``--metrics-port`` / ``worker.metrics_port``
``spendwatch alerter``    9466    ``--metrics-port``
``spendwatch collect``    9403    ``--metrics-port`` / ``collector.metrics_port``
(``gpu`` and ``dcgm``)            (``dcgm.metrics_port``)
``spendwatch serve``      8080    ``--port`` (its ``/metrics`` is on the API port)
========================  ======  =========================================

``--metrics-port 0`` turns ``/metrics`` off, as it always has (a deployment that switched metrics
off must not find a listener on a random port after an upgrade).

A second process of the same kind on the same host (two workers splitting the partitions, a
collector started twice by hand) finds its default port taken. It no longer dies on "address
already in use": it logs a warning that names the port and the flag, serves ``/metrics`` on a
free port instead, and logs that port (:func:`serve_prometheus`, :func:`choose_port`).
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

log = logging.getLogger("spendwatch.metrics")

WORKER_PORT = 6066
ALERTER_PORT = 9466
COLLECTOR_PORT = 9403
API_PORT = 8080

#: service name -> its default /metrics port (the table above).
DEFAULT_PORTS: dict[str, int] = {"worker": WORKER_PORT, "alerter": ALERTER_PORT, "collector": COLLECTOR_PORT,
                                 "api": API_PORT}


def _in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE


def _warn_taken(service: str, host: str, port: int, chosen: int, flag: str) -> None:
    log.warning("%s: metrics port %s:%d is already in use (another %s on this host?); serving /metrics on "
                "%s:%d instead; give each process its own %s to choose the port", service, host, port, service,
                host, chosen, flag)


def choose_port(port: int, host: str, *, service: str, flag: str = "--metrics-port") -> int:
    """``port`` when it can be bound on ``host`` now, else a free port (logged with a warning).

    For servers that bind later themselves (the worker's faust web server): the probe binds
    with ``SO_REUSEADDR`` as they do, so a port left in TIME_WAIT still counts as free and only
    a listening process makes it taken. ``port`` 0 (off) is returned as it is.
    """
    if port == 0:
        return 0
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        return port
    except OSError as exc:
        if not _in_use(exc):
            raise
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        chosen = int(s.getsockname()[1])
    _warn_taken(service, host, port, chosen, flag)
    return chosen


def serve_prometheus(registry: Any, port: int, host: str, *, service: str, flag: str = "--metrics-port") -> int:
    """Serve ``registry`` on ``host:port`` (prometheus_client's server thread); the port it got.

    When ``port`` is taken the server binds a free one instead and a warning names both and the
    flag; the process carries on either way. ``port`` 0 serves nothing and returns 0.
    """
    from prometheus_client import start_http_server

    if port == 0:
        return 0
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if not _in_use(exc):
            raise
        server, _thread = start_http_server(0, addr=host, registry=registry)
        _warn_taken(service, host, port, int(server.server_port), flag)
    got = int(server.server_port)
    log.info("%s: metrics on http://%s:%d/metrics", service, host, got)
    return got


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
