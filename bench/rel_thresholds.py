"""The relation head of a trained workflow pipeline before and after ``clintiny calibrate``
chooses its per-label thresholds, scored end to end on the dev docs the ``evaluate`` step scores.

    python bench/rel_thresholds.py build/pipeline-student/model-last corpus /tmp/rel

Makes the calibration notes the workflow's ``corpus`` step makes (``clintiny synth --n 300
--seed 2``; the step's ``synth_calib`` and ``calib_seed``) unless ``corpus/calib/synth.spacy``
exists, calibrates the relation head on them and the ADE calibration slice, and prints each
corpus's relation F1 and each label's P/R/F at 0.5 and calibrated (``--limit`` dev docs per
corpus, as ``evaluate``). Writes OUT/calibrated and OUT/scores.json. Figures only, never text.
``--annotated-labels configs/train.cfg`` gives a head trained before ``annotated_labels``
existed the declaration (it then applies to scores and calibration, not to its training).
"""

import argparse
import json
import shutil
import subprocess
from pathlib import Path

CORPORA = ("ade", "synth", "bc5cdr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="trained pipeline (model-last of the train step)")
    parser.add_argument("corpus", type=Path, help="the workflow's corpus folder")
    parser.add_argument("out", type=Path)
    parser.add_argument("--component", default="rel")
    parser.add_argument("--min-positives", type=int, default=10)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument(
        "--annotated-labels",
        type=Path,
        help="config whose [components.<component>.annotated_labels] to give a head trained without them",
    )
    args = parser.parse_args()

    import spacy

    from spacy_clintiny.evaluation import read_eval_sets
    from spacy_clintiny.evaluation.scores import predict, score_tasks

    args.out.mkdir(parents=True, exist_ok=True)
    calib = args.out / "calib"
    calib.mkdir(exist_ok=True)
    shutil.copy(args.corpus / "calib" / "ade.spacy", calib / "ade.spacy")
    if (args.corpus / "calib" / "synth.spacy").exists():
        shutil.copy(args.corpus / "calib" / "synth.spacy", calib / "synth.spacy")
    else:
        synth = ["clintiny", "synth", str(calib / "synth.spacy"), "--n", "300", "--seed", "2"]
        subprocess.run(synth, check=True, capture_output=True)
    if args.annotated_labels is not None:
        from spacy.util import load_config

        declared = dict(load_config(args.annotated_labels)["components"][args.component]["annotated_labels"])
        nlp = spacy.load(args.model)
        nlp.get_pipe(args.component).cfg["annotated_labels"] = declared
        args.model = args.out / "model"
        nlp.to_disk(args.model)
    calibrated = args.out / "calibrated"
    subprocess.run(
        ["clintiny", "calibrate", str(args.model), str(calib), str(calibrated), "--force", "-c", args.component]
        + ["--min-positives", str(args.min_positives), "--report", str(args.out / "calibration.json")],
        check=True,
        capture_output=True,
    )
    dev = {k: v for k, v in read_eval_sets(args.corpus, limit=args.limit).items() if k in CORPORA}
    scores = {}
    for label, path in (("at 0.5", args.model), ("calibrated", calibrated)):
        nlp = spacy.load(path)
        # the entities come from the concept and modifier heads: run everything but the doc heads
        keep = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory != "clintiny_textcat"]
        with nlp.select_pipes(enable=keep):
            predicted = {name: predict(nlp, egs) for name, egs in dev.items()}
        scores[label] = {}
        for name, egs in predicted.items():
            task = score_tasks(nlp, egs)[args.component]
            scores[label][name] = {"f": task["main"], "p": task["p"], "r": task["r"], "per_label": task["per_label"]}
        every = score_tasks(nlp, [eg for egs in predicted.values() for eg in egs])[args.component]
        scores[label]["all"] = {"f": every["main"], "p": every["p"], "r": every["r"], "per_label": every["per_label"]}
    (args.out / "scores.json").write_text(json.dumps(scores, indent=2))
    print("| corpus | F1 at 0.5 | F1 calibrated |")
    print("|---|---:|---:|")
    for name in [*dev, "all"]:
        before, after = scores["at 0.5"][name]["f"], scores["calibrated"][name]["f"]
        print(f"| {name} | {100 * (before or 0):.1f} | {100 * (after or 0):.1f} |")
    print()
    print("| label | P / R / F at 0.5 | P / R / F calibrated |")
    print("|---|---:|---:|")
    for rel_label, prf in sorted(scores["at 0.5"]["all"]["per_label"].items()):
        cal = scores["calibrated"]["all"]["per_label"][rel_label]
        cells = [" / ".join(f"{100 * x[k]:.1f}" for k in ("p", "r", "f")) for x in (prf, cal)]
        print(f"| {rel_label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
