"""Two-group statistics of a campaign readout: a difference of proportions and a difference of means.

* :func:`retention_difference_interval`: the Miettinen-Nurminen score interval
  for p1 - p2, good for small groups and rates near 0 or 1;
* :func:`score_test_p_value`: the two-sided p-value of the score test the
  interval inverts, so the interval excludes 0 exactly when p < 1 - confidence;
* :func:`welch_interval`: Welch's interval for a difference of means with unequal variances.

Pure functions of counts, means and variances; no data access.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

DEFAULT_CONFIDENCE = 0.95
Interval = tuple[float, float]


def _restricted_mle(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """Maximum-likelihood (p1, p2) under p1 - p2 = delta (Miettinen & Nurminen 1985; closed form
    of Farrington & Manning 1990)."""
    p1, p2 = x1 / n1, x2 / n2
    theta = n2 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p2 + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p2
    d = -p1 * delta * (1.0 + delta)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = math.copysign(math.sqrt(max(b * b / (9.0 * a * a) - c / (3.0 * a), 0.0)), v)
    ratio = 0.0 if u == 0 else max(-1.0, min(1.0, v / u**3))
    w = (math.pi + math.acos(ratio)) / 3.0
    q1 = min(1.0, max(0.0, 2.0 * u * math.cos(w) - b / (3.0 * a)))
    q2 = min(1.0, max(0.0, q1 - delta))
    return q1, q2


def _score(x1: int, n1: int, x2: int, n2: int, delta: float) -> float:
    """The Miettinen-Nurminen score statistic for H0: p1 - p2 = delta (decreasing in delta)."""
    gap = x1 / n1 - x2 / n2 - delta
    q1, q2 = _restricted_mle(x1, n1, x2, n2, delta)
    n = n1 + n2
    var = (q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2) * n / (n - 1)
    if var <= 0:
        return 0.0 if abs(gap) < 1e-12 else math.copysign(math.inf, gap)
    return gap / math.sqrt(var)


def retention_difference_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Miettinen-Nurminen score interval for p1 - p2, from x1 of n1 and x2 of n2 successes.

    The set of differences the score test does not reject at 1 - confidence;
    within [-1, 1], good coverage also for small groups and rates near 0 or 1.
    """
    if min(n1, n2) < 1 or not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError(f"need 0 <= x <= n and n >= 1, got {x1}/{n1} and {x2}/{n2}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    diff = x1 / n1 - x2 / n2
    edge = 1.0 - 1e-12

    def bound(limit: float) -> float:
        # The score falls as delta rises: the lower bound is where it equals +z, the upper where -z.
        def f(delta: float) -> float:
            return -limit * _score(x1, n1, x2, n2, delta) - z

        near = limit * edge
        if f(near) <= 0:  # the data sit at the edge: the bound is the edge itself
            return limit
        return float(optimize.brentq(f, min(near, diff), max(near, diff), xtol=1e-10))

    return bound(-1.0), bound(1.0)


def score_test_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the score test of p1 = p2 (the test the interval inverts)."""
    return float(2 * stats.norm.sf(abs(_score(x1, n1, x2, n2, 0.0))))


def welch_interval(
    mean1: float, var1: float, n1: int, mean2: float, var2: float, n2: int, confidence: float = DEFAULT_CONFIDENCE
) -> Interval:
    """Welch's interval for mean1 - mean2 from sample means and sample variances (n >= 2 each)."""
    diff = mean1 - mean2
    a, b = var1 / n1, var2 / n2
    se = math.sqrt(a + b)
    if se == 0:
        return diff, diff
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return diff - half, diff + half


# --- power: what a campaign of this size could have seen ------------------------------------

DEFAULT_POWER = 0.8


def _z_sum(confidence: float, power: float) -> float:
    """z of the two-sided test at ``confidence`` plus z of ``power``: the distance, in standard errors, an effect must be."""
    if not 0.5 <= confidence < 1 or not 0.5 <= power < 1:
        raise ValueError(f"confidence {confidence} and power {power} must be in [0.5, 1)")
    return float(stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    control_rate: float, n_treated: int, n_control: int, confidence: float = DEFAULT_CONFIDENCE, power: float = DEFAULT_POWER
) -> float:
    """The smallest rise in retention (a proportion: 0.06 = 6 points) over ``control_rate`` that a two-sided test at
    ``confidence`` finds with probability ``power``, with these group sizes (normal approximation, unpooled
    variance at the control rate and at the raised rate). 1 - control_rate when not even that would do."""
    if min(n_treated, n_control) < 1 or not 0 <= control_rate <= 1:
        raise ValueError(f"need groups of at least 1 user and a rate in [0, 1], got {n_treated}, {n_control}, {control_rate}")
    k = _z_sum(confidence, power)
    room = 1.0 - control_rate

    def gap(d: float) -> float:
        p = control_rate + d
        return d - k * math.sqrt(control_rate * (1 - control_rate) / n_control + p * (1 - p) / n_treated)

    if room <= 0 or gap(room) < 0:
        return room
    if gap(1e-12) >= 0:  # a rate of 0 (or 1) in both groups: any rise shows
        return 0.0
    return float(optimize.brentq(gap, 1e-12, room, xtol=1e-9))


def holdout_needed(
    control_rate: float, effect: float, n_treated: int, confidence: float = DEFAULT_CONFIDENCE, power: float = DEFAULT_POWER
) -> int | None:
    """Control users needed, beside ``n_treated`` treated ones, to find a rise of ``effect`` (0.03 = 3 points) over
    ``control_rate`` with probability ``power`` (same approximation as :func:`minimum_detectable_effect`).
    None when even an unlimited holdout would not do: the treated group itself is too small for that effect."""
    if not 0 < effect <= 1 - control_rate or n_treated < 1:
        raise ValueError(f"effect {effect} must be in (0, 1 - control rate {control_rate}] and n_treated >= 1")
    k = _z_sum(confidence, power)
    p = control_rate + effect
    budget = (effect / k) ** 2 - p * (1 - p) / n_treated  # variance left for the control group's mean
    if budget <= 0:
        return None
    return max(1, math.ceil(control_rate * (1 - control_rate) / budget))
