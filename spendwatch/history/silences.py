"""Silences: Alertmanager-style matchers that keep matching anomalies out of chat for a while.

A silence has matchers, a start, an end, a creator and a comment. An anomaly is silenced at time
``t`` when some silence is active at ``t`` (``starts_at <= t < ends_at``) and *all* its matchers
match the anomaly. Silenced anomalies are still recorded in the history; they are only not posted
(:mod:`alerting.pipeline` asks :meth:`Silences.matching`).

Matchers are written ``NAME OP VALUE`` on the fields ``kind``, ``team``, ``owner``, ``workload``
(its id) and ``resource``:

- ``=``  equal; ``*`` is a wildcard (``workload=ml/*``), as in ``spendwatch anomalies --workload``;
- ``!=`` not equal (same wildcards);
- ``=~`` full match of a regular expression, ``!~`` its negation.

An anomaly whose workload is null (a GPU allocated to nobody) has team ``platform``, as in
routing. Expiring a silence sets its end to now; expired silences are kept, for the record.

>>> parse_matcher("workload=ml/*")
Matcher(name='workload', op='=', value='ml/*')
>>> Matcher("team", "!~", "ml|nlp").matches({"workload": {"id": "x", "team": "vision"}})
True
"""

from __future__ import annotations

import builtins
import fnmatch
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from spendwatch.errors import ConfigError
from spendwatch.history import schema
from spendwatch.teams import UNALLOCATED_TEAM

FIELDS = ("kind", "team", "owner", "workload", "resource")
OPS = ("=", "!=", "=~", "!~")
MAX_VALUE_LEN = 512
_MATCHER = re.compile(r"^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.S)


def anomaly_field(anomaly: Mapping[str, Any], name: str, unallocated: str = UNALLOCATED_TEAM) -> str | None:
    """The value of a silence field of an anomaly (None when it has none; the team of one with no
    workload is ``unallocated``, :mod:`spendwatch.teams`)."""
    wl = anomaly.get("workload")
    if name == "team" and wl is None:
        return unallocated
    wl = wl if isinstance(wl, Mapping) else {}
    if name == "workload":
        v = wl.get("id")
    elif name in ("team", "owner"):
        v = wl.get(name)
    else:
        v = anomaly.get(name)
    return None if v is None else str(v)


@dataclass(frozen=True)
class Matcher:
    """One condition of a silence."""

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.name not in FIELDS:
            raise ConfigError(f"silence matcher: unknown field {self.name!r}; use one of {', '.join(FIELDS)}")
        if self.op not in OPS:
            raise ConfigError(f"silence matcher {self.name}: unknown operator {self.op!r}; use one of "
                              f"{' '.join(OPS)}")
        if not isinstance(self.value, str) or "\x00" in self.value or len(self.value) > MAX_VALUE_LEN:
            raise ConfigError(f"silence matcher {self.name}: the value must be a string of at most "
                              f"{MAX_VALUE_LEN} characters without NUL")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ConfigError(f"silence matcher {self.name}{self.op}: bad regular expression: {exc}") from None

    def matches(self, anomaly: Mapping[str, Any], unallocated: str = UNALLOCATED_TEAM) -> bool:
        v = anomaly_field(anomaly, self.name, unallocated)
        if self.op in ("=", "!="):
            hit = v is not None and fnmatch.fnmatchcase(v, self.value)
        else:
            hit = v is not None and re.fullmatch(self.value, v) is not None
        return hit if self.op in ("=", "=~") else not hit

    def text(self) -> str:
        return f"{self.name}{self.op}{self.value}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}


def parse_matcher(text: str) -> Matcher:
    """``kind=idle_gpu``, ``team!=ml``, ``workload=~ml/.*`` … as a :class:`Matcher`."""
    m = _MATCHER.match(text or "")
    if not m:
        raise ConfigError(f"silence matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or "
                          f"NAME!~REGEX with NAME one of {', '.join(FIELDS)}")
    return Matcher(m.group(1), m.group(2), m.group(3))


def matcher_from(value: Any) -> Matcher:
    """A matcher from its text or from ``{name, op, value}`` (op defaults to ``=``)."""
    if isinstance(value, str):
        return parse_matcher(value)
    if isinstance(value, Mapping):
        return Matcher(str(value.get("name", "")), str(value.get("op", "=")), value.get("value", ""))
    raise ConfigError(f"silence matcher: expected a string or an object, got {value!r}")


@dataclass(frozen=True)
class Silence:
    """One silence (times in epoch seconds)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    updated_at: float

    def state(self, now: float) -> str:
        """``pending`` (not started), ``active`` or ``expired``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def matches(self, anomaly: Mapping[str, Any], unallocated: str = UNALLOCATED_TEAM) -> bool:
        return all(m.matches(anomaly, unallocated) for m in self.matchers)

    def as_dict(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "matchers": [m.as_dict() for m in self.matchers],
                "matchers_text": [m.text() for m in self.matchers], "starts_at": self.starts_at,
                "ends_at": self.ends_at, "created_by": self.created_by, "comment": self.comment,
                "created_at": self.created_at, "updated_at": self.updated_at, "state": self.state(now)}


def _row_to_silence(row: Mapping[str, Any]) -> Silence:
    return Silence(id=row["id"], matchers=tuple(matcher_from(m) for m in orjson.loads(row["matchers"])),
                   starts_at=row["starts_at"], ends_at=row["ends_at"], created_by=row["created_by"],
                   comment=row["comment"], created_at=row["created_at"], updated_at=row["updated_at"])


class Silences:
    """The ``sw_silences`` table of a history database."""

    def __init__(self, engine: sa.Engine, unallocated_team: str = UNALLOCATED_TEAM) -> None:
        self.engine = engine
        self.unallocated_team = unallocated_team  # the team of anomalies with no workload

    def add(self, matchers: Sequence[Matcher], ends_at: float, created_by: str, comment: str = "",
            starts_at: float | None = None, now: float | None = None) -> Silence:
        """Create a silence; a :class:`ConfigError` says what is wrong with it."""
        now = time.time() if now is None else now
        starts_at = now if starts_at is None else starts_at
        if not matchers:
            raise ConfigError("silence: give at least one matcher (a silence of everything is not allowed)")
        for name, t in (("starts_at", starts_at), ("ends_at", ends_at)):
            if not isinstance(t, int | float) or t != t or t in (float("inf"), float("-inf")) or t < 0:
                raise ConfigError(f"silence: {name} must be a finite epoch time, got {t!r}")
        if ends_at <= starts_at:
            raise ConfigError("silence: ends_at must be after starts_at")
        if ends_at <= now:
            raise ConfigError("silence: ends_at is in the past; a silence must end in the future")
        created_by = (created_by or "").strip()
        if not created_by or len(created_by) > MAX_VALUE_LEN or "\x00" in created_by:
            raise ConfigError("silence: created_by (who creates it) is required, at most 512 characters")
        if len(comment) > 4096 or "\x00" in comment:
            raise ConfigError("silence: comment is at most 4096 characters, without NUL")
        s = Silence(id=uuid.uuid4().hex, matchers=tuple(matchers), starts_at=float(starts_at), ends_at=float(ends_at),
                    created_by=created_by, comment=comment, created_at=now, updated_at=now)
        with self.engine.begin() as conn:
            conn.execute(schema.silences.insert().values(
                id=s.id, matchers=orjson.dumps([m.as_dict() for m in s.matchers]).decode(), starts_at=s.starts_at,
                ends_at=s.ends_at, created_by=s.created_by, comment=s.comment, created_at=now, updated_at=now))
        return s

    def get(self, silence_id: str) -> Silence | None:
        t = schema.silences
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == silence_id)).first()
        return None if row is None else _row_to_silence(dict(row._mapping))

    def list(self, states: Iterable[str] = ("active", "pending"), now: float | None = None) -> list[Silence]:
        """Silences in any of ``states`` (``active``, ``pending``, ``expired``), newest first."""
        now = time.time() if now is None else now
        wanted = set(states)
        t = schema.silences
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.created_at.desc(), t.c.id)).all()
        out = [_row_to_silence(dict(r._mapping)) for r in rows]
        return [s for s in out if s.state(now) in wanted]

    def expire(self, silence_id: str, now: float | None = None) -> Silence | None:
        """End a silence now (no-op for one already expired); None when there is no such id."""
        now = time.time() if now is None else now
        t = schema.silences
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == silence_id)).first()
            if row is None:
                return None
            if row.ends_at > now:
                conn.execute(t.update().where(t.c.id == silence_id)
                             .values(ends_at=max(now, row.starts_at), updated_at=now))
        return self.get(silence_id)

    def matching(self, anomaly: Mapping[str, Any], now: float | None = None) -> builtins.list[Silence]:
        """The silences active at ``now`` that match ``anomaly``."""
        now = time.time() if now is None else now
        t = schema.silences
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.starts_at <= now, t.c.ends_at > now)).all()
        active = (_row_to_silence(dict(r._mapping)) for r in rows)
        return [s for s in active if s.matches(anomaly, self.unallocated_team)]
