"""Block Kit for alert messages: one anomaly, or a group (a storm) as one message with a list.

Rendering is a pure function of the anomalies' latest snapshots, a ``mention`` function and what
people said about them (``status``: acknowledged, snoozed, not a problem; see
:mod:`spendwatch.history.feedback`), so a root message can be re-rendered at any time (after a
restart, after a button) and edited in place.

Every open alert carries buttons (an ``actions`` block, ``block_id`` :data:`ACTIONS_BLOCK`):
Acknowledge, Snooze 4 h, Snooze 24 h and Not a problem. Their ``action_id`` is one of
:data:`ACTION_IDS`; their ``value`` is the anomaly id (``*`` in a group message: all its members).
Slack sends the clicks to the request URL (:mod:`api.slack_actions`).

Text from events (workload id, team, owner, resource, summary, evidence, severity, kind) is shown
as plain text: in mrkdwn it goes through :func:`escape` (``&``, ``<``, ``>`` as Slack documents),
so ``<!channel>``, ``<!here>`` or ``<https://evil|click>`` in an event never notifies or links.
What a ``mention`` function returns is trusted only when it is a user mention (``<@U…>``);
anything else it returns is escaped too. Header blocks are ``plain_text``, which Slack never parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from spendwatch.format import anomaly_duration

Mention = Callable[[str | None], str]
Status = Mapping[str, Mapping[str, Any]]  # anomaly id -> what people said (spendwatch.history.feedback)

ACTIONS_BLOCK = "sw_actions"
ACTION_IDS = {"sw_ack": "acknowledged", "sw_snooze_4h": "snoozed", "sw_snooze_24h": "snoozed",
              "sw_not_a_problem": "not_a_problem"}
SNOOZE_S = {"sw_snooze_4h": 4 * 3600.0, "sw_snooze_24h": 24 * 3600.0}

_SEVERITY_ICON = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
_KIND_TITLE = {"idle_gpu": "Idle GPU", "gpu_memory_hoarding": "GPU memory hoarding", "cost_spike": "Cost spike",
               "retrain_loop": "Retrain loop", "retrain_needed": "Retrain needed",
               "retrain_without_drift": "Retrain without drift"}
_MAX_LIST = 25        # rows listed in a group message; the rest are counted
_MAX_SECTION = 2900   # Slack caps a section's text at 3000 characters


_USER_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,}>")


def escape(value: Any) -> str:
    """``value`` as text that Slack's mrkdwn shows as it is: ``&``, ``<``, ``>`` escaped (Slack's rules,
    api.slack.com/reference/surfaces/formatting#escaping), so it cannot mention, link or inject a token."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The inverse of :func:`escape` (what a reader sees), for the console and e-mail."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention_md(mention: Mention, owner: str | None) -> str:
    """``mention(owner)`` as mrkdwn: a user mention as it is, anything else (a name, an e-mail) escaped."""
    said = mention(owner)
    return said if _USER_MENTION.fullmatch(said) else escape(said)


def money(x: float) -> str:
    return f"${x:,.2f}" if abs(x) < 1000 else f"${x:,.0f}"


def kind_title(kind: str) -> str:
    return _KIND_TITLE.get(kind, kind.replace("_", " ").capitalize())


def slack_date(ts: float) -> str:
    """A Slack date token (shown in the reader's time zone) with a UTC fallback."""
    iso = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{iso}>"


def _lasted(a: Mapping[str, Any]) -> str:
    """How long it lasted, to its resolution or its last event (as the demo and the history write it)."""
    return anomaly_duration(a)


def _evidence_line(evidence: Mapping[str, Any], limit: int = 8) -> str:
    """The key evidence: the first scalar fields, which detectors put in order of importance."""
    parts = []
    for k, v in evidence.items():
        if isinstance(v, bool) or v is None or isinstance(v, dict | list):
            continue
        parts.append(escape(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"))
        if len(parts) >= limit:
            break
    return " · ".join(parts)


def _cut(text: str, n: int = _MAX_SECTION) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _who(by: Any, mention: Mention) -> str:
    return mention_md(mention, str(by)) if by else "someone"


def status_lines(status: Mapping[str, Any] | None, mention: Mention, now: float | None = None) -> list[str]:
    """What people said, as mrkdwn lines for the message (empty when nothing)."""
    if not status:
        return []
    lines = []
    if status.get("acknowledged_by"):
        lines.append(f":eyes: Acknowledged by {_who(status['acknowledged_by'], mention)} "
                     f"{slack_date(float(status['acknowledged_at']))}")
    until = status.get("snoozed_until")
    if until is not None and (now is None or float(until) > now):
        lines.append(f":zzz: Snoozed by {_who(status.get('snoozed_by'), mention)} until {slack_date(float(until))}: "
                     f"no updates posted until then (the resolution is)")
    if status.get("not_a_problem_by"):
        reason = f": {escape(status['reason'])}" if status.get("reason") else ""
        lines.append(f":no_entry_sign: Marked not a problem by {_who(status['not_a_problem_by'], mention)}{reason}")
    return lines


def actions_block(value: str) -> dict[str, Any]:
    """The buttons of an open alert (``value``: the anomaly id, or ``*`` for every member of the message)."""
    def button(action_id: str, label: str, style: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value,
                             "text": {"type": "plain_text", "text": label, "emoji": True}}
        if style:
            b["style"] = style
        return b

    return {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": [
        button("sw_ack", "Acknowledge", "primary"), button("sw_snooze_4h", "Snooze 4 h"),
        button("sw_snooze_24h", "Snooze 24 h"), button("sw_not_a_problem", "Not a problem", "danger")]}


def render_single(a: Mapping[str, Any], mention: Mention, status: Status | None = None,
                  now: float | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for one anomaly."""
    wl = a.get("workload") or {}
    resolved = a.get("state") == "resolved"
    sev = str(a.get("severity", "info"))
    sev_md = escape(sev)
    icon = ":white_check_mark:" if resolved else _SEVERITY_ICON.get(sev, "")
    title = f"{icon} {kind_title(a['kind'])}: {money(a['projected_daily_usd'])}/day"
    if resolved:
        title += " (resolved)"
    who = mention_md(mention, wl.get("owner"))
    summary = escape(a.get("summary", ""))
    state_text = (f"*Resolved* {slack_date(a['resolved_at'])} after {_lasted(a)}, "
              f"{money(a['waste_usd'])} lost in total." if resolved and a.get("resolved_at")
              else f"*Open* for {_lasted(a)} and counting.")
    fields = [
        f"*Owner*\n{who}", f"*Team*\n{escape(wl.get('team') or '-')}",
        f"*Workload*\n`{escape(wl.get('id') or '-')}`", f"*Resource*\n`{escape(a.get('resource') or '-')}`",
        f"*Since*\n{slack_date(float(a['started_at']))}", f"*Severity*\n{_SEVERITY_ICON.get(sev, '')} {sev_md}",
        f"*Lost so far*\n{money(a['waste_usd'])}", f"*Per day*\n{money(a['projected_daily_usd'])}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"{summary}\n{state_text}")}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    evidence = _evidence_line(a.get("evidence") or {})
    context = [f"`{escape(a['id'])}`"] + ([evidence] if evidence else [])
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(t, 1900)} for t in context]})
    said = status_lines((status or {}).get(a["id"]), mention, now)
    if said:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(said))}})
    if not resolved and not (status or {}).get(a["id"], {}).get("not_a_problem_by"):
        blocks.append(actions_block(str(a["id"])))
    text = f"[{sev_md}] {summary} (owner: {who})"
    if resolved:
        text = f"[resolved] {text}"
    return text, blocks


def render_group(members: Sequence[Mapping[str, Any]], mention: Mention, status: Status | None = None,
                 now: float | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for a group of anomalies posted as one message with a list."""
    first = members[0]
    open_ = [m for m in members if m.get("state") != "resolved"]
    worst = max((m.get("severity", "info") for m in open_ or members), key=lambda s: ["info", "warning",
                                                                                        "critical"].index(s))
    daily = sum(m["projected_daily_usd"] for m in open_)
    lost = sum(m["waste_usd"] for m in members)
    wl = first.get("workload") or {}
    where = wl.get("team") or (first.get("evidence") or {}).get("node") or "unallocated"
    icon = ":white_check_mark:" if not open_ else _SEVERITY_ICON.get(worst, "")
    title = f"{icon} {len(members)} × {kind_title(first['kind'])} ({where}): {money(daily)}/day"
    owners = sorted({str((m.get("workload") or {}).get("owner")) for m in members
                     if (m.get("workload") or {}).get("owner")})
    since = min(float(m["started_at"]) for m in members)
    head = (f"*{len(open_)} open*, {len(members) - len(open_)} resolved · *{money(lost)}* lost so far · "
            f"*{money(daily)}*/day · since {slack_date(since)}\n"
            f"*Owners:* {', '.join(mention_md(mention, o) for o in owners) or mention_md(mention, None)}")
    rows = []
    for m in sorted(members, key=lambda m: (m.get("state") == "resolved", -m["waste_usd"], m["id"]))[:_MAX_LIST]:
        mwl = m.get("workload") or {}
        node = (m.get("evidence") or {}).get("node")
        done = " :white_check_mark: resolved" if m.get("state") == "resolved" else ""
        rows.append(f"• `{escape(m.get('resource'))}`{' on ' + escape(node) if node else ''} · "
                    f"{escape(mwl.get('id') or 'no workload')}"
                    f" · {money(m['waste_usd'])} lost · {money(m['projected_daily_usd'])}/day{done}")
    if len(members) > _MAX_LIST:
        rows.append(f"…and {len(members) - _MAX_LIST} more (`spendwatch anomalies --kind {escape(first['kind'])}`)")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(head)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(rows))}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"severity {escape(worst)} · grouped by route"}]},
    ]
    said = list(dict.fromkeys(line for m in members for line in status_lines((status or {}).get(m["id"]), mention,
                                                                              now)))
    if said:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(said[:10]))}})
    if open_:
        blocks.append(actions_block("*"))
    text = (f"[{escape(worst)}] {len(members)} × {escape(kind_title(first['kind']))} ({escape(where)}): "
            f"{money(lost)} lost, "
            f"{money(daily)}/day")
    return text, blocks


def render_root(members: Sequence[Mapping[str, Any]], mention: Mention, status: Status | None = None,
                now: float | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The root message for a message's members: single layout for one, a list for several."""
    if len(members) == 1:
        return render_single(members[0], mention, status, now)
    return render_group(members, mention, status, now)


def change_text(old: Mapping[str, Any], new: Mapping[str, Any], in_group: bool) -> str:
    """The thread reply for an update or a resolve (mrkdwn)."""
    who = f"`{escape(new.get('resource'))}`: " if in_group else ""
    if new.get("state") == "resolved":
        return (f":white_check_mark: {who}resolved {slack_date(float(new.get('resolved_at') or new['ts']))} "
                f"after {_lasted(new)}; {money(new['waste_usd'])} lost in total.")
    parts = []
    if old.get("severity") != new.get("severity"):
        parts.append(f"severity {escape(old.get('severity'))} → *{escape(new.get('severity'))}*")
    parts.append(f"lost so far {money(old.get('waste_usd') or 0.0)} → *{money(new['waste_usd'])}*")
    if abs((old.get("projected_daily_usd") or 0.0) - new["projected_daily_usd"]) >= 0.01:
        parts.append(f"per day {money(old.get('projected_daily_usd') or 0.0)} → *{money(new['projected_daily_usd'])}*")
    return f":chart_with_upwards_trend: {who}" + "; ".join(parts)


_DATE_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_EMOJI = {":eyes:": "👀", ":zzz:": "💤", ":no_entry_sign:": "🚫",
          ":white_check_mark:": "✔", ":red_circle:": "🔴", ":large_orange_circle:": "🟠",
          ":large_blue_circle:": "🔵", ":chart_with_upwards_trend:": "↗", ":heavy_plus_sign:": "+"}


def console_text(text: str) -> str:
    """Slack mrkdwn made readable on a terminal: date tokens to their UTC text, emoji codes to symbols,
    escaped ``&``, ``<``, ``>`` back to themselves."""
    text = _DATE_TOKEN.sub(r"\1", text)
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    return unescape(text.replace("*", ""))


def blocks_to_text(blocks: Sequence[Mapping[str, Any]]) -> str:
    """Plain text of Block Kit blocks, for the console notifier."""
    out: list[str] = []
    for b in blocks:
        if b.get("type") == "header":
            out.append(b["text"]["text"])
        elif b.get("type") == "section":
            if "text" in b:
                out.append(b["text"]["text"])
            if "fields" in b:
                out.append("   ".join(f["text"].replace("\n", ": ") for f in b["fields"]))
        elif b.get("type") == "context":
            out.append(" | ".join(e.get("text", "") for e in b.get("elements", [])))
    return console_text("\n".join(out))
