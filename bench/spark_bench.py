"""Notes per second of ``spacy_clintiny.spark.annotate`` with 1 and 2 local Python workers against
the plain ``nlp.pipe`` loop on the same notes, and the peak memory of each Python worker.

    .venv/bin/python bench/spark_bench.py --model build/en_clintiny_sm --n 300 [--deid]

The notes are the first ``--n`` PhysioNet deid notes (../shared/data/physionet-deid). All runs use
1 torch thread per process. They take place in one run, so their ratios compare on a noisy machine.
Each Spark run is timed twice. The cold run includes starting the Python workers and loading the
pipeline in each of them. The warm run, a second job, finds both cached. Peak RSS (VmHWM) is read
from /proc in each Python worker after the jobs. The script prints a table and writes
bench/results/spark_bench.json. It never prints note text. ``--deid`` adds ``deidentify``
(redact) on local[2] with each propagation scope: "patient" groups the rows by patient (a
shuffle), "note" and "none" do not.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def physionet_notes(folder: Path, n: int) -> list:
    """RETURNS (list): The first ``n`` notes as (patient id, text)."""
    from spacy_clintiny.converters.physionet import iter_physionet

    notes = []
    for source in iter_physionet(folder / "id.text", folder / "id-phi.phrase"):
        notes.append((source.group_id, source.text))
        if len(notes) == n:
            break
    return notes


def serial_rate(model: str, texts: list, *, batch_size: int, threads: int) -> dict:
    import spacy
    import torch

    from spacy_clintiny.deid.engine import go_offline

    go_offline()
    torch.set_num_threads(threads)
    nlp = spacy.load(model)
    list(nlp.pipe(texts[:8], batch_size=batch_size))  # warm-up
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "notes_per_s": len(texts) / seconds}


def peak_rss(batches):
    """mapInPandas probe: this Python worker's pid and peak RSS (MiB)."""
    import pandas

    for _ in batches:
        pass
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    yield pandas.DataFrame({"pid": [os.getpid()], "peak_mib": [int(fields["VmHWM"].split()[0]) / 1024]})


SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
    "spark.driver.memory": "2g",
}


def spark_rate(model: str, texts: list, *, workers: int, batch_size: int, partitions: int) -> dict:
    from spacy_clintiny.spark import annotate, get_session

    spark = get_session(f"local[{workers}]", app_name=f"clintiny-bench-{workers}", conf=SPARK_CONF, log_level="ERROR")
    try:
        df = spark.createDataFrame([(f"n{i}", t) for i, t in enumerate(texts)], "id string, text string")
        df = df.repartition(partitions).cache()
        df.count()
        runs = []
        for _ in range(2):
            out = annotate(df, "text", model=model, id_col="id", batch_size=batch_size, threads=1)
            start = time.perf_counter()
            rows = out.select("error").collect()
            runs.append(time.perf_counter() - start)
        failed = sum(row["error"] is not None for row in rows)
        probe = spark.range(8 * workers, numPartitions=8 * workers).mapInPandas(peak_rss, "pid long, peak_mib double")
        peaks = {row["pid"]: row["peak_mib"] for row in probe.collect()}
    finally:
        spark.stop()
    return {
        "workers": workers,
        "cold_seconds": runs[0],
        "warm_seconds": runs[1],
        "notes_per_s": len(texts) / runs[1],
        "cold_notes_per_s": len(texts) / runs[0],
        "failed": failed,
        "worker_peak_rss_mib": sorted(peaks.values(), reverse=True),
    }


def deid_rates(model: str, notes: list, *, batch_size: int, partitions: int) -> list:
    """``deidentify`` (redact) on local[2] with each propagation scope: warm notes/s and PHI spans.
    "patient" groups the rows by patient (a shuffle); "note" and "none" map the partitions."""
    from spacy_clintiny.spark import deidentify, get_session

    spark = get_session("local[2]", app_name="clintiny-bench-deid", conf=SPARK_CONF, log_level="ERROR")
    runs = []
    try:
        rows = [(f"n{i}", patient, text) for i, (patient, text) in enumerate(notes)]
        df = spark.createDataFrame(rows, "id string, patient string, text string").repartition(partitions).cache()
        df.count()
        for scope in ("none", "note", "patient"):
            seconds = []
            for _ in range(2):
                out = deidentify(
                    df, "text", model=model, id_col="id", patient_col="patient", propagate=scope,
                    batch_size=batch_size, threads=1,
                )  # fmt: skip
                start = time.perf_counter()
                got = out.select("phi", "error").collect()
                seconds.append(time.perf_counter() - start)
            runs.append(
                {
                    "propagate": scope,
                    "warm_seconds": seconds[1],
                    "notes_per_s": len(notes) / seconds[1],
                    "phi_spans": sum(len(row["phi"] or []) for row in got),
                    "failed": sum(row["error"] is not None for row in got),
                }
            )
    finally:
        spark.stop()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "build" / "en_clintiny_sm"), help="pipeline folder or package")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "physionet-deid")
    parser.add_argument("--n", type=int, default=300, help="notes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spark_bench.json")
    parser.add_argument("--deid", action="store_true", help="also deidentify with each propagation scope")
    args = parser.parse_args()

    from wasabi import msg

    from spacy_clintiny.fileio import write_json_atomic
    from spacy_clintiny.spark.checks import resolve_model

    model = resolve_model(args.model)
    notes = physionet_notes(args.data, args.n)
    texts = [text for _, text in notes]
    n_chars = sum(len(t) for t in texts)
    msg.info(f"{len(texts)} PhysioNet notes ({n_chars / len(texts):.0f} chars on average), model {args.model}")
    serial = serial_rate(model, texts, batch_size=args.batch_size, threads=1)
    runs = [spark_rate(model, texts, workers=w, batch_size=args.batch_size, partitions=args.partitions) for w in (1, 2)]
    rows = [("nlp.pipe loop, 1 thread", f"{serial['notes_per_s']:.1f}", "1.00x", "", "")]
    for run in runs:
        rows.append(
            (
                f"spark local[{run['workers']}] (warm)",
                f"{run['notes_per_s']:.1f}",
                f"{run['notes_per_s'] / serial['notes_per_s']:.2f}x",
                f"{run['cold_seconds']:.1f}s",
                ", ".join(f"{m:.0f}" for m in run["worker_peak_rss_mib"]),
            )
        )
    msg.table(rows, header=("run", "notes/s", "vs loop", "cold job", "peak RSS per worker (MiB)"), divider=True)
    deid = deid_rates(model, notes, batch_size=args.batch_size, partitions=args.partitions) if args.deid else []
    if deid:
        msg.table(
            [(f"deidentify --propagate {r['propagate']}", f"{r['notes_per_s']:.1f}", r["phi_spans"]) for r in deid],
            header=("local[2], redact", "notes/s", "PHI spans"),
            divider=True,
        )
    result = {
        "command": "python bench/spark_bench.py " + " ".join(sys.argv[1:]),
        "model": args.model,
        "n_notes": len(texts),
        "mean_chars": n_chars / len(texts),
        "batch_size": args.batch_size,
        "partitions": args.partitions,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "serial": serial,
        "spark": runs,
        "deidentify": deid,
    }
    write_json_atomic(args.out, result)
    msg.good(f"wrote {args.out}")


if __name__ == "__main__":
    main()
