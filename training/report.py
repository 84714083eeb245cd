"""The evaluation report: one self-contained HTML page per training run."""

from __future__ import annotations

import base64
import html
from pathlib import Path

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
) -> Path:
    """Write the report to ``path`` and return it."""
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
<div class="verdict {verdict_class}"><b>{'Promoted to champion.' if decision.promoted else 'Not promoted.'}</b> {html.escape(decision.reason)}.<br>
ROC-AUC margin over logistic regression {margin_logistic:+.4f}, over days-since-last-order {margin_recency:+.4f}.</div>
<h2>Out-of-time metrics</h2><p class="note">All columns are evaluated on the same validation rows in this run.</p>
<table><tr><th>metric</th>{header}<th></th></tr>{''.join(lines)}</table>
{truth_html}
<div class="grid"><div><h2>Calibration</h2>{_image(pictures['calibration'], 'calibration curve')}</div>
<div><h2>Segments</h2><table><tr><th>segment</th><th>users</th><th>rate</th><th>ROC-AUC</th><th>ECE</th><th>lift top 10 %</th></tr>{segment_rows}</table></div></div>
<h2>Gain and lift</h2>{_image(pictures['gain_lift'], 'gain and lift')}
<div class="grid"><div><h2>Feature importance</h2>{_image(pictures['importance'], 'feature importance')}</div>
<div><h2>Per-user contributions</h2>{_image(pictures['contributions'], 'contribution summary')}</div></div>
</body></html>"""
    Path(path).write_text(page)
    return Path(path)
