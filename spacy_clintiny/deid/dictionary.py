"""Dictionary PHI matching of the rules' recall profile (``PhiRuleDetector(profile="recall")``).

Like deid.pl, any word that is in a person-name or place list and is not a common English,
clinical or eponym word is reported, without a cue:

* **Names**: Faker's first and last names (``wordlists.NAME_LOCALES``) minus the excluded words:
  the precision profile's common words, the allow list, ``resources/deid/common_english.txt``
  (lower-case words of MTSamples notes and PubMed abstracts), ``eponyms.txt`` (Foley,
  Parkinson...) and ``recall_non_names.txt`` (Passy-Muir, Hickman, "eve" shift...). Words glued
  to punctuation ("smith.l", "rehab(jones") are looked at piece by
  piece; an initial next to a name ("J. SMITH", "John Q Public") and an unknown capitalised word
  after a first name ("MARY KONDOULI") join the name.
* **Places**: US cities of Faker's geo lists, of the time-zone database and of
  ``resources/deid/us_cities.txt`` (one spaCy
  ``PhraseMatcher``), hospital abbreviations ("MGH", "GBMC": capitals ending in GH/MC) and
  names ending in "Memorial" or "Infirmary".

Case decides what a name may look like: in a note written with capitals a lower-case word is no
name, in an all-capitals or all-lower-case note any case goes. Lookups are set membership per
token, so the profile costs little over the precision rules.
"""

import re
from functools import lru_cache
from typing import FrozenSet, Iterable, List, Set, Tuple

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .types import PhiMention
from .wordlists import _faker_names, _resource_lines

PROFILES = ("precision", "recall")
# Words never taken for names or places by the recall profile (resources/deid): generated, then hand-curated.
RECALL_LISTS = ("common_english.txt", "eponyms.txt", "recall_non_names.txt")
WORD = re.compile(r"[A-Za-z][A-Za-z']*[A-Za-z]")
INITIAL = re.compile(r"[A-Z]\.?|[a-z]\.")
HOSPITAL_ABBR = re.compile(r"[A-Z]{0,4}GH|[A-Z]{1,4}MC")
SHORT_CAPS = 3  # in a note written in mixed case, capitals this short are abbreviations (ASA, ICA, AMI)
# A name before these words is an eponym ("Graves disease", "Hickman's catheter", "Foley bag").
EPONYM_HEADS = frozenset(
    (
        "disease",
        "disease's",
        "syndrome",
        "sign",
        "signs",
        "test",
        "catheter",
        "cath",
        "valve",
        "filter",
        "drain",
        "tube",
        "tear",
        "procedure",
        "operation",
        "maneuver",
        "manoeuvre",
        "criteria",
        "score",
        "scale",
        "reflex",
        "phenomenon",
        "line",
        "bag",
        "splint",
        "stockings",
        "palsy",
        "lymphoma",
        "sarcoma",
        "tumor",
        "tumour",
        "fracture",
        "classification",
        "pump",
        "cannula",
        "boots",
        "dressing",
        "mask",
        "position",
        "solution",
    )
)
# Words that end a hospital's name ("Mercy Memorial"): the name words before them join it.
HOSPITAL_WORDS = frozenset(("memorial", "infirmary"))
UPPER_NOTE = 0.6  # share of upper-case words from which a note is "all capitals"


@lru_cache(maxsize=1)
def common_english() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): The words of ``RECALL_LISTS``, lower case."""
    return frozenset(w.lower() for name in RECALL_LISTS for w in _resource_lines(name))


@lru_cache(maxsize=1)
def us_cities() -> Tuple[str, ...]:
    """RETURNS (Tuple[str, ...]): US city names of ``us_cities.txt``, Faker's geo lists and the time-zone database."""
    import zoneinfo

    from faker.providers.geo import Provider as Geo

    cities = {row[2] for row in Geo.land_coords if row[3] == "US"} | set(_resource_lines("us_cities.txt"))
    try:
        from faker.providers.geo.en_US import Provider as GeoUS

        cities.update(row[2] for row in GeoUS.land_coords if row[3] == "US")
    except (ImportError, AttributeError):
        pass
    for zone in zoneinfo.available_timezones():
        parts = zone.split("/")
        if parts[0] == "America" and len(parts) > 1:
            cities.add(parts[-1].replace("_", " "))
    return tuple(sorted(cities))


class DictionaryPhiFinder:
    """Names and places from dictionaries (see the module docstring).

    vocab (Vocab): The pipeline's vocab (for the city ``PhraseMatcher``).
    excluded (Iterable[str]): Lower-case words never reported (common words, the allow list).
    categories (Iterable[str]): PHI categories to look for ("NAME", "LOCATION").
    """

    def __init__(self, vocab: Vocab, *, excluded: Iterable[str], categories: Iterable[str]) -> None:
        self.vocab = vocab
        self.not_hospitals: Set[str] = set(excluded)  # "GH" is growth hormone in abstracts, a hospital in notes
        self.excluded: Set[str] = self.not_hospitals | set(common_english())
        first, last = _faker_names()
        cats = set(categories)
        self.first_names: FrozenSet[str] = frozenset(first - self.excluded) if "NAME" in cats else frozenset()
        self.names: FrozenSet[str] = frozenset((first | last) - self.excluded) if "NAME" in cats else frozenset()
        self.places = "LOCATION" in cats
        self._cities = PhraseMatcher(vocab, attr="LOWER")
        if self.places:
            import spacy

            make_doc = spacy.blank("en", vocab=vocab).make_doc
            cities = [c for c in us_cities() if " " in c or c.lower() not in self.excluded]
            self._cities.add("LOCATION", [make_doc(c) for c in cities])

    def __call__(self, doc: Doc, *, capitals: bool) -> List[PhiMention]:
        """Dictionary mentions of a doc.

        doc (Doc): The tokenized note.
        capitals (bool): Whether the note's writer capitalises sentences (``patterns._writes_capitals``).
        RETURNS (List[PhiMention]): NAME and LOCATION mentions, ``source="rule:dict_name"`` /
            ``"rule:dict_city"`` / ``"rule:dict_hospital"``, possibly overlapping.
        """
        words = [t for t in doc if t.is_alpha and len(t) > 1]
        upper_note = bool(words) and sum(t.is_upper for t in words) >= UPPER_NOTE * len(words)
        cased = capitals and not upper_note
        out: List[PhiMention] = []
        if self.names:
            out.extend(self._names(doc, cased))
        if self.places:
            for _, start, end in self._cities(doc):
                if not cased or not doc[start].is_lower:
                    out.append(
                        PhiMention(
                            doc[start].idx,
                            doc[end - 1].idx + len(doc[end - 1]),
                            "LOCATION",
                            "rule:dict_city",
                            1.0,
                            "CITY",
                        )
                    )
            for token in doc:
                if token.lower_ in HOSPITAL_WORDS:
                    out.append(self._hospital_name(doc, token.i, cased))
                if (
                    HOSPITAL_ABBR.fullmatch(token.text)
                    and token.lower_ not in self.not_hospitals
                    and not (len(token) > 3 and token.lower_ in self.excluded)
                ):
                    out.append(
                        PhiMention(token.idx, token.idx + len(token), "LOCATION", "rule:dict_hospital", 1.0, "HOSPITAL")
                    )
        return out

    def _hospital_name(self, doc: Doc, i: int, cased: bool) -> PhiMention:
        """A hospital word with up to 3 name words before it (not common words; capitalised in a cased note)."""
        first = i
        while (
            first > max(0, i - 3)
            and doc[first - 1].is_alpha
            and doc[first - 1].lower_ not in self.excluded
            and not (cased and doc[first - 1].is_lower)
        ):
            first -= 1
        return PhiMention(doc[first].idx, doc[i].idx + len(doc[i]), "LOCATION", "rule:dict_hospital", 1.0, "HOSPITAL")

    def _names(self, doc: Doc, cased: bool) -> List[PhiMention]:
        out: List[PhiMention] = []
        names, first_names = self.names, self.first_names
        for token in doc:
            text = token.text
            pieces = [(0, text)] if token.is_alpha else [(m.start(), m.group(0)) for m in WORD.finditer(text)]
            for offset, word in pieces:
                lower = word.lower()
                if lower not in names or (cased and (word.islower() or word.isupper() and len(word) <= SHORT_CAPS)):
                    continue
                if token.is_alpha and _before_eponym_head(doc, token.i):
                    continue
                start = token.idx + offset
                end = start + len(word)
                if token.is_alpha:
                    start, end = self._extend(doc, token.i, start, end, cased, lower in first_names)
                out.append(PhiMention(start, end, "NAME", "rule:dict_name", 1.0, ""))
        return out

    def _extend(self, doc: Doc, i: int, start: int, end: int, cased: bool, is_first: bool) -> Tuple[int, int]:
        """Add an initial before or after the name, and an unknown capitalised word after a first name."""
        if i and INITIAL.fullmatch(doc[i - 1].text) and doc[i - 1].lower_[0] not in "ai":
            start = doc[i - 1].idx
        if i + 1 < len(doc):
            nxt = doc[i + 1]
            if INITIAL.fullmatch(nxt.text) and nxt.lower_[0] not in "ai":
                end = nxt.idx + len(nxt)
            elif (
                is_first
                and nxt.is_alpha
                and len(nxt) > 1
                and nxt.lower_ not in self.excluded
                and (not cased or nxt.is_title or nxt.is_upper)
                and nxt.is_upper == doc[i].is_upper
            ):
                end = nxt.idx + len(nxt)
        return start, end


def _before_eponym_head(doc: Doc, i: int) -> bool:
    """Whether token ``i`` is followed (after a possessive "'s") by a word of ``EPONYM_HEADS``."""
    j = i + 1
    if j < len(doc) and doc[j].lower_ in ("'s", "'", "\u2019s"):
        j += 1
    return j < len(doc) and doc[j].lower_ in EPONYM_HEADS
