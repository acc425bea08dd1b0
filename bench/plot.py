#!/usr/bin/env python3
"""Plots the side-by-side benchmark (bench/peers.sh): ingest rate per system, and the median
latency of each question per system on a log scale, into one PNG. Reads DIR/<system>-ingest.json
and DIR/<system>-queries.json as written by peers.sh and check.py.

  plot.py --dir bench/out/peers --out bench/REPORT.png

Needs matplotlib (Debian python3-matplotlib); a wrong answer is drawn hatched."""
import argparse
import json
import os
import sys

ORDER = [("jialing", "Jialing", "#c0392b"), ("vm", "VictoriaMetrics", "#2c7fb8"), ("influx", "InfluxDB", "#7f7f7f")]
SHORT = {
    "hourly_mean": "hourly mean\n1 series, year",
    "daily_max": "daily max\n1 series, year",
    "raw_day": "raw readings\n1 series, 1 day",
    "scan_points": "readings > x\n1 series, year",
    "scan_count": "count > x\nper series, year",
    "month_means": "30-day means\nall series",
    "latest": "latest\nall series",
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [(k, n, c) for k, n, c in ORDER if os.path.exists(os.path.join(args.dir, k + "-ingest.json"))]
    if not systems:
        print("plot.py: nothing to plot in", args.dir, file=sys.stderr)
        return 1
    ing = {k: load(os.path.join(args.dir, k + "-ingest.json")) or {} for k, _, _ in systems}
    qry = {k: load(os.path.join(args.dir, k + "-queries.json")) or {"results": []} for k, _, _ in systems}

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1, 3.2]})
    rates = [(ing[k].get("readings_per_s") or 0) / 1e6 for k, _, _ in systems]
    bars = ax1.bar([n for _, n, _ in systems], rates, color=[c for _, _, c in systems])
    for b, v in zip(bars, rates):
        ax1.annotate("%.2f" % v, (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=9)
    ax1.set_ylabel("million readings/s")
    ax1.set_title("ingest (first byte to last ack)")
    ax1.tick_params(axis="x", labelsize=8)

    qids = [q for q in SHORT if any(r["qid"] == q for k, _, _ in systems for r in qry[k]["results"])]
    width = 0.8 / len(systems)
    for i, (k, name, color) in enumerate(systems):
        by = {r["qid"]: r for r in qry[k]["results"]}
        xs, ys, hatches = [], [], []
        for j, q in enumerate(qids):
            r = by.get(q)
            if r and r.get("median_ms"):
                xs.append(j + (i - (len(systems) - 1) / 2) * width)
                ys.append(r["median_ms"])
                hatches.append("" if r["ok"] else "//")
        bars = ax2.bar(xs, ys, width, color=color, label=name)
        for b, h in zip(bars, hatches):
            b.set_hatch(h)
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(qids)))
    ax2.set_xticklabels([SHORT[q] for q in qids], fontsize=8)
    ax2.set_ylabel("median latency, ms (log)")
    ax2.set_title("questions (warm, median; hatched = wrong answer)")
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
