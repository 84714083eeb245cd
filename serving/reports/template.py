"""The dashboard page's frame: its style sheet and the HTML around the panels (no script, no external file)."""

from __future__ import annotations

from string import Template

STYLE = """
:root { --ink: #1f2933; --muted: #6b7785; --line: #e4e8ee; --panel: #ffffff; --bg: #f3f5f8;
        --high: #c2410c; --medium: #e8a33d; --low: #5b8def; --good: #2f7d4f; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
header { background: #16324f; color: #fff; padding: 18px 28px 16px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header p { margin: 0; color: #cfd9e6; }
main { max-width: 1400px; margin: 0 auto; padding: 18px 22px 40px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .delta { font-size: 12px; color: var(--muted); }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }
.wide { grid-column: 1 / -1; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px 16px; min-width: 0; }
.panel h2 { margin: 0 0 2px; font-size: 16px; }
.panel .what { margin: 0 0 10px; color: var(--muted); font-size: 12.5px; }
.panel h3 { font-size: 13px; margin: 14px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.segments { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 6px 28px; }
.segments.two { grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }
.overall { max-width: 720px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { max-width: 420px; }
.rate { display: inline-block; height: 8px; background: var(--high); border-radius: 2px; vertical-align: middle; margin-left: 6px; }
.band { display: inline-block; padding: 0 7px; border-radius: 9px; color: #fff; font-size: 12px; }
.band.high { background: var(--high); } .band.medium { background: var(--medium); } .band.low { background: var(--low); }
.up { color: var(--bad); } .down { color: var(--good); }
.status { font-weight: 600; text-transform: uppercase; font-size: 12px; }
.status.ok { color: var(--good); } .status.warn, .status.allowed { color: #b7791f; }
.status.fail { color: var(--bad); } .status.skipped { color: var(--muted); }
.verdict { border-left: 4px solid var(--muted); background: #f7f9fb; padding: 8px 12px; margin: 8px 0 4px; }
.verdict.gain { border-color: var(--good); } .verdict.loss { border-color: var(--bad); }
.verdict.inconclusive { border-color: #b7791f; }
.kind { font-weight: 700; text-transform: uppercase; font-size: 12px; margin-right: 6px; }
.campaign { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 10px; }
.campaign:first-of-type { border-top: 0; margin-top: 0; }
.legend { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
.notes { color: var(--muted); font-size: 12.5px; }
.chart { display: block; width: 100%; max-width: 760px; height: auto; }
@media (max-width: 1100px) { .grid { grid-template-columns: 1fr; } main { padding: 12px; }
  .segments.two { grid-template-columns: 1fr; } }
@media print { body { background: #fff; } .panel { break-inside: avoid; } }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header><h1>$title</h1><p>$subtitle</p></header>
<main>
$tiles
<div class="grid">
$panels
</div>
</main>
</body>
</html>
""")
