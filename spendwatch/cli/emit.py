"""`spendwatch emit training-run|observations ...`: publish one event from a shell or a pipeline step."""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

import orjson

from spendwatch.cli.flags import add_config, add_kafka, apply_kafka
from spendwatch.cli.output import non_negative_float, positive_float, print_json, time_arg
from spendwatch.cli.settings import load as load_settings
from spendwatch.errors import ConfigError
from spendwatch.kafka import kafka_config


def register(sub: Any) -> None:
    p = sub.add_parser("emit", help="publish a training_run or model_observation event",
                       description="Publish one contract event to Kafka (SPENDWATCH_KAFKA), validated first. "
                                   "Exit 0 once the broker acknowledged it, 1 if it is still spooled on disk.")
    s = p.add_subparsers(dest="emit_kind", metavar="KIND", required=True)
    t = s.add_parser("training-run", help="a training or fine-tuning run changed state")
    t.add_argument("--run-id", required=True)
    t.add_argument("--model-id", required=True)
    t.add_argument("--workload", required=True, help="workload id (namespace/name)")
    t.add_argument("--status", required=True, choices=("started", "succeeded", "failed", "cancelled"))
    t.add_argument("--team")
    t.add_argument("--owner")
    t.add_argument("--kind", default="training")
    for name in ("started-at", "ended-at"):
        t.add_argument(f"--{name}", type=time_arg, metavar="TIME", help="epoch s or ISO 8601 (e.g. 2026-03-24T18:00Z)")
    for name in ("gpu-hours", "cost-usd"):
        t.add_argument(f"--{name}", type=non_negative_float)
    t.add_argument("--metric", nargs=3, metavar=("NAME", "VALUE", "HIGHER|LOWER"),
                   help="evaluation result, e.g. --metric auc 0.91 higher")
    for name in ("data-version", "code-version"):
        t.add_argument(f"--{name}")
    t.add_argument("--trigger", choices=("schedule", "drift", "manual", "retry"))
    o = s.add_parser("observations", help="a batch of a served model's inputs or outputs")
    o.add_argument("--model-id", required=True)
    o.add_argument("--workload", required=True)
    o.add_argument("--team")
    o.add_argument("--owner")
    o.add_argument("--kind", default="inference")
    o.add_argument("--values", required=True, metavar="JSON|@FILE|-",
                   help='{"feature": [numbers...], ...} inline, from @FILE, or - for stdin')
    for q in (t, o):
        add_config(q, ": its kafka and publisher sections")
        add_kafka(q)
        q.add_argument("--stdout", action="store_true", help="print the event instead of publishing it")
        q.add_argument("--timeout", type=positive_float, default=15.0, metavar="SECONDS",
                       help="seconds to wait for the broker (default 15)")
        q.add_argument("--json", action="store_true", help="say what was published as one JSON object (topic, key, "
                       "event) on stdout (with --stdout: on stderr)")
    p.set_defaults(func=run)


def _workload(args: argparse.Namespace) -> dict[str, Any]:
    w: dict[str, Any] = {"id": args.workload, "kind": args.kind}
    if args.team:
        w["team"] = args.team
    if args.owner:
        w["owner"] = args.owner
    return w


def run(args: argparse.Namespace) -> int:
    from collectors.publisher import StdoutTransport
    from collectors.sdk import SpendwatchClient

    class _Stdout(StdoutTransport):
        """--stdout: the publisher writes from its own thread; a reader that left is told to the main one."""

        closed = False

        def send(self, records: Any) -> int:
            try:
                return super().send(records)
            except BrokenPipeError:
                _Stdout.closed = True
                return len(records)  # nobody to print them to: not an error, not a retry

        def close(self) -> None:
            try:
                super().close()
            except BrokenPipeError:
                _Stdout.closed = True

    transport = _Stdout() if args.stdout else None
    apply_kafka(args)
    # --stdout never reads or drains the spool of real sends (old spooled events would be printed
    # as if emitted now): it gets an empty one of its own, removed afterwards.
    own_spool = tempfile.TemporaryDirectory(prefix="spendwatch-emit-stdout-") if args.stdout else None
    client = SpendwatchClient(kafka=kafka_config(load_settings(args.config)), transport=transport,
                              spool_dir=own_spool.name if own_spool else None)
    try:
        if args.emit_kind == "training-run":
            metric = None
            if args.metric:
                name, value, direction = args.metric
                if direction.lower() not in ("higher", "lower"):
                    raise ConfigError(f"--metric: direction must be 'higher' or 'lower', got {direction!r}")
                metric = (name, float(value), direction.lower() == "higher")
            event = client.training_run(args.run_id, args.model_id, _workload(args), args.status,
                                started_at=args.started_at, ended_at=args.ended_at, gpu_hours=args.gpu_hours,
                                cost_usd=args.cost_usd, metric=metric, data_version=args.data_version,
                                code_version=args.code_version, trigger=args.trigger)
        else:
            raw = args.values
            if raw == "-":
                raw = sys.stdin.read()
            elif raw.startswith("@"):
                with open(raw[1:], encoding="utf-8") as f:
                    raw = f.read()
            try:
                values = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"--values: not valid JSON: {exc}") from None
            event = client.observations(args.model_id, _workload(args), values)
        if not client.flush(args.timeout):
            print(f"spendwatch emit: the broker did not acknowledge within {args.timeout:.0f}s; the event is "
                  f"spooled in {client.publisher.spool.path} and goes out with the next emit", file=sys.stderr)
            return 1
        _said(args, event)
    finally:
        client.close(0.5)
        if own_spool is not None:
            own_spool.cleanup()
    if transport is not None and transport.closed:
        raise BrokenPipeError  # spendwatch.cli.main: stdout's reader left (`| head`), exit 0 quietly
    return 0


def _said(args: argparse.Namespace, event: dict[str, Any]) -> None:
    """What was published: its topic and key, on stderr (or as JSON with ``--json``)."""
    from spendwatch.contract import kafka_key, topic_name

    topic, key = topic_name(event["type"]), kafka_key(event)
    where = "printed" if args.stdout else "published"
    if args.json:
        print_json({where: True, "topic": topic, "key": key, "event": event},
                   sys.stderr if args.stdout else sys.stdout)
    else:
        print(f"emit: {where} {event['type']} for {event.get('model_id') or key} (key {key}) "
              f"{'for' if args.stdout else 'to'} {topic}", file=sys.stderr)
