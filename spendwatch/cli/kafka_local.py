"""`spendwatch kafka-local`: Apache Kafka itself (KRaft, one node or three) on this machine, without Docker.

The driver is :func:`streams.kafka_local.serve_kafka_local`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spendwatch.cli.output import port


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
    p.add_argument("--port", type=port, default=0, help="client port of a single node (default: a free port)")
    p.add_argument("--data-dir", metavar="DIR", help="keep the KRaft log dirs here (kept after it stops)")
    p.add_argument("--heap", default="512m", help="JVM heap per node (default 512m)")
    p.add_argument("--fetch-only", action="store_true", help="only resolve the jars into the cache, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka_local import KAFKA_VERSION, KafkaCluster, ensure_libs, serve_kafka_local

    if args.fetch_only:
        print(ensure_libs())
        return 0

    def ready(cluster: KafkaCluster) -> None:
        print(cluster.bootstrap, flush=True)
        print(f"Apache Kafka {KAFKA_VERSION} ({args.nodes} node{'s' if args.nodes > 1 else ''}) on "
              f"{cluster.bootstrap}, ready in {cluster.started_in_s:.1f}s, {cluster.rss_bytes() >> 20} MiB resident; "
              f"export SPENDWATCH_KAFKA={cluster.bootstrap}; Ctrl-C stops it", file=sys.stderr, flush=True)

    exited = serve_kafka_local(args.nodes, args.data_dir, args.port or None, args.heap, ready)
    if exited is not None:
        node, code, log_path = exited
        print(f"Kafka node {node} exited with code {code}; log: {log_path}", file=sys.stderr)
        return 1
    return 0
