"""A small measurement analysis as a ppg_notebook pipeline.

Six samples (three control, three treated) are measured on two instruments. The pipeline

1. simulates each sample's raw readings as a CSV file (fixed seed; some readings are missing,
   some are wild outliers),
2. estimates each instrument's offset from a calibration run (cached on disk, loaded into
   this process),
3. cleans each sample: drops missing readings, subtracts the instrument offset, removes
   outliers beyond a robust z-score threshold,
4. summarises all samples in one value (per-sample statistics and the treatment effect),
5. writes a text report.

Run it twice: the second run computes nothing. Run it with another threshold
(``python examples/demo.py --threshold 2.5``) and only the cleaning, the summary and the
report rerun; the raw data and the calibration stay as they are.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import statistics
import sys
from pathlib import Path

import ppg_notebook as ppg

HERE = Path(__file__).resolve().parent
SEED = 20240601
N_READINGS = 200
DEFAULT_THRESHOLD = 3.5

# sample -> (group, instrument)
SAMPLES = {
    "ctrl_1": ("control", "A"),
    "ctrl_2": ("control", "B"),
    "ctrl_3": ("control", "A"),
    "treat_1": ("treated", "B"),
    "treat_2": ("treated", "A"),
    "treat_3": ("treated", "B"),
}
GROUP_MEAN = {"control": 10.0, "treated": 10.8}
# The instruments' true offsets: the pipeline only sees them through the calibration run.
TRUE_OFFSET = {"A": 0.35, "B": -0.20}
CALIBRATION_STANDARD = 10.0

# Filled in this process by the calibration's load step, before any job that needs it runs.
CALIBRATION: dict[str, float] = {}


def build(threshold: float) -> None:
    """Declare the jobs.

    Each job's function holds its whole computation: its code, closure values and default
    arguments are what the automatic FunctionInvariant fingerprints, so editing it reruns
    that job and whatever its new output changes downstream.
    """
    for folder in ("output/raw", "output/clean", "output/cache"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    raw_paths = {s: Path(f"output/raw/{s}.csv") for s in SAMPLES}
    clean_paths = {s: Path(f"output/clean/{s}.csv") for s in SAMPLES}

    def raw_job(sample: str) -> ppg.FileGeneratingJob:
        group, instrument = SAMPLES[sample]

        def simulate(path: Path) -> None:
            """One sample's raw readings: about 2% missing and 2% wild outliers."""
            rng = random.Random(f"{SEED}:{sample}")
            with path.open("w", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["reading", "time_s", "signal"])
                for i in range(N_READINGS):
                    value = rng.gauss(GROUP_MEAN[group] + TRUE_OFFSET[instrument], 1.0)
                    roll = rng.random()
                    if roll < 0.02:
                        cell = "NA"
                    elif roll < 0.04:
                        cell = f"{value * rng.choice([-4, 6, 10]):.4f}"
                    else:
                        cell = f"{value:.4f}"
                    out.writerow([i, f"{i * 0.5:.1f}", cell])

        return ppg.FileGeneratingJob(raw_paths[sample], simulate)

    raw_jobs = {s: raw_job(s) for s in SAMPLES}

    def calibrate() -> dict[str, float]:
        """Measure a standard of known value on each instrument; return the offsets."""
        rng = random.Random(f"{SEED}:calibration")
        offsets = {}
        for instrument in sorted(TRUE_OFFSET):
            true_value = CALIBRATION_STANDARD + TRUE_OFFSET[instrument]
            readings = [rng.gauss(true_value, 0.2) for _ in range(500)]
            offsets[instrument] = round(statistics.fmean(readings) - CALIBRATION_STANDARD, 4)
        return offsets

    def load_calibration(offsets: dict[str, float]) -> dict[str, float]:
        CALIBRATION.update(offsets)
        return offsets

    # calibrate() runs once, in a worker, and its result is stored on disk; load_calibration()
    # runs in this process, and only when a job that needs the offsets is about to run.
    calibration = ppg.CachedDataLoadingJob("output/cache/calibration", calibrate, load_calibration)
    threshold_param = ppg.ParameterInvariant("outlier_threshold", threshold)

    def clean_job(sample: str, raw: Path) -> ppg.FileGeneratingJob:
        instrument = SAMPLES[sample][1]

        def clean(path: Path) -> None:
            """Drop missing readings, correct the instrument offset, drop robust outliers."""
            offset = CALIBRATION[instrument]
            with raw.open(newline="") as fh:
                rows = [
                    (row["reading"], float(row["signal"]) - offset)
                    for row in csv.DictReader(fh)
                    if row["signal"] != "NA"
                ]
            values = [v for _, v in rows]
            median = statistics.median(values)
            robust_sd = statistics.median(abs(v - median) for v in values) * 1.4826
            with path.open("w", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["reading", "signal"])
                for reading, v in rows:
                    if abs(v - median) <= threshold * robust_sd:
                        out.writerow([reading, f"{v:.4f}"])

        return ppg.FileGeneratingJob(clean_paths[sample], clean)

    clean_jobs = [
        clean_job(s, raw_paths[s]).depends_on(raw_jobs[s], calibration, threshold_param)
        for s in SAMPLES
    ]

    def summarise() -> dict:
        """Per-sample statistics and the treated-vs-control difference (Welch's t)."""
        per_sample = {}
        for sample, (group, _) in SAMPLES.items():
            with clean_paths[sample].open(newline="") as fh:
                kept = [float(row["signal"]) for row in csv.DictReader(fh)]
            with raw_paths[sample].open(newline="") as fh:
                n_raw = sum(1 for _ in csv.DictReader(fh))
            per_sample[sample] = {
                "group": group,
                "n_raw": n_raw,
                "n_kept": len(kept),
                "mean": statistics.fmean(kept),
                "sd": statistics.stdev(kept),
            }
        means: dict[str, list[float]] = {"control": [], "treated": []}
        for stats in per_sample.values():
            means[stats["group"]].append(stats["mean"])
        ctrl, treat = means["control"], means["treated"]
        diff = statistics.fmean(treat) - statistics.fmean(ctrl)
        se = math.sqrt(
            statistics.variance(treat) / len(treat) + statistics.variance(ctrl) / len(ctrl)
        )
        return {"samples": per_sample, "difference": diff, "t": diff / se}

    summary = ppg.ValueJob("summary", summarise).depends_on(list(raw_jobs.values()), clean_jobs)

    def write_report(path: Path) -> None:
        result = summary.value
        lines = [
            "Treatment effect on signal",
            "==========================",
            f"outlier threshold: {threshold} robust SDs",
            "",
            f"{'sample':<9} {'group':<8} {'kept':>8} {'mean':>8} {'sd':>6}",
        ]
        for sample, s in result["samples"].items():
            kept = f"{s['n_kept']}/{s['n_raw']}"
            lines.append(f"{sample:<9} {s['group']:<8} {kept:>8} {s['mean']:>8.3f} {s['sd']:>6.3f}")
        lines += [
            "",
            f"treated - control: {result['difference']:+.3f}  (Welch t = {result['t']:.2f})",
        ]
        path.write_text("\n".join(lines) + "\n")

    ppg.FileGeneratingJob("output/report.txt", write_report).depends_on(summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--cores", type=int, default=None)
    args = parser.parse_args(argv)

    # Everything (pipeline state in .ppg/, outputs in output/) lives next to this script,
    # whatever directory it is started from.
    os.chdir(HERE)
    ppg.new_pipeline(dir=".ppg", cores=args.cores)
    build(args.threshold)

    try:
        result = ppg.run()
    except ppg.JobsFailed as exc:
        print(exc, file=sys.stderr)
        return 1

    if result.ran:
        print(f"{'job that ran':<32} why")
        for job_id in result.ran:
            print(f"{job_id:<32} {result.reasons.get(job_id, '')}")
    print(f"{len(result.ran)} of {len(result.outcomes)} jobs ran.")
    print(f"report: {HERE / 'output' / 'report.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
