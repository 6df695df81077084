"""`spendwatch kafka-local`: Apache Kafka itself (KRaft, one node or three) on this machine, without Docker."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "kafka-local",
        help="start Apache Kafka (KRaft) on 127.0.0.1 from the Maven cache and print its address",
        description="Resolve Apache Kafka's broker with Maven on first use (cached in "
                    "$XDG_CACHE_HOME/spendwatch/kafka-<version>/libs, offline afterwards), format a KRaft log "
                    "dir, start a combined broker + controller (or a 3-node cluster with --nodes 3), print the "
                    "bootstrap address and run until Ctrl-C or SIGTERM. Needs Java 17+. The log dir is a temp "
                    "dir (gone when it stops) unless --data-dir is given.",
    )
    p.add_argument("--nodes", type=int, choices=(1, 3), default=1, help="1 node (default) or a 3-node cluster")
    p.add_argument("--port", type=int, default=0, help="client port of a single node (default: a free port)")
    p.add_argument("--data-dir", metavar="DIR", help="keep the KRaft log dirs here (kept after it stops)")
    p.add_argument("--heap", default="512m", help="JVM heap per node (default 512m)")
    p.add_argument("--fetch-only", action="store_true", help="only resolve the jars into the cache, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka_local import KAFKA_VERSION, KafkaCluster, ensure_libs

    if args.fetch_only:
        print(ensure_libs())
        return 0
    cluster = KafkaCluster(args.nodes, args.data_dir, port=args.port or None, heap=args.heap).start()
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(cluster.bootstrap, flush=True)
    print(f"Apache Kafka {KAFKA_VERSION} ({args.nodes} node{'s' if args.nodes > 1 else ''}) on {cluster.bootstrap}, "
          f"ready in {cluster.started_in_s:.1f}s, {cluster.rss_bytes() >> 20} MiB resident; "
          f"export SPENDWATCH_KAFKA={cluster.bootstrap}; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while not stop:
            for n in cluster.nodes:
                if n.process is not None and n.process.poll() is not None:
                    print(f"Kafka node {n.spec.node_id} exited with code {n.process.returncode}; log: {n.log_path}",
                          file=sys.stderr)
                    return 1
            time.sleep(0.2)
    finally:
        cluster.stop()
    return 0
