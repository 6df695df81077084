"""Request and response models of the JSON API (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise ValueError("must not contain NUL characters")
    return v


Text = Annotated[str, AfterValidator(_no_nul)]
Ident = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_no_nul)]
TimeIn = Annotated[float | str, Field(description="epoch seconds, or ISO 8601 such as 2026-03-24T18:00Z")]


class Status(BaseModel):
    """What people said about an anomaly, and whether a silence holds it."""

    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    snoozed_until: float | None = None
    snoozed_by: str | None = None
    not_a_problem_by: str | None = None
    not_a_problem_at: float | None = None
    reason: str | None = None
    silenced_by: list[str] = Field(default_factory=list, description="ids of the active silences that match")


class Anomaly(BaseModel):
    """The contract's anomaly fields (latest state), plus ``*_iso`` times, the Slack message and status."""

    model_config = ConfigDict(extra="allow")
    type: str
    id: str
    kind: str
    state: str
    severity: str
    workload: dict[str, Any] | None
    resource: str
    started_at: float
    detected_at: float
    resolved_at: float | None
    waste_usd: float
    projected_daily_usd: float
    summary: str
    evidence: dict[str, Any]
    ts: float
    event_count: int
    slack_channel: str | None
    slack_ts: str | None
    started_at_iso: str | None
    detected_at_iso: str | None
    resolved_at_iso: str | None
    ts_iso: str | None
    status: Status


class AnomalyPage(BaseModel):
    items: list[Anomaly]
    total: int = Field(description="anomalies matching the filters, all pages")
    limit: int
    offset: int


class Action(BaseModel):
    verdict: str
    by: str
    reason: str | None
    until: float | None
    ts: float
    source: str


class AnomalyDetail(Anomaly):
    events: list[dict[str, Any]] = Field(description="every recorded event of it, oldest first")
    actions: list[Action] = Field(description="acknowledgements, snoozes and 'not a problem', oldest first")
    plot: dict[str, Any] = Field(description="the data of its explaining plot (see docs/dashboard.md)")


class Series(BaseModel):
    name: str
    values: list[float]
    total: float


class TimeSeries(BaseModel):
    metric: Literal["waste", "spend"]
    by: str
    from_ts: float
    to_ts: float
    step_s: float
    t: list[float] = Field(description="bucket starts, epoch seconds")
    t_iso: list[str | None]
    series: list[Series]


class MatcherIn(BaseModel):
    name: Literal["kind", "team", "owner", "workload", "resource"]
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: Annotated[str, Field(max_length=512), AfterValidator(_no_nul)]


class SilenceIn(BaseModel):
    """A new silence: matchers, and ``ends_at`` or ``duration`` (from ``starts_at``, default now)."""

    model_config = ConfigDict(extra="forbid")
    matchers: list[Annotated[str, Field(max_length=1100), AfterValidator(_no_nul)] | MatcherIn] = Field(
        min_length=1, max_length=20, description="'kind=idle_gpu', 'workload=ml/*', 'team!=ml', 'owner=~.*@x' "
                                                 "or {name, op, value}")
    created_by: Ident
    comment: Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)] = ""
    starts_at: TimeIn | None = None
    ends_at: TimeIn | None = None
    duration: Annotated[str, Field(max_length=32), AfterValidator(_no_nul)] | None = Field(
        default=None, description="e.g. 2h, 1d (instead of ends_at)")


class Matcher(BaseModel):
    name: str
    op: str
    value: str


class Silence(BaseModel):
    id: str
    matchers: list[Matcher]
    matchers_text: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    updated_at: float
    state: Literal["active", "pending", "expired"]
    starts_at_iso: str | None
    ends_at_iso: str | None


class FeedbackIn(BaseModel):
    """A verdict on an anomaly, as the Slack buttons give it."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["acknowledged", "snoozed", "not_a_problem"]
    by: Ident
    reason: Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)] | None = None
    until: TimeIn | None = Field(default=None, description="snoozed: until when")
    duration: Annotated[str, Field(max_length=32), AfterValidator(_no_nul)] | None = Field(
        default=None, description="snoozed: for how long (default 4h)")


class FeedbackOut(BaseModel):
    anomaly_id: str
    verdict: str
    by: str
    reason: str | None
    until: float | None
    ts: float
    source: str
    published: bool = Field(description="whether the feedback event was handed to Kafka (spendwatch.feedback)")
    event: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    schema_version: int


class Problem(BaseModel):
    detail: str
