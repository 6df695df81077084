"""Apache Kafka itself on this machine, without Docker: a single KRaft node or a 3-node cluster.

The broker is the one users run (MSK, Confluent, Strimzi, Aiven run Apache Kafka), resolved
from Maven Central by the small Maven project ``deploy/kafka-local/pom.xml`` into a cache
folder outside the repository (``$XDG_CACHE_HOME/spendwatch/kafka-<version>/libs``, default
``~/.cache``); once cached, nothing is downloaded again (Maven is not even started). Java 17+
is needed (Kafka 4 requires it).

:class:`KafkaLocal` formats a KRaft log dir (``kafka.tools.StorageTool format``, with SCRAM
users created at format time) and starts ``kafka.Kafka`` with a generated
``server.properties``: combined broker + controller, a controller quorum of itself (or of the
three nodes of a :class:`KafkaCluster`), listeners on 127.0.0.1 free ports, internal topics
sized for one machine (replication 1 on one node, 3 with min.insync 2 on three), group
joins without the initial rebalance delay. It waits until the node logs that it started and
accepts connections, and stops it with SIGTERM (controlled shutdown), SIGKILL after a timeout.

Extra listeners for security tests and trials: ``sasl_ssl=True`` adds a ``SASL_SSL`` listener
(SCRAM-SHA-256 and SCRAM-SHA-512, the users given at format time) and ``ssl=True`` an ``SSL``
listener that requires client certificates; both need ``tls`` (PEM files of a CA and of a
broker certificate for 127.0.0.1, see ``tests/streams/tlsgen.py``).

``spendwatch kafka-local`` runs one (or ``--nodes 3``) from the command line.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from spendwatch.errors import ExternalError

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "deploy" / "kafka-local" / "pom.xml"
DEFAULT_HEAP = "512m"
_READY_LINE = "Kafka Server started"

LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Logger name="kafka.server.BrokerServer" level="INFO"/>
    <Logger name="kafka.log.LogCleaner" level="INFO"/>
    <Logger name="org.apache.kafka.storage.internals.log.LogCleaner" level="INFO"/>
    <Root level="WARN"><AppenderRef ref="out"/></Root>
  </Loggers>
</Configuration>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spendwatch" / f"kafka-{version}"


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ExternalError("Apache Kafka needs Java 17 or newer (no `java` on PATH, JAVA_HOME unset); "
                            "install a JDK (Debian: apt-get install -y openjdk-17-jre-headless), or use "
                            "`spendwatch broker` (Tansu, no Java) for trying things")
    return found


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_libs(version: str = KAFKA_VERSION, pom: Path = POM) -> Path:
    """The folder of the broker's jars, resolved with Maven on first use (offline afterwards)."""
    libs = cache_dir(version) / "libs"
    done = libs / ".complete"
    if done.is_file():
        return libs
    with _lock(cache_dir(version) / ".lock"):  # parallel test sessions resolve once
        if done.is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ExternalError(f"Apache Kafka {version} is not cached in {libs} and Maven (`mvn`) is not installed "
                                f"to fetch it (Debian: apt-get install -y maven)")
        if not pom.is_file():
            raise ExternalError(f"{pom} is missing: run from a spendwatch checkout to fetch Apache Kafka")
        tmp = Path(tempfile.mkdtemp(prefix="libs-", dir=cache_dir(version)))
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-Dkafka.version={version}",
               "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
        log.info("resolving Apache Kafka %s with Maven into %s", version, libs)
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not any(tmp.glob(f"kafka_2.13-{version}.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise ExternalError(f"Maven could not resolve Apache Kafka {version} (exit {proc.returncode}): "
                                f"{(proc.stdout + proc.stderr)[-1500:]}")
        if libs.exists():
            shutil.rmtree(libs)
        tmp.rename(libs)
        done.write_text(f"{version} resolved in {time.monotonic() - started:.1f}s\n")
    return libs


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what StorageTool prints).

    Never one that starts with ``-``: StorageTool's parser would read ``-t -xyz`` as a missing
    value and a new option (1 id in 64; Kafka's own ``Uuid.randomUuid`` skips them for this reason).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for the TLS listeners: the CA, and the broker's key + certificate chain (one file)."""

    ca: Path
    broker_keystore: Path  # PKCS#8 private key followed by the certificate chain, unencrypted


@dataclass
class ScramUser:
    name: str
    password: str = field(repr=False)


@dataclass
class NodeSpec:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    sasl_ssl_port: int | None = None
    ssl_port: int | None = None


class KafkaNode:
    """One ``kafka.Kafka`` process (broker + controller)."""

    def __init__(self, spec: NodeSpec, voters: str, replication: int, libs: Path, heap: str,
                 tls: TlsFiles | None, extra: dict[str, str]) -> None:
        self.spec = spec
        self.voters = voters
        self.replication = replication
        self.libs = libs
        self.heap = heap
        self.tls = tls
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s = 0.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.spec.port}"

    @property
    def log_path(self) -> Path:
        return self.spec.data_dir / "server.log"

    @property
    def properties_path(self) -> Path:
        return self.spec.data_dir / "server.properties"

    def properties(self) -> dict[str, str]:
        s = self.spec
        listeners = [f"PLAINTEXT://127.0.0.1:{s.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        if s.sasl_ssl_port:
            listeners.append(f"SASL_SSL://127.0.0.1:{s.sasl_ssl_port}")
            protocols.append("SASL_SSL:SASL_SSL")
        if s.ssl_port:
            listeners.append(f"SSL://127.0.0.1:{s.ssl_port}")
            protocols.append("SSL:SSL")
        r = self.replication
        min_isr = "2" if r >= 3 else "1"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(s.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": ",".join([*listeners, f"CONTROLLER://127.0.0.1:{s.controller_port}"]),
            "advertised.listeners": ",".join(listeners),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(protocols),
            "log.dirs": str(s.data_dir / "logs"),
            "num.partitions": "1",
            "default.replication.factor": str(r),
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": str(r),
            "offsets.topic.num.partitions": "8",  # one machine: 50 partitions only slow the first group join
            "transaction.state.log.replication.factor": str(r),
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": str(r),
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",  # tests and trials use short timeouts for quick failover
            "broker.session.timeout.ms": "4000",  # a killed broker's partitions move in seconds (default 9 s)
            "broker.heartbeat.interval.ms": "1000",
            "log.cleaner.backoff.ms": "1000",  # compaction soon after a segment rolls (tests, trials)
            "log.retention.check.interval.ms": "60000",
            "transaction.remove.expired.transaction.cleanup.interval.ms": "60000",
            "message.max.bytes": str(16 << 20),
            "replica.fetch.max.bytes": str(16 << 20),
        }
        if s.sasl_ssl_port:
            props["sasl.enabled.mechanisms"] = "SCRAM-SHA-256,SCRAM-SHA-512"
            for mech in ("scram-sha-256", "scram-sha-512"):
                props[f"listener.name.sasl_ssl.{mech}.sasl.jaas.config"] = \
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        if (s.sasl_ssl_port or s.ssl_port) and self.tls is not None:
            props.update({
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(self.tls.broker_keystore),
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(self.tls.ca),
                "ssl.endpoint.identification.algorithm": "",
            })
            if s.ssl_port:
                props["listener.name.ssl.ssl.client.auth"] = "required"
        props.update(self.extra)
        return props

    def write_config(self) -> None:
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.spec.data_dir / "log4j2.xml").write_text(LOG4J2)

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        return [java_binary(), f"-Xmx{heap or self.heap}", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.spec.data_dir / 'log4j2.xml'}",
                "-cp", f"{self.libs}/*", main, *args]

    def format(self, cid: str, users: list[ScramUser]) -> subprocess.Popen[bytes]:
        """Start formatting the KRaft log dir (SCRAM users created now); :meth:`format_done` waits."""
        self.write_config()
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", cid, "-c", str(self.properties_path),
                         "--ignore-formatted", heap="256m")
        for u in users:
            for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                cmd += ["--add-scram", f"{mech}=[name={u.name},password={u.password}]"]
        self._users = users
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def format_done(self, proc: subprocess.Popen[bytes]) -> None:
        out_b, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            out = out_b.decode(errors="replace")
            for u in self._users:
                out = out.replace(u.password, "***")
            raise ExternalError(f"formatting the KRaft log dir {self.spec.data_dir} failed: {out[-1500:]}")

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.write_config()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._started_at = time.monotonic()
        with open(self.log_path, "ab") as logf:
            self.process = subprocess.Popen(self._java("kafka.Kafka", str(self.properties_path)), stdout=logf,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ExternalError(f"Kafka node {self.spec.node_id} exited with code {self.process.returncode} "
                                    f"while starting; log: {self.log_path}\n{self._tail()}")
            if self._ready_logged() and self._accepts():
                self.started_in_s = time.monotonic() - self._started_at
                return
            time.sleep(0.1)
        raise ExternalError(f"Kafka node {self.spec.node_id} did not start within {timeout_s:.0f}s; "
                            f"log: {self.log_path}\n{self._tail()}")

    def _ready_logged(self) -> bool:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return _READY_LINE.encode() in f.read()
        except OSError:
            return False

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.spec.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def rss_bytes(self) -> int:
        """Resident memory of the JVM (Linux /proc), 0 when not running."""
        if self.process is None or self.process.poll() is not None:
            return 0
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def kill(self) -> None:
        """SIGKILL: a crash, for failure tests (the log dir is kept; :meth:`start` brings it back)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (controlled shutdown), SIGKILL if it has not exited after ``timeout_s``."""
        p = self.process
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("Kafka node %d did not stop within %.0fs: killing it", self.spec.node_id, timeout_s)
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        except ProcessLookupError:
            pass


class KafkaCluster:
    """``nodes`` combined KRaft nodes (1 = a single broker) in ``data_dir`` (a temp dir by default)."""

    def __init__(self, nodes: int = 1, data_dir: str | Path | None = None, *, port: int | None = None,
                 sasl_ssl: bool = False, ssl: bool = False, tls: TlsFiles | None = None,
                 users: list[ScramUser] | None = None, heap: str = DEFAULT_HEAP, version: str = KAFKA_VERSION,
                 extra: dict[str, str] | None = None) -> None:
        if (sasl_ssl or ssl) and tls is None:
            raise ValueError("SSL listeners need tls files")
        self._tmp = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="kafka-local-"))
        self.version = version
        self.users = list(users or [])
        self.cluster_id = cluster_id()
        specs = [NodeSpec(i + 1, port if (port and nodes == 1) else free_port(), free_port(),
                          self.data_dir / f"node-{i + 1}", free_port() if sasl_ssl else None,
                          free_port() if ssl else None) for i in range(nodes)]
        voters = ",".join(f"{s.node_id}@127.0.0.1:{s.controller_port}" for s in specs)
        libs = ensure_libs(version)
        self.nodes = [KafkaNode(s, voters, min(nodes, 3), libs, heap, tls, dict(extra or {})) for s in specs]
        self.started_in_s = 0.0

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.spec.sasl_ssl_port}" for n in self.nodes)

    @property
    def ssl_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.spec.ssl_port}" for n in self.nodes)

    def start(self, timeout_s: float = 90.0) -> KafkaCluster:
        t0 = time.monotonic()
        formatting = [(n, n.format(self.cluster_id, self.users)) for n in self.nodes]
        for n, proc in formatting:
            n.format_done(proc)
        for n in self.nodes:
            n.start()
        try:
            for n in self.nodes:
                n.wait_ready(max(5.0, timeout_s - (time.monotonic() - t0)))
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - t0
        log.info("Apache Kafka %s: %d node(s) on %s, ready in %.1fs", self.version, len(self.nodes),
                 self.bootstrap, self.started_in_s)
        return self

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based)."""
        self.nodes[index].kill()

    def restart(self, index: int, timeout_s: float = 90.0) -> None:
        """Start node ``index`` again on its log dir and ports; returns once it is ready."""
        node = self.nodes[index]
        node.start()
        node.wait_ready(timeout_s)

    def rss_bytes(self) -> int:
        return sum(n.rss_bytes() for n in self.nodes)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every node (controlled shutdown), SIGKILL what is still running after ``timeout_s``."""
        for n in self.nodes:
            if n.process is not None and n.process.poll() is None:
                os.killpg(n.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for n in self.nodes:
            n.stop(max(0.1, deadline - time.monotonic()))
        if self._tmp:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def KafkaLocal(data_dir: str | Path | None = None, **kw: object) -> KafkaCluster:  # noqa: N802 - reads as a class
    """A single-node Apache Kafka (see :class:`KafkaCluster`)."""
    return KafkaCluster(1, data_dir, **kw)  # type: ignore[arg-type]


def serve_kafka_local(nodes: int, data_dir: str | None, port: int | None, heap: str,
                      on_ready: Callable[[KafkaCluster], None]) -> tuple[int, int, str] | None:
    """Run Apache Kafka (one node or three) until SIGTERM or SIGINT (``spendwatch kafka-local``).

    ``on_ready`` gets the started cluster. Returns None after a signal, or ``(node id, exit
    code, log path)`` of a node that exited by itself (the cluster is stopped then too).
    """
    cluster = KafkaCluster(nodes, data_dir, port=port, heap=heap).start()
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        on_ready(cluster)
        while not stop:
            for n in cluster.nodes:
                if n.process is not None and n.process.poll() is not None:
                    return n.spec.node_id, n.process.returncode, str(n.log_path)
            time.sleep(0.2)
    finally:
        cluster.stop()
    return None
