"""A campaign readout's verdict in words, for a reader who is not a statistician.

Inputs: the readout's numbers (group sizes, the control group's retention, the
retention difference with its interval, the coupon cost, the spend difference with
its interval). Output: a :class:`Verdict`: one of

* ``gain``: the whole retention interval is above 0. "The coupons kept 41 more users
  than the holdout would have (95 % interval 12 to 70): a measured gain. Cost per
  kept user 49." The cost per kept user is given only here;
* ``loss``: the whole interval is below 0: the treated users came back less;
* ``inconclusive``: the interval includes 0. Then the minimum detectable effect (the
  smallest rise the test would have found with 80 % power at these group sizes) and
  the holdout needed to find a stated effect (default 3 points) with the same power;
* ``unmeasured``: a group is missing.

A sentence on spend follows (a measured rise or fall only when its interval excludes 0).
Pure function of numbers; the power calculation is :mod:`serving.crm.statistics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.crm.statistics import DEFAULT_POWER, Interval, holdout_needed, minimum_detectable_effect

GAIN, LOSS, INCONCLUSIVE, UNMEASURED = "gain", "loss", "inconclusive", "unmeasured"
DEFAULT_STATED_EFFECT = 0.03  # the effect a campaign owner would want to see: 3 percentage points of retention


@dataclass(frozen=True)
class Verdict:
    """The readout in words, and the power figures behind an inconclusive one."""

    kind: str  # gain, loss, inconclusive, unmeasured
    text: str
    minimum_detectable_effect: float | None = None  # inconclusive only; a proportion (0.06 = 6 points)
    stated_effect: float | None = None
    holdout_needed: int | None = None  # control users needed for stated_effect; None if no holdout would do


def unmeasured(missing: str) -> Verdict:
    """The verdict when the ``missing`` group (treatment or control) is empty."""
    why = "nobody was held out" if missing == "control" else "nobody got the coupon"
    return Verdict(UNMEASURED, f"No verdict: {why}, so what the coupons did cannot be measured.")


def verdict(
    *,
    n_treated: int,
    n_control: int,
    control_rate: float,
    difference: float,
    difference_interval: Interval,
    coupon_cost: float,
    spend_difference: float,
    spend_interval: Interval | None,
    confidence: float,
    stated_effect: float = DEFAULT_STATED_EFFECT,
    power: float = DEFAULT_POWER,
) -> Verdict:
    """The verdict of a readout with both groups (see the module docstring).

    difference, difference_interval: retention treatment - control (proportions); spend_difference,
    spend_interval: the difference of spend per user (the interval None when a group has fewer than
    2 users); intervals at ``confidence``.
    """
    low, high = difference_interval
    level = f"{confidence:.0%}".replace("%", " %")
    kept = (low * n_treated, high * n_treated)
    spend = _spend_sentence(spend_difference, spend_interval, n_treated, level)
    if low > 0:
        cost = coupon_cost / (difference * n_treated)
        text = (
            f"The coupons kept {_whole(difference * n_treated)} more users than the holdout would have "
            f"({level} interval {_whole(kept[0])} to {_whole(kept[1])}): a measured gain. "
            f"Cost per kept user {cost:,.0f} ({coupon_cost / kept[1]:,.0f} to {coupon_cost / kept[0]:,.0f})."
        )
        return Verdict(GAIN, f"{text} {spend}")
    if high < 0:
        text = (
            f"The treated users came back less: {_whole(-difference * n_treated)} fewer kept than the holdout "
            f"would have ({level} interval {_whole(-kept[1])} to {_whole(-kept[0])} fewer): a measured loss. "
            "The coupons did not pay for themselves in retention."
        )
        return Verdict(LOSS, f"{text} {spend}")
    mde = minimum_detectable_effect(control_rate, n_treated, n_control, confidence, power)
    possible = stated_effect <= 1 - control_rate
    needed = holdout_needed(control_rate, stated_effect, n_treated, confidence, power) if possible else None
    text = (
        f"No measurable effect: retention {_pts(low)} to {_pts(high)} points ({level} interval, includes 0). "
        f"With {n_control:,} users held out, only an effect above {100 * mde:.1f} points could have been seen "
        f"({100 * power:.0f} % power)."
    )
    if needed is None:
        text += f" A {100 * stated_effect:g}-point effect cannot be seen with {n_treated:,} treated users, however many are held out."
    elif needed > n_control:
        text += f" To see a {100 * stated_effect:g}-point effect, hold out {needed:,} users."
    else:
        text += f" A {100 * stated_effect:g}-point effect would have been seen: the holdout was large enough ({needed:,} needed)."
    return Verdict(INCONCLUSIVE, f"{text} {spend}", mde, stated_effect, needed)


def _spend_sentence(difference: float, interval: Interval | None, n_treated: int, level: str) -> str:
    total = difference * n_treated
    if interval is None:
        return f"Spend: {total:+,.0f} in total, no interval (a group has fewer than 2 users)."
    low, high = interval[0] * n_treated, interval[1] * n_treated
    if low > 0:
        return f"Spend: the treated users spent {total:,.0f} more in total ({level} interval {low:,.0f} to {high:,.0f})."
    if high < 0:
        return f"Spend: the treated users spent {-total:,.0f} less in total ({level} interval {-high:,.0f} to {-low:,.0f} less)."
    return f"Spend: no measurable difference ({total:+,.0f} in total; {level} interval {low:+,.0f} to {high:+,.0f} in total)."


def _whole(x: float) -> str:
    return f"{round(x):,}"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"
