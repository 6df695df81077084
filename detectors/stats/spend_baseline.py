"""A small, robust, seasonal baseline for one spend series (used by :mod:`detectors.cost_spike`).

Model
    Spend is multiplicative (weekends cost half, a peak hour costs 1.5x, growth is a rate), and
    cloud spend noise is heavy-tailed, so the baseline works on ``log(spend)``::

        log(expected) = level + hour_of_day[h] + day_of_week[d]

    All three parts are exponentially weighted running estimates:

    - ``level`` follows slow legitimate growth (half-life ``level_halflife_s``, 3 days by
      default: a +40 % ramp over a week lags by a few percent, a step does not get absorbed
      within the hours it takes to flag it).
    - ``hour_of_day`` (24 slots, used when the period is shorter than a day) and
      ``day_of_week`` (7 slots, used when the period is shorter than a week) start as running
      means (gain ``1/n`` on a slot's first visits, so one Saturday teaches the weekend) and
      then become EWMAs (half-lives ``hod_halflife_days`` / ``dow_halflife_days``). They are
      re-centred once a day so the level keeps meaning "the typical period".
    - ``scale`` is a robust spread of the log residuals: an EWMA of the absolute residual (a
      running mean over the first ones, so one early residual does not set it) times 1.2533
      (mean absolute deviation -> sigma for a normal), floored at ``min_scale``. Residuals are
      clipped at ``clip_k`` scales before they are learned, so one outlier moves nothing much
      (Huber-style).

Scoring and learning are separate: :meth:`score` reads, :meth:`learn` writes, and the
detector calls :meth:`learn` only for periods it did not flag. Zero-spend periods are never
learned here (a stopped workload is absence, not a new level).

State is ~35 floats and 31 one-byte counters: well under 1 KiB pickled.
"""

from __future__ import annotations

import math

DAY = 86400.0
WEEK = 7 * DAY
_MAD_TO_SIGMA = 1.2533  # E|x| = sigma * sqrt(2/pi) for a normal


def _gain(period_s: float, halflife_s: float) -> float:
    """Per-update EWMA gain for a half-life expressed in seconds of the series' own time."""
    return 1.0 - 2.0 ** (-period_s / max(halflife_s, period_s))


def slots(t: float) -> tuple[int, int]:
    """(hour of day, day of week with Monday = 0) of an epoch time, in UTC."""
    days = t // DAY
    return int((t - days * DAY) // 3600.0), int((days + 3) % 7)  # 1970-01-01 was a Thursday


class SeasonalBaseline:
    """Level x hour-of-day x day-of-week baseline of log spend, with a robust scale.

    Parameters
    ----------
    period_s
        The series' period (seconds). Decides which profiles are used: hour of day below a
        day, day of week below a week.
    level_halflife_s, hod_halflife_days, dow_halflife_days, scale_halflife_s
        How fast each part forgets (see the module docstring).
    min_scale
        Floor of the log-scale (0.05 = 5 %): a very smooth series does not make tiny moves
        look significant.
    clip_k
        Residuals beyond ``clip_k`` scales are clipped before they are learned.

    Examples
    --------
    >>> b = SeasonalBaseline(3600.0)
    >>> for i in range(24 * 14):
    ...     b.learn(i * 3600.0, math.log(100.0))
    >>> round(math.exp(b.expected_log(24 * 14 * 3600.0)))
    100
    >>> b.score(24 * 14 * 3600.0, 600.0)[1] > 10
    True
    """

    __slots__ = ("period_s", "use_hod", "use_dow", "level", "hod", "dow", "hod_n", "dow_n", "absdev", "a_scale",
                 "scale_n", "n", "first_t", "last_recentre_day", "a_level", "a_hod", "a_dow", "min_scale", "clip_k",
                 "first_day_visits")

    def __init__(self, period_s: float, level_halflife_s: float = 3 * DAY, hod_halflife_days: float = 7.0,
                 dow_halflife_days: float = 14.0, scale_halflife_s: float = 3 * DAY, min_scale: float = 0.05,
                 clip_k: float = 2.5) -> None:
        self.period_s = period_s
        self.use_hod = period_s < DAY
        self.use_dow = period_s < WEEK
        self.level = 0.0
        self.hod = [0.0] * 24 if self.use_hod else []
        self.dow = [0.0] * 7 if self.use_dow else []
        self.hod_n = bytearray(24 if self.use_hod else 0)  # visits per slot, saturating at 255
        self.dow_n = bytearray(7 if self.use_dow else 0)
        self.absdev = 0.0  # EWMA of the absolute (clipped) log residual
        self.a_scale = _gain(period_s, scale_halflife_s)
        self.scale_n = 0  # residuals folded into absdev
        self.n = 0  # periods learned
        self.first_t = 0.0
        self.last_recentre_day = 0
        visits_per_day = max(1.0, 3600.0 / period_s)  # visits of one hour-of-day slot per day
        self.a_level = _gain(period_s, level_halflife_s)
        self.a_hod = 1.0 - 2.0 ** (-1.0 / (hod_halflife_days * visits_per_day))
        self.a_dow = 1.0 - 2.0 ** (-1.0 / (dow_halflife_days * max(1.0, DAY / period_s)))
        self.min_scale = min_scale
        self.first_day_visits = min(255, max(1, round(DAY / period_s)))  # visits of a day slot in one day
        self.clip_k = clip_k

    # ------------------------------------------------------------------ reading
    def expected_log(self, t: float) -> float:
        """log of the expected (typical, i.e. median) spend of the period starting at ``t``."""
        return self._mu(*slots(t))

    def _mu(self, h: int, d: int) -> float:
        """log of the expected spend in hour-of-day slot ``h`` and day-of-week slot ``d``."""
        mu = self.level
        if self.use_hod:
            mu += self.hod[h]
        if self.use_dow:
            mu += self.dow[d]
        return mu

    @property
    def scale(self) -> float:
        """Robust sigma of log spend around the baseline (>= ``min_scale``)."""
        if self.scale_n == 0:
            return max(self.min_scale, 0.5)  # nothing learned yet: assume a wide spread
        return max(self.min_scale, self.absdev * _MAD_TO_SIGMA)

    def score(self, t: float, spend: float, eps: float = 1e-3) -> tuple[float, float]:
        """(expected spend, robust z of log spend) for a period starting at ``t``.

        A profile slot never seen yet (the first Monday of a series born on a Wednesday) has no
        estimate of its own: the z then also allows for the spread of the slots that are known.
        """
        h, d = slots(t)
        mu = self._mu(h, d)
        return math.exp(mu), (math.log(spend + eps) - mu) / self._scale_at(h, d)

    def scale_at(self, t: float) -> float:
        """The scale of a period starting at ``t``, widened by how little its profile slots know.

        A slot learned from ``k`` visits is itself uncertain by about ``scale / sqrt(k)`` (the
        prediction interval of a mean); a slot not seen yet by the spread of those that are.
        """
        return self._scale_at(*slots(t))

    def _scale_at(self, h: int, d: int) -> float:
        s = self.scale
        var = s * s
        kh = self.hod_n[h] if self.use_hod else 255
        kd = self.dow_n[d] if self.use_dow else 255
        if kh and kd:  # the usual case: both slots known
            return s * math.sqrt(1.0 + 1.0 / kh + 1.0 / kd)
        for prof, counts, i in ((self.hod, self.hod_n, h), (self.dow, self.dow_n, d)):
            if not counts:
                continue
            k = counts[i]
            if k:
                var += s * s / k
                continue
            seen = [prof[j] for j, c in enumerate(counts) if c]
            if len(seen) > 1:
                m = sum(seen) / len(seen)
                var += sum((v - m) ** 2 for v in seen) / (len(seen) - 1)
        return math.sqrt(var)

    def mature(self, t: float) -> bool:
        """Whether the slots of ``t`` have learned enough (a full day of the weekday, two visits of
        the hour) that the period's expectation is not itself still settling."""
        h, d = slots(t)
        return (not self.use_dow or self.dow_n[d] >= self.first_day_visits) and \
            (not self.use_hod or self.hod_n[h] >= 2)

    def span_s(self, t: float) -> float:
        """Seconds of history behind the baseline at time ``t``."""
        return t - self.first_t if self.n else 0.0

    # ------------------------------------------------------------------ writing
    def learn(self, t: float, log_spend: float) -> None:
        """Fold one normal period (log of its spend) into the baseline."""
        if self.n == 0:
            self.level = log_spend
            self.first_t = t
            self.last_recentre_day = int(t // DAY)
            self.n = 1
            return
        h, d = slots(t)
        e = log_spend - self.level
        if self.use_hod:
            e -= self.hod[h]
        if self.use_dow:
            e -= self.dow[d]
        s = self.scale
        lim = self.clip_k * s
        e = lim if e > lim else -lim if e < -lim else e
        # the spread: only once a slot has been seen (a first visit's residual is the profile itself)
        seen_hod = not self.use_hod or self.hod_n[h] > 0
        seen_dow = not self.use_dow or self.dow_n[d] > 0
        if seen_hod and seen_dow:
            self.scale_n += 1
            self.absdev += max(self.a_scale, 1.0 / self.scale_n) * (abs(e) - self.absdev)
        # day of week first (24 visits a day: it learns a day's level quickly), but only once the
        # hour's slot has been seen: a first visit's residual is the hour-of-day shape itself, and a
        # series that starts mid-day would otherwise teach its first weekday half a day's shape
        learn_hod = self.use_hod
        if self.use_dow and not seen_hod and not self.dow_n[d]:
            self.dow_n[d] = 1  # the first day is the reference the hour-of-day shape is taken against
        elif self.use_dow and seen_hod:
            k = self.dow_n[d]
            g = max(self.a_dow, 1.0 / (k + 1))
            self.dow[d] += g * e
            e -= g * e
            if k < 255:
                self.dow_n[d] = k + 1
            # during a day slot's first day the residual is that day's own level: the hour slots
            # wait (they would otherwise take a share of, say, the first weekend as hour shape)
            learn_hod = learn_hod and k >= self.first_day_visits
        if learn_hod:
            k = self.hod_n[h]
            g = max(self.a_hod, 1.0 / (k + 1))
            self.hod[h] += g * e
            e -= g * e
            if k < 255:
                self.hod_n[h] = k + 1
        self.level += self.a_level * e
        self.n += 1
        day = int(t // DAY)
        if day != self.last_recentre_day:
            self.last_recentre_day = day
            self._recentre()

    def rebase(self, delta_log: float) -> None:
        """Move the level by ``delta_log`` (a persistent shift accepted as the new normal)."""
        self.level += delta_log

    def _recentre(self) -> None:
        for prof, counts in ((self.hod, self.hod_n), (self.dow, self.dow_n)):
            seen = [i for i, c in enumerate(counts) if c]
            if not seen:
                continue
            m = sum(prof[i] for i in seen) / len(seen)
            for i in seen:
                prof[i] -= m
            self.level += m

    def profile_factors(self, t: float) -> tuple[float, float]:
        """(hour-of-day factor, day-of-week factor) applied to the period at ``t``, for evidence."""
        h, d = slots(t)
        return (math.exp(self.hod[h]) if self.use_hod else 1.0, math.exp(self.dow[d]) if self.use_dow else 1.0)
