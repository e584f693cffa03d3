"""``clintiny calibrate``: choose the per-label decision thresholds of the multi-label doc heads
and of the relation heads for F1 on a calibration corpus, and write the pipeline with them.

The calibration corpus must not be the split the figures are reported on: use a slice of the
training corpus held out from training (by group), as the project's corpus step carves it.
Each ``clintiny_textcat`` head is calibrated on the docs whose ``cats`` hold any of its labels;
a label with fewer than ``min_positives`` positives among them keeps the threshold it has
(its own, such as the one a ``TextClassifier.v3`` head takes from its regression's
out-of-fold predictions at initialize, else the head's default ``threshold``): a threshold set
from one or two docs would be noise. The search is
:func:`spacy_clintiny.evaluation.thresholds.calibrate_thresholds` (exact, over sorted scores,
counting the head's ``always_top`` decisions).

Each ``clintiny_rel`` head is calibrated end to end, as it is scored: on the docs with gold
relations, the components before it (without the doc heads) predict the entities, the head
scores every candidate pair, and each label's threshold is the one with the best F1 for that
label (``relation_objective`` "label", the default: the labels come from different corpora and
are reported one by one) or the thresholds with the best micro-F1 over the head's labels
("micro"; coordinate ascent over exact per-label cuts), with the gold relations whose entities
were not predicted counted as misses at every cut.

Each ``clintiny_relation_evidence`` component is fitted last, once the heads' thresholds are
set: the pipeline up to it predicts the calibration docs annotated for its label, its regression is
fitted on them, and
the threshold of the doc head that owns the label is chosen on the combined probability (the
figure "F1 before" is the pipeline's decision before: the doc head's own probability at its
threshold when the component was not fitted yet). With fewer than ``min_positives`` positives
(or no negative) it is kept as it is, unfitted or with its earlier fit, and so is the threshold.
A component that gates (``gate``, the default) stores that threshold and removes its relation
labels from the docs decided negative; the relation head's thresholds are then chosen again on
that gated output (its entry's "gated_relations"), since that is what the pipeline predicts.
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy
import typer
from wasabi import msg

from ..errors import Errors
from ..evaluation.thresholds import ThresholdChoice
from ..fileio import check_outputs, write_json_atomic
from ..models import check_pipeline_folder
from ._app import app

TEXTCAT_FACTORY = "clintiny_textcat"
REL_FACTORY = "clintiny_rel"
EVIDENCE_FACTORY = "clintiny_relation_evidence"
# what a relation head's thresholds maximise (--relation-objective)
RELATION_OBJECTIVES = {"label": "each label's own F1", "micro": "micro-F1 over the head's labels"}
ENCODER_FACTORIES = ("clintiny_encoder", "transformer")


def calibrate_pipeline(
    pipeline: Path,
    corpus: Path,
    output: Path,
    *,
    components: Sequence[str] = (),
    min_positives: int = 5,
    force: bool = False,
    batch_size: int = 16,
    relation_objective: str = "label",
) -> Dict[str, Any]:
    """Calibrate the pipeline's multi-label ``clintiny_textcat`` and its ``clintiny_rel`` heads
    and write it to ``output``.

    pipeline (Path): The trained pipeline folder.
    corpus (Path): Calibration DocBin, or a folder of DocBins (gold ``cats``).
    output (Path): Where the calibrated pipeline goes (written to a temporary sibling folder,
        then renamed).
    components (Sequence[str]): Heads to calibrate; empty: every multi-label ``clintiny_textcat``,
        every ``clintiny_rel`` and every ``clintiny_relation_evidence``. An evidence component
        after a head calibrated here is refitted too (kept as it is when no calibration doc is
        annotated for its label: "kept" in its entry).
    min_positives (int): Fewest calibration positives to choose a label's threshold from.
    force (bool): Replace an existing ``output``.
    batch_size (int): Batch size of ``nlp.pipe``.
    relation_objective (str): What a relation head's thresholds maximise: "label" (each label's
        own F1: the labels come from different corpora and are scored one by one) or "micro"
        (the micro-F1 over its labels).
    RETURNS (Dict[str, Any]): Per component: docs, and per label the threshold, calibration
        positives, F1 at the threshold and at the label's threshold before calibration
        ("f1_default"), and whether that threshold was kept ("fallback"); a relation head also
        gives its candidate pairs and, per label, the gold relations no pair stood for ("missed").
    """
    import spacy

    from ..training.mixed_corpus import load_examples

    if isinstance(min_positives, bool) or not isinstance(min_positives, int) or min_positives < 1:
        raise ValueError(Errors.E888.format(value=min_positives))
    if relation_objective not in RELATION_OBJECTIVES:
        raise ValueError(Errors.E904.format(value=relation_objective, options=list(RELATION_OBJECTIVES)))
    settings = {"min_positives": min_positives, "batch_size": batch_size}
    # a relation head's scored candidate pairs, per head: the gated re-calibration reuses them
    scored: Dict[str, List[Tuple[Any, ...]]] = {}
    pipeline, output = Path(pipeline), Path(output)
    _check_output(pipeline, output, force=force)
    nlp = spacy.load(pipeline)
    names = _components(nlp, pipeline, components)
    followers = _evidence_after(nlp, names)
    names += followers
    examples = load_examples(nlp, Path(corpus))
    report: Dict[str, Any] = {
        "corpus": str(corpus),
        "min_positives": min_positives,
        "relation_objective": relation_objective,
        "components": {},
    }
    # the evidence components last: they combine the calibrated heads' outputs
    for name in sorted(names, key=lambda n: nlp.get_pipe_meta(n).factory == EVIDENCE_FACTORY):
        pipe = nlp.get_pipe(name)
        factory = nlp.get_pipe_meta(name).factory
        if factory == REL_FACTORY:
            entry, choices = _calibrate_relations(
                nlp, name, examples, **settings, objective=relation_objective, scored=scored
            )
        elif factory == EVIDENCE_FACTORY:
            entry, choices = _calibrate_evidence(
                nlp, name, examples, **settings, objective=relation_objective, scored=scored
            )
            pipe = nlp.get_pipe(entry["owner"]) if entry is not None else pipe
        else:
            entry, choices = _calibrate_textcat(nlp, name, examples, **settings)
        if entry is None and name in followers:  # not asked for, and nothing to refit it on: kept
            report["components"][name] = {"docs": 0, "kept": True, "weights": pipe.cfg["weights"], "labels": {}}
            continue
        if entry is None:
            labels = [pipe.label] if factory == EVIDENCE_FACTORY else list(pipe.labels)
            raise ValueError(Errors.E885.format(corpus=corpus, n=len(examples), name=name, labels=labels))
        _set_thresholds(pipe, choices)
        report["components"][name] = entry
    _write_pipeline(nlp, output, force=force)
    return report


def _set_thresholds(pipe: Any, choices: Dict[str, ThresholdChoice]) -> None:
    """Give ``pipe`` the thresholds chosen (not those kept: ``fallback``), rounded."""
    calibrated = {label: round(c.threshold, 6) for label, c in choices.items() if not c.fallback}
    pipe.set_thresholds({**(pipe.cfg.get("thresholds") or {}), **calibrated})


def _calibrate_textcat(
    nlp: Any, name: str, examples: List[Any], *, min_positives: int, batch_size: int
) -> Tuple[Optional[Dict[str, Any]], Dict[str, ThresholdChoice]]:
    """A doc head's thresholds from its probabilities on the docs annotated for it (None when
    there are none)."""
    from ..evaluation.thresholds import calibrate_thresholds

    pipe = nlp.get_pipe(name)
    labels = list(pipe.labels)
    selected = _annotated(examples, pipe)
    if not selected:
        return None, {}
    probs = _probabilities(nlp, name, selected, labels, batch_size=batch_size)
    gold = numpy.asarray([[eg.reference.cats.get(label, 0.0) >= 0.5 for label in labels] for eg in selected])
    mask = numpy.asarray([[label in eg.reference.cats for label in labels] for eg in selected])
    choices = calibrate_thresholds(
        probs,
        gold,
        mask,
        labels,
        default=pipe.label_thresholds,
        min_positives=min_positives,
        always_top=pipe.adds_top_label,
    )
    entry = {
        "docs": len(selected),
        "always_top": pipe.adds_top_label,
        "default": pipe.cfg["threshold"],
        "labels": {label: c._asdict() for label, c in choices.items()},
    }
    return entry, choices


def _calibrate_relations(
    nlp: Any,
    name: str,
    examples: List[Any],
    *,
    min_positives: int,
    batch_size: int,
    objective: str,
    scored: Dict[str, List[Tuple[Any, ...]]],
    gate: Optional[Tuple[Set[int], Sequence[str]]] = None,
) -> Tuple[Optional[Dict[str, Any]], Dict[str, ThresholdChoice]]:
    """A relation head's thresholds, end to end: the components before it (not the doc heads)
    predict the entities of the docs with gold relations, the head scores every candidate
    pair, and the thresholds maximise each label's F1 (``objective`` "label") or the micro-F1
    over its labels ("micro"), each label counted on the docs whose corpus annotates it and the
    gold relations no pair stands for counted as misses. ``gate``: the ids of the examples whose
    relations of the given labels a relation-evidence component removes, and those labels:
    there the labels' pairs are never predicted and their gold relations are misses. ``scored``
    holds each head's scored pairs once computed (they do not depend on any threshold)."""
    from ..evaluation.thresholds import label_thresholds, micro_thresholds

    pipe = nlp.get_pipe(name)
    labels = list(pipe.labels)
    if name not in scored:
        scored[name] = _score_pairs(nlp, name, examples, batch_size=batch_size)
    rows = scored[name]
    if not rows:
        return None, {}
    probs, truths, masks = [], [], []
    missed = numpy.zeros(len(labels), dtype="int64")
    closed, gated = gate if gate is not None else (set(), ())
    gated_columns = [labels.index(label) for label in gated if label in labels]
    for eg, doc_probs, doc_truths, doc_mask, doc_missed in rows:
        mask, doc_missed = doc_mask.copy(), doc_missed.copy()
        if id(eg) in closed:  # the gate removes these labels' relations: their gold ones are missed
            for j in gated_columns:
                doc_missed[j] += int(doc_truths[mask[:, j], j].sum())
                mask[:, j] = False
        probs.append(doc_probs)
        truths.append(doc_truths)
        masks.append(mask)
        missed += doc_missed
    all_probs, all_truths, all_masks = numpy.concatenate(probs), numpy.concatenate(truths), numpy.concatenate(masks)
    items = [
        (all_truths[all_masks[:, j], j], all_probs[all_masks[:, j], j], int(missed[j])) for j in range(len(labels))
    ]
    choose = label_thresholds if objective == "label" else micro_thresholds
    choices = choose(items, labels, default=pipe.label_thresholds, min_positives=min_positives)
    entry = {
        "docs": len(rows),
        "pairs": len(all_probs),
        "objective": RELATION_OBJECTIVES[objective],
        "gated": {"labels": list(gated), "docs": sum(id(row[0]) in closed for row in rows)},
        "default": pipe.cfg["threshold"],
        "labels": {label: {**c._asdict(), "missed": int(missed[j])} for j, (label, c) in enumerate(choices.items())},
    }
    return entry, choices


def _score_pairs(nlp: Any, name: str, examples: List[Any], *, batch_size: int) -> List[Tuple[Any, ...]]:
    """A relation head's candidate pairs on the examples with gold relations, end to end: the
    components before it (not the doc heads) predict the entities. RETURNS per example: the
    example, the pairs' probabilities and gold (pairs x labels), the mask of the labels its
    corpus annotates (pairs x labels) and the gold relations per label no pair stands for."""
    from spacy.util import minibatch

    from ..relations import get_gold_relations

    pipe = nlp.get_pipe(name)
    selected = [eg for eg in examples if get_gold_relations(eg.reference) is not None]
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    enable = [n for n in before if nlp.get_pipe_meta(n).factory not in (TEXTCAT_FACTORY, REL_FACTORY)]
    docs = _pipe(nlp, [eg.predicted for eg in selected], enable, batch_size=batch_size)
    rows = []
    for batch in minibatch(list(zip(selected, docs)), batch_size):
        candidates, batch_probs = pipe.predict([doc for _, doc in batch])
        probs = pipe.model.ops.to_numpy(batch_probs).reshape(-1, len(pipe.labels))
        start = 0
        for (eg, _), cands in zip(batch, candidates):
            n = len(cands.pairs)
            doc_truths, doc_missed = pipe.pair_truths(eg.reference, cands)
            # a label counts only on the docs whose corpus annotates it (annotated_labels)
            mask = numpy.repeat(pipe.annotated_mask(eg.reference)[None, :] > 0, n, axis=0)
            rows.append((eg, probs[start : start + n], doc_truths, mask, doc_missed))
            start += n
    return rows


def _calibrate_evidence(
    nlp: Any,
    name: str,
    examples: List[Any],
    *,
    min_positives: int,
    batch_size: int,
    objective: str,
    scored: Dict[str, List[Tuple[Any, ...]]],
) -> Tuple[Optional[Dict[str, Any]], Dict[str, ThresholdChoice]]:
    """Fit a relation-evidence component on the calibration docs annotated for its label and
    choose its owner's threshold for that label on the combined probability; the choices are
    the owner's (None when no doc is annotated for the label)."""
    from ..evaluation.thresholds import calibrate_thresholds, f1_of

    pipe = nlp.get_pipe(name)
    label = pipe.label
    owner = _evidence_owner(nlp, name)
    head = nlp.get_pipe(owner)
    selected = [eg for eg in examples if label in eg.reference.cats]
    if not selected:
        return None, {}
    # the components before it, without the doc heads other than the owner (their cats are not read)
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    enable = [n for n in before if nlp.get_pipe_meta(n).factory != TEXTCAT_FACTORY or n == owner]
    docs = _pipe(nlp, [eg.predicted for eg in selected], enable, batch_size=batch_size)
    features = pipe.features(docs)
    gold = numpy.asarray([eg.reference.cats[label] >= 0.5 for eg in selected])
    own = float(head.label_thresholds[list(head.labels).index(label)])
    # the decision before: the doc head's own probability, or the earlier fit's combination
    current = pipe.probabilities(features) if pipe.is_fitted else numpy.asarray([doc.cats[label] for doc in docs])
    f1_before = f1_of(gold, current >= own)
    n_pos = int(gold.sum())
    if n_pos < min_positives or n_pos == len(gold):  # kept as it is, like a label's threshold
        choice = ThresholdChoice(own, n_pos, len(gold), f1_before, f1_before, True)
    else:
        pipe.fit(features, gold, owner=owner)
        probs = pipe.probabilities(features)
        choice = calibrate_thresholds(
            probs[:, None], gold[:, None], numpy.ones((len(gold), 1)), [label], default=own, min_positives=min_positives
        )[label]._replace(f1_default=f1_before)
        pipe.cfg["threshold"] = round(choice.threshold, 6)  # the gate's: the owner gets the same
    entry = {
        "docs": len(selected),
        "owner": owner,
        "features": ["head logit", f"highest candidate-pair probability of {pipe.cfg['relations']}"],
        "weights": pipe.cfg["weights"],
        "bias": pipe.cfg["bias"],
        "labels": {label: choice._asdict()},
    }
    if pipe.gates:  # the relation head's thresholds, again on the gated output
        final = pipe.probabilities(features)
        closed = [eg for eg, prob in zip(selected, final) if prob < pipe.cfg["threshold"]]
        entry["gated_relations"] = _gate_relations(
            nlp,
            name,
            examples,
            closed,
            min_positives=min_positives,
            batch_size=batch_size,
            objective=objective,
            scored=scored,
        )
    return entry, {label: choice}


def _gate_relations(nlp: Any, name: str, examples: List[Any], closed: List[Any], **settings: Any) -> Dict[str, Any]:
    """Choose again the thresholds of the relation head whose scores a gating evidence component
    reads, on the gated output (the ``closed`` examples keep none of its labels' relations), and
    set them; RETURNS that head's calibration entry (with its name)."""
    pipe = nlp.get_pipe(name)
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    rel_name = [n for n in before if nlp.get_pipe_meta(n).factory == REL_FACTORY][-1]
    gate = ({id(eg) for eg in closed}, pipe.cfg["relations"])
    entry, choices = _calibrate_relations(nlp, rel_name, examples, gate=gate, **settings)
    if entry is None:  # no doc with gold relations: the thresholds stay
        return {"component": rel_name, "docs": 0}
    _set_thresholds(nlp.get_pipe(rel_name), choices)
    return {"component": rel_name, **entry}


def _evidence_after(nlp: Any, names: List[str]) -> List[str]:
    """The relation-evidence components not among ``names`` that come after one of them: their
    fit and their owner's threshold rest on the outputs of the heads calibrated now, so they
    are refitted too (when the corpus has docs for their label)."""
    out = []
    for i, name in enumerate(nlp.pipe_names):
        if nlp.get_pipe_meta(name).factory == EVIDENCE_FACTORY and name not in names:
            if any(n in names for n in nlp.pipe_names[:i]):
                out.append(name)
    return out


def _evidence_owner(nlp: Any, name: str) -> str:
    """The last ``clintiny_textcat`` before ``name`` that predicts its label (E903: none)."""
    label = nlp.get_pipe(name).label
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    heads = [n for n in before if nlp.get_pipe_meta(n).factory == TEXTCAT_FACTORY]
    owners = [n for n in heads if label in nlp.get_pipe(n).labels]
    if not owners:
        raise ValueError(Errors.E903.format(name=name, label=label, heads=heads))
    return owners[-1]


def _components(nlp: Any, path: Path, requested: Sequence[str]) -> List[str]:
    """The heads to calibrate (E883: not a clintiny_textcat or clintiny_rel, E884: exclusive
    classes, E887: none)."""
    factories = (TEXTCAT_FACTORY, REL_FACTORY, EVIDENCE_FACTORY)
    heads = [name for name in nlp.component_names if nlp.get_pipe_meta(name).factory in factories]
    if not requested:
        names = [name for name in heads if not nlp.get_pipe(name).cfg.get("exclusive_classes", False)]
        if not names:
            raise ValueError(Errors.E887.format(path=path, names=nlp.component_names))
        return names
    for name in requested:
        if name not in heads:
            factory = nlp.get_pipe_meta(name).factory if name in nlp.component_names else "no such component"
            raise ValueError(Errors.E883.format(name=name, path=path, factory=factory, choices=heads))
        if nlp.get_pipe(name).cfg.get("exclusive_classes", False):
            raise ValueError(Errors.E884.format(name=name, path=path))
    return list(dict.fromkeys(requested))


def _annotated(examples: List[Any], pipe: Any) -> List[Any]:
    """The examples a head is judged on: reference cats with any of its labels, and the pair
    span group exactly when the head is in pair mode (as its ``initialize`` reads them)."""
    key, pair_mode = pipe.cfg["pair_spans_key"], pipe.cfg["mode"] == "pair"
    return [
        eg
        for eg in examples
        if any(label in eg.reference.cats for label in pipe.labels) and (key in eg.reference.spans) == pair_mode
    ]


def _probabilities(nlp: Any, name: str, examples: List[Any], labels: List[str], *, batch_size: int) -> numpy.ndarray:
    """``(n_docs, n_labels)``: the head's probabilities, with only the encoder(s) and the head run."""
    from ..augmenters import copy_gold_spans

    pipe = nlp.get_pipe(name)
    if pipe.cfg["mode"] == "pair":  # the predicted docs need the premise/hypothesis spans
        examples = [copy_gold_spans(eg, [pipe.cfg["pair_spans_key"]]) for eg in examples]
    enable = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in ENCODER_FACTORIES] + [name]
    docs = _pipe(nlp, [eg.predicted for eg in examples], enable, batch_size=batch_size)
    return numpy.asarray([[doc.cats[label] for label in labels] for doc in docs], dtype="float32")


def _pipe(nlp: Any, docs: List[Any], enable: List[str], *, batch_size: int) -> List[Any]:
    """``docs`` through the components in ``enable`` (``nlp.pipe``), in order. The calibration
    passes share their docs (each example's predicted doc), and a doc keeps the encoder's
    output (``doc._.trf_data``) from the first pass that encoded it, so later passes run the
    encoder only on the docs that have none and the other components on all: each calibration
    doc is encoded once per run. Only with one encoder in the pipeline, the one whose output
    the listeners read; a doc encoded in another pass's batch can differ from a re-encoded one
    in the last bits."""
    from spacy.tokens import Doc

    encoders = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in ENCODER_FACTORIES]
    everything = list(range(len(docs)))
    groups = [(enable, everything)]
    if len(encoders) == 1 and encoders[0] in enable and Doc.has_extension("trf_data"):
        encoded = [i for i in everything if docs[i]._.trf_data is not None]
        if encoded:
            rest = [i for i in everything if docs[i]._.trf_data is None]
            groups = [(enable, rest), ([n for n in enable if n != encoders[0]], encoded)]
    out: List[Any] = list(docs)
    for names, indices in groups:
        if not indices:
            continue
        with nlp.select_pipes(enable=names):
            for i, doc in zip(indices, nlp.pipe((docs[i] for i in indices), batch_size=batch_size)):
                out[i] = doc
    return out


def _check_output(pipeline: Path, output: Path, *, force: bool) -> None:
    source, target = pipeline.resolve(), output.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ValueError(Errors.E886.format(output=output, problem=f"overlaps the input pipeline '{pipeline}'"))
    if output.exists() and not force:
        raise ValueError(Errors.E886.format(output=output, problem="already exists"))
    if output.exists() and not output.is_dir():
        raise ValueError(Errors.E886.format(output=output, problem="is a file, not a pipeline folder"))


def _write_pipeline(nlp: Any, output: Path, *, force: bool) -> None:
    """``nlp.to_disk`` into a temporary sibling folder, then rename it onto ``output`` (an
    existing output, with ``force``, is moved aside first and removed last)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    old: Optional[Path] = None
    try:
        nlp.to_disk(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        if output.exists() and force:
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".old", dir=output.parent))
            os.replace(output, old / output.name)
        os.replace(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / output.name).exists() and not output.exists():
            os.replace(old / output.name, output)  # put the previous output back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@app.command("calibrate")
def calibrate_cli(
    pipeline: Path = typer.Argument(..., help="Trained pipeline folder", exists=True, file_okay=False),
    corpus: Path = typer.Argument(..., help="Calibration DocBin (.spacy) or folder of DocBins, NOT the dev split"),
    output: Path = typer.Argument(..., help="Folder for the calibrated pipeline"),
    component: List[str] = typer.Option(
        [],
        "--component",
        "-c",
        help="Head to calibrate (repeatable; default: every multi-label clintiny_textcat and clintiny_rel)",
    ),
    min_positives: int = typer.Option(
        5, "--min-positives", help="Labels with fewer calibration positives keep their current threshold"
    ),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the chosen thresholds and figures as JSON"),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder"),
    batch_size: int = typer.Option(16, "--batch-size", help="Batch size of nlp.pipe"),
    relation_objective: str = typer.Option(
        "label",
        "--relation-objective",
        help="What a relation head's thresholds maximise: 'label' (each label's own F1) or 'micro' (micro-F1 of all)",
    ),
) -> None:
    """Choose each label's decision threshold of the doc and relation heads for F1 on a
    calibration corpus and write the pipeline with the thresholds."""
    try:
        check_pipeline_folder(pipeline)
        outputs = {"OUTPUT": output, "--report": report}
        check_outputs(outputs, {"PIPELINE": pipeline, "CORPUS": corpus}, replaced=["OUTPUT"])
        result = calibrate_pipeline(
            pipeline,
            corpus,
            output,
            components=component,
            min_positives=min_positives,
            force=force,
            batch_size=batch_size,
            relation_objective=relation_objective,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    for name, entry in result["components"].items():
        if entry.get("kept"):
            msg.warn(f"'{name}' was not refitted: no calibration doc is annotated for its label (its fit is kept)")
            continue
        _print_entry(name, entry)
        if "owner" in entry and entry["weights"] is not None:
            label = next(iter(entry["labels"]))
            msg.info(f"'{entry['owner']}' threshold for {label} chosen on the output of '{name}' (head + relations)")
        gated = entry.get("gated_relations")
        if gated and gated.get("labels"):
            msg.info(
                f"'{gated['component']}' thresholds chosen again with the gate: {gated['gated']['docs']} doc(s) "
                f"decided not {next(iter(entry['labels']))} keep no {', '.join(gated['gated']['labels'])}"
            )
            _print_entry(f"{gated['component']} (gated)", gated)
    if report is not None:
        write_json_atomic(report, result)
    msg.good(f"Wrote the calibrated pipeline to {output}")


def _print_entry(name: str, entry: Dict[str, Any]) -> None:
    """One component's calibration table (a relation head's with its candidate pairs and misses)."""
    rows = [
        (label, c["positives"], f"{c['threshold']:.3f}", f"{100 * c['f1']:.1f}", f"{100 * c['f1_default']:.1f}")
        + (("threshold kept",) if c["fallback"] else ("",))
        for label, c in entry["labels"].items()
    ]
    pairs = f", {entry['pairs']} candidate pairs, F1 = {entry['objective']}" if "pairs" in entry else ""
    msg.divider(f"{name}: {entry['docs']} calibration docs{pairs}")
    msg.table(rows, header=("label", "positives", "threshold", "F1", "F1 before", ""), divider=True)
    missed = sum(c.get("missed", 0) for c in entry["labels"].values())
    if missed:
        msg.info(f"{missed} gold relation(s) had no candidate pair (their entities were not predicted)")
