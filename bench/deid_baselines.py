"""Philter and Presidio on the held-out PhysioNet patients, scored like ``clintiny deid``.

    pip install -r bench/requirements-baselines.txt
    python bench/deid_baselines.py ../shared/data/physionet-deid --cnn build/cnn-baseline/model-last \
        --out bench/results/deid_baselines.json

Users compare a de-identifier with the tools they know. This runs two of them, as their
packages ship, on the notes ``bench/deid_eval.py`` scores (the 18 held-out patients by default)
and scores what each removes with the same ``DeidScorer`` (token recall / precision / F1, leak
rate, token recall per gold category), beside deid.pl's own output:

- **Philter** (``philter-ucsf`` 1.0.3, its default ``philter_delta.json``: 313 regular
  expressions, name blacklists and a whitelist; everything not whitelisted is removed). Its name
  blacklists keep only words tagged ``NNP``, which it asks of ``nltk.pos_tag``; NLTK's tagger data
  is a download that this machine cannot reach, so the same averaged-perceptron tagger (M.
  Honnibal's, the algorithm NLTK's default tagger ports) is taken from its PyPI package
  ``textblob-aptagger``. Its Stanford NER step is off in that config, as it ships.
- **Presidio** (``presidio-analyzer``, every predefined recognizer, default threshold). Its
  person/place/organisation recognizer needs a spaCy NER model (``en_core_web_lg``), which no
  package registry serves here, so it runs with a blank English pipeline: **pattern and
  context recognizers only** (dates, phones, e-mails, URLs, IPs, SSNs, licences...). Read its
  row as "Presidio without its NER", not as Presidio's best. With ``--cnn`` it runs once more
  with the workflow's spaCy CNN baseline (``build/cnn-baseline/model-last``: spaCy's efficiency
  NER recipe trained on the same training patients and corpora as the student) as its NER, its
  PHI labels mapped to Presidio's entities: Presidio as a team would deploy it on notes, with a
  spaCy model of their own.

Figures only, never note text. notes/s counts detection alone (loading excluded), one process.
"""

import argparse
import io
import os
import pickle
import re
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager, redirect_stdout
from functools import partial
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

Range = Tuple[int, int]


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _perceptron_tagger():
    """NLTK's ``PerceptronTagger`` holding the weights textblob-aptagger ships."""
    from importlib.util import find_spec

    from nltk.tag.perceptron import PerceptronTagger

    # the package's own module imports a textblob that no longer exists: take only its data file
    path = Path(find_spec("textblob_aptagger").origin).parent / "trontagger-0.1.0.pickle"
    with path.open("rb") as file_:
        weights, tagdict, classes = pickle.load(file_, encoding="latin1")
    tagger = PerceptronTagger(load=False)
    tagger.model.weights = weights
    tagger.tagdict = tagdict
    tagger.classes = tagger.model.classes = set(classes)
    return tagger


def philter_ranges(texts: Sequence[str], workdir: Path) -> Tuple[List[List[Range]], float, float]:
    """Run Philter's default configuration on ``texts``.

    RETURNS: the character ranges Philter removes from each text, the seconds it took to load,
        and the seconds it took to detect.
    """
    import philter_ucsf
    import philter_ucsf.philter as philter_module

    tagger = _perceptron_tagger()
    philter_module.Philter.precompile = _precompile
    philter_module.nltk.pos_tag = lambda tokens, *args, **kwargs: tagger.tag(tokens)
    notes_dir = workdir / "philter_in"
    out_dir = workdir / "philter_out"
    notes_dir.mkdir()
    out_dir.mkdir()
    names = [f"note{i:05d}.txt" for i in range(len(texts))]
    for name, text in zip(names, texts):
        (notes_dir / name).write_text(text, encoding="utf-8")
    package = Path(philter_ucsf.__file__).parent
    with _cwd(package):  # its config names its filter files relative to the package
        start = time.perf_counter()
        philter = philter_module.Philter(
            {
                "verbose": False,
                "run_eval": False,
                "finpath": str(notes_dir) + "/",
                "foutpath": str(out_dir) + "/",
                "outformat": "asterisk",
                "filters": str(package / "configs" / "philter_delta.json"),
                "cachepos": None,
            }
        )
        loaded = time.perf_counter()
        with redirect_stdout(io.StringIO()):  # it prints each file's path
            philter.map_coordinates()
        ranges = []
        for name, text in zip(names, texts):
            shown = philter.transform_text_asterisk(text, os.path.join(str(notes_dir) + "/", name))
            if len(shown) != len(text):
                raise RuntimeError(f"Philter changed the length of {name}: cannot map its output to offsets")
            ranges.append(_starred(text, shown))
        done = time.perf_counter()
    return ranges, loaded - start, done - loaded


_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def _precompile(self, filepath: str) -> "re.Pattern":
    """Philter's regex loader for Python 3.11+: its patterns set global flags such as ``(?i)``
    mid-expression, which Python up to 3.10 applied to the whole pattern and 3.11 refuses; the
    flags are moved to the compile call, which means the same."""
    regex = Path(filepath).read_text().strip()
    flags = 0
    for letters in _INLINE_FLAGS.findall(regex):
        for letter in letters:
            flags |= getattr(re, letter.upper())
    with warnings.catch_warnings():  # "possible nested set": its character classes, as written
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(_INLINE_FLAGS.sub("", regex), flags)


def _starred(text: str, shown: str) -> List[Range]:
    """The runs of characters ``shown`` replaced by '*'. Philter never stars punctuation, so two
    runs with only punctuation between them inside one word ("12/03", "O'Neil") are one range:
    the slash is not a leak of the date."""
    ranges: List[Range] = []
    for match in re.finditer(r"\*+", shown):
        start, end = match.span()
        if any(text[i] != "*" for i in range(start, end)):
            if ranges and not re.search(r"[\sA-Za-z0-9]", text[ranges[-1][1] : start]):
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
    return ranges


# the spaCy CNN baseline's PHI labels as Presidio entities (its concept labels are ignored)
CNN_TO_PRESIDIO = {
    "NAME": "PERSON",
    "LOCATION": "LOCATION",
    "DATE": "DATE_TIME",
    "AGE": "AGE",
    "CONTACT": "CONTACT",
    "ID": "ID",
    "PROFESSION": "PROFESSION",
}


def presidio_ranges(
    texts: Sequence[str], workdir: Path, threshold: float = 0.0, ner: Optional[Path] = None
) -> Tuple[List[List[Range]], float, float]:
    """Run Presidio's analyzer: every predefined recognizer, and a spaCy pipeline for its NER.

    threshold (float): Its ``score_threshold`` (0, its default, keeps every result).
    ner (Optional[Path]): A spaCy pipeline whose ``ner`` writes the CNN baseline's PHI labels
        (``build/cnn-baseline/model-last``), mapped by ``CNN_TO_PRESIDIO``; None: a blank
        English pipeline (pattern recognizers only).
    RETURNS: the character ranges Presidio finds in each text, the seconds it took to load,
        and the seconds it took to detect.
    """
    import spacy
    import tldextract

    # its e-mail check asks tldextract, which would try to fetch the public suffix list
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    start = time.perf_counter()
    if ner is None:
        model = workdir / "blank_en"
        spacy.blank("en").to_disk(model)
        labels = NerModelConfiguration()
    else:
        model = ner
        ignored = sorted(set(spacy.load(ner).get_pipe("ner").labels) - set(CNN_TO_PRESIDIO))
        labels = NerModelConfiguration(
            model_to_presidio_entity_mapping=dict(CNN_TO_PRESIDIO), labels_to_ignore=ignored, low_score_entity_names=[]
        )
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model)}], ner_model_configuration=labels)
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine)
    if ner is not None:  # its NER recognizer returns only the entities it is told of
        registry.remove_recognizer("SpacyRecognizer")
        registry.add_recognizer(SpacyRecognizer(supported_entities=sorted(set(CNN_TO_PRESIDIO.values()))))
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    analyzer.analyze(text="warm-up 555-123-4567", language="en")
    loaded = time.perf_counter()
    ranges = [
        [(r.start, r.end) for r in analyzer.analyze(text=text, language="en", score_threshold=threshold)]
        for text in texts
    ]
    return ranges, loaded - start, time.perf_counter() - loaded


SYSTEMS = {
    "philter": philter_ranges,
    "presidio": presidio_ranges,
    "presidio@0.5": partial(presidio_ranges, threshold=0.5),
}  # and "presidio+cnn" with --cnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="PhysioNet deid folder (id.text, id-phi.phrase, deid-pl-output/)")
    parser.add_argument("--patients", default="heldout", choices=("heldout", "train", "all"))
    parser.add_argument(
        "--systems",
        default=None,
        help=f"comma-separated, of {', '.join(SYSTEMS)} (default: all; presidio+cnn with --cnn)",
    )
    parser.add_argument(
        "--cnn",
        type=Path,
        default=None,
        help="the workflow's spaCy CNN baseline (build/cnn-baseline/model-last): adds Presidio with it as its NER",
    )
    parser.add_argument("--limit", type=int, default=0, help="first N notes only (0 = all)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import spacy

    from spacy_clintiny.cli.deid_eval import print_systems, read_gold_notes, score_deid_pl, score_spans
    from spacy_clintiny.converters.physionet import read_deid_pl_output
    from spacy_clintiny.fileio import write_json_atomic

    notes, info = read_gold_notes("physionet", args.folder, patients=args.patients, limit=args.limit)
    tokenizer = spacy.blank("en")
    results: Dict[str, dict] = {}
    systems = dict(SYSTEMS)
    if args.cnn is not None:
        systems["presidio+cnn"] = partial(presidio_ranges, ner=args.cnn)
    for name in args.systems.split(",") if args.systems else systems:
        if name not in systems:
            parser.error(f"unknown system {name!r} (presidio+cnn needs --cnn): choose from {', '.join(systems)}")
        with tempfile.TemporaryDirectory() as tmp:
            ranges, load_s, detect_s = systems[name]([note.text for note in notes], Path(tmp))
        results[name] = dict(score_spans(notes, ranges, seconds=detect_s, tokenizer=tokenizer), load_seconds=load_s)
        print(f"{name}: done", file=sys.stderr)
    deid_pl = args.folder / "deid-pl-output" / "id.phi"
    if deid_pl.exists():
        results["deid.pl"] = score_deid_pl(notes, read_deid_pl_output(deid_pl), path=str(deid_pl), tokenizer=tokenizer)

    print_systems(results, categories=True)
    words = next(iter(results.values()))["words"]
    print(f"{info['notes']} notes of {info['n_patients']} {info['patients']} patients, {words} words", file=sys.stderr)
    if args.out:
        write_json_atomic(args.out, {"data": info, "words": words, "results": results})


if __name__ == "__main__":
    main()
