"""The de-identification engine: a PHI-only pipeline and a streaming :class:`Deidentifier`.

``load_deid_pipeline`` loads a clintiny pipeline with only what PHI needs (the PHI head, the
encoder it listens to) and adds the ``clintiny_deid`` detector (model spans united with
rules and lists). ``Deidentifier.run`` streams :class:`NoteRecord` objects through it with
``nlp.pipe`` and applies the chosen operator (``deid.operators``) to each note.

Notes of any length are covered: a note longer than ``chunk_chars`` is split at line breaks
(else at whitespace, else hard) into chunks that are processed as separate docs, and their
mentions are shifted back to note offsets, so no text is skipped and spaCy's
``nlp.max_length`` is never reached. With ``propagate = "run"`` (the default) or "patient" the
words of the NAME and LOCATION mentions found in a patient's notes are then looked up in all of
them (``deid/propagate.py``): the notes of one patient that follow each other in the input are
held until the next patient's first note arrives (at most ``MAX_HELD_NOTES``), then written in
order; with "run" the places and staff names found are also looked up in every later patient's notes.
A note that fails (a text that is not a string, a component or operator error) gives a
:class:`DeidResult` with ``error`` set and the run goes on; the error names the note and the
exception type, never its text.
"""

import contextlib
import dataclasses
import os
import re
import sys
from collections import ChainMap, deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ..architectures._ops import head_precision
from ..converters.labels import PHI_KEY
from ..errors import Errors
from ..heap import keep_freed_memory
from .merge import merge_mentions
from .propagate import SCOPES, propagation_words, remember, run_words, with_propagated
from .types import KEYED_MODES, MODES, DeidResult, DetectorOptions, NoteRecord, PhiMention

DEID_FACTORY = "clintiny_deid"
RULES_ONLY = "rules"
# Components that produce the encoder output a PHI head listens to.
ENCODER_FACTORIES = ("clintiny_encoder", "transformer", "curated_transformer", "tok2vec")
DEFAULT_CHUNK_CHARS = 100_000
SENTENCE_SEARCH = 20_000  # how far back from a chunk's end a sentence end is looked for
_SENTENCE_END = re.compile(r"(?<=\w{4}[.!?])\s")
# longest run of one patient's notes held back for propagation before they are written
MAX_HELD_NOTES = 1000
# Most processes ``--n-process``'s default starts (each holds a copy of the pipeline).
MAX_AUTO_PROCESSES = 4


def load_deid_pipeline(
    model: Optional[str],
    options: Optional[DetectorOptions] = None,
    *,
    threads: Optional[int] = None,
    int8: Optional[bool] = None,
    **settings: Any,
) -> Language:
    """Load a pipeline that runs only PHI detection.

    model (Optional[str]): A pipeline folder or installed package name ("en_clintiny_sm");
        None or "rules" for the rules alone (``spacy.blank("en")``). Only the PHI head (a
        component with ``spans_key = "phi"``), the encoder it listens to and an existing
        ``clintiny_deid`` are loaded: the other heads and medspaCy rules are excluded.
    options (Optional[DetectorOptions]): How PHI is found (rules, threshold, lists, profile,
        outside weight, dictionary gate); None: ``DetectorOptions.make(**settings)``.
    threads (Optional[int]): Torch threads for this process (None leaves torch's default).
    int8 (Optional[bool]): Quantize the encoder to int8 in memory at load (ONNX Runtime dynamic
        int8, as ``clintiny optimize --int8``; the pipeline folder is not changed). None (the
        default): when the pipeline's own runtime check (``clintiny optimize --choose``, recorded
        in its meta.json) found int8 within its bound on every PHI figure (:func:`resolve_int8`).
    **settings: The fields of :class:`DetectorOptions` (``rules=False``, ``dictionary_gate=0.1``...),
        when ``options`` is not given.
    RETURNS (Language): The pipeline, ``clintiny_deid`` last; its PHI is in
        ``doc.spans["phi"]``.
    """
    if options is None:
        options = DetectorOptions.make(**settings)
    elif settings:
        raise TypeError(f"load_deid_pipeline: give options or settings ({', '.join(settings)}), not both")
    head_precision()  # E921 for a bad $CLINTINY_HEAD_PRECISION now, not for every note's batch
    go_offline()
    keep_freed_memory()  # large per-batch arrays reuse freed memory (heap.py)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # n_process > 1 forks after the tokenizer ran
    from ..components import deid as _registers_clintiny_deid  # noqa: F401

    if threads is not None:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    # the engine propagates and replaces itself (``Deidentifier``): the component only finds
    deid_config: Dict[str, Any] = {
        "rules": options.rules,
        "threshold": options.threshold,
        "propagate": False,
        "mode": "annotate",
        "custom": None,
    }
    if options.allow_list is not None:
        deid_config["allow_list"] = list(options.allow_list)
    if options.deny_list is not None:
        deid_config["deny_list"] = options.deny_dict()
    if options.profile is not None:
        deid_config["profile"] = options.profile
    if options.dictionary_gate is not None:
        deid_config["dictionary_gate"] = options.dictionary_gate
    if options.check_dates is not None:
        deid_config["check_dates"] = options.check_dates
    if model is None or model == RULES_ONLY:
        if int8:  # asked for; None means "if the pipeline allows", and rules have no encoder
            raise ValueError(Errors.E896.format(model=RULES_ONLY, found="no encoder"))
        if options.outside_weight is not None:
            raise ValueError(Errors.E763.format(model=RULES_ONLY))
        if not options.rules and not options.deny_list:
            raise ValueError(Errors.E741.format(model=RULES_ONLY, key=PHI_KEY, names="none"))
        nlp = spacy.blank("en")
        nlp.add_pipe(DEID_FACTORY, config=deid_config)
        return nlp
    path = _pipeline_path(model)
    keep = phi_components(spacy.util.load_config(path / "config.cfg", interpolate=False))
    names = list(keep["all"])
    if not keep["heads"] and not options.rules and not options.deny_list:
        raise ValueError(Errors.E741.format(model=model, key=PHI_KEY, names=", ".join(names) or "none"))
    exclude = [name for name in names if name not in keep["keep"]]
    nlp = spacy.load(path, exclude=exclude)
    if resolve_int8(model, int8):
        quantize_encoders(nlp, str(model))
    if options.outside_weight is not None:
        if not keep["heads"]:
            raise ValueError(Errors.E763.format(model=model))
        for name in keep["heads"]:
            nlp.get_pipe(name).cfg["outside_weight"] = float(options.outside_weight)
            _sync_config(nlp, name, {"outside_weight": float(options.outside_weight)})
    existing = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == DEID_FACTORY]
    if not existing:
        nlp.add_pipe(DEID_FACTORY, config=deid_config)
    else:
        # The saved component keeps what it was given (its deny list, categories, profile, gate):
        # options change only what they name, and a deny list given now is added to the saved one.
        pipe = nlp.get_pipe(existing[-1])
        pipe.cfg.update({k: deid_config[k] for k in ("rules", "threshold", "propagate", "mode", "custom")})
        if options.dictionary_gate is not None:
            pipe.cfg["dictionary_gate"] = options.dictionary_gate
        if options.check_dates is not None:
            pipe.cfg["check_dates"] = options.check_dates
        settings = pipe.detector.to_dict()
        if options.profile is not None:
            settings["profile"] = options.profile
        if options.allow_list is not None:
            settings["allow_list"] = list(options.allow_list)
        if options.deny_list is not None:
            deny = {label: list(terms) for label, terms in settings["deny_list"].items()}
            for label, terms in options.deny_dict().items():
                deny[label] = list(dict.fromkeys(deny.get(label, []) + list(terms)))
            settings["deny_list"] = deny
        pipe.detector.from_dict(settings)
        _sync_config(nlp, existing[-1], {**pipe.cfg, **pipe.detector.to_dict()})
    return nlp


def _sync_config(nlp: Language, name: str, settings: Dict[str, Any]) -> None:
    """Write the settings a loaded component was changed to into ``nlp.config`` too, so a
    pipeline saved afterwards loads with them and without warning W105 (its config.cfg kept
    the old values while the component's own files held the new ones)."""
    block = nlp.get_pipe_config(name)
    for key, value in settings.items():
        if key in block:
            block[key] = value


def resolve_int8(model: Optional[str], int8: Optional[bool]) -> bool:
    """Whether :func:`load_deid_pipeline` runs the encoder in int8: ``int8`` when given; by
    default (None) when the pipeline's meta.json records that its runtime check found ONNX int8
    within the bound on every PHI figure (``optimize.choose.record_runtime``: the check the
    ``optimize`` step runs on the dev sets and the training patients' real notes), so a package
    that another task kept at fp32 still de-identifies at int8 speed. Never for the rules alone.

    model (Optional[str]): A pipeline folder, an installed package, or None / "rules".
    int8 (Optional[bool]): True or False to decide; None to follow the pipeline's record.
    RETURNS (bool): Whether to quantize.
    """
    if int8 is not None:
        return bool(int8)
    if model is None or model == RULES_ONLY:
        return False
    from ..optimize.choose import phi_runtime_allows_int8

    meta_path = _pipeline_path(model) / "meta.json"
    return meta_path.is_file() and phi_runtime_allows_int8(spacy.util.load_meta(meta_path))


def resolve_n_process(n_process: Optional[int]) -> int:
    """The processes ``clintiny deid`` and ``deid-eval`` run: ``n_process`` when given; by
    default (None) one per core this process may use, at most ``MAX_AUTO_PROCESSES`` (each
    worker holds the pipeline, about 1.2 GB for ``en_clintiny_sm``). On 2 cores, 2,430 PhysioNet
    notes: 69-72 notes/s with two processes against 48-58 with one, and 293-310 against 235 for
    the rules alone (docs/speed.md).

    n_process (Optional[int]): The number asked for, or None.
    RETURNS (int): At least 1.
    """
    if n_process is not None:
        return n_process
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_PROCESSES))


def quantize_encoders(nlp: Language, model: str) -> List[str]:
    """Switch every ``Encoder.v2`` encoder of ``nlp`` to int8 in memory.

    nlp (Language): A loaded pipeline.
    model (str): Its name or path, for the error.
    RETURNS (List[str]): The encoder components quantized now (already int8 ones are left).
    """
    from ..optimize.shim import InferenceShim

    encoders = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in ENCODER_FACTORIES]
    shims = {name: [shim for node in nlp.get_pipe(name).model.walk() for shim in node.shims] for name in encoders}
    others = [
        f"'{name}' on {', '.join(type(shim).__name__ for shim in found) or 'no shim'}"
        for name, found in shims.items()
        if not any(isinstance(shim, InferenceShim) for shim in found)
    ]
    if not encoders or others:
        raise ValueError(Errors.E896.format(model=model, found=", ".join(others) or "no encoder"))
    changed = []
    for name, found in shims.items():
        if any([shim.quantize_int8() for shim in found if isinstance(shim, InferenceShim)]):
            changed.append(name)
    return changed


def go_offline() -> None:
    """No model hub at run time: set HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, and the flags that
    huggingface_hub and transformers already read from them if they were imported before (importing
    spacy_clintiny imports them)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None and hasattr(hub_constants, "HF_HUB_OFFLINE"):
        hub_constants.HF_HUB_OFFLINE = True
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None and hasattr(transformers_hub, "_is_offline_mode"):
        transformers_hub._is_offline_mode = True


def phi_components(config: Dict[str, Any], *, key: str = PHI_KEY) -> Dict[str, List[str]]:
    """Decide from a pipeline config which components PHI detection needs.

    config (Dict[str, Any]): The pipeline's ``config.cfg`` (not interpolated).
    key (str): The PHI span group.
    RETURNS (Dict[str, List[str]]): "all" (every component), "heads" (those writing
        ``doc.spans[key]``), "keep" (the heads, the encoders they listen to and any
        ``clintiny_deid``).
    """
    components = config.get("components", {})
    names = list(config.get("nlp", {}).get("pipeline", components.keys()))
    factories = {name: components.get(name, {}).get("factory", "") for name in names}
    heads = [n for n in names if factories[n] != DEID_FACTORY and components.get(n, {}).get("spans_key") == key]
    upstreams: Set[str] = set()
    for name in heads:
        upstreams.update(_listener_upstreams(components.get(name, {})))
    encoders = [n for n in names if factories[n] in ENCODER_FACTORIES and ("*" in upstreams or n in upstreams)]
    keep = [n for n in names if n in heads or n in encoders or factories[n] == DEID_FACTORY]
    return {"all": names, "heads": heads, "keep": keep}


def _listener_upstreams(section: Any) -> Set[str]:
    """Every ``upstream`` named by a listener anywhere inside a component's config."""
    found: Set[str] = set()
    if isinstance(section, dict):
        for name, value in section.items():
            if name == "upstream" and isinstance(value, str):
                found.add(value)
            else:
                found.update(_listener_upstreams(value))
    return found


def _pipeline_path(model: str) -> Path:
    """The folder holding a pipeline's config.cfg, from a path or an installed package."""
    path = Path(model)
    if path.exists():
        if not (path / "config.cfg").exists():
            raise ValueError(Errors.E740.format(model=model))
        return path
    if spacy.util.is_package(model):
        package_path = spacy.util.get_package_path(model)
        for child in sorted(package_path.iterdir()):
            if (child / "config.cfg").exists():
                return child
    raise ValueError(Errors.E740.format(model=model))


class Deidentifier:
    """Stream notes through a PHI pipeline and replace their PHI.

    nlp (Language): A pipeline writing the merged PHI to ``doc.spans["phi"]`` (see
        ``load_deid_pipeline``). Its error handler is set so that a component failing on a
        batch drops those docs instead of stopping the run; their notes come back failed.
    mode (str): "redact", "mask", "annotate", "surrogate", "hash", "encrypt", "remove" or
        "custom" (``deid.operators``).
    generator (Optional[ModeOperator]): The object of "surrogate", "hash", "encrypt" or
        "custom" mode (``deid.operators.mode_operator(mode, key, custom)``); None in a keyed
        mode: one with a random key, so the output is not reproducible across runs (refused
        for "encrypt": nothing could decrypt it, and for "custom": there is no function).
    batch_size (int): Docs per ``nlp.pipe`` batch.
    n_process (int): Processes for ``nlp.pipe``.
    chunk_chars (int): Longest text given to the pipeline at once (at most nlp.max_length).
    key (str): Span group holding the merged PHI.
    propagate (str): "run" (as "patient", and the words of places and of staff names are also
        PHI in every later note of the run), "patient" (the words of NAME/LOCATION mentions are PHI
        throughout the patient's notes that follow each other in the input; notes without a
        patient id count as their own patient), "note" (within each note) or "none".
    """

    def __init__(
        self,
        nlp: Language,
        *,
        mode: str = "redact",
        generator: Optional[Any] = None,
        batch_size: int = 32,
        n_process: int = 1,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        key: str = PHI_KEY,
        propagate: str = "run",
    ) -> None:
        if mode not in MODES:
            raise ValueError(Errors.E742.format(mode=mode, modes=", ".join(MODES)))
        if propagate not in SCOPES:
            raise ValueError(Errors.E797.format(value=propagate, options=", ".join(SCOPES)))
        for name, value, most in (
            ("batch_size", batch_size, None),
            ("n_process", n_process, None),
            ("chunk_chars", chunk_chars, nlp.max_length),
        ):
            if not isinstance(value, int) or value < 1 or (most is not None and value > most):
                limit = f" of at most {most}" if most else ""
                raise ValueError(Errors.E743.format(name=name, value=value, limit=limit))
        from .operators import apply_operator, mode_operator

        if mode in KEYED_MODES and generator is None:
            generator = mode_operator(mode)  # a random key: consistent within this instance only
        apply_operator("", [], mode=mode, generator=generator)  # the mode's object is checked now, not per note
        self.nlp = nlp
        self.mode = mode
        self.generator = generator
        self.batch_size = batch_size
        self.n_process = n_process
        self.chunk_chars = chunk_chars
        self.key = key
        self.propagate = propagate

    def run(self, records: Iterable[NoteRecord]) -> Iterator[DeidResult]:
        """De-identify a stream of notes.

        records (Iterable[NoteRecord]): The notes, consumed lazily.
        YIELDS (DeidResult): One per record, in input order.
        """
        memory: Optional[Dict[str, Tuple[str, float]]] = {} if self.propagate == "run" else None
        carried: Dict[str, Tuple[str, float]] = {}
        previous: Optional[str] = None
        for group in self._patient_runs(self._detect(records)):
            patient = group[0].record.patient_id if self.propagate in ("run", "patient") else None
            # a patient's record longer than MAX_HELD_NOTES comes in several groups: the words
            # found in the earlier ones are looked up in the later ones too
            carry = carried if patient is not None and patient == previous else {}
            if self.propagate != "none":
                carried = _propagate(group, memory, carry)
            previous = patient
            for result in group:
                yield self._apply(result)

    def _detect(self, records: Iterable[NoteRecord]) -> Iterator[DeidResult]:
        """Detection only: each note's merged mentions (``text`` still None), or its failure."""
        pending: Deque[_Pending] = deque()
        chunks = self._chunks(records, pending)
        with _error_handler(self.nlp, _drop_failed_docs):  # the caller's nlp gets its handlers back
            docs = self.nlp.pipe(chunks, as_tuples=True, batch_size=self.batch_size, n_process=self.n_process)
            for doc, (index, offset) in docs:
                # Docs come back in order; a note whose docs never arrive was dropped by the error handler.
                while pending and pending[0].index < index:
                    yield self._detected(pending.popleft(), dropped=True)
                head = pending[0]
                head.mentions.extend(_shifted(self._mentions(doc), offset))
                head.n_received += 1
                if head.n_received == head.n_chunks:
                    yield self._detected(pending.popleft())
        while pending:
            yield self._detected(pending.popleft(), dropped=True)

    def _patient_runs(self, results: Iterable[DeidResult]) -> Iterator[List[DeidResult]]:
        """Group consecutive results of one patient (of one note with ``propagate = "note"``
        or for a note without a patient id), at most ``MAX_HELD_NOTES`` at a time."""
        group: List[DeidResult] = []
        for result in results:
            patient = result.record.patient_id if self.propagate in ("run", "patient") else None
            if group and (patient is None or patient != group[-1].record.patient_id or len(group) >= MAX_HELD_NOTES):
                yield group
                group = []
            group.append(result)
            if patient is None:
                yield group
                group = []
        if group:
            yield group

    def _chunks(
        self, records: Iterable[NoteRecord], pending: Deque["_Pending"]
    ) -> Iterator[Tuple[str, Tuple[int, int]]]:
        """Feed ``nlp.pipe``: register each record in ``pending`` and yield its chunks."""
        for index, record in enumerate(records):
            item = _Pending(index, record)
            pending.append(item)
            if not isinstance(record.text, str):
                item.error = Errors.E744.format(note_id=record.note_id, type=type(record.text).__name__)
                continue
            spans = split_text(record.text, self.chunk_chars)
            item.n_chunks = len(spans)
            for start, end in spans:
                yield record.text[start:end], (index, start)

    def _mentions(self, doc: Doc) -> List[PhiMention]:
        from ..components.deid import phi_mentions

        return phi_mentions(doc, self.key)

    def _detected(self, item: "_Pending", *, dropped: bool = False) -> DeidResult:
        record = item.record
        if item.error is not None:
            return DeidResult(record, None, error=item.error)
        if dropped and item.n_received < item.n_chunks:
            return DeidResult(record, None, error=Errors.E745.format(note_id=record.note_id))
        return DeidResult(record, None, mentions=merge_mentions(item.mentions))

    def _apply(self, result: DeidResult) -> DeidResult:
        """Replace the PHI of a detected note with the engine's operator."""
        record = result.record
        if result.error is not None:
            return result
        if not record.text:
            return DeidResult(record, record.text)
        mentions = result.mentions
        try:
            from .operators import apply_operator

            patient = record.patient_id if record.patient_id is not None else f"note:{record.note_id}"
            text, replacements = apply_operator(
                record.text, mentions, mode=self.mode, patient_id=patient, generator=self.generator
            )
        except Exception as err:  # noqa: BLE001 - one bad note must not stop the run
            return DeidResult(
                record,
                None,
                mentions=mentions,
                error=Errors.E746.format(note_id=record.note_id, mode=self.mode, detail=safe_detail(err)),
            )
        return DeidResult(record, text, mentions=mentions, replacements=replacements)


def _propagate(
    group: List[DeidResult],
    memory: Optional[Dict[str, Tuple[str, float]]] = None,
    carried: Optional[Dict[str, Tuple[str, float]]] = None,
) -> Dict[str, Tuple[str, float]]:
    """Add to each detected note of ``group`` the occurrences of the words of every NAME and
    LOCATION mention found in the group's notes (``deid/propagate.py``), of ``carried`` (the
    words of the same patient's earlier groups) and, given the run's ``memory``, of the places
    and staff names of earlier groups; then remember the group's.

    RETURNS (Dict[str, Tuple[str, float]]): The patient's words so far (the group's and ``carried``).
    """
    detected = [r for r in group if r.error is None and r.record.text]
    words: Dict[str, Tuple[str, float]] = {}
    for result in detected:
        propagation_words(result.record.text, result.mentions, words)
    for word, found in (carried or {}).items():
        words.setdefault(word, found)
    patient_words = dict(words)
    if memory is not None:
        shared: Dict[str, Tuple[str, float]] = {}
        for result in detected:
            run_words(result.record.text, result.mentions, shared)
        remember(shared, memory)
        words = ChainMap(words, memory)  # the group's own category first; the memory is not copied
    if words:
        for result in detected:
            result.mentions = with_propagated(result.record.text, result.mentions, words)
    return patient_words


@dataclasses.dataclass
class _Pending:
    index: int
    record: NoteRecord
    n_chunks: int = 0
    n_received: int = 0
    mentions: List[PhiMention] = dataclasses.field(default_factory=list)
    error: Optional[str] = None


@contextlib.contextmanager
def _error_handler(nlp: Language, handler: Callable) -> Iterator[None]:
    """``nlp`` with ``handler`` on every component while the block runs, its own handlers after."""
    previous = [(pipe, pipe.get_error_handler()) for _, pipe in nlp.pipeline if hasattr(pipe, "get_error_handler")]
    default = nlp.default_error_handler
    nlp.set_error_handler(handler)
    try:
        yield
    finally:
        nlp.default_error_handler = default
        for pipe, own in previous:
            pipe.set_error_handler(own)


def _drop_failed_docs(proc_name: Optional[str], proc: Any, docs: Optional[List[Doc]], err: Exception) -> None:
    """spaCy error handler: let the run go on; the engine reports the notes whose docs are missing.
    (Module level so that ``n_process > 1`` can pickle it.)"""


def _shifted(mentions: Iterable[PhiMention], offset: int) -> Iterator[PhiMention]:
    for m in mentions:
        yield dataclasses.replace(m, start=m.start + offset, end=m.end + offset) if offset else m


def safe_detail(err: BaseException) -> str:
    """What may be said about an exception without risking note text: our own coded messages
    (which never hold note text) in full, otherwise only the exception type."""
    text = str(err)
    if text.startswith("(spacy-clintiny) [E"):
        return text
    return type(err).__name__


def split_text(text: str, max_chars: int) -> List[Tuple[int, int]]:
    """Cut a text into consecutive pieces of at most ``max_chars`` characters.

    Each cut falls just after the last line break of the window, else after the last sentence
    end (".", "!" or "?" after a word of four or more characters, then whitespace: so never
    between "Dr." and a name), else after its last whitespace character, else at ``max_chars``
    (a text with no whitespace at all). The pieces cover the text exactly, in order.

    text (str): The text.
    max_chars (int): Longest piece.
    RETURNS (List[Tuple[int, int]]): (start, end) offsets of the pieces; none for "".
    """
    pieces: List[Tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + max_chars, n)
        if end < n:
            cut = text.rfind("\n", start, end) + 1
            if cut <= start:
                window = max(start, end - SENTENCE_SEARCH)
                ends = [m.end() for m in _SENTENCE_END.finditer(text, window, end)]
                cut = ends[-1] if ends else start
            if cut <= start:
                cut = next((i + 1 for i in range(end - 1, start, -1) if text[i].isspace()), end)
            end = cut
        pieces.append((start, end))
        start = end
    return pieces
