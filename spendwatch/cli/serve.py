"""`spendwatch serve`: the HTTP API and the dashboard over the history store.

The app is :func:`api.app.create_app`; :mod:`api.server` runs it (uvicorn) and reads what it
needs from the environment (the write token, Slack's signing secret, Kafka for feedback).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from spendwatch.cli.flags import add_config, add_db, add_kafka, apply_kafka
from spendwatch.cli.output import port
from spendwatch.cli.settings import load as load_settings

DEFAULT_PORT = 8080  # the Helm chart's api.port


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the HTTP API (OpenAPI at /openapi.json) and the dashboard at /",
        description="Serve the JSON API over the history store (anomalies, summaries, time series, silences, "
                    "feedback; OpenAPI document at /openapi.json), the dashboard at /, /healthz and /metrics. "
                    "Read-only unless SPENDWATCH_API_TOKEN (or SPENDWATCH_API_TOKEN_FILE) is set: writes then need "
                    "'Authorization: Bearer <token>'. With SPENDWATCH_SLACK_SIGNING_SECRET it also serves Slack's "
                    "interactivity request URL at /slack/actions; with SPENDWATCH_KAFKA feedback is published to "
                    "spendwatch.feedback.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = a free one)")
    add_db(p)
    add_config(p)
    add_kafka(p)  # feedback goes to spendwatch.feedback when a broker is given
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from api.server import bind, build, run_forever, serve_environment, url_of

    apply_kafka(args)
    env = serve_environment(os.environ)
    served = build(load_settings(args.config), args.db, env)
    try:
        sock = bind(args.host, args.port)
        print(f"spendwatch serve: dashboard and API at {url_of(sock)} (history {served.store.safe_url}; "
              f"{'writes need the token' if env.token else 'read-only: set SPENDWATCH_API_TOKEN for writes'}"
              f"{'; Slack actions at /slack/actions' if env.slack_signing_secret else ''})", file=sys.stderr)
        run_forever(served.app, sock)
    finally:
        served.close()
    return 0
