"""The doc heads' decision thresholds of a trained workflow pipeline, derived as
``clintiny_textcat`` now derives them at initialize, then calibrated as the workflow does.

    python bench/doc_thresholds.py build/pipeline-student/model-last corpus /tmp/thresholds

A ``TextClassifier.v3`` head starts each label's threshold at the F1-best cut of its
regression's out-of-fold probabilities on the training docs; ``clintiny calibrate`` then
replaces those of the labels with enough calibration positives. The weights of a trained head
do not depend on its thresholds (the workflow keeps ``model-last``), so a pipeline trained
before this rule existed gets exactly the decisions a new ``make all`` would give it. Writes
OUT/oof (thresholds derived), OUT/calibrated (then calibrated, ``--min-positives`` as the
workflow) and OUT/scores.json, and prints specialty macro-F1 and ADE F1 on the dev docs the
``evaluate`` step scores (``--limit`` per corpus). Figures only, never note text.
"""

import argparse
import json
import shutil
import subprocess
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="trained pipeline (model-last of the train step)")
    parser.add_argument("corpus", type=Path, help="the workflow's corpus folder")
    parser.add_argument("out", type=Path)
    parser.add_argument("--min-positives", type=int, default=10)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()

    import spacy

    from spacy_clintiny.architectures.text_head import tfidf_settings
    from spacy_clintiny.evaluation import read_eval_sets, score_pipeline
    from spacy_clintiny.tfidf import fit_tfidf_logits
    from spacy_clintiny.training.mixed_corpus import load_examples

    nlp = spacy.load(args.model)
    for name, path in (("textcat_specialty", "mtsamples/train.spacy"), ("textcat_ade", "ade/train.spacy")):
        head = nlp.get_pipe(name)
        texts, truths, mask, groups = head.tfidf_inputs(load_examples(nlp, args.corpus / path))
        # the trained regression's own settings; refitting it here would reset its learned scale
        _, oof = fit_tfidf_logits(texts, truths, mask, groups, **tfidf_settings(head.model.get_ref("tfidf")))
        head.cfg["thresholds"] = {}
        derived = head._oof_thresholds(oof, truths, mask)
        print(f"{name}: {len(derived)} of {len(head.labels)} labels given an out-of-fold threshold")
    oof_dir, calibrated = args.out / "oof", args.out / "calibrated"
    if oof_dir.exists():
        shutil.rmtree(oof_dir)
    nlp.to_disk(oof_dir)
    subprocess.run(
        ["clintiny", "calibrate", str(oof_dir), str(args.corpus / "calib"), str(calibrated), "--force"]
        + ["--min-positives", str(args.min_positives), "--report", str(args.out / "calibration.json")],
        check=True,
        capture_output=True,
    )
    dev = {k: v for k, v in read_eval_sets(args.corpus, limit=args.limit).items() if k in ("mtsamples", "ade")}
    scores = {}
    for label, path in (("out-of-fold thresholds", oof_dir), ("then calibrated", calibrated)):
        tasks = score_pipeline(spacy.load(path), dev)["tasks"]
        specialty = tasks["textcat_specialty"]
        scores[label] = {"specialty_top1": specialty.get("acc"), "specialty_macro_f": specialty["main"]}
        scores[label]["ade_f"] = tasks["textcat_ade"]["main"]
        print(label, {k: round(100 * v, 1) for k, v in scores[label].items() if v is not None})
    (args.out / "scores.json").write_text(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
