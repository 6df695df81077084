"""The FastAPI app: the JSON API under ``/api/v1``, ``/healthz``, ``/metrics``, the dashboard at ``/``.

Reads are open; writes (silences, feedback) need ``Authorization: Bearer <SPENDWATCH_API_TOKEN>``,
compared in constant time (:func:`hmac.compare_digest`) and never logged. Without a configured
token every write is refused (403): the server is read-only by default.

Bad input is a 422 whose ``detail`` says which parameter and what is wrong, counted in
``spendwatch_api_requests_total{status="422"}``; it never stops the server.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api import models
from api.queries import anomaly_query, auto_step, duration_in, iso, time_in, time_range, values, with_iso
from api.series import anomaly_plot_data, spend_series, waste_series
from spendwatch import __version__
from spendwatch.errors import ConfigError, SpendwatchError
from spendwatch.history import AnomalyQuery, HistoryStore
from spendwatch.history.feedback import feedback_event
from spendwatch.history.query import SORT_KEYS
from spendwatch.history.schema import schema_version
from spendwatch.history.silences import Silence, matcher_from
from spendwatch.teams import UNALLOCATED_TEAM

log = logging.getLogger("spendwatch.api")
Publish = Callable[[dict[str, Any]], bool]
DEFAULT_SNOOZE_S = 4 * 3600.0


@dataclass(frozen=True)
class ApiOptions:
    """What the server is given at its edge (the command line reads the environment).

    ``token``: the write token (None: read-only); ``publish``: hands a ``feedback`` event to Kafka
    and says whether it did (None: feedback is recorded in the history only); ``slack_*``: the
    interactivity request URL (:mod:`api.slack_actions`; no signing secret: not served);
    ``unallocated_team``: the team of anomalies with no workload, ``teams.unallocated`` (filters,
    summaries, series, silences and the dashboard use it, as the command line does).
    """

    token: str | None = field(default=None, repr=False)
    publish: Publish | None = None
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_token: str | None = field(default=None, repr=False)
    slack_base_url: str | None = None
    dashboard: bool = True
    unallocated_team: str = UNALLOCATED_TEAM


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("spendwatch_api_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.writes = Counter("spendwatch_api_writes_total", "accepted writes", ["what"], registry=self.registry)
        self.denied = Counter("spendwatch_api_denied_total", "writes refused (no token, wrong token)", ["why"],
                              registry=self.registry)
        self.slack_actions = Counter("spendwatch_slack_actions_total", "Slack interactivity requests",
                                     ["action", "result"], registry=self.registry)


@dataclass
class ApiContext:
    """What the routes share."""

    store: HistoryStore
    options: ApiOptions
    now: Callable[[], float] = time.time
    metrics: ApiMetrics = field(default_factory=ApiMetrics)

    def status_of(self, anomalies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Feedback status and matching silences for each anomaly."""
        fb = self.store.feedback.status(a["id"] for a in anomalies)
        active = self.store.silences.list(("active",), now=self.now())
        out = {}
        for a in anomalies:
            s = dict(fb.get(a["id"], {}))
            s["silenced_by"] = [sil.id for sil in active if sil.matches(a, self.options.unallocated_team)]
            out[a["id"]] = s
        return out

    def query(self, **filters: Any) -> AnomalyQuery:
        """:func:`api.queries.anomaly_query` at ``now()`` with the unallocated team's name."""
        return anomaly_query(now=self.now(), unallocated_team=self.options.unallocated_team, **filters)

    def record_feedback(self, anomaly: dict[str, Any], verdict: str, by: str, reason: str | None,
                        until: float | None, source: str) -> dict[str, Any]:
        """Keep a verdict in the history and hand its event to Kafka (when configured)."""
        event = feedback_event(anomaly, verdict, by, reason, until, ts=self.now())
        row = self.store.feedback.record(event, source)
        published = False
        if self.options.publish is not None:
            try:
                published = bool(self.options.publish(event))
            except Exception as exc:  # noqa: BLE001 - the verdict is kept; Kafka trouble must not lose it
                log.warning("feedback on %s recorded but not published: %s: %s", anomaly["id"], type(exc).__name__,
                            exc)
        self.metrics.writes.labels(f"feedback_{verdict}").inc()
        return {**row, "published": published, "event": event}


def _silence_out(s: Silence, now: float) -> dict[str, Any]:
    d = s.as_dict(now)
    d["starts_at_iso"], d["ends_at_iso"] = iso(s.starts_at), iso(s.ends_at)
    return d


ListParam = Annotated[list[str] | None, Query(max_length=50)]
Since = Annotated[str | None, Query(max_length=32, description="active in the last DURATION: 90m, 12h, 7d")]
From = Annotated[str | None, Query(alias="from", max_length=64, description="active at or after (epoch/ISO)")]
To = Annotated[str | None, Query(max_length=64, description="started at or before (epoch/ISO)")]
Severity = Annotated[Literal["info", "warning", "critical"] | None, Query(description="at least this severity")]
MinWaste = Annotated[float | None, Query(ge=0, allow_inf_nan=False, description="at least this much lost")]
Step = Annotated[str | None, Query(max_length=32, description="bucket size, e.g. 1h (default: ~72 buckets)")]
SortKey = Literal["started", "detected", "waste", "daily", "last", "kind", "team", "owner", "severity"]
WorkloadParam = Annotated[list[str] | None, Query(max_length=50, description="id; * is a wildcard")]
SilenceStates = Annotated[list[Literal["active", "pending", "expired"]] | None, Query(max_length=3)]


def create_app(store: HistoryStore, options: ApiOptions | None = None, now: Callable[[], float] = time.time) -> FastAPI:
    """The ASGI app over ``store``."""
    options = options or ApiOptions()
    ctx = ApiContext(store, options, now)
    app = FastAPI(title="spendwatch", version=__version__,
                  description="Anomalies, summaries, time series, silences and feedback from the spendwatch "
                              "history store. Times: epoch seconds or ISO 8601 in; epoch seconds plus *_iso out. "
                              "Writes need `Authorization: Bearer <SPENDWATCH_API_TOKEN>`.",
                  docs_url="/docs", redoc_url=None)
    app.state.ctx = ctx

    @app.middleware("http")
    async def guard_and_count(request: Request, call_next: Callable[[Request], Any]) -> Response:
        raw = request.scope.get("query_string", b"")
        if "\x00" in request.url.path or b"%00" in raw or b"\x00" in raw:
            response: Response = JSONResponse({"detail": "NUL characters are not allowed in the path or query"},
                                              status_code=422)
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        ctx.metrics.requests.labels(request.method, getattr(route, "path", "unmatched"),
                                    str(response.status_code)).inc()
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # one readable string, like every other error of this API: "query.limit: ... ; body.by: ..."
        parts = []
        for e in exc.errors()[:10]:
            where = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(SpendwatchError)
    async def spendwatch_error(_request: Request, exc: SpendwatchError) -> JSONResponse:
        status = 422 if isinstance(exc, ConfigError) else 503
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def require_token(request: Request) -> None:
        token = options.token
        if not token:
            ctx.metrics.denied.labels("no_token_configured").inc()
            raise HTTPException(403, "writes are disabled: start the server with SPENDWATCH_API_TOKEN set")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            ctx.metrics.denied.labels("bad_token").inc()
            raise HTTPException(401, "a valid 'Authorization: Bearer <token>' header is required for writes",
                                headers={"WWW-Authenticate": "Bearer"})

    writer = [Depends(require_token)]
    problems: dict[int | str, dict[str, Any]] = {400: {"model": models.Problem}, 401: {"model": models.Problem},
                                                 403: {"model": models.Problem},
                                                 422: {"model": models.Problem}}

    # --- health and metrics ---------------------------------------------------------------

    @app.get("/healthz", response_model=models.Health, tags=["ops"], responses={503: {"model": models.Problem}})
    def healthz() -> dict[str, Any]:
        """200 when the history database answers."""
        store.ping()
        return {"status": "ok", "schema_version": schema_version(store.engine)}

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        """Prometheus metrics of this server."""
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- anomalies --------------------------------------------------------------------------

    def _filters(since: str | None, from_: str | None, to: str | None, kind: list[str] | None,
                 team: list[str] | None, owner: list[str] | None, workload: list[str] | None,
                 resource: list[str] | None, state: list[str] | None, severity: str | None,
                 min_waste: float | None, **kw: Any) -> Any:
        return ctx.query(since=since, from_=from_, to=to, kind=kind, team=team, owner=owner, workload=workload,
                         resource=resource, state=state, severity=severity, min_waste=min_waste, **kw)

    @app.get("/api/v1/anomalies", response_model=models.AnomalyPage, tags=["anomalies"], responses=problems)
    def list_anomalies(since: Since = None, from_: From = None, to: To = None, kind: ListParam = None,
                       team: ListParam = None, owner: ListParam = None,
                       workload: WorkloadParam = None,
                       resource: ListParam = None, state: ListParam = None, severity: Severity = None,
                       min_waste: MinWaste = None,
                       sort: SortKey = "started",
                       order: Literal["asc", "desc"] = "desc",
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        """Anomalies (latest state) with the filters of `spendwatch anomalies`; repeat a filter or separate
        values by commas for any-of."""
        q = _filters(since, from_, to, kind, team, owner, workload, resource, state, severity, min_waste,
                     sort=sort, order=order, limit=limit, offset=offset)
        found = store.query(q)
        status = ctx.status_of(found)
        return {"items": [{**with_iso(a), "status": status[a["id"]]} for a in found], "total": store.count(q),
                "limit": limit, "offset": offset}

    @app.get("/api/v1/anomalies/{anomaly_id}", response_model=models.AnomalyDetail, tags=["anomalies"],
             responses={404: {"model": models.Problem}, 422: {"model": models.Problem}})
    def get_anomaly(anomaly_id: Annotated[str, Path(max_length=512)]) -> dict[str, Any]:
        """One anomaly (by id or a unique id prefix) with its full evidence, event history and actions."""
        return anomaly_detail(ctx, anomaly_id)

    @app.post("/api/v1/anomalies/{anomaly_id}/feedback", response_model=models.FeedbackOut, status_code=201,
              tags=["anomalies"], dependencies=writer, responses={**problems, 404: {"model": models.Problem}})
    def post_feedback(anomaly_id: Annotated[str, Path(max_length=512)], body: models.FeedbackIn) -> dict[str, Any]:
        """Acknowledge, snooze or mark not a problem (as the Slack buttons do); published as a `feedback`
        event on spendwatch.feedback when Kafka is configured."""
        a = store.get(anomaly_id)
        if a is None:
            raise HTTPException(404, f"no anomaly with id (or unique id prefix) {anomaly_id!r}")
        until = None
        if body.verdict == "snoozed":
            until = time_in(body.until, "until")
            if until is None:
                until = now() + (duration_in(body.duration, "duration") or DEFAULT_SNOOZE_S)
            if until <= now():
                raise ConfigError("until: a snooze must end in the future")
        return {"anomaly_id": a["id"], **ctx.record_feedback(a, body.verdict, body.by, body.reason, until, "api")}

    # --- summaries and series ---------------------------------------------------------------

    @app.get("/api/v1/summary", tags=["summaries"], responses=problems)
    def summary(since: Since = None, from_: From = None, to: To = None, kind: ListParam = None,
                team: ListParam = None, owner: ListParam = None, workload: ListParam = None,
                resource: ListParam = None, state: ListParam = None, severity: Severity = None,
                min_waste: MinWaste = None) -> dict[str, Any]:
        """Waste and count by team, owner, kind and UTC day (what `spendwatch anomalies summary` prints)."""
        q = _filters(since, from_, to, kind, team, owner, workload, resource, state, severity, min_waste)
        return store.summary(q)

    def _range(since: str | None, from_: str | None, to: str | None, step: str | None) -> tuple[float, float, float]:
        f, t = time_range(since or (None if from_ else "7d"), from_, to, now())
        t = now() if t is None else t
        f = t - 7 * 86400 if f is None else f
        if t - f < 60:
            raise ConfigError("from/to: the range must be at least a minute long")
        s = duration_in(step, "step") or auto_step(t - f)
        return f, t, s

    @app.get("/api/v1/series/waste", response_model=models.TimeSeries, tags=["summaries"], responses=problems)
    def series_waste(by: Literal["team", "kind", "owner"] = "team", since: Since = None, from_: From = None,
                     to: To = None, step: Step = None, kind: ListParam = None, team: ListParam = None,
                     owner: ListParam = None, workload: ListParam = None, resource: ListParam = None,
                     state: ListParam = None, severity: Severity = None) -> dict[str, Any]:
        """Money lost per time bucket, stacked by team, kind or owner (default: the last 7 days)."""
        f, t, s = _range(since, from_, to, step)
        q = ctx.query(from_=str(f), to=str(t), kind=kind, team=team, owner=owner, workload=workload,
                      resource=resource, state=state, severity=severity)
        data = waste_series(store.history(q), by, f, t, s)
        return {"metric": "waste", "by": by, "from_ts": f, "to_ts": t, "t_iso": [iso(x) for x in data["t"]], **data}

    @app.get("/api/v1/series/spend", response_model=models.TimeSeries, tags=["summaries"], responses=problems)
    def series_spend(by: Literal["team", "workload"] = "team", since: Since = None, from_: From = None,
                     to: To = None, step: Step = None, team: ListParam = None) -> dict[str, Any]:
        """Spend per time bucket, stacked by team or workload, from the billing deltas recorded hourly."""
        f, t, s = _range(since, from_, to, step)
        data = spend_series(store.spend.rows(f, t, values(team)), f, t, s, by)
        return {"metric": "spend", "by": by, "from_ts": f, "to_ts": t, "t_iso": [iso(x) for x in data["t"]], **data}

    # --- silences ---------------------------------------------------------------------------

    @app.get("/api/v1/silences", response_model=list[models.Silence], tags=["silences"], responses=problems)
    def list_silences(state: SilenceStates = None) -> list[dict[str, Any]]:
        """Silences, newest first (default: active and pending)."""
        n = now()
        return [_silence_out(s, n) for s in store.silences.list(state or ("active", "pending"), now=n)]

    @app.get("/api/v1/silences/{silence_id}", response_model=models.Silence, tags=["silences"],
             responses={404: {"model": models.Problem}, 422: {"model": models.Problem}})
    def get_silence(silence_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        s = store.silences.get(silence_id)
        if s is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        return _silence_out(s, now())

    @app.post("/api/v1/silences", response_model=models.Silence, status_code=201, tags=["silences"],
              dependencies=writer, responses=problems)
    def create_silence(body: models.SilenceIn) -> dict[str, Any]:
        """Silence the anomalies that match all the matchers, from starts_at (default now) to ends_at
        (or for duration). They are still recorded, just not posted."""
        n = now()
        matchers = [matcher_from(m if isinstance(m, str) else m.model_dump()) for m in body.matchers]
        starts = time_in(body.starts_at, "starts_at")
        ends = time_in(body.ends_at, "ends_at")
        if ends is None:
            d = duration_in(body.duration, "duration")
            if d is None:
                raise ConfigError("ends_at or duration: say when the silence ends")
            ends = (starts if starts is not None else n) + d
        s = store.silences.add(matchers, ends, body.created_by, body.comment, starts_at=starts, now=n)
        ctx.metrics.writes.labels("silence").inc()
        log.info("silence %s created by %s: %s until %s", s.id, s.created_by, ", ".join(m.text() for m in s.matchers),
                 iso(s.ends_at))
        return _silence_out(s, n)

    @app.delete("/api/v1/silences/{silence_id}", response_model=models.Silence, tags=["silences"],
                dependencies=writer, responses={**problems, 404: {"model": models.Problem}})
    def expire_silence(silence_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        """Expire a silence now (it is kept, expired)."""
        s = store.silences.expire(silence_id, now=now())
        if s is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        ctx.metrics.writes.labels("silence_expire").inc()
        return _silence_out(s, now())

    if options.slack_signing_secret:
        from api.slack_actions import add_slack_routes

        add_slack_routes(app, ctx)
    if options.dashboard:
        from api.pages import add_pages

        add_pages(app, ctx)
    return app


assert set(get_args(SortKey)) == set(SORT_KEYS), "SortKey must list the history's sort keys"


def anomaly_detail(ctx: ApiContext, anomaly_id: str) -> dict[str, Any]:
    """An anomaly with its events, actions, status and plot data; 404 when unknown."""
    a = ctx.store.get(anomaly_id)
    if a is None:
        raise HTTPException(404, f"no anomaly with id (or unique id prefix) {anomaly_id!r}")
    events = ctx.store.events(a["id"])
    spend: list[dict[str, Any]] = []
    if a["kind"] == "cost_spike" and (a.get("workload") or {}).get("id"):
        end = a["resolved_at"] or a["ts"]
        spend = [r for r in ctx.store.spend.rows(a["started_at"] - 86400, end + 6 * 3600)
                 if r["workload_id"] == a["workload"]["id"]]
        hourly: dict[float, float] = {}
        for r in spend:
            hourly[r["hour"]] = hourly.get(r["hour"], 0.0) + r["cost_usd"]
        spend = [{"hour": h, "cost_usd": c} for h, c in hourly.items()]
    return {**with_iso(a), "status": ctx.status_of([a])[a["id"]], "events": [with_iso(e) for e in events],
            "actions": ctx.store.feedback.list(a["id"]), "plot": anomaly_plot_data(a, events, spend)}
