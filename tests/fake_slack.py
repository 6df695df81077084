"""The fake Slack: a local HTTP server that speaks the Slack Web API methods spendwatch uses,
reached through slack-sdk's ``base_url``: chat.postMessage, chat.update, users.lookupByEmail, views.open,
conversations.list and conversations.history (with message metadata).

It keeps every accepted call (method, payload, the ts it assigned), can be told to answer the
next calls of a method with HTTP 429 (``Retry-After``) or 5xx, or to accept a call and then sleep
before answering (``delays``: a post Slack made whose answer the client timed out on), and checks
the bot token. As Slack, it gives each channel an id (``C…``), answers posts with that id, assigns
ts from the wall clock, and reads history by channel id only. Slack's
Web API is the one external system the suite cannot run for real, so this double lives in one
place: ``with serve_fake_slack() as slack: ...`` (the ``fake_slack`` fixture of the alerting
tests). It is never a default: spendwatch reaches it only when given its ``base_url``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "xoxb-test-secret-token-4242"
USERS = {"ana@corp.example": "U0ANA0001", "bo@corp.example": "U0BO00002"}


@dataclass
class FakeSlack:
    """The server's state. ``faults[method]`` is a list of statuses (429, 500, 503 …) to answer the
    next calls with, in order; ``calls`` holds accepted calls only."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[str, int]] = field(default_factory=list)
    faults: dict[str, list[int]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> current root payload
    delays: dict[str, list[float]] = field(default_factory=dict)  # method -> seconds to sleep after accepting
    channels: dict[str, str] = field(default_factory=dict)  # name (no #) -> id
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel id -> root messages
    reads: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # conversations.* calls
    lookups: int = 0
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method]

    def roots(self) -> list[dict[str, Any]]:
        return [c for c in self.of("chat.postMessage") if not c["payload"].get("thread_ts")]

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by name (``#x``) or id; a new name gets a new id."""
        if channel in self.channels.values():
            return channel
        name = channel.lstrip("#")
        return self.channels.setdefault(name, f"C{len(self.channels) + 1:08d}")

    def replies(self, ts: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.of("chat.postMessage") if c["payload"].get("thread_ts")
                and (ts is None or c["payload"]["thread_ts"] == ts)]


def _handler(state: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, payload: dict[str, Any]) -> None:
            method = urlparse(self.path).path.rsplit("/", 1)[-1]
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(200, {"ok": False, "error": "invalid_auth"})
                return
            with state.lock:
                queue = state.faults.get(method) or []
                fault = queue.pop(0) if queue else None
                if fault is not None:
                    state.rejected.append((method, fault))
            if fault == 429:
                self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
                return
            if fault is not None:
                self._reply(fault, {"ok": False, "error": "internal_error"})
                return
            with state.lock:
                waits = state.delays.get(method) or []
                delay = waits.pop(0) if waits else None
            # the client may have given up waiting (a timeout after accept): Slack has the call all the same
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(method, payload, delay)

        def _answer(self, method: str, payload: dict[str, Any], delay: float | None) -> None:
            answer: dict[str, Any] = {}
            with state.lock:
                if method == "users.lookupByEmail":
                    state.lookups += 1
                    user = USERS.get(str(payload.get("email")))
                    self._reply(200, {"ok": True, "user": {"id": user}} if user
                                else {"ok": False, "error": "users_not_found"})
                    return
                if method == "chat.postMessage":
                    ts = f"{int(time.time())}.{next(state._seq):06d}"
                    channel = state.channel_id(str(payload.get("channel")))
                    state.calls.append({"method": method, "payload": payload, "ts": ts, "at": time.monotonic()})
                    if not payload.get("thread_ts"):
                        state.messages[ts] = payload
                        message = {"type": "message", "ts": ts, "text": payload.get("text", "")}
                        if isinstance(payload.get("metadata"), dict):
                            message["metadata"] = payload["metadata"]
                        state.history.setdefault(channel, []).append(message)
                    answer = {"ok": True, "channel": channel, "ts": ts}
                elif method == "conversations.list":
                    state.reads.append((method, payload))
                    answer = {"ok": True, "channels": [{"id": i, "name": n} for n, i in state.channels.items()],
                              "response_metadata": {"next_cursor": ""}}
                elif method == "conversations.history":
                    state.reads.append((method, payload))
                    if payload.get("channel") not in state.channels.values():
                        answer = {"ok": False, "error": "channel_not_found"}  # Slack reads history by id only
                    else:
                        oldest = float(payload.get("oldest") or 0)
                        with_meta = str(payload.get("include_all_metadata", "")).lower() in ("1", "true")
                        found = [m if with_meta else {k: v for k, v in m.items() if k != "metadata"}
                                 for m in reversed(state.history.get(str(payload["channel"]), []))
                                 if float(m["ts"]) > oldest]
                        start = int(payload.get("cursor") or 0)
                        limit = int(payload.get("limit") or 100)
                        page = found[start:start + limit]
                        more = start + limit < len(found)
                        answer = {"ok": True, "messages": page, "has_more": more,
                                  "response_metadata": {"next_cursor": str(start + limit) if more else ""}}
            if answer:
                if delay:
                    time.sleep(delay)
                self._reply(200, answer)
                return
            with state.lock:
                if method == "chat.update":
                    if payload.get("ts") not in state.messages:
                        self._reply(200, {"ok": False, "error": "message_not_found"})
                        return
                    state.calls.append({"method": method, "payload": payload, "ts": payload["ts"],
                                        "at": time.monotonic()})
                    state.messages[payload["ts"]] = payload
                    self._reply(200, {"ok": True, "channel": payload.get("channel"), "ts": payload["ts"]})
                    return
                if method == "views.open":
                    view = payload.get("view")
                    view = json.loads(view) if isinstance(view, str) else view
                    if not payload.get("trigger_id") or not isinstance(view, dict):
                        self._reply(200, {"ok": False, "error": "invalid_arguments"})
                        return
                    state.calls.append({"method": method, "payload": {**payload, "view": view}, "ts": None,
                                        "at": time.monotonic()})
                    self._reply(200, {"ok": True, "view": {"id": "V0001", **view}})
                    return
            self._reply(200, {"ok": False, "error": "unknown_method"})

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                payload = json.loads(raw or "{}")
            else:
                payload = {k: v[0] for k, v in parse_qs(raw).items()}
            self._handle(payload)

        def do_GET(self) -> None:  # noqa: N802
            self._handle({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})

    return Handler


@contextlib.contextmanager
def serve_fake_slack() -> Iterator[FakeSlack]:
    """Run the fake Slack on a free port of 127.0.0.1; ``base_url`` is set on the state it yields."""
    state = FakeSlack()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
