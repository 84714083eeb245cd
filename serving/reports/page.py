"""The nightly dashboard as one self-contained HTML page: a pure function of :class:`NightlyInputs`.

Each panel is a ``<section class="panel" data-panel="NAME">``; the figures a reader (or the
browser test) looks for carry ``data-figure="NAME"``. No script, no external file: the
charts are inline SVG (:mod:`serving.reports.charts`), the style sheet is inline.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from serving.batch.bands import BANDS, BandCutoffs
from serving.columns import PROBABILITY, REASONS, SEGMENTS, USER_ID, VALUE_AT_RISK
from serving.reports import panels
from serving.reports.charts import BAND_COLOURS, bar_chart_svg, score_histogram_svg
from serving.reports.sources import NightlyInputs, RunInfo
from serving.reports.template import PAGE, STYLE

PANELS = ("bands", "segments", "reasons", "movers", "lists", "checks", "model", "campaigns", "retention")
SEGMENT_TITLES = {"member_tier": "member tier", "city_tier": "city tier", "region": "region", "channel": "channel"}
MOVERS_SHOWN = 6
REASONS_PER_SEGMENT = 2
PSI_SHOWN = 10


def _e(value: object) -> str:
    return escape(str(value))


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _change(x: float | None, more_is_good: bool = False) -> str:
    """A change in users: +12 (more at risk: red; green when ``more_is_good``), -5, 0; "–" without a previous run."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    worse = x < 0 if more_is_good else x > 0
    cls = "" if x == 0 else "up" if worse else "down"
    return f'<span class="{cls}">{x:+,.0f}</span>'


def _fig(name: str, text: str, tag: str = "td", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<{tag}{klass} data-figure="{_e(name)}">{text}</{tag}>'


def _panel(name: str, title: str, what: str, body: str, wide: bool = False) -> str:
    cls = "panel wide" if wide else "panel"
    return (f'<section class="{cls}" id="panel-{name}" data-panel="{name}"><h2>{_e(title)}</h2>'
            f'<p class="what">{what}</p>{body}</section>')  # fmt: skip


def _band(name: str) -> str:
    return f'<span class="band {_e(name)}">{_e(name)}</span>'


def _reasons_text(row) -> str:
    return "; ".join(_e(getattr(row, r)) for r in REASONS if isinstance(getattr(row, r, None), str))


def tiles(inputs: NightlyInputs, counts: pd.DataFrame) -> str:
    """The headline numbers across the top."""
    high = counts.loc["high"]
    coupons = inputs.lists.get("coupons")
    figures = None if coupons is None else panels.coupon_list_figures(coupons)
    quality = inputs.quality
    items = [
        ("users scored", _n(len(inputs.scores)), "scored-users",
         "" if inputs.previous is None else f"{len(inputs.scores) - len(inputs.previous):+,} since {inputs.previous_run.as_of}"),
        ("high risk", _n(high["users"]), "high-users", f"{_pct(high['share'])} of scored; {_change(high['change'])} since the previous run"),
        ("value at risk, high band", _n(high["value_at_risk"]), "high-value", "spend of the last 90 days"),
        ("coupons planned", "–" if figures is None else _n(figures["coupons"]), "tile-coupons",
         "" if figures is None else f"cost {_n(figures['cost'])}; expected value {_n(figures['expected_value'])}"),
        ("model", f"v{_e(inputs.run.model_version)}", "tile-model",
         "quality unknown" if quality is None else f"quality {quality.grade:.0f}/100: {quality.word}"),
    ]  # fmt: skip
    cells = [f'<div class="tile"><div class="label">{label}</div><div class="value" data-figure="{key}">{value}</div>'
             f'<div class="delta">{delta}</div></div>' for label, value, key, delta in items]  # fmt: skip
    return f'<div class="tiles">{"".join(cells)}</div>'


def bands_panel(inputs: NightlyInputs, counts: pd.DataFrame, cutoffs: BandCutoffs) -> str:
    edges, now, before = panels.score_histogram(inputs.scores, inputs.previous)
    chart = score_histogram_svg(edges, now, before, (cutoffs.medium, cutoffs.high))
    legend = "".join(f'<i style="background:{BAND_COLOURS[b]}"></i>{b}' for b in reversed(BANDS))
    if before is not None:
        legend += f" &nbsp; dashed line: the run of {inputs.previous_run.as_of}"
    rows = "".join(
        f"<tr><td>{_band(band)}</td>{_fig(f'band-{band}-users', _n(r.users))}<td>{_pct(r.share)}</td>"
        f"{_fig(f'band-{band}-change', _change(r.change, more_is_good=band == 'low'))}<td>{_n(r.value_at_risk)}</td></tr>"
        for band, r in counts.iterrows()
    )
    since = f"change since {inputs.previous_run.as_of}" if inputs.previous_run else "change"
    table = (f'<table><tr><th class="text">band</th><th>users</th><th>share</th><th>{since}</th><th>value at risk</th></tr>'
             f"{rows}</table>")  # fmt: skip
    what = (f"Churn probability of every scored user tonight; bands: medium from {cutoffs.medium:g}, high from {cutoffs.high:g}. "
            "Value at risk: what the users spent in the last 90 days.")  # fmt: skip
    return _panel("bands", "Risk tonight", what, f'{chart}<p class="legend">{legend}</p>{table}')


def segments_panel(inputs: NightlyInputs) -> str:
    blocks = []
    for segment, table in panels.segment_bands(inputs.scores).items():
        top = max(float(table["high_rate"].max()), 1e-9)
        rows = "".join(
            f'<tr><td class="text">{_e(getattr(r, segment))}</td>{_fig(f"seg-{segment}-{getattr(r, segment)}-users", _n(r.users))}'
            f"{_fig(f'seg-{segment}-{getattr(r, segment)}-high', _n(r.high))}<td>{_n(r.medium)}</td><td>{_n(r.low)}</td>"
            f'<td>{_pct(r.high_rate)}<span class="rate" style="width:{60 * r.high_rate / top:.0f}px"></span></td>'
            f"<td>{r.mean_probability:.2f}</td></tr>"
            for r in table.itertuples(index=False)
        )
        blocks.append(
            f"<div><h3>{SEGMENT_TITLES[segment]}</h3><table><tr><th class='text'>{SEGMENT_TITLES[segment]}</th><th>users</th>"
            f"<th>high</th><th>medium</th><th>low</th><th>high rate</th><th>mean p</th></tr>{rows}</table></div>"
        )
    what = "Users per risk band in each segment, highest share of high risk first; mean p: the mean churn probability."
    return _panel("segments", "Where the risk is: bands by segment", what, f'<div class="segments two">{"".join(blocks)}</div>', wide=True)


def reasons_panel(inputs: NightlyInputs) -> str:
    top = panels.top_reasons(inputs.scores)
    high = int((inputs.scores["risk_band"].astype(str) == "high").sum())
    if top.empty:
        return _panel("reasons", "Why they are at risk", "No user is in the high band tonight.", "")
    chart = bar_chart_svg(list(top["reason"]), list(top["share"]), [f"{_pct(s)} ({_n(u)})" for s, u in zip(top["share"], top["users"], strict=True)],
                          "Most common reasons of the high-risk users")  # fmt: skip
    figures = "".join(f'<span hidden data-figure="reason-{i + 1}">{_e(r)}</span>' for i, r in enumerate(top["reason"]))
    blocks = []
    for segment, table in panels.reasons_by_segment(inputs.scores, top=REASONS_PER_SEGMENT).items():
        rows = []
        for r in table.itertuples(index=False):
            said = "<br>".join(f"{_e(k)} <span class='notes'>{_pct(s)}</span>" for k, s in r.reasons) or "–"
            rows.append(f'<tr><td class="text">{_e(getattr(r, segment))}</td><td>{_n(r.users)}</td><td class="text">{said}</td></tr>')
        blocks.append(f"<div><h3>{SEGMENT_TITLES[segment]}</h3><table><tr><th class='text'>{SEGMENT_TITLES[segment]}</th>"
                      f"<th>high risk</th><th class='text'>most common reasons (share of its high-risk users)</th></tr>"
                      f"{''.join(rows)}</table></div>")  # fmt: skip
    what = (f"Share of the {high:,} high-risk users who have the reason among their three; the user's own numbers are "
            "left out (N days since last order counts every such user), windows are kept.")  # fmt: skip
    body = f'<div class="overall">{chart}</div>{figures}<div class="segments two">{"".join(blocks)}</div>'
    return _panel("reasons", "Why they are at risk: overall and per segment", what, body, wide=True)


def movers_panel(inputs: NightlyInputs) -> str:
    if inputs.previous is None:
        return _panel("movers", "What changed since the previous run", "No earlier run is published: nothing to compare.",
                      _fig("newly-at-risk", "–", "p"))  # fmt: skip
    moved = panels.movers(inputs.scores, inputs.previous)
    newly, recovered = moved["newly_at_risk"], moved["recovered"]
    head = (f'<table><tr><th class="text">moved</th><th>users</th></tr>'
            f'<tr><td>newly at high risk</td>{_fig("newly-at-risk", _n(len(newly)))}</tr>'
            f'<tr><td>recovered (were high, now lower)</td>{_fig("recovered", _n(len(recovered)))}</tr>'
            f'<tr><td>left the churn population (were high)</td>{_fig("left", _n(moved["left"]))}</tr></table>')  # fmt: skip

    def people(frame: pd.DataFrame, title: str, extra: str, value) -> str:
        if frame.empty:
            return f"<h3>{title}</h3><p class='notes'>nobody</p>"
        rows = "".join(f'<tr><td class="text">{_e(getattr(r, USER_ID))}</td><td>{getattr(r, PROBABILITY):.2f}</td><td>{value(r)}</td>'
                       f'<td>{_n(getattr(r, VALUE_AT_RISK))}</td><td class="text">{_reasons_text(r)}</td></tr>'
                       for r in frame.head(MOVERS_SHOWN).itertuples(index=False))  # fmt: skip
        return (f"<h3>{title}</h3><table><tr><th class='text'>user</th><th>p</th><th>{extra}</th><th>value at risk</th>"
                f"<th class='text'>reasons</th></tr>{rows}</table>")  # fmt: skip

    body = head + people(newly, f"newly at high risk, most value first (of {len(newly):,})", "before", lambda r: _e(r.previous_band))
    body += people(recovered, f"recovered, most value first (of {len(recovered):,})", "p before", lambda r: f"{r.previous_probability:.2f}")
    what = f"Users whose band crossed high between the run of {inputs.previous_run.as_of} and tonight."
    return _panel("movers", "What changed since the previous run", what, body)


def lists_panel(inputs: NightlyInputs) -> str:
    rows = []
    if "at-risk" in inputs.lists:
        rows.append(f'<tr><td class="text">at-risk</td>{_fig("list-at-risk", _n(len(inputs.lists["at-risk"])))}'
                    '<td class="text">every scored user, highest risk first</td></tr>')  # fmt: skip
    if "coupons" in inputs.lists:
        f = panels.coupon_list_figures(inputs.lists["coupons"])
        rows.append(
            f'<tr><td class="text">coupons</td>{_fig("list-coupons", _n(f["users"]))}<td class="text">'
            f'{_n(f["coupons"])} coupons, {_n(f["callbacks"])} callbacks, {_n(f["control"])} held out as control; '
            f'coupon budget used <b data-figure="coupon-cost">{_n(f["cost"])}</b>; expected incremental value '
            f'<b data-figure="expected-value">{_n(f["expected_value"])}</b> (net of the coupons)</td></tr>'
        )
    if "activation" in inputs.lists:
        act = inputs.lists["activation"]
        control = int((act["group"] == "control").sum())
        rows.append(f'<tr><td class="text">activation</td>{_fig("list-activation", _n(len(act)))}'
                    f'<td class="text">{_n(len(act) - control)} new users to nudge, {_n(control)} held out</td></tr>')  # fmt: skip
    if not rows:
        return _panel("lists", "Lists for the CRM team", "No list was written for this date (churn list ... --out).", "")
    table = f'<table><tr><th class="text">list</th><th>users</th><th class="text">what</th></tr>{"".join(rows)}</table>'
    what = f"The lists written for {inputs.as_of} (data/lists); expected value = P(churn) × value at risk × save rate − coupon value."
    return _panel("lists", "Lists for the CRM team", what, table)


def _checks_rows(run: RunInfo) -> str:
    out = []
    for name, check in sorted(run.checks.items()):
        if not isinstance(check, dict):
            continue
        status = _e(check.get("status", "?"))
        out.append(f'<tr><td class="text">{_e(run.model_name)}</td><td class="text">{_e(name.replace("_", " "))}</td>'
                   f'<td class="text" data-figure="check-{_e(run.model_name)}-{_e(name)}"><span class="status {status}">{status}</span></td>'
                   f'<td class="text">{_e(check.get("message", ""))}</td></tr>')  # fmt: skip
    return "".join(out)


def checks_panel(inputs: NightlyInputs) -> str:
    runs = [inputs.run] + ([inputs.activation_run] if inputs.activation_run else [])
    table = ('<table><tr><th class="text">model</th><th class="text">check</th><th class="text">status</th>'
             f'<th class="text">what it found</th></tr>{"".join(_checks_rows(r) for r in runs)}</table>')  # fmt: skip
    drift = inputs.run.checks.get("drift") or {}
    psi, ignored = drift.get("psi") or {}, set(drift.get("ignored") or ())
    chart = ""
    if psi:
        shown = sorted(psi.items(), key=lambda kv: kv[1], reverse=True)[:PSI_SHOWN]
        labels = [f"{k} (calendar: not judged)" if k in ignored else k for k, _ in shown]
        chart = "<h3>largest population stability indexes (churn; dashed: warn at 0.1)</h3>" + bar_chart_svg(
            labels, [v for _, v in shown], [f"{v:.3f}" for _, v in shown], "Population stability index per feature",
            colour="#7a8ca3", limit=0.1,
        )  # fmt: skip
    what = "The checks the nightly job ran before publishing: scored users against the previous run, and drift against the training rows."
    return _panel("checks", "The night's checks", what, table + chart)


def model_panel(inputs: NightlyInputs) -> str:
    run, q = inputs.run, inputs.quality
    rows = [("model", f"{run.model_name} v{run.model_version}", "model-version"),
            ("scored at", f"{run.scored_at:%Y-%m-%d %H:%M} UTC", "scored-at"), ("users scored", _n(run.rows), "run-rows")]  # fmt: skip
    if q is not None:
        rows += [("quality grade", f"{q.grade:.0f} of 100: {q.word}", "quality-grade"),
                 ("out-of-time ROC-AUC", f"{q.roc_auc:.3f}", "roc-auc"), ("validated on", _e(q.validation_date or "–"), "validation-date")]  # fmt: skip
    else:
        rows.append(("quality grade", "unknown (no registry)", "quality-grade"))
    if inputs.activation_run:
        rows.append(("activation model", f"v{inputs.activation_run.model_version}, {_n(inputs.activation_run.rows)} new users", "activation"))
    body = "<table>" + "".join(f'<tr><td class="text">{k}</td>{_fig(f, v, cls="text")}</tr>' for k, v, f in rows) + "</table>"
    what = "The model behind tonight's scores; grade 0 = random ranking, 100 = perfect (2 × ROC-AUC − 1)."
    return _panel("model", "Model", what, body)


def campaigns_panel(inputs: NightlyInputs) -> str:
    if not inputs.readouts:
        return _panel("campaigns", "Campaign readouts", "No campaign with a complete horizon at this date.", "")
    blocks = []
    for r in inputs.readouts:
        t, c, e = r.treatment, r.control, r.effect
        nums = [f"{t.users:,} treated, {t.retention_rate:.1%} retained" if t else "no treatment group",
                f"{c.users:,} held out, {c.retention_rate:.1%} retained" if c else "no control group"]  # fmt: skip
        if e is not None:
            lo, hi = e.retention_difference_interval
            nums.append(f"difference {100 * e.retention_difference:+.1f} points ({100 * lo:+.1f} to {100 * hi:+.1f})")
        if r.coupons is not None:
            nums.append(f"coupon cost {r.coupons.coupon_cost:,.0f}")
        blocks.append(
            f'<div class="campaign" data-figure="campaign-{_e(r.campaign_id)}"><b>{_e(r.campaign_id)}</b> '
            f'<span class="notes">{r.horizon_days}-day horizon from each coupon\'s issued_at; issued '
            f"{r.first_issued_at:%Y-%m-%d} to {r.last_issued_at:%Y-%m-%d}</span>"
            f'<div class="verdict {_e(r.verdict.kind)}"><span class="kind" data-figure="verdict-{_e(r.campaign_id)}">'
            f"{_e(r.verdict.kind)}</span>{_e(r.verdict.text)}</div>"
            f'<div class="notes">{"; ".join(_e(n) for n in nums)}</div></div>'
        )
    what = "What the most recent finished campaigns bought, against their held-out control groups (95 % intervals)."
    return _panel("campaigns", "Campaign readouts", what, "".join(blocks))


def retention_panel(inputs: NightlyInputs) -> str:
    """Retention by member tier: per tier, the share of its users with a purchase in each 30-day month since signup."""
    what = ("Share of each member tier's users with a purchase in each 30-day month since signup; a month counts once it has "
            "ended and when the order log covers it (users: the most counted in any month).")  # fmt: skip
    if inputs.retention is None or inputs.retention.empty:
        return _panel("retention", "Retention by member tier", what, "<p class='notes'>Not shown: see the notes.</p>")
    from serving.crm.retention import retention_table

    wide = retention_table(inputs.retention)
    months = [c for c in wide.columns if c.startswith("m") and c[1:].isdigit()]
    head = "<tr><th class='text'>member tier</th><th>users</th>" + "".join(f"<th>month {c[1:]}</th>" for c in months) + "</tr>"
    rows = []
    for r in wide.itertuples(index=False):
        row = r._asdict()
        cells = []
        for c in months:
            v = row[c]
            shade = "" if v != v else f' style="background: rgba(59,111,182,{0.08 + 0.5 * v:.2f})"'
            cells.append(f'<td{shade} data-figure="retention-{_e(row["group"])}-{c}">{"" if v != v else _pct(v)}</td>')
        rows.append(f'<tr><td class="text">{_e(row["group"])}</td><td>{_n(row["cohort_users"])}</td>{"".join(cells)}</tr>')
    return _panel("retention", "Retention by member tier", what, f"<table>{head}{''.join(rows)}</table>", wide=True)


def nightly_page(inputs: NightlyInputs, cutoffs: BandCutoffs = BandCutoffs()) -> str:
    """The dashboard of ``inputs.as_of`` as HTML text."""
    counts = panels.band_counts(inputs.scores, inputs.previous)
    body = [
        bands_panel(inputs, counts, cutoffs), movers_panel(inputs), segments_panel(inputs), reasons_panel(inputs),
        lists_panel(inputs), model_panel(inputs), checks_panel(inputs), campaigns_panel(inputs), retention_panel(inputs),
    ]  # fmt: skip
    if inputs.notes:
        body.append(_panel("notes", "Notes", "What this page could not show, and why.",
                           "<ul class='notes'>" + "".join(f"<li>{_e(n)}</li>" for n in inputs.notes) + "</ul>", wide=True))  # fmt: skip
    compared = f"compared with the run of {inputs.previous_run.as_of}" if inputs.previous_run else "no earlier run to compare with"
    subtitle = (f"scores as of the end of {inputs.as_of} (UTC), {inputs.run.model_name} model v{_e(inputs.run.model_version)}, "
                f"scored {inputs.run.scored_at:%Y-%m-%d %H:%M} UTC; {compared}")  # fmt: skip
    return PAGE.substitute(
        title=f"Churn risk: the night of {inputs.as_of}", subtitle=subtitle, style=STYLE,
        tiles=tiles(inputs, counts), panels="\n".join(body),
    )  # fmt: skip


__all__ = ["PANELS", "SEGMENTS", "nightly_page"]
