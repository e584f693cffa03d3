"""The generator's small vocabularies, read once from ``spacy_clintiny/synth/resources``
(packaged data files, found with ``importlib.resources``)."""

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import List, Tuple

Term = Tuple[str, str]  # (full form, abbreviation or "")


@dataclass(frozen=True)
class Drug:
    name: str
    abbreviation: str
    strengths: Tuple[str, ...]
    routes: Tuple[str, ...]
    frequencies: Tuple[str, ...]


@dataclass(frozen=True)
class Vocab:
    problems: Tuple[Term, ...]
    tests: Tuple[Term, ...]
    procedures: Tuple[Term, ...]
    drugs: Tuple[Drug, ...]
    specialties: Tuple[str, ...]
    hospitals: Tuple[str, ...]
    wards: Tuple[str, ...]
    icu_phrases: Tuple[str, ...]


def _lines(name: str) -> List[str]:
    text = resources.files("spacy_clintiny.synth").joinpath("resources", name).read_text(encoding="utf8")
    return [line.rstrip("\n") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _terms(name: str) -> Tuple[Term, ...]:
    out = []
    for line in _lines(name):
        full, _, abbr = line.partition("|")
        out.append((full.strip(), abbr.strip()))
    return tuple(out)


def _drugs() -> Tuple[Drug, ...]:
    out = []
    for line in _lines("drugs.tsv"):
        name, abbr, strengths, routes, freqs = (line.split("\t") + [""] * 5)[:5]
        out.append(Drug(name, abbr, tuple(strengths.split(";")), tuple(routes.split(";")), tuple(freqs.split(";"))))
    return tuple(out)


@lru_cache(maxsize=1)
def load_vocab() -> Vocab:
    """RETURNS (Vocab): The resource lists (cached)."""
    return Vocab(
        problems=_terms("problems.txt"),
        tests=_terms("tests.txt"),
        procedures=_terms("procedures.txt"),
        drugs=_drugs(),
        specialties=tuple(_lines("specialties.txt")),
        hospitals=tuple(_lines("hospitals.txt")),
        wards=tuple(_lines("wards.txt")),
        icu_phrases=tuple(_lines("icu_phrases.txt")),
    )
