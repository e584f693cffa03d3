"""The synthetic clinical-note generator behind ``clintiny synth``.

Note ``i`` of seed ``s`` depends only on ``(s, i)``: the same seed gives the same notes on any
machine, and generating more notes appends without changing the first ones. Annotations are
exact by construction (every span is recorded as its text is written).
"""

import random
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..converters.convert import write_outputs
from ..converters.formats import to_docs
from ..converters.report import ConversionReport
from ..converters.source import SourceDoc
from ..errors import Errors
from .builder import NoteBuilder
from .clinical import ClinicalFactory
from .notes import discharge_summary, medication_list, progress_note, radiology_report, referral_letter
from .nursing import nursing_note
from .phi import PhiFactory
from .vocab import load_vocab

CORPUS = "synth"
Writer = Callable[[NoteBuilder, PhiFactory, ClinicalFactory, random.Random], None]
# style -> (note-type label in doc.cats, writer, weight in "mixed")
NOTE_TYPES: Dict[str, Tuple[str, Writer, int]] = {
    "nursing": ("NURSING_NOTE", nursing_note, 30),
    "discharge": ("DISCHARGE_SUMMARY", discharge_summary, 20),
    "progress": ("PROGRESS_NOTE", progress_note, 15),
    "radiology": ("RADIOLOGY_REPORT", radiology_report, 10),
    "medication": ("MEDICATION_LIST", medication_list, 10),
    "referral": ("REFERRAL_LETTER", referral_letter, 15),
}
STYLES = ("mixed",) + tuple(NOTE_TYPES)
NOTE_LABELS = tuple(label for label, _, _ in NOTE_TYPES.values())


class SynthGenerator:
    """Generate annotated synthetic notes.

    seed (int): Seed; note ``i`` depends only on (seed, i).
    style (str): "mixed" or one note type (nursing, discharge, progress, radiology, medication,
        referral).
    age_policy (str): "over89" (ages are PHI only over 89, HIPAA / PhysioNet) or "all" (i2b2 2014).
    """

    def __init__(self, *, seed: int = 0, style: str = "mixed", age_policy: str = "over89") -> None:
        if style not in STYLES:
            raise ValueError(Errors.E412.format(value=style, options=", ".join(STYLES)))
        self.seed = seed
        self.style = style
        vocab = load_vocab()
        self.phi = PhiFactory(vocab, age_policy=age_policy)
        self.clin = ClinicalFactory(vocab)

    def note(self, i: int) -> SourceDoc:
        """RETURNS (SourceDoc): Note number ``i``."""
        rng = random.Random(f"clintiny-synth:{self.seed}:{i}")
        if self.style == "mixed":
            kind = rng.choices(list(NOTE_TYPES), [w for _, _, w in NOTE_TYPES.values()])[0]
        else:
            kind = self.style
        label, writer, _ = NOTE_TYPES[kind]
        terse = kind == "nursing"
        case = rng.choices(("upper", "lower", "as_is"), (45, 20, 35))[0] if terse else "as_is"
        self.phi.reseed(rng, terse=terse)
        self.clin.reseed(rng, terse=terse)
        builder = NoteBuilder(case=case)
        writer(builder, self.phi, self.clin, rng)
        cats = {name: float(name == label) for name in NOTE_LABELS}
        return builder.build(doc_id=f"synth-{self.seed}-{i}", corpus=CORPUS, cats=cats)

    def generate(self, n: int, *, start: int = 0) -> Iterator[SourceDoc]:
        """YIELDS (SourceDoc): Notes ``start`` .. ``start + n - 1``."""
        if n < 0:
            raise ValueError(Errors.E413.format(value=n))
        for i in range(start, start + n):
            yield self.note(i)


def generate_docs(
    n: int,
    *,
    seed: int = 0,
    style: str = "mixed",
    age_policy: str = "over89",
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
) -> Iterator[Doc]:
    """Generate ``n`` annotated synthetic notes as Docs (PHI in "phi", concepts with assertions
    in "concepts", drug attributes in "modifiers", gold relations, note type in ``cats``).

    n (int): Number of notes.
    seed (int): Seed.
    style (str): "mixed" or a note type.
    age_policy (str): "over89" or "all".
    nlp (Optional[Language]): Tokenizer source (blank English by default).
    report (Optional[ConversionReport]): Receives the counts.
    YIELDS (Doc): The notes.
    """
    gen = SynthGenerator(seed=seed, style=style, age_policy=age_policy)
    report = report if report is not None else ConversionReport(CORPUS)
    yield from to_docs(gen.generate(n), report, nlp=nlp)


def synth_corpus(
    output_path: Union[str, Path],
    *,
    n: int = 1000,
    seed: int = 0,
    style: str = "mixed",
    age_policy: str = "over89",
    dev_fraction: float = 0.0,
    dev_output: Optional[Union[str, Path]] = None,
) -> Tuple[ConversionReport, List[Path]]:
    """Write ``n`` synthetic notes to a DocBin (and a dev DocBin when ``dev_fraction > 0``) with
    a JSON report beside it. RETURNS (Tuple[ConversionReport, List[Path]]): report, files written."""
    output = Path(output_path)
    if output.suffix != ".spacy":
        raise ValueError(Errors.E411.format(path=output, suffix=output.suffix))
    report = ConversionReport(CORPUS)
    docs = list(generate_docs(n, seed=seed, style=style, age_policy=age_policy, report=report))
    report.extra.update({"seed": seed, "style": style, "age_policy": age_policy, "n": n})
    written = write_outputs(docs, output, report, dev_fraction=dev_fraction, seed=seed, dev_output=dev_output)
    return report, written
