"""A seasonal, robust baseline of one spend series at the series' own resolution.

Model
    Spend is multiplicative (weekends cost half, a peak hour costs 1.5x, growth is a rate) and
    heavy-tailed, so the baseline works on ``log(spend)``::

        log(expected) = level + day[slot of the day] + week[slot of the week]

    - ``day`` is the within-day shape at the period's own resolution (288 five-minute slots for
      a 5-minute series, 96 for 15 minutes, 24 for hourly; none for daily or longer periods), so
      a cron burst at :00 of every hour or a sine wave sampled every 5 minutes is learned exactly.
    - ``week`` is what one weekday's hour differs from the day shape (hour of the week, 168
      slots, for periods under a day; day of the week for daily periods): weekend lows,
      Monday-morning ramps, a weekly roll-up. It is *used* only while it predicts better than
      the day shape alone (both models' out-of-sample errors are tracked), so a series without
      a weekly rhythm is not made noisier by 168 estimates of a few visits each.
    - ``level`` follows slow legitimate growth.
    - A *guard*: each week slot remembers the largest spend of its latest visit; a period is
      never judged more unusual than what the same slot did last week, when that was itself
      unusual (:meth:`SpendBaseline.guard_log`): a weekly roll-up or a Monday ramp pages once at
      most, the first time, and never again.

    Each slot is a running mean over its first visits (gain ``1/n``, so one day teaches the day
    shape) and then an exponentially weighted mean (half-lives in days or weeks). The shapes
    are re-centred daily so the level keeps meaning "the typical period".

Scale and tails
    ``scale`` is a robust spread of the *out-of-sample* log residuals (each period is scored
    before it is learned): an EWMA of clipped absolute residuals times 1.2533 (mean absolute
    deviation -> sigma for a normal), floored at ``min_scale`` so a noiseless series cannot make
    a 1 % wobble significant. Before residuals are known the scale is a wide prior (sigma 0.5 in
    log) worth a few residuals. A day slot seen only a few times is wider by its own estimation
    error (``sqrt(1 + 1/n)``). Heavy tails: peaks over a threshold (how often a standardised
    residual exceeds 1.5 and by how much on average) extrapolate the upper tail as exponential;
    :attr:`SpendBaseline.tail_factor` is how much further out that puts a one-in-300,000 residual
    than the same extrapolation of a normal tail, and the detector scales its bar by it, so a
    series whose ordinary hours reach 20x now and then (Pareto-like API spend) does not page for
    20x.

Why this is not built of river objects
    river's estimators are scalars (``stats.EWMean``, ``stats.Quantile``); a profile of 288 slots
    as 288 river objects costs ~60 KiB a series (goal: 4 KiB) and a Python call per slot, and
    river's Rust-backed statistics can be saved only as opaque pickled bytes, not restored from
    plain data (the worker's snapshots are data). The profiles are small float arrays; the
    scalar pieces are EWMAs with river's update rule plus a ``1/n`` warm-up, which
    ``stats.EWMean`` does not have.

Scoring and learning are separate: :meth:`score` reads, :meth:`learn` writes, and the
detector calls :meth:`learn` only for periods it did not flag.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

DAY = 86400.0
WEEK = 7 * DAY
HOUR = 3600.0
MAX_DAY_SLOTS = 288  # five-minute resolution at most within a day
_MAD_TO_SIGMA = 1.2533  # E|x| = sigma * sqrt(2/pi) for a normal
TAIL_U = 1.5  # standardised residual above which the upper tail is measured
_NORMAL_EXCEED_P = 0.0668  # P(z > 1.5) for a standard normal
_NORMAL_MEAN_EXCESS = 0.48  # E[z - 1.5 | z > 1.5] for a standard normal
_TAIL_PRIOR_N = 50  # the normal tail counts as this many periods of evidence
_TAIL_HALFLIFE = 500  # periods
_TAIL_CAP_Z = 8.0  # one period's excess counts at most this far
_MAX_TAIL_FACTOR = 3.0
_PRIOR_ABSDEV = 0.4  # before residuals are known: a wide spread (sigma 0.5 in log)
_PRIOR_N = 4  # ... that counts as this many residuals
_MONDAY_OFFSET = 3 * DAY  # 1970-01-01 was a Thursday


# a level the series had in the last this many calendar weeks (this one included) is one it may return to (a holiday
# week or two, not a saving made a month ago and lost again)
RECENT_LEVEL_WEEKS = 4
RECENT_LEVEL_MIN_GAP = math.log(2.0)  # ... when it had fallen to half of it or less
# ... and was near it (within this, log) at most this many days ago: a holiday of up to a week and a half; a saving that
# lasted longer and is lost again pages
RECENT_HIGH_NEAR = math.log(1.25)
RECENT_DIP_MAX_DAYS = 10
_SLACK_MIN_STEP = math.log(2.0)  # ... and a neighbouring hour counts where it is twice its own or more
_SLACK_MAX_PERIOD_S = 1.5 * HOUR  # periods up to an hour long have an hour early and late (a day's do not)
MIN_LEVEL_HALFLIFE_PERIODS = 7
MIN_SCALE_HALFLIFE_PERIODS = 30
WEEK_MARGIN = 0.9  # the week profile must cut the typical residual by a tenth to be used
_WEEK_CMP_MIN = 3  # ... judged over at least this many periods whose weekday slot had a visit
GUARD_K = 2.0  # last week's slot counts when it was this many scales above the model
WIDE_CLIP_K = 6.0  # a slot's first visit, and the week profile, learn residuals up to this many scales


def _clip(x: float, lim: float) -> float:
    return lim if x > lim else -lim if x < -lim else x


def slots(t: float) -> tuple[int, int]:
    """(hour of day, day of week with Monday = 0) of an epoch time, in UTC."""
    days = t // DAY
    return int((t - days * DAY) // HOUR), int((days + 3) % 7)  # 1970-01-01 was a Thursday


def _expected_max_normal(n: int) -> float:
    """About E[max of n standard normals] (0 for one; Blom's approximation otherwise)."""
    if n <= 1:
        return 0.0
    from statistics import NormalDist
    return NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


_TAIL_REFS: dict[float, tuple[float, float]] = {}


def _tail_ref(z_open: float) -> tuple[float, float]:
    """(upper-tail probability of ``z_open`` for a normal, the exponential extrapolation of a normal's
    tail to it): constants of the bar, computed once per ``z_open``."""
    ref = _TAIL_REFS.get(z_open)
    if ref is None:
        p_target = 0.5 * math.erfc(z_open / math.sqrt(2.0))
        ref = _TAIL_REFS[z_open] = (p_target, TAIL_U + _NORMAL_MEAN_EXCESS * math.log(_NORMAL_EXCEED_P / p_target))
    return ref


def _gain(period_s: float, halflife_s: float) -> float:
    """Per-update EWMA gain for a half-life expressed in seconds of the series' own time."""
    return 1.0 - 2.0 ** (-period_s / max(halflife_s, period_s))


class SpendBaseline:
    """Level x within-day x within-week baseline of log spend, with a robust, tail-aware scale.

    Parameters
    ----------
    period_s
        The series' period (seconds). Decides the profiles: a within-day shape below a day, an
        hour-of-week (below a day) or day-of-week (below a week) profile.
    level_halflife_s
        Half-life of the level (3 days: a +40 % ramp over a week lags by a few percent; a step
        is not absorbed within the hours it takes to flag it).
    day_halflife_days, week_halflife_weeks
        Half-lives of the within-day and within-week profiles, in visits of a slot.
    scale_halflife_s
        Half-life of the robust scale.
    min_scale
        Floor of the log scale (0.05 = 5 %).
    clip_k
        Residuals beyond ``clip_k`` scales are clipped before they are learned (Huber-style).
    z_open
        The detector's open bar, in scales: the tail factor compares tails at its probability.

    Examples
    --------
    >>> b = SpendBaseline(3600.0)
    >>> for i in range(24 * 14):
    ...     b.learn(i * 3600.0, math.log(100.0 * (2.0 if i % 24 >= 12 else 1.0)))
    >>> [round(math.exp(b.expected_log(t * 3600.0))) for t in (24 * 14 + 3, 24 * 14 + 15)]
    [100, 200]
    >>> b.score(24 * 14 * 3600.0, 600.0)[1] > 10
    True

    References
    ----------
    - C. C. Holt (1957) and P. R. Winters, "Forecasting sales by exponentially weighted moving
      averages", *Management Science* 6 (1960): exponentially weighted level and seasonal factors.
    - P. J. Huber, "Robust estimation of a location parameter", *Annals of Mathematical Statistics*
      35 (1964): clipped residuals.
    - J. Pickands, "Statistical inference using extreme order statistics", *Annals of Statistics*
      3 (1975): peaks over a threshold, the tail factor.
    """

    __slots__ = ("period_s", "n_day", "day_w", "n_week", "week_w", "level", "day", "day_n", "week", "week_n",
                 "absdev", "absdev_w", "scale_n", "n", "first_t", "last_recentre_day", "a_level", "a_day", "a_week",
                 "a_scale", "min_scale", "clip_k", "week_last", "week_day", "max_noise", "tail_p", "tail_m",
                 "tail_n", "z_open", "cmp_day", "cmp_week", "cmp_n", "recent_levels", "high_day")

    def __init__(self, period_s: float, level_halflife_s: float = 3 * DAY, day_halflife_days: float = 7.0,
                 week_halflife_weeks: float = 3.0, scale_halflife_s: float = 3 * DAY, min_scale: float = 0.05,
                 clip_k: float = 2.5, z_open: float = 4.5) -> None:
        self.period_s = period_s
        if period_s < DAY:
            self.n_day = min(MAX_DAY_SLOTS, max(1, round(DAY / period_s)))
            self.n_week, self.week_w = 168, HOUR
        elif period_s < WEEK:
            self.n_day, self.n_week, self.week_w = 0, 7, DAY
        else:
            self.n_day, self.n_week, self.week_w = 0, 0, WEEK
        self.day_w = DAY / self.n_day if self.n_day else DAY
        self.level = 0.0
        self.day = array("f", bytes(4 * self.n_day))
        self.day_n = bytearray(self.n_day)  # visits per slot, saturating at 255
        self.week = array("f", bytes(4 * self.n_week))
        self.week_n = bytearray(self.n_week)
        # the largest log spend of each week slot at its latest visit, and the day of that visit:
        # a period is never more unusual than what the same slot did last week (a weekly roll-up,
        # a Monday ramp, a Sunday batch: recurring, whatever the model makes of it)
        self.week_last = array("f", bytes(4 * self.n_week))
        self.week_day = array("H", bytes(2 * self.n_week))  # (days since epoch) % 65535 + 1; 0 = never
        per_slot = max(1, round(self.week_w / period_s))
        self.max_noise = _expected_max_normal(per_slot)
        # EWMAs of the absolute out-of-sample residual without and with the week profile: the
        # week profile is used where it predicts better (a weekly rhythm), not where it only adds
        # the noise of its few visits
        self.absdev = _PRIOR_ABSDEV
        self.absdev_w = _PRIOR_ABSDEV * 1.001
        self.scale_n = 0
        # the same two residuals, but only over periods whose weekday slot already had a visit: the
        # test of whether the week profile predicts better (before a slot's first visit both models
        # predict alike, and those periods would only water the comparison down)
        self.cmp_day = self.cmp_week = 0.0
        self.cmp_n = 0
        # the upper tail, peaks over a threshold: how often a standardised residual exceeds
        # TAIL_U and by how much on average (an exponential tail's scale); starts as a normal's
        self.tail_p = _NORMAL_EXCEED_P
        self.tail_m = _NORMAL_MEAN_EXCESS
        self.tail_n = 0
        self.z_open = z_open
        self.n = 0
        self.first_t = 0.0
        self.last_recentre_day = 0
        # the highest level at a daily re-centring in each of the last RECENT_LEVEL_WEEKS weeks (days since
        # epoch // 7; the latest is the week of ``last_recentre_day``): a series back from a quiet week (a
        # holiday) returns to a level it had, which is no new shift
        self.recent_levels = array("f")
        self.high_day = -1  # the latest re-centring day the level was near that high level (within RECENT_HIGH_NEAR)
        # half-lives in seconds, but never fewer periods than it takes to average noise out (a daily
        # series' level over 3 days would follow its noise)
        self.a_level = _gain(period_s, max(level_halflife_s, MIN_LEVEL_HALFLIFE_PERIODS * period_s))
        visits_per_day = max(1.0, DAY / period_s / self.n_day) if self.n_day else 1.0
        self.a_day = 1.0 - 2.0 ** (-1.0 / (day_halflife_days * visits_per_day))
        week_visits = max(1.0, self.week_w / period_s)  # visits of a week slot per week
        self.a_week = 1.0 - 2.0 ** (-1.0 / (week_halflife_weeks * week_visits))
        self.a_scale = _gain(period_s, max(scale_halflife_s, MIN_SCALE_HALFLIFE_PERIODS * period_s))
        self.min_scale = min_scale
        self.clip_k = clip_k

    # ------------------------------------------------------------------ slots
    def _slots(self, t: float) -> tuple[int, int]:
        d = int((t % DAY) // self.day_w) if self.n_day else -1
        w = int(((t + _MONDAY_OFFSET) % WEEK) // self.week_w) if self.n_week else -1
        return d, w

    def _mu(self, d: int, w: int) -> float:
        """log of the expected spend in day slot ``d`` and week slot ``w`` (the week profile only
        where it has proven to predict better than the day shape alone)."""
        mu = self.level
        if d >= 0:
            mu += self.day[d]
        if w >= 0 and self.week_used:
            mu += self.week[w]
        return mu

    # ---------------------------------------------------------------- reading
    def expected_log(self, t: float) -> float:
        """log of the expected (typical, i.e. median) spend of the period starting at ``t``."""
        return self._mu(*self._slots(t))

    @property
    def scale(self) -> float:
        """Robust sigma of log spend around the baseline (>= ``min_scale``); before any residual
        is known, a wide prior that real residuals replace over the first days."""
        return max(self.min_scale, min(self.absdev, self.absdev_w) * _MAD_TO_SIGMA)

    def scale_at(self, t: float) -> float:
        """The scale of the period at ``t``, wider by how little its day slot knows."""
        return self._scale_of(int((t % DAY) // self.day_w) if self.n_day else -1)

    def _scale_of(self, d: int) -> float:
        """:meth:`scale_at` of a period in day slot ``d`` (-1: none)."""
        s = max(self.min_scale, min(self.absdev, self.absdev_w) * _MAD_TO_SIGMA)  # self.scale, inlined
        if d >= 0:
            k = self.day_n[d]
            return s * math.sqrt(1.0 + 1.0 / k) if k else s * 2.0
        return s

    @property
    def week_used(self) -> bool:
        """Whether the week profile predicts clearly better than the day shape alone (a weekly
        rhythm): by a margin, so a near tie on a series without one (the profile then holds one
        visit of noise, or a single odd hour, per slot) never applies 168 one-visit estimates."""
        return self.cmp_n >= _WEEK_CMP_MIN and self.cmp_week < WEEK_MARGIN * self.cmp_day

    @property
    def tail_factor(self) -> float:
        """How much further out the upper tail puts a one-in-a-million-ish residual than a
        normal tail would (>= 1): an exponential (peaks-over-threshold) extrapolation of the
        observed tail against the same extrapolation of a normal's."""
        p_target, ref = _tail_ref(self.z_open)
        obs = TAIL_U + self.tail_m * math.log(max(self.tail_p, p_target * 1.01) / p_target)
        return min(_MAX_TAIL_FACTOR, max(1.0, obs / ref))

    def learn_tail(self, z: float) -> None:
        """Fold one standardised residual into the upper-tail estimate."""
        self.tail_n += 1
        g = max(1.0 / _TAIL_HALFLIFE, 1.0 / (self.tail_n + _TAIL_PRIOR_N))
        over = z > TAIL_U
        self.tail_p += g * ((1.0 if over else 0.0) - self.tail_p)
        if over:  # the mean excess learns from exceedances only, with the same evidence weight
            gx = max(1.0 / (_TAIL_HALFLIFE * _NORMAL_EXCEED_P),
                     1.0 / (self.tail_n * self.tail_p + _TAIL_PRIOR_N * _NORMAL_EXCEED_P))
            self.tail_m += min(1.0, gx) * (min(z, _TAIL_CAP_Z) - TAIL_U - self.tail_m)

    def guard_log(self, t: float) -> float:
        """The expected log spend, or what the same week slot did at its last visit in an earlier
        week if that was more: the reference a period must clear to be unusual."""
        return self._guard(t, *self._slots(t))

    def _guard(self, t: float, d: int, w: int) -> float:
        """:meth:`guard_log` of the period at ``t``, in slots ``d`` and ``w``."""
        mu = self._mu(d, w) + self._timing_slack(t, d, w, self.week_used)
        if w >= 0 and self.week_day[w]:
            age = (int(t // DAY) % 65535 + 1 - self.week_day[w]) % 65535
            if 3 <= age <= 10:
                # the slot's maximum over its periods, less what noise alone adds to a maximum of
                # that many periods (a 5-minute series has 12 in an hour slot); only when that was
                # itself unusual (a roll-up, a ramp), so plain noise last week dulls nothing
                last = self.week_last[w] - self.scale * self.max_noise
                if last > mu + GUARD_K * self.scale:
                    return float(last)
        return mu

    def _timing_slack(self, t: float, d: int, w: int, with_week: bool) -> float:
        """How far above the period's own slot an hour earlier or later lies (log, >= 0): an hour early
        or late is on time. A business-hours series whose clock changes (daylight saving moves 09:00
        local by an hour of UTC) or a job that starts an hour late is not a spike in the hour it now
        fills, nor a heavy tail to learn; its own hour's level is the bar only where that is higher."""
        if d < 0 or self.day_w > _SLACK_MAX_PERIOD_S:
            return 0.0
        own = self.level + self.day[d] + (self.week[w] if with_week and w >= 0 else 0.0)
        top = own
        for dt in (-HOUR, HOUR):
            dn, wn = self._slots(t + dt)
            if self.day_n[dn] and (wn < 0 or not with_week or self.week_n[wn]):
                top = max(top, self.level + self.day[dn] + (self.week[wn] if with_week and wn >= 0 else 0.0))
        # only a step (business hours starting): a smooth daily cycle's next hour is a few percent up, and
        # a spike or step on it is judged against its own hour
        return top - own if top - own >= _SLACK_MIN_STEP else 0.0

    def guard_and_scale(self, t: float) -> tuple[float, float]:
        """(:meth:`guard_log`, :meth:`scale_at`) of the period at ``t``, its slots computed once."""
        d, w = self._slots(t)
        return self._guard(t, d, w), self._scale_of(d)

    def score(self, t: float, spend: float, eps: float = 1e-3) -> tuple[float, float]:
        """(expected spend, robust z of log spend) of the period starting at ``t``, against the
        guarded expectation (:meth:`guard_log`)."""
        d, w = self._slots(t)
        mu = self._guard(t, d, w)
        return math.exp(mu), (math.log(spend + eps) - mu) / self._scale_of(d)

    def mature(self, t: float) -> bool:
        """Whether both slots of the period at ``t`` have been seen: its day slot (the day shape) and
        its week slot (what this weekday's hour did before). Until then the period's expectation
        is still settling and it is not judged as a trusted period."""
        d, w = self._slots(t)
        return (d < 0 or self.day_n[d] >= 1) and (w < 0 or self.week_n[w] >= 1)

    def span_s(self, t: float) -> float:
        """Seconds of history behind the baseline at time ``t``."""
        return t - self.first_t if self.n else 0.0

    def profile_factors(self, t: float) -> tuple[float, float]:
        """(within-day factor, within-week factor) applied to the period at ``t``, for evidence."""
        d, w = self._slots(t)
        week = self.week[w] if w >= 0 and self.week_used else 0.0
        return (math.exp(self.day[d]) if d >= 0 else 1.0, math.exp(week))

    # ---------------------------------------------------------------- writing
    def learn(self, t: float, log_spend: float) -> None:
        """Fold one normal period (log of its spend) into the baseline."""
        if self.n == 0:
            self.level = log_spend
            self.first_t = t
            self.last_recentre_day = int(t // DAY)
            self.n = 1
            return
        d, w = self._slots(t)
        self._remember(t, w, log_spend)
        base = self.level + (self.day[d] if d >= 0 else 0.0)
        week = self.week[w] if w >= 0 else 0.0
        e = log_spend - base - week  # the full model's residual: what every part learns from
        s = self.scale
        lim, wide = self.clip_k * s, WIDE_CLIP_K * s
        seen_d = d < 0 or self.day_n[d] > 0
        if seen_d:  # the out-of-sample residuals of a period whose day slot has an estimate: the spread
            self.scale_n += 1
            g = max(self.a_scale, 1.0 / (self.scale_n + _PRIOR_N))
            # ... as scored: what an hour early or late explains is no spread (the profile learns it all)
            e_day = log_spend - base
            e_day -= min(max(e_day, 0.0), self._timing_slack(t, d, w, False))
            e_full = e - min(max(e, 0.0), self._timing_slack(t, d, w, True))
            self.absdev += g * (min(abs(e_day), lim) - self.absdev)
            self.absdev_w += g * (min(abs(e_full), lim) - self.absdev_w)
            if w >= 0 and self.week_n[w]:
                self.cmp_n += 1
                gc = max(self.a_scale, 1.0 / self.cmp_n)
                self.cmp_day += gc * (min(abs(e_day), lim) - self.cmp_day)
                self.cmp_week += gc * (min(abs(e_full), lim) - self.cmp_week)
            self.learn_tail((e_full if self.week_used else e_day) / self._scale_of(d))
        if d >= 0:  # the day shape first: it learns within a day
            k = self.day_n[d]
            g = max(self.a_day, 1.0 / (k + 1))
            step = g * _clip(e, wide if k == 0 else lim)  # a first visit is all the slot knows
            self.day[d] += step
            e -= step
            if k < 255:
                self.day_n[d] = k + 1
        if w >= 0 and seen_d:  # then what this weekday's slot adds to it (a weekly pattern is
            k = self.week_n[w]  # large by nature: wide clipping)
            g = max(self.a_week, 1.0 / (k + 1))
            step = g * _clip(e, wide)
            self.week[w] += step
            e -= step
            if k < 255:
                self.week_n[w] = k + 1
        self.level += self.a_level * _clip(e, lim)
        self.n += 1
        day = int(t // DAY)
        if day != self.last_recentre_day:
            new_week = day // 7 != self.last_recentre_day // 7
            self.last_recentre_day = day
            self._recentre(new_week)

    def reset_scale(self) -> None:
        """Back to the wide prior spread and a normal tail (a baseline built from another series' expectations
        knows the shape and level, not the noise)."""
        self.absdev = _PRIOR_ABSDEV
        self.absdev_w = _PRIOR_ABSDEV * 1.001
        self.scale_n = 0
        self.cmp_day = self.cmp_week = 0.0
        self.cmp_n = 0
        self.tail_p, self.tail_m, self.tail_n = _NORMAL_EXCEED_P, _NORMAL_MEAN_EXCESS, 0

    def remember(self, t: float, log_spend: float) -> None:
        """Keep a flagged period that came back in the week slot's memory only (:meth:`guard_log`):
        if the same slot does it again next week, it is a weekly rhythm (a roll-up), not news.
        Nothing else learns from it."""
        self._remember(t, self._slots(t)[1], log_spend)

    def _remember(self, t: float, w: int, log_spend: float) -> None:
        if w < 0:
            return
        day = int(t // DAY) % 65535 + 1
        if self.week_day[w] != day:
            self.week_day[w] = day
            self.week_last[w] = log_spend
        elif log_spend > self.week_last[w]:
            self.week_last[w] = log_spend

    def rebase(self, delta_log: float) -> None:
        """Move the level by ``delta_log`` (a persistent shift accepted as the new normal)."""
        self.level += delta_log

    def _recentre(self, new_week: bool) -> None:
        for prof, counts in ((self.day, self.day_n), (self.week, self.week_n)):
            seen = [i for i, c in enumerate(counts) if c]
            if not seen:
                continue
            m = sum(prof[i] for i in seen) / len(seen)
            for i in seen:
                prof[i] -= m
            self.level += m
        if new_week or not self.recent_levels:
            self.recent_levels.append(self.level)
            if len(self.recent_levels) > RECENT_LEVEL_WEEKS:
                del self.recent_levels[0]
        elif self.level > self.recent_levels[-1]:
            self.recent_levels[-1] = self.level
        if max(self.recent_levels) - self.level <= RECENT_HIGH_NEAR:
            self.high_day = self.last_recentre_day

    def recent_level_gap(self) -> float:
        """How far (log) the level is below the highest it was at a re-centring of the last
        ``RECENT_LEVEL_WEEKS`` weeks, when that is a short dip (``RECENT_LEVEL_MIN_GAP`` or more, near the high
        ``RECENT_DIP_MAX_DAYS`` ago at most), else 0: the level's own wander is no quiet spell to come back from."""
        gap = max(self.recent_levels, default=self.level) - self.level
        if gap < RECENT_LEVEL_MIN_GAP or self.high_day < 0 \
                or self.last_recentre_day - self.high_day > RECENT_DIP_MAX_DAYS:
            return 0.0  # no dip, or one that lasted (a saving lost again pages: it is no holiday)
        return gap

    def __setstate__(self, state: Any) -> None:
        """Unpickle, giving fields newer than the snapshot their starting values."""
        self.cmp_day = self.cmp_week = 0.0
        self.cmp_n = 0
        self.recent_levels, self.high_day = array("f"), -1
        parts = state if isinstance(state, tuple) else (state, None)
        for part in parts:
            for name, value in (part or {}).items():
                setattr(self, name, value)

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """Everything learned, as plain data (settings are the constructor's, not the state's)."""
        return {"period_s": self.period_s, "level": self.level, "n": self.n, "first_t": self.first_t,
                "last_recentre_day": self.last_recentre_day, "day": self.day.tolist(), "day_n": list(self.day_n),
                "week": self.week.tolist(), "week_n": list(self.week_n), "week_last": self.week_last.tolist(),
                "week_day": self.week_day.tolist(), "absdev": self.absdev, "absdev_w": self.absdev_w,
                "scale_n": self.scale_n, "tail_p": self.tail_p, "tail_m": self.tail_m, "tail_n": self.tail_n,
                "cmp_day": self.cmp_day, "cmp_week": self.cmp_week, "cmp_n": self.cmp_n,
                "recent_levels": self.recent_levels.tolist(), "high_day": self.high_day}

    def load_state(self, state: dict[str, Any]) -> None:
        """Take the learned values of :meth:`to_state` (from a baseline of the same period)."""
        if state["period_s"] != self.period_s:
            raise ValueError(f"baseline state is for period {state['period_s']} s, not {self.period_s} s")
        for name in ("day", "week", "week_last"):
            values = state[name]
            if len(values) != len(getattr(self, name)):
                raise ValueError(f"baseline state: {name} has {len(values)} slots")
            setattr(self, name, array("f", values))
        self.week_day = array("H", state["week_day"])
        self.day_n, self.week_n = bytearray(state["day_n"]), bytearray(state["week_n"])
        if len(self.week_day) != self.n_week or len(self.day_n) != self.n_day or len(self.week_n) != self.n_week:
            raise ValueError("baseline state: slot counts do not match its period")
        self.level, self.n, self.first_t = float(state["level"]), int(state["n"]), float(state["first_t"])
        self.last_recentre_day = int(state["last_recentre_day"])
        self.absdev, self.absdev_w = float(state["absdev"]), float(state["absdev_w"])
        self.scale_n = int(state["scale_n"])
        self.tail_p, self.tail_m, self.tail_n = float(state["tail_p"]), float(state["tail_m"]), int(state["tail_n"])
        # states from before the week comparison: it starts afresh
        self.cmp_day, self.cmp_week = float(state.get("cmp_day", 0.0)), float(state.get("cmp_week", 0.0))
        self.cmp_n = int(state.get("cmp_n", 0))
        self.recent_levels = array("f", state.get("recent_levels", ()))[-RECENT_LEVEL_WEEKS:]
        self.high_day = int(state.get("high_day", -1))
