"""The evaluation report: one self-contained HTML page per training run."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from training.candidates import LABELS, MODEL
from training.gate import quality_grade

METRIC_ROWS = (
    ("roc_auc", "ROC-AUC", "higher is better"),
    ("pr_auc", "PR-AUC", "higher is better"),
    ("log_loss", "log loss", "lower is better"),
    ("brier", "Brier score", "lower is better"),
    ("ece", "expected calibration error", "lower is better; 0.02 or less is the target"),
    ("lift_top5", "lift, top 5 %", ""),
    ("capture_top5", "capture, top 5 %", ""),
    ("lift_top10", "lift, top 10 %", ""),
    ("capture_top10", "capture, top 10 %", ""),
    ("lift_top20", "lift, top 20 %", ""),
    ("capture_top20", "capture, top 20 %", ""),
)

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
.verdict { padding: 0.8em 1em; border-radius: 6px; margin: 1em 0; font-size: 1.1em; }
.good { background: #e8f5e9; border: 1px solid #81c784; } .bad { background: #fff3e0; border: 1px solid #ffb74d; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; } th:first-child, td:first-child { text-align: left; }
th { background: #f5f5f5; } .note { color: #777; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.grade { font-size: 1.3em; padding: 0.6em 1em; border-radius: 6px; background: #f0f4ff; border: 1px solid #90a4d4; }
.fail { color: #b71c1c; } .pass { color: #1b5e20; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; align-items: start; }
"""


def _fmt(value) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(
    path: Path,
    *,
    task: str,
    run_id: str,
    version: str,
    config,
    validation_date,
    metrics: dict,
    baselines: dict,
    champion: tuple,
    decision,
    segments: dict,
    truth: dict,
    pictures: dict,
    rows: tuple[int, int],
    summary: pd.DataFrame | None = None,
    definition=None,
    calibration_auc: tuple = (None, None),
) -> Path:
    """Write the report to ``path`` and return it.

    summary: the backtest's mean and spread per candidate and metric; definition: the churn definition.
    """
    champion_version, champion_metrics = champion
    usable_champion = champion_metrics if champion_metrics and "error" not in champion_metrics else None
    columns = ["this model (v" + version + ")"]
    if usable_champion:
        columns.append(f"champion (v{champion_version})")
    columns += ["logistic regression", "days since last order"]
    lines = []
    for key, label, note in METRIC_ROWS:
        values = [metrics.get(key)]
        if usable_champion:
            values.append(usable_champion.get(key))
        values += [baselines["logistic"].get(key), baselines["recency"].get(key)]
        lines.append(
            f"<tr><td>{label}</td>{''.join(f'<td>{_fmt(v)}</td>' for v in values)}<td class='note'>{note}</td></tr>"
        )
    header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    margin_logistic = metrics["roc_auc"] - baselines["logistic"]["roc_auc"]
    margin_recency = metrics["roc_auc"] - baselines["recency"]["roc_auc"]
    verdict_class = "good" if decision.promoted else "bad"
    score, word = quality_grade(metrics.get("roc_auc", float("nan")))
    grade = (
        f"<div class='grade'><b>Prediction quality: {score:.0f} / 100 ({word})</b> &middot; "
        f"{_grade_words(word)} <span class='note'>(2 &times; ROC-AUC &minus; 1 on the validation users: 0 is random, 100 perfect)</span></div>"
    )
    checks = "".join(
        f"<tr><td class='{'pass' if c.passed else 'fail'}'>{'passed' if c.passed else 'FAILED'}</td><td style='text-align:left'>{html.escape(c.name)}</td>"
        f"<td style='text-align:left'>{html.escape(c.detail)}</td></tr>"
        for c in decision.checks
    )
    checks_html = f"<h2>Promotion gate</h2><table><tr><th>result</th><th style='text-align:left'>check</th><th style='text-align:left'>detail</th></tr>{checks}</table>" if checks else ""
    backtest_html = _backtest_table(summary) if summary is not None and not summary.empty else ""
    who = f"<p class='sub'>Population and label: {html.escape(definition.describe())}.</p>" if definition is not None else ""
    before, after = calibration_auc
    calibration_note = (
        f"<p class='note'>Beta calibration on the held-back snapshot: ROC-AUC {before:.4f} before, {after:.4f} after.</p>"
        if before is not None and after is not None and not (math.isnan(before) or math.isnan(after)) else ""
    )
    truth_html = ""
    if truth:
        truth_html = (
            "<h2>Against the simulator's ground truth</h2><table><tr><th>measure</th><th>value</th><th>target</th></tr>"
            f"<tr><td>ROC-AUC of the true probabilities (best possible)</td><td>{truth['truth_roc_auc']:.4f}</td><td></td></tr>"
            f"<tr><td>ROC-AUC of this model, same users and date</td><td>{truth['model_roc_auc']:.4f}</td><td></td></tr>"
            f"<tr><td>model / best possible</td><td>{truth['auc_ratio_to_truth']:.4f}</td><td>&ge; 0.97</td></tr>"
            f"<tr><td>calibration error of the model</td><td>{metrics['ece']:.4f}</td><td>&le; 0.02</td></tr></table>"
        )
    segment_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{int(m['n']):,}</td><td>{m['positive_rate']:.3f}</td>"
        f"<td>{_fmt(m.get('roc_auc'))}</td><td>{_fmt(m.get('ece'))}</td><td>{_fmt(m.get('lift_top10'))}</td></tr>"
        for name, m in segments.items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{task} model v{version}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(task.capitalize())} model, version {html.escape(version)}</h1>
<p class="sub">MLflow run {html.escape(run_id)} &middot; trained as of {config.as_of} on {rows[0]:,} snapshot rows &middot;
validated out of time on {rows[1]:,} users as of {validation_date} (label: {'no purchase' if task == 'churn' else 'first purchase'} in the next {config.horizon_days if task == 'churn' else 14} days)</p>
{grade}{who}
<div class="verdict {verdict_class}"><b>{'Promoted to champion.' if decision.promoted else 'Not promoted.'}</b> {html.escape(decision.reason)}.<br>
ROC-AUC margin over logistic regression {margin_logistic:+.4f}, over days-since-last-order {margin_recency:+.4f}.</div>
{checks_html}{backtest_html.replace('{backtest_image}', _image(pictures['backtest'], 'backtest over time') if 'backtest' in pictures else '')}
<h2>Out-of-time metrics</h2><p class="note">All columns are evaluated on the same validation rows in this run.</p>
<table><tr><th>metric</th>{header}<th></th></tr>{''.join(lines)}</table>
{truth_html}
<div class="grid"><div><h2>Calibration</h2>{_image(pictures['calibration'], 'calibration curve')}{calibration_note}</div>
<div><h2>Segments</h2><table><tr><th>segment</th><th>users</th><th>rate</th><th>ROC-AUC</th><th>ECE</th><th>lift top 10 %</th></tr>{segment_rows}</table></div></div>
<h2>Gain and lift</h2>{_image(pictures['gain_lift'], 'gain and lift')}
<div class="grid"><div><h2>Feature importance</h2>{_image(pictures['importance'], 'feature importance')}</div>
<div><h2>Per-user contributions</h2>{_image(pictures['contributions'], 'contribution summary')}</div></div>
</body></html>"""
    Path(path).write_text(page)
    return Path(path)


def _grade_words(word: str) -> str:
    return {
        "excellent": "ranks at-risk users far better than chance; use it to target.",
        "good": "ranks at-risk users well; target the top of the list.",
        "fair": "some signal; prefer broad campaigns over narrow targeting.",
        "poor": "little better than random; do not target with it.",
    }.get(word, "quality unknown.")


def _backtest_table(summary: pd.DataFrame) -> str:
    """Mean &plusmn; spread of each metric over the backtest dates, one row per candidate, the model first."""
    metrics = [m for m in ("roc_auc", "pr_auc", "log_loss", "ece") if m in set(summary["metric"])]
    names = list(dict.fromkeys([MODEL, *summary["candidate"]]))
    by = summary.set_index(["candidate", "metric"])
    dates = int(summary["count"].max())
    rows = []
    for name in names:
        cells = []
        for m in metrics:
            if (name, m) in by.index and not math.isnan(by.loc[(name, m), "mean"]):
                mean, std = by.loc[(name, m), "mean"], by.loc[(name, m), "std"]
                cells.append(f"<td>{mean:.4f} &plusmn; {0.0 if math.isnan(std) else std:.4f}</td>")
            else:
                cells.append("<td>&ndash;</td>")
        label = html.escape(LABELS.get(name, name))
        rows.append(f"<tr><td>{'<b>' + label + '</b>' if name == MODEL else label}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{m.replace('_', ' ')}</th>" for m in metrics)
    return (
        f"<h2>Backtest over {dates} date{'s' if dates != 1 else ''}</h2><p class='note'>Every candidate refitted at each past date "
        f"on what was known then and judged on the same users; mean &plusmn; standard deviation over the dates.</p>"
        f"<table><tr><th>candidate</th>{head}</tr>{''.join(rows)}</table><h3>Over time</h3>{{backtest_image}}"
    )
