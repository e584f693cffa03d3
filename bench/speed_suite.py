"""Speed of en_clintiny_sm and the same pipeline on the teacher, fp32 / int8 / ONNX / ONNX-int8,
side by side in ONE run (ratios are only meaningful within a run on a shared machine).

    python bench/speed_suite.py                       # defaults below, ~15 min on 2 busy cores
    python bench/speed_suite.py --quick               # smaller samples, ~5 min
    python bench/speed_suite.py --metrics fp32=/tmp/eval/fp32/metrics.json --metrics int8=...

What it measures (texts are never printed):

- throughput (words/s, notes/s) of the full pipeline and of the clintiny heads alone, on
  MTSamples and PhysioNet dev notes, with ``n_process`` 1 and 2 (student; the teacher with 1).
  Variants are timed in interleaved rounds and each keeps its best round;
- in a fresh process per variant: ``spacy.load`` time, p50/p95 latency of ``nlp(text)`` per
  note and peak RSS; the folder size (what ``spacy package`` ships);
- a note-length sweep (100 ... 20,000 words, notes made by joining dev notes) giving the cost
  per word, and its ratio at 20,000 vs 500 words;
- the encoder's FLOP-bound ceiling: this machine's fp32 GEMM GFLOP/s (torch matmul), the
  encoder's FLOPs per word (from the wordpieces it really encodes) and the fraction achieved;
- wasted work: padded vs real wordpieces per encoder call, and windows encoded per window
  needed (1.0 = every window once, shared by all heads).

Optimized folders are written once by ``clintiny optimize`` logic into ``--work`` and reused.
Writes ``bench/results/speed_suite.json`` and a PNG (words/s against F1 when ``--metrics``
files from ``clintiny evaluate`` are given, else words/s per variant).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"fp32": {}, "int8": {"int8": True}, "onnx": {"onnx": True}, "onnx-int8": {"onnx": True, "int8": True}}
RULES = ("sentences", "sectionizer", "context")

LOAD_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy, spacy, torch
torch.set_num_threads(int(sys.argv[3]))
texts = json.loads(open(sys.argv[2]).read())
start = time.perf_counter()
nlp = spacy.load(sys.argv[1])
load_s = time.perf_counter() - start
nlp(texts[0])
latency = []
for text in texts:
    start = time.perf_counter()
    nlp(text)
    latency.append(time.perf_counter() - start)
# VmHWM, not ru_maxrss: getrusage keeps the forking parent's peak across exec
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"load_s": load_s, "p50_ms": 1000 * float(numpy.percentile(latency, 50)),
    "p95_ms": 1000 * float(numpy.percentile(latency, 95)),
    "peak_rss_mb": hwm_kb / 1024}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--student", type=Path, default=ROOT / "build/en_clintiny_sm-fp32", help="the fp32 pipeline (assemble step)"
    )
    parser.add_argument("--teacher", type=Path, default=ROOT / "build/pipeline-teacher/model-best")
    parser.add_argument("--corpus", action="append", default=None, help="NAME=DEV.spacy (repeatable)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS)
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/clintiny_speed_suite"), help="optimized folders")
    parser.add_argument("--words", type=int, default=8000, help="words per corpus per throughput pass")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved timing rounds (best kept)")
    parser.add_argument("--latency-notes", type=int, default=20)
    parser.add_argument("--sweep", default="100,500,2000,5000,20000", help="note lengths in words ('' = skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-teacher", action="store_true")
    parser.add_argument("--cnn", type=Path, default=None, help="a spaCy CNN pipeline to time as baseline")
    parser.add_argument("--metrics", action="append", default=[], help="VARIANT=metrics.json from clintiny evaluate")
    parser.add_argument("--quick", action="store_true", help="--words 3000 --latency-notes 8 --sweep 500,5000")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/speed_suite.json")
    parser.add_argument("--png", type=Path, default=ROOT / "bench/results/speed_suite.png")
    args = parser.parse_args()
    if args.quick:
        args.words, args.rounds, args.latency_notes, args.sweep = 3000, 1, 8, "500,5000"
    if args.corpus is None:
        args.corpus = [
            f"mtsamples={ROOT / 'corpus/mtsamples/dev.spacy'}",
            f"physionet={ROOT / 'corpus/physionet/dev.spacy'}",
        ]
    return args


def read_texts(path: Path, *, words: int) -> List[str]:
    """Dev notes in file order until ``words`` spaCy tokens."""
    import spacy
    from spacy.tokens import DocBin

    texts, total = [], 0
    for doc in DocBin().from_disk(path).get_docs(spacy.blank("en").vocab):
        if total >= words:
            break
        texts.append(doc.text)
        total += len(doc)
    return texts


def prepare_variants(args: argparse.Namespace, names: List[str]) -> Dict[str, Path]:
    """model/variant -> folder, optimizing into --work when not there yet."""
    from spacy_clintiny.optimize.pipeline import optimize_pipeline

    models = {"student": args.student} if args.no_teacher else {"student": args.student, "teacher": args.teacher}
    folders = {}
    for model, path in models.items():
        for name in names:
            if name == "fp32":
                folders[f"{model}/{name}"] = path
                continue
            target = args.work / model / name
            if not (target / "config.cfg").exists():
                print(f"optimizing {model} -> {name}", file=sys.stderr)
                optimize_pipeline(path, target, force=True, **VARIANTS[name])
            folders[f"{model}/{name}"] = target
    return folders


def load_all(folders: Dict[str, Path], student_rules_from: str) -> Dict[str, Any]:
    """Load every variant; teacher pipelines get the student's rule components (sourced) so
    'full' means the same pipeline on both encoders."""
    import spacy

    nlps = {key: spacy.load(path) for key, path in folders.items()}
    rules_nlp = nlps[student_rules_from]
    for nlp in nlps.values():
        for name in RULES:
            if name in rules_nlp.pipe_names and name not in nlp.pipe_names:
                nlp.add_pipe(name, source=rules_nlp)
    return nlps


class EncoderCounter:
    """Forward hook on the runtime module: padded and real wordpieces and windows encoded."""

    def __init__(self, nlp: Any) -> None:
        shim = nlp.get_pipe("encoder").model.layers[0].shims[0]
        self.padded = self.real = self.windows = self.calls = 0
        self.handle = shim._model.register_forward_hook(self.hook, with_kwargs=True)

    def hook(self, module: Any, args: Any, kwargs: Dict[str, Any], output: Any) -> None:
        self.calls += 1
        self.padded += int(kwargs["input_ids"].numel())
        self.real += int(kwargs["attention_mask"].sum())
        self.windows += int(kwargs["input_ids"].shape[0])

    def remove(self) -> None:
        self.handle.remove()


def time_pipe(nlp: Any, texts: List[str], *, disable: List[str], n_process: int, batch_size: int) -> Dict[str, float]:
    import torch

    threads = torch.get_num_threads()
    if n_process > 1:
        torch.set_num_threads(1)  # one thread per worker process
    try:
        with nlp.select_pipes(disable=disable):
            list(nlp.pipe(texts[:batch_size], batch_size=batch_size))
            start = time.perf_counter()
            words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process))
            elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return {"words_per_s": words / elapsed, "notes_per_s": len(texts) / elapsed, "words": words}


def throughput(args: argparse.Namespace, nlps: Dict[str, Any], corpora: Dict[str, List[str]]) -> List[Dict[str, Any]]:
    """Interleaved rounds over every (variant, corpus, mode, n_process); best round kept."""
    jobs = []
    for key, nlp in nlps.items():
        rules = [n for n in RULES if n in nlp.pipe_names]
        heads_only = rules
        encoder_only = [n for n in nlp.pipe_names if n != "encoder"]
        for corpus in corpora:
            jobs.append((key, corpus, "full", 1, []))
            jobs.append((key, corpus, "heads", 1, heads_only))
            jobs.append((key, corpus, "encoder", 1, encoder_only))
            if key.startswith("student/"):
                jobs.append((key, corpus, "full", 2, []))
                jobs.append((key, corpus, "heads", 2, heads_only))
    best: Dict[tuple, Dict[str, float]] = {}
    failed: Dict[tuple, str] = {}
    for round_i in range(args.rounds):
        for key, corpus, mode, n_process, disable in jobs:
            job = (key, corpus, mode, n_process)
            if job in failed:
                continue
            try:
                res = time_pipe(
                    nlps[key], corpora[corpus], disable=disable, n_process=n_process, batch_size=args.batch_size
                )
            except Exception as err:  # e.g. docs whose extensions cannot cross processes
                failed[job] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200]}"
                print(f"{key} {corpus} {mode} n_process={n_process} failed: {failed[job]}", file=sys.stderr)
                continue
            if job not in best or res["words_per_s"] > best[job]["words_per_s"]:
                best[job] = res
            print(
                f"round {round_i} {key} {corpus} {mode} n_process={n_process}: {res['words_per_s']:,.0f} w/s",
                file=sys.stderr,
            )
    rows = [
        {"variant": k, "corpus": c, "mode": m, "n_process": n, **{x: round(v, 2) for x, v in r.items()}}
        for (k, c, m, n), r in best.items()
    ]
    rows += [{"variant": k, "corpus": c, "mode": m, "n_process": n, "failed": e} for (k, c, m, n), e in failed.items()]
    return rows


def wasted_work(nlp: Any, texts: List[str], *, batch_size: int) -> Dict[str, float]:
    """Padding and windows per encoder pass with every head running."""
    encoder = nlp.get_pipe("encoder")
    counter = EncoderCounter(nlp)
    try:
        docs = list(nlp.pipe(texts, batch_size=batch_size))
    finally:
        counter.remove()
    needed = sum(len(spans) for spans in encoder.model.attrs["get_spans"](docs))
    words = sum(len(doc) for doc in docs)
    return {
        "padding_fraction": 1 - counter.real / counter.padded,
        "windows_encoded_per_window": counter.windows / needed,
        "encoder_calls": counter.calls,
        "wordpieces_per_word": counter.real / words,
        "mean_window_wordpieces": counter.real / counter.windows,
        "heads": len(encoder.listening_components),
    }


def gemm_gflops(threads: int, *, size: int = 1536, repeats: int = 20) -> float:
    """Best-of-3 fp32 matmul GFLOP/s on this machine with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(4 * size, size // 4), torch.randn(size // 4, size)  # like a (tokens x 384) @ (384 x 1536)
    best = 0.0
    for _ in range(3):
        torch.matmul(a, b)
        start = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        best = max(best, 2 * a.shape[0] * a.shape[1] * b.shape[1] * repeats / (time.perf_counter() - start) / 1e9)
    return best


def encoder_flops_per_wordpiece(config: Any, seq_len: float) -> float:
    """Forward FLOPs per wordpiece of a BERT encoder: 4 h^2 (Q, K, V, output) and 2 h i (FFN)
    multiply-adds per layer, plus 2 L h for attention scores and mixing; 2 FLOPs per MAC."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return 2 * layers * (4 * h * h + 2 * h * i + 2 * seq_len * h)


def sweep(nlp: Any, pool: List[str], lengths: List[int], repeats: int = 3) -> List[Dict[str, float]]:
    """Seconds per word for single notes of each length (dev notes joined, cut at N words), the
    best of ``repeats`` timings each: one timing of one note swings by half on a shared machine."""
    joined = nlp.make_doc("\n\n".join(pool))
    rows = []
    nlp(joined[:200].text)
    for n in lengths:
        text = joined[: min(n, len(joined))].text
        elapsed = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            doc = nlp(text)
            elapsed = min(elapsed, time.perf_counter() - start)
        rows.append(
            {"words": len(doc), "seconds": round(elapsed, 3), "us_per_word": round(1e6 * elapsed / len(doc), 1)}
        )
    return rows


def fresh_process(path: Path, texts: List[str], threads: int, work: Path) -> Dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    texts_file = work / "latency_texts.json"
    texts_file.write_text(json.dumps(texts))
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(path), str(texts_file), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def f1_of(metrics_path: Path) -> Dict[str, float]:
    data = json.loads(Path(metrics_path).read_text())
    return {task: v["main"] for task, v in data["student"]["tasks"].items() if v.get("main") is not None}


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spacy_clintiny.fileio import atomic_path

    full = {
        r["variant"]: r["words_per_s"]
        for r in results["throughput"]
        if "failed" not in r and r["mode"] == "full" and r["n_process"] == 1 and r["corpus"] == "mtsamples"
    }
    fig, ax = plt.subplots(figsize=(7, 4.5))
    accuracy = results.get("accuracy", {})
    if accuracy:
        tasks = sorted({t for scores in accuracy.values() for t in scores})
        for task in tasks:
            xs = [full[f"student/{v}"] for v in accuracy if f"student/{v}" in full and task in accuracy[v]]
            ys = [100 * accuracy[v][task] for v in accuracy if f"student/{v}" in full and task in accuracy[v]]
            ax.plot(xs, ys, "o-", label=task)
            for v, x, y in zip([v for v in accuracy if f"student/{v}" in full], xs, ys):
                ax.annotate(v, (x, y), fontsize=7)
        ax.set_ylabel("F1 (dev, clintiny evaluate)")
        ax.legend(fontsize=7)
    else:
        keys = sorted(full)
        ax.barh(keys, [full[k] for k in keys])
    ax.set_xlabel("words/s, full pipeline, MTSamples dev, 1 process")
    ax.set_title("en_clintiny_sm speed vs accuracy (one run)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)


def print_tables(results: Dict[str, Any]) -> None:
    from wasabi import msg

    ok = [r for r in results["throughput"] if "failed" not in r]
    by = {(r["variant"], r["corpus"], r["mode"], r["n_process"]): r for r in ok}
    corpora = sorted({r["corpus"] for r in results["throughput"]})
    rows = []
    base = {c: by.get(("teacher/fp32", c, "heads", 1)) for c in corpora}
    for key, fresh in results["variants"].items():
        row = [key]
        for c in corpora:
            full, heads, two = by.get((key, c, "full", 1)), by.get((key, c, "heads", 1)), by.get((key, c, "full", 2))
            enc = by.get((key, c, "encoder", 1))
            heads2 = by.get((key, c, "heads", 2))
            row += [
                f"{full['words_per_s']:,.0f}" if full else "",
                f"{full['notes_per_s']:.1f}" if full else "",
                f"{two['words_per_s']:,.0f}" if two else "",
                f"{heads['words_per_s']:,.0f}" if heads else "",
                f"{heads2['words_per_s']:,.0f}" if heads2 else "",
                f"{enc['words_per_s']:,.0f}" if enc else "",
                f"{heads['words_per_s'] / base[c]['words_per_s']:.2f}x" if heads and base[c] else "",
            ]
        row += [
            f"{fresh['p50_ms']:.0f}/{fresh['p95_ms']:.0f}",
            f"{fresh['peak_rss_mb']:,.0f}",
            f"{fresh['load_s']:.1f}",
            f"{fresh['package_mb']:.0f}",
        ]
        rows.append(row)
    header = ["variant"]
    for c in corpora:
        header += [f"{c} w/s", "notes/s", "w/s np=2", "heads w/s", "heads np=2", "enc w/s", "heads vs T-fp32"]
    header += ["p50/p95 ms", "RSS MB", "load s", "MB"]
    msg.table(rows, header=header, divider=True)
    ceiling = results["ceiling"]
    msg.info(
        f"GEMM {ceiling['gemm_gflops']:.1f} GFLOP/s ({ceiling['threads']} threads); encoder "
        f"{ceiling['mflops_per_word']:.1f} MFLOP/word -> fp32 ceiling {ceiling['ceiling_words_per_s']:,.0f} words/s; "
        f"encoder-only fp32 reaches {ceiling['achieved_fraction']:.0%}"
    )
    for key, rows_ in results.get("sweep", {}).items():
        msg.info(f"sweep {key}: " + ", ".join(f"{r['words']}w {r['us_per_word']}us/w" for r in rows_))


def main() -> None:
    args = parse_args()
    import os
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # n_process forks after tokenizing

    warnings.filterwarnings("ignore")
    import torch

    from spacy_clintiny.evaluation.scores import dir_size_mb
    from spacy_clintiny.fileio import write_json_atomic

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    names = [n for n in args.variants.split(",") if n]
    folders = prepare_variants(args, names)
    corpora = {}
    for spec in args.corpus:
        name, path = spec.split("=", 1)
        corpora[name] = read_texts(Path(path), words=args.words)
    results: Dict[str, Any] = {
        "threads": args.threads,
        "words_per_corpus": {c: sum(len(t.split()) for t in texts) for c, texts in corpora.items()},
        "notes_per_corpus": {c: len(texts) for c, texts in corpora.items()},
        "rounds": args.rounds,
        "variants": {},
    }
    # fresh processes first (load time, latency, RSS), one variant at a time
    latency_texts = [t for texts in corpora.values() for t in texts[: max(1, args.latency_notes // len(corpora))]]
    for key, path in folders.items():
        fresh = fresh_process(path, latency_texts, args.threads, args.work)
        fresh["package_mb"] = round(dir_size_mb(path), 1)
        results["variants"][key] = fresh
        print(f"{key}: {fresh}", file=sys.stderr)
    if args.cnn:
        folders["cnn"] = args.cnn
        results["variants"]["cnn"] = {
            **fresh_process(args.cnn, latency_texts, args.threads, args.work),
            "package_mb": dir_size_mb(args.cnn),
        }
    nlps = load_all(folders, "student/fp32" if "student/fp32" in folders else next(iter(folders)))
    results["wasted_work"] = {}
    first_corpus = next(iter(corpora.values()))
    for key in [k for k in nlps if k.startswith("student/")]:
        results["wasted_work"][key] = wasted_work(nlps[key], first_corpus, batch_size=args.batch_size)
    results["throughput"] = throughput(args, nlps, corpora)
    # the encoder's FLOP ceiling
    config = nlps["student/fp32"].get_pipe("encoder").model.transformer.config
    waste = results["wasted_work"]["student/fp32"]
    flops_word = encoder_flops_per_wordpiece(config, waste["mean_window_wordpieces"]) * waste["wordpieces_per_word"]
    gflops = gemm_gflops(args.threads)
    encoder_fp32 = max(
        r["words_per_s"]
        for r in results["throughput"]
        if r["variant"] == "student/fp32" and r["mode"] == "encoder" and "failed" not in r
    )
    results["ceiling"] = {
        "threads": args.threads,
        "gemm_gflops": round(gflops, 1),
        "mflops_per_word": round(flops_word / 1e6, 2),
        "ceiling_words_per_s": round(gflops * 1e9 / flops_word),
        "encoder_only_fp32_words_per_s": round(encoder_fp32),
        "achieved_fraction": round(encoder_fp32 / (gflops * 1e9 / flops_word), 3),
    }
    lengths = [int(n) for n in args.sweep.split(",") if n]
    if lengths:
        pool = [t for texts in corpora.values() for t in texts]
        pool = pool * (1 + max(lengths) // max(1, sum(len(t.split()) for t in pool)))
        results["sweep"] = {}
        for key in [k for k in ("student/fp32", "student/onnx-int8", "student/int8") if k in nlps][:2]:
            rows = sweep(nlps[key], pool, lengths)
            results["sweep"][key] = rows
            if 500 in lengths and 20000 in lengths:
                long, short = rows[lengths.index(20000)], rows[lengths.index(500)]
                ratio = long["us_per_word"] / short["us_per_word"]
                results.setdefault("sweep_ratio_20000_vs_500", {})[key] = round(ratio, 2)
    if args.metrics:
        specs = [spec.split("=", 1) for spec in args.metrics]
        missing = [path for _, path in specs if not Path(path).exists()]
        if missing:
            print(f"skipping missing metrics files: {missing}", file=sys.stderr)
        results["accuracy"] = {name: f1_of(Path(path)) for name, path in specs if Path(path).exists()}
    results["seconds"] = round(time.perf_counter() - started)
    write_json_atomic(args.out, results)
    plot(results, args.png)
    print_tables(results)
    print(f"wrote {args.out} and {args.png} in {results['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
