"""``clintiny deid-eval FORMAT INPUT``: score de-identification on annotated notes.

``deid_eval`` reads the notes (PhysioNet: the held-out patients by default), runs the engine
(``deid.engine``; only the run is timed, not loading), scores it with ``deid.evaluate`` (token
recall / precision / F1, entity strict and overlap figures per category, recall per category,
leak rate, speed) and, given deid.pl's output, scores that on the same notes. The command
prints tables and, as its last stdout line, one JSON object. Note text and PHI are never
printed: notes are named by id.
"""

import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from ..converters.formats import read_i2b2_2014, to_docs
from ..converters.labels import PHI_KEY
from ..converters.physionet import iter_physionet, read_deid_pl_output, resolve_physionet_paths
from ..converters.placement import SOURCE_KEY
from ..converters.report import ConversionReport
from ..converters.splits import dev_groups, group_of
from ..deid.evaluate import DeidScorer, GoldNote, Range
from ..deid.types import KEYED_MODES, MODES, DeidResult, DetectorOptions
from ..errors import Errors
from . import _options as opts
from ._app import app

FORMATS = ("physionet", "i2b2-2014", "docbin")
# PhysioNet patients: the workflow holds out dev_groups(patients, dev_fraction=0.334, seed=0)
PATIENT_SETS = ("heldout", "train", "all")
HELDOUT_FRACTION = 0.334
HELDOUT_SEED = 0
# surrogate mode without --key-file or $CLINTINY_DEID_KEY: a fixed key, so figures repeat
EVAL_KEY = "clintiny deid-eval fixed key"


def select_patients(patient_ids: Iterable[str], which: str) -> Set[str]:
    """The PhysioNet patients to score.

    patient_ids (Iterable[str]): Every patient id of the corpus.
    which (str): "heldout" (the patients the workflow never trains on:
        ``dev_groups(ids, dev_fraction=0.334, seed=0)``), "train" (the others) or "all".
    RETURNS (Set[str]): The chosen ids.
    """
    ids = set(patient_ids)
    if which not in PATIENT_SETS:
        raise ValueError(
            Errors.E773.format(value=which, problem="is not a patient set", options=", ".join(PATIENT_SETS))
        )
    if which == "all":
        return ids
    heldout = dev_groups(ids, dev_fraction=HELDOUT_FRACTION, seed=HELDOUT_SEED)
    return heldout if which == "heldout" else ids - heldout


def read_gold_notes(
    fmt: str, path: Union[str, Path], *, patients: Optional[str] = None, limit: int = 0
) -> Tuple[List[GoldNote], Dict[str, Any]]:
    """Read annotated notes for evaluation.

    fmt (str): "physionet" (a folder with id.text and id-phi.phrase), "i2b2-2014" (a folder
        of XML files or one file) or "docbin" (a .spacy file whose docs carry a "phi" group).
    path (Union[str, Path]): The input.
    patients (Optional[str]): PhysioNet only: "heldout" (default), "train" or "all".
    limit (int): Keep the first ``limit`` notes (0 = all).
    RETURNS (Tuple[List[GoldNote], Dict[str, Any]]): The notes, and what was read (format,
        note and patient counts, the chosen patient set and ids).
    """
    if fmt not in FORMATS:
        raise ValueError(Errors.E772.format(value=fmt, options=", ".join(FORMATS)))
    if patients is not None and fmt != "physionet":
        raise ValueError(
            Errors.E773.format(
                value=patients, problem=f"does not apply to format '{fmt}'", options=", ".join(PATIENT_SETS)
            )
        )
    path = Path(path)
    report = ConversionReport(fmt)
    info: Dict[str, Any] = {"format": fmt, "input": str(path)}
    if fmt == "physionet":
        text_path, phrase_path = resolve_physionet_paths(path)
        if not (text_path.exists() and phrase_path.exists()):
            raise ValueError(Errors.E774.format(path=path, fmt=fmt, expected="a folder with id.text and id-phi.phrase"))
        all_sources = list(iter_physionet(text_path, phrase_path, report=report))
        chosen = select_patients((src.group_id for src in all_sources), patients or "heldout")
        sources = [src for src in all_sources if src.group_id in chosen]
        sources = sources[:limit] if limit else sources
        notes = [_gold_note(doc, src.doc_id, src.group_id) for src, doc in zip(sources, to_docs(sources, report))]
        scored = {note.patient_id for note in notes}
        info.update(
            patients=patients or "heldout",
            patient_ids=sorted(scored, key=_natural),
            n_patients=len(scored),
            patients_in_set=len(chosen),
            patients_in_corpus=len({src.group_id for src in all_sources}),
        )
    else:
        if fmt == "i2b2-2014":
            docs: Iterable[Doc] = read_i2b2_2014(path, report=report) if path.exists() else []
        else:
            docs = _read_docbin(path) if path.is_file() else []
        notes = []
        for i, doc in enumerate(docs):
            if PHI_KEY in doc.spans:
                source = doc.user_data.get(SOURCE_KEY) or {}
                notes.append(_gold_note(doc, str(source.get("doc_id", f"doc-{i}")), group_of(doc) or None))
            if limit and len(notes) >= limit:
                break
        info.update(patients="all", n_patients=len({note.patient_id for note in notes}))
    if not notes:
        raise ValueError(Errors.E774.format(path=path, fmt=fmt, expected=_why_empty(fmt, path, info, report)))
    info["notes"] = len(notes)
    info["gold_spans"] = sum(len(note.spans) for note in notes)
    lost = {kind: dict(sorted(report.events[kind].items())) for kind in ("unplaceable", "skipped")}
    if any(lost.values()):
        # gold the readers could not place is not scored: say so, with where (never text)
        info["gold_not_read"] = {
            **{kind: counts for kind, counts in lost.items() if counts},
            "examples": {k: v[:5] for k, v in sorted(report.examples.items()) if k.split(":")[0] in lost},
        }
    return notes, info


def _why_empty(fmt: str, path: Path, info: Dict[str, Any], report: ConversionReport) -> str:
    """Why no annotated note was read, and what to do (for E774)."""
    if not path.exists():
        return "the path does not exist"
    if fmt == "physionet" and info.get("patients_in_corpus") and not info.get("patients_in_set"):
        return (
            f"the '{info['patients']}' patient set of its {info['patients_in_corpus']} patient(s) is empty "
            "(too few patients to hold a third out); pass --patients all"
        )
    problems = [f"{reason} x{n}" for kind in ("skipped", "unplaceable") for reason, n in report.events[kind].items()]
    files = sorted({ex["file"] for k, v in report.examples.items() for ex in v if "file" in ex})
    if problems:
        return f"no annotated note was read ({', '.join(problems)}; see {', '.join(files[:3]) or 'the input'})"
    return "no annotated note was read"


def _read_docbin(path: Path) -> Iterable[Doc]:
    try:
        return DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)
    except Exception as err:  # srsly/msgpack raise many kinds on a file that is not a DocBin
        raise ValueError(
            Errors.E774.format(path=path, fmt="docbin", expected=f"not a spaCy DocBin ({type(err).__name__})")
        ) from None


def _gold_note(doc: Doc, note_id: str, patient_id: Optional[str]) -> GoldNote:
    spans = [(s.start_char, s.end_char, s.label_) for s in doc.spans[PHI_KEY]]
    return GoldNote(note_id=note_id, text=doc.text, spans=spans, patient_id=patient_id)


def _natural(value: str) -> Tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def run_engine(
    notes: Sequence[GoldNote],
    *,
    model: Optional[str],
    mode: str,
    detector: Optional[DetectorOptions] = None,
    generator: Optional[Any] = None,
    batch_size: int = 32,
    n_process: int = 1,
    threads: Optional[int] = None,
    propagate: str = "run",
    int8: Optional[bool] = None,
) -> Tuple[List[DeidResult], float]:
    """De-identify the notes with ``deid.engine`` and time it.

    notes (Sequence[GoldNote]): The notes.
    model (Optional[str]): Pipeline path or package; None or "rules" for the rules alone.
    mode (str): One of ``deid.types.MODES``.
    detector (Optional[DetectorOptions]): How PHI is found (None: the defaults, and the
        pipeline's own outside weight, profile and dictionary gate).
    generator (Optional[Any]): Keyed surrogate generator (surrogate mode).
    batch_size (int): Docs per batch.
    n_process (int): Processes.
    threads (Optional[int]): Torch threads.
    propagate (str): "run", "patient", "note" or "none" (``Deidentifier``).
    int8 (Optional[bool]): Quantize the encoder to int8 at load; None: as the pipeline's runtime
        check allows (``load_deid_pipeline``).
    RETURNS (Tuple[List[DeidResult], float]): One result per note, in order, and the
        seconds the engine ran (neither loading the pipeline nor a warm-up run over the first
        batch is timed).
    """
    from ..deid.engine import Deidentifier, load_deid_pipeline

    nlp = load_deid_pipeline(model, detector if detector is not None else DetectorOptions(), threads=threads, int8=int8)
    deidentifier = Deidentifier(
        nlp, mode=mode, generator=generator, batch_size=batch_size, n_process=n_process, propagate=propagate
    )
    records = [note.to_record() for note in notes]
    # warm-up on the first batch (lazy initialisation is loading, not throughput), not timed
    for _ in deidentifier.run(records[:batch_size]):
        pass
    start = time.perf_counter()
    results = list(deidentifier.run(records))
    seconds = time.perf_counter() - start
    if len(results) != len(notes) or any(r.record.note_id != n.note_id for r, n in zip(results, notes)):
        raise ValueError(Errors.E778.format(n_results=len(results), n_notes=len(notes)))
    return results, seconds


def score_results(
    notes: Sequence[GoldNote],
    results: Sequence[DeidResult],
    *,
    seconds: Optional[float] = None,
    tokenizer: Optional[Language] = None,
) -> Dict[str, Any]:
    """The figures of an engine run, with its speed.

    notes (Sequence[GoldNote]): The gold notes.
    results (Sequence[DeidResult]): The engine's results, one per note, in order.
    seconds (Optional[float]): How long the engine ran; gives notes_per_s and words_per_s.
    tokenizer (Optional[Language]): Defines the tokens (default: blank English).
    RETURNS (Dict[str, Any]): See :meth:`DeidScorer.scores`, plus the speed.
    """
    scorer = DeidScorer(tokenizer if tokenizer is not None else spacy.blank("en"))
    for note, result in zip(notes, results):
        scorer.add_result(note, result)
    return _with_speed(scorer.scores(), seconds)


def _with_speed(scores: Dict[str, Any], seconds: Optional[float]) -> Dict[str, Any]:
    scores["seconds"] = seconds
    scores["notes_per_s"] = scores["notes"] / seconds if seconds else None
    scores["words_per_s"] = scores["words"] / seconds if seconds else None
    return scores


def score_spans(
    notes: Sequence[GoldNote],
    spans: Sequence[Iterable[Range]],
    *,
    seconds: Optional[float] = None,
    tokenizer: Optional[Language] = None,
) -> Dict[str, Any]:
    """The figures of another tool's unlabelled detections, one list of character ranges per
    note, scored as redacted (deid.pl's output, Philter's, Presidio's).

    seconds (Optional[float]): The seconds the tool took (None: speed unknown).
    """
    scorer = DeidScorer(tokenizer if tokenizer is not None else spacy.blank("en"))
    for note, found in zip(notes, spans, strict=True):
        scorer.add_spans(note, found)
    return _with_speed(scorer.scores(), seconds)


def score_deid_pl(
    notes: Sequence[GoldNote],
    detections: Dict[Tuple[str, str], List[Range]],
    *,
    path: str = "",
    tokenizer: Optional[Language] = None,
) -> Dict[str, Any]:
    """The figures of deid.pl's output (see ``converters.physionet.read_deid_pl_output``) on
    PhysioNet notes ("PID-NOTE" ids), its detections scored as redacted. deid.pl names no
    categories, so entity-level figures are None; its speed is unknown (None).
    """
    keys = [tuple(note.note_id.split("-", 1)) for note in notes]
    missing = [note.note_id for note, key in zip(notes, keys) if key not in detections]
    if missing:
        raise ValueError(Errors.E775.format(path=path, n=len(missing), total=len(notes), first=missing[0]))
    return score_spans(notes, [detections[key] for key in keys], tokenizer=tokenizer)


def deid_eval(
    fmt: str,
    input_path: Union[str, Path],
    *,
    model: Optional[str] = "en_clintiny_sm",
    mode: str = "redact",
    patients: Optional[str] = None,
    limit: int = 0,
    baseline_deid_pl: Optional[Union[str, Path]] = None,
    detector: Optional[DetectorOptions] = None,
    key_file: Optional[Union[str, Path]] = None,
    custom: Optional[str] = None,
    batch_size: int = 32,
    n_process: int = 1,
    threads: Optional[int] = None,
    propagate: str = "run",
    int8: Optional[bool] = None,
) -> Dict[str, Any]:
    """Score the de-identification engine (and deid.pl's output) on annotated notes.

    fmt (str): "physionet", "i2b2-2014" or "docbin".
    input_path (Union[str, Path]): The annotated notes (see :func:`read_gold_notes`).
    model (Optional[str]): Pipeline folder or package; "rules" or None for the rules alone.
    mode (str): One of ``deid.types.MODES``.
    patients (Optional[str]): PhysioNet: "heldout" (default), "train" or "all".
    limit (int): Score the first ``limit`` notes only (0 = all).
    baseline_deid_pl (Optional[Union[str, Path]]): deid.pl's ``id.phi`` on the same PhysioNet
        notes, scored as redacted in ``baselines["deid.pl"]``.
    detector (Optional[DetectorOptions]): How PHI is found (None: the defaults and the
        pipeline's own settings).
    key_file (Optional[Union[str, Path]]): Surrogate key file (else $CLINTINY_DEID_KEY, else
        a fixed evaluation key, so the figures repeat).
    custom (Optional[str]): Custom mode's replacement function, "module:function" or
        "file.py:function" (``deid.custom``).
    batch_size (int): Docs per batch.
    n_process (int): Processes.
    threads (Optional[int]): Torch threads.
    propagate (str): "run", "patient", "note" or "none" (``Deidentifier``).
    int8 (Optional[bool]): Quantize the encoder to int8 at load; None: as the pipeline's runtime
        check allows. The figures record what ran (``int8``: true or false).
    RETURNS (Dict[str, Any]): What was scored, the engine's figures (token_recall,
        token_precision, token_f1, leak_rate, notes_per_s, words_per_s, entity figures,
        per_category...) and ``baselines``.
    """
    from ..deid.engine import resolve_int8

    if mode not in MODES:
        raise ValueError(Errors.E777.format(value=mode, options=", ".join(MODES)))
    if baseline_deid_pl is not None and fmt != "physionet":
        raise ValueError(
            Errors.E776.format(
                options="--baseline-deid-pl and FORMAT " + fmt, reason="deid.pl's output names PhysioNet notes"
            )
        )
    detector = detector if detector is not None else DetectorOptions()
    notes, info = read_gold_notes(fmt, input_path, patients=patients, limit=limit)
    detections = read_deid_pl_output(baseline_deid_pl) if baseline_deid_pl is not None else None
    from ..deid.operators import mode_operator

    key = None
    if mode in KEYED_MODES:
        from ..deid.lists import read_surrogate_key

        key = read_surrogate_key(key_file)
        info["surrogate_key"] = "given" if key is not None else "fixed evaluation key"
        key = key if key is not None else EVAL_KEY
    generator = mode_operator(mode, key, custom)
    tokenizer = spacy.blank("en")
    results, seconds = run_engine(
        notes,
        model=model,
        mode=mode,
        detector=detector,
        generator=generator,
        batch_size=batch_size,
        n_process=n_process,
        threads=threads,
        propagate=propagate,
        int8=int8,
    )
    out: Dict[str, Any] = {
        **info,
        "model": model or "rules",
        "int8": resolve_int8(model, int8),
        "mode": mode,
        **detector.report(),
        "propagate": propagate,
    }
    out.update(score_results(notes, results, seconds=seconds, tokenizer=tokenizer))
    out["baselines"] = {}
    if detections is not None:
        out["baselines"]["deid.pl"] = score_deid_pl(notes, detections, path=str(baseline_deid_pl), tokenizer=tokenizer)
    return out


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _rate(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


TOKEN_COLUMNS = ("token R", "token P", "token F1", "leak")


def _token_cells(scores: Dict[str, Any]) -> Tuple[str, ...]:
    """The ``TOKEN_COLUMNS`` cells of one system's scores."""
    return tuple(_fmt(scores[key]) for key in ("token_recall", "token_precision", "token_f1", "leak_rate"))


def print_systems(results: Dict[str, Dict[str, Any]], *, categories: bool = False) -> None:
    """Print one row of token figures per system (``bench/deid_eval.py``, ``bench/deid_baselines.py``).

    results (Dict[str, Dict[str, Any]]): System name -> its scores (``DeidScorer.scores``).
    categories (bool): Add each gold category's token recall as a column.
    """
    labels = list(dict.fromkeys(label for s in results.values() for label in s["per_category"])) if categories else []
    rows = [
        (
            name,
            *_token_cells(s),
            "-" if s["notes_per_s"] is None else f"{s['notes_per_s']:,.1f}",
            str(s["failed_notes"]),
            *(_fmt(s["per_category"].get(label, {}).get("token_recall"), 2) for label in labels),
        )
        for name, s in results.items()
    ]
    header = ("system", *TOKEN_COLUMNS, "notes/s", "failed", *(f"R {label}" for label in labels))
    msg.table(rows, header=header, divider=True)


def print_report(result: Dict[str, Any]) -> None:
    """Print the overall and per-category tables (figures and ids only, never text)."""
    systems = [(f"{result['model']} ({result['mode']})", result)]
    systems += [(name, scores) for name, scores in result.get("baselines", {}).items()]
    rows = [
        (
            name,
            *_token_cells(s),
            _fmt(s["strict_f"]),
            _fmt(s["overlap_f"]),
            _rate(s["notes_per_s"]),
            _rate(s["words_per_s"]),
            str(s["failed_notes"]),
        )
        for name, s in systems
    ]
    msg.table(
        rows,
        header=("system", *TOKEN_COLUMNS, "strict F", "overlap F", "notes/s", "words/s", "failed"),
        divider=True,
    )
    rows = []
    for label, entry in result["per_category"].items():
        row = [
            label,
            str(entry["gold_spans"]),
            _fmt(entry["recall"]),
            _fmt(entry["token_recall"]),
            _fmt(entry["leak_rate"]),
            _fmt(entry["strict_p"]),
            _fmt(entry["strict_r"]),
            _fmt(entry["strict_f"]),
            _fmt(entry["overlap_p"]),
            _fmt(entry["overlap_r"]),
            _fmt(entry["overlap_f"]),
        ]
        for _, scores in systems[1:]:
            row.append(_fmt(scores["per_category"].get(label, {}).get("recall")))
        rows.append(tuple(row))
    header = [
        "category",
        "gold",
        "recall",
        "token R",
        "leak",
        "strict P",
        "strict R",
        "strict F",
        "overlap P",
        "overlap R",
        "overlap F",
    ] + [f"{name} recall" for name, _ in systems[1:]]
    msg.table(rows, header=tuple(header), divider=True)


@app.command("deid-eval")
def deid_eval_cli(
    fmt: str = typer.Argument(..., metavar="FORMAT", help="physionet, i2b2-2014 or docbin"),
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help="PhysioNet folder (id.text, id-phi.phrase), i2b2 2014 XML folder, or .spacy file with a 'phi' span group",
    ),
    model: str = opts.MODEL,
    mode: str = opts.MODE,
    custom: Optional[str] = opts.CUSTOM,
    patients: Optional[str] = typer.Option(
        None,
        "--patients",
        help="physionet only: heldout (default: the patients the workflow never trains on), train or all",
    ),
    limit: int = typer.Option(0, "--limit", min=0, help="Score the first N notes only (0 = all)"),
    baseline_deid_pl: Optional[Path] = typer.Option(
        None,
        "--baseline-deid-pl",
        help="deid.pl's id.phi output: score it on the same notes",
        exists=True,
        dir_okay=False,
    ),
    threshold: float = opts.THRESHOLD,
    outside_weight: Optional[float] = opts.OUTSIDE_WEIGHT,
    dictionary_gate: Optional[float] = opts.DICTIONARY_GATE,
    check_dates: Optional[bool] = opts.CHECK_DATES,
    rules: bool = opts.RULES,
    propagate: str = opts.PROPAGATE,
    rules_only: bool = typer.Option(False, "--rules-only", help="The rule patterns alone (same as --model rules)"),
    key_file: Optional[Path] = typer.Option(
        None, "--key-file", help="Surrogate key file (else $CLINTINY_DEID_KEY, else a fixed evaluation key)"
    ),
    batch_size: int = opts.BATCH_SIZE,
    n_process: Optional[int] = opts.N_PROCESS,
    threads: Optional[int] = opts.THREADS,
    int8: Optional[bool] = opts.INT8,
    profile: Optional[str] = opts.PROFILE,
    allow_list: Optional[Path] = opts.ALLOW_LIST,
    deny_list: Optional[Path] = opts.DENY_LIST,
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="Also write the JSON object to this file"),
) -> None:
    """Score de-identification on annotated notes: token recall / precision / F1, entity
    strict and overlap figures per category, leak rate and speed. The last stdout line is one
    JSON object with every figure."""
    import json

    from ..fileio import write_json_atomic

    try:
        if not rules and (rules_only or model == "rules"):
            raise ValueError(
                Errors.E776.format(
                    options="--no-rules and --rules-only (or --model rules)", reason="nothing would detect PHI"
                )
            )
        result = deid_eval(
            fmt,
            input_path,
            model="rules" if rules_only else model,
            mode=mode,
            patients=patients,
            limit=limit,
            baseline_deid_pl=baseline_deid_pl,
            detector=opts.detector_options(
                rules=rules,
                threshold=threshold,
                profile=profile,
                outside_weight=outside_weight,
                dictionary_gate=dictionary_gate,
                check_dates=check_dates,
                allow_list=allow_list,
                deny_list=deny_list,
            ),
            key_file=key_file,
            custom=custom,
            batch_size=batch_size,
            n_process=opts.n_processes(n_process),
            threads=threads,
            propagate=propagate,
            int8=int8,
        )
    except (ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    if fmt == "physionet":
        msg.info(
            f"{result['notes']} notes of {result['n_patients']} PhysioNet patients ({result['patients']}: "
            f"{result['patients_in_set']} of {result['patients_in_corpus']} patients; held out = dev_groups(ids, "
            f"dev_fraction={HELDOUT_FRACTION}, seed={HELDOUT_SEED})): {', '.join(result['patient_ids'])}"
        )
    else:
        msg.info(f"{result['notes']} notes ({fmt}, {result['gold_spans']} gold PHI spans)")
    lost = result.get("gold_not_read")
    if lost:
        kinds = ("unplaceable", "skipped")
        counts = ", ".join(f"{reason} x{n}" for kind in kinds for reason, n in lost.get(kind, {}).items())
        msg.warn(f"Gold PHI the reader could not place is not scored: {counts} (where: 'gold_not_read' in the JSON)")
    if result["failed_notes"]:
        msg.warn(f"{result['failed_notes']} note(s) failed: scored as nothing detected and every PHI token leaked")
    print_report(result)
    if json_out is not None:
        write_json_atomic(json_out, result)
    print(json.dumps(result, sort_keys=False))
    if result["failed_notes"]:
        sys.exit(1)  # figures printed, but a note the tool could not process is a failed run, as in `clintiny deid`
