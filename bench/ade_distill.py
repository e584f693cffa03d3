"""A soft-target training corpus for the student's ADE sentence head: the teacher's ADE head
labels the ADE training sentences (its probability mixed with the gold label) and, optionally,
the sentences of other PubMed training abstracts (its probability alone), so the student's head
can learn from the teacher what the gold labels alone do not say (knowledge distillation, with
binary cross-entropy on soft targets: ``clintiny_textcat`` takes ``doc.cats`` values as targets).

    python bench/ade_distill.py build/pipeline-teacher-ade/model-last corpus /tmp/ade-kd/train.spacy \
        --alpha 0.5 --extra bc5cdr,ncbi
    python -m spacy train configs/ade_context_head.cfg --output /tmp/ade-kd/run \
        --paths.encoder build/student --paths.encoder_cache build/encoder-cache --paths.corpus corpus \
        --corpora.train.paths.ade /tmp/ade-kd/train.spacy --training.max_steps 3000
    python bench/ade_head_score.py /tmp/ade-kd/run/model-last --corpus corpus --limit 0

Only training splits are read: ``CORPUS/ade/train.spacy`` and ``CORPUS/<extra>/train.spacy``. An
extra sentence whose text is also an ADE calibration or dev sentence is left out, so no sentence
a figure is reported on (or a threshold chosen on) is trained on, even without its label. Prints
counts only.
"""

import argparse
from pathlib import Path
from typing import Iterable, List

import numpy


def teacher_probs(nlp, texts: List[str], label: str, batch_size: int) -> numpy.ndarray:
    """The teacher's probability for ``label`` on each text (its doc heads only)."""
    return numpy.asarray([doc.cats[label] for doc in nlp.pipe(texts, batch_size=batch_size)], dtype="float64")


def sentences(docs: Iterable, min_words: int) -> List[str]:
    """The sentences of ``docs`` (spaCy's rule sentencizer) with at least ``min_words`` words."""
    import spacy

    splitter = spacy.blank("en")
    splitter.add_pipe("sentencizer")
    out = []
    for doc in docs:
        for sent in splitter(doc.text).sents:
            text = sent.text.strip()
            if sum(not t.is_punct and not t.is_space for t in sent) >= min_words:
                out.append(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", help="the teacher's ADE head pipeline (encoder + textcat_ade)")
    parser.add_argument("corpus", type=Path, help="the workflow's corpus folder")
    parser.add_argument("output", type=Path, help="the soft-target DocBin to write")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the gold label on ADE sentences")
    parser.add_argument("--extra", default="", help="comma-separated corpora whose train sentences the teacher labels")
    parser.add_argument("--label", default="ADE")
    parser.add_argument("--min-words", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha {args.alpha} must be between 0 and 1")

    import spacy
    from spacy.tokens import DocBin

    import spacy_clintiny  # noqa: F401  (the components)
    from spacy_clintiny.fileio import write_bytes_atomic

    nlp = spacy.load(args.teacher)
    keep = [n for n in nlp.pipe_names if n in ("encoder", "textcat_ade")]
    ade = list(DocBin().from_disk(args.corpus / "ade" / "train.spacy").get_docs(nlp.vocab))
    held = set()
    for path in (args.corpus / "ade" / "dev.spacy", args.corpus / "calib" / "ade.spacy"):
        held.update(doc.text.strip() for doc in DocBin().from_disk(path).get_docs(nlp.vocab))
    with nlp.select_pipes(enable=keep):
        labelled = [doc for doc in ade if args.label in doc.cats]
        probs = teacher_probs(nlp, [doc.text for doc in labelled], args.label, args.batch_size)
        for doc, prob in zip(labelled, probs):
            doc.cats[args.label] = float(args.alpha * doc.cats[args.label] + (1.0 - args.alpha) * prob)
        out = list(labelled)
        gold = numpy.asarray([doc.cats[args.label] for doc in labelled])
        print(f"ADE train: {len(labelled)} sentences, mean target {gold.mean():.3f}")
        seen = {doc.text.strip() for doc in labelled}
        for name in filter(None, args.extra.split(",")):
            abstracts = DocBin().from_disk(args.corpus / name / "train.spacy").get_docs(nlp.vocab)
            texts = sentences(abstracts, args.min_words)
            fresh = [t for t in dict.fromkeys(texts) if t not in held and t not in seen]
            extra_probs = teacher_probs(nlp, fresh, args.label, args.batch_size)
            for text, prob in zip(fresh, extra_probs):
                doc = nlp.make_doc(text)
                doc.cats = {args.label: float(prob)}
                doc.user_data["clintiny_source"] = {"corpus": "ade", "doc_id": f"{name}-kd", "group": name}
                out.append(doc)
            seen.update(fresh)
            print(
                f"{name} train: {len(texts)} sentences, {len(fresh)} kept (not in ADE dev/calib, not repeated), "
                f"teacher mean {extra_probs.mean():.3f}, over 0.5: {(extra_probs >= 0.5).mean():.3f}"
            )
    write_bytes_atomic(args.output, DocBin(docs=out, store_user_data=True).to_bytes())
    print(f"wrote {len(out)} docs")


if __name__ == "__main__":
    main()
