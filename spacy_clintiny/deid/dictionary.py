"""Dictionary PHI matching of the rules' recall profile (``PhiRuleDetector(profile="recall")``).

Like deid.pl, any word that is in a person-name or place list and is not a common English,
clinical or eponym word is reported, without a cue:

* **Names**: Faker's first and last names (``wordlists.NAME_LOCALES``) and the 1990 US census
  names (``census_first_names.txt``, ``census_last_names.txt``) minus the excluded words: the
  precision profile's common words, the allow list, ``resources/deid/common_english.txt``
  (lower-case words of MTSamples notes and PubMed abstracts), ``eponyms.txt`` (Foley,
  Parkinson...) and ``recall_non_names.txt`` (Passy-Muir, Hickman, "eve" shift...). A census
  name must also pass :func:`_cueless`: no English word (``ambiguous_names.txt``: "hall",
  "straw"; those are found only after a cue), four letters or more, no language, state or
  country, no clipped common word ("gluc", "crea"). Words glued to punctuation ("smith.l",
  "rehab(jones") are looked at piece by piece, but not letters glued to digits ("PaCO2"); an
  initial next to a name ("J. SMITH", "d. smith"), an unknown word after a first name ("MARY
  ZORBETTA") or before a surname ("ZORBETTA KOWALCZYK") joins the name.
* **Places**: US cities of Faker's geo lists, of the time-zone database, of
  ``resources/deid/us_cities.txt`` and of ``us_places.txt`` (GeoNames towns of 1,000 people or
  more; one-word towns pass :func:`_cueless`, longer ones need a word that is not common),
  hospital abbreviations ("MGH", "GBMC": capitals ending in GH/MC) and names ending in
  "Memorial" or "Infirmary". A word that is both a surname and a town is a town.

Case decides what a name may look like: in a note written with capitals a lower-case word is no
name (unless an initial precedes it), in an all-capitals or all-lower-case note any case goes.
Lookups are set membership per token, so the profile costs little over the precision rules.
"""

import re
from functools import lru_cache
from typing import FrozenSet, Iterable, List, Set, Tuple

from spacy.tokens import Doc, Token
from spacy.vocab import Vocab

from .types import PhiMention
from .wordlists import _faker_names, _resource_lines, ambiguous_names, census_names

PROFILES = ("precision", "recall")
# Sources of the hits made without a cue (a list word alone); ``clintiny_deid`` gates them by the PHI head.
CUELESS_SOURCES = ("rule:dict_name", "rule:dict_city")
# Words never taken for names or places by the recall profile (resources/deid): generated, then hand-curated.
RECALL_LISTS = ("common_english.txt", "eponyms.txt", "recall_non_names.txt")
WORD = re.compile(r"[A-Za-z][A-Za-z']*[A-Za-z]")
INITIAL = re.compile(r"[A-Z]\.?|[a-z]\.")
HOSPITAL_ABBR = re.compile(r"[A-Z]{0,4}GH|[A-Z]{1,4}MC")
SHORT_CAPS = 3  # in a note written in mixed case, capitals this short are abbreviations (ASA, ICA, AMI)
# A name before these words is an eponym ("Graves disease", "Hickman's catheter", "Foley bag").
EPONYM_HEADS = frozenset(
    (
        # devices and lesions of ICU notes ("Posey vest", "Geri chair", "Cushing's triad",
        # "Barrett's esophagus"), from a review on invented sentences
        "triad",
        "esophagus",
        "vest",
        "belt",
        "chair",
        "frame",
        "button",
        "bolt",
        "pads",
        "blade",
        "lotion",
        "lesion",
        "ulcer",
        "ulcers",
        "hernia",
        "cyst",
        "contracture",
        "thyroiditis",
        "encephalopathy",
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
        "method",
        "tubes",
        "trach",
        "lift",
        "collar",
        "drains",
        "stitch",
        "sutures",
        "brace",
        "shunt",
        "sump",
        "coma",
        "murmur",
        "monitor",
        "monitoring",
        "node",
        "nodes",
        "lines",
        "respiration",
        "respirations",
        "breathing",
        "fundoplication",
        "spotted",
    )
)
# Hyphenated eponyms whose words are also names or towns ("Jackson-Pratt drain", "Guillain-Barre").
EPONYM_COMPOUNDS = frozenset(
    (
        "jackson-pratt",
        "cheyne-stokes",
        "guillain-barre",
        "guillain-barr\u00e9",
        "mallory-weiss",
        "passy-muir",
        "wolff-parkinson-white",
        "stevens-johnson",
        "creutzfeldt-jakob",
        "brown-sequard",
        "osgood-schlatter",
        "legg-calve-perthes",
        "charcot-marie-tooth",
        "zollinger-ellison",
        "budd-chiari",
        "arnold-chiari",
        "dandy-walker",
        "wernicke-korsakoff",
        "sengstaken-blakemore",
        "swan-ganz",
        "austin-flint",
        "mallory-denk",
        "kimmelstiel-wilson",
        "roux-en-y",
    )
)
# Words that end a hospital's name ("Mercy Memorial"): the name words before them join it.
HOSPITAL_WORDS = frozenset(("memorial", "infirmary"))
MIN_CENSUS_LENGTH = 4  # shorter census names and towns are mostly abbreviations ("ing", "ser", "bi")
PLACE_TOKENS = 6  # longest place name, in tokens ("Martha 's Vineyard", "St. Louis Park")
LEADING_LETTERS = re.compile(r"[a-z]+")
UPPER_NOTE = 0.6  # share of upper-case words from which a note is "all capitals"


@lru_cache(maxsize=1)
def common_english() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): The words of ``RECALL_LISTS``, lower case."""
    return frozenset(w.lower() for name in RECALL_LISTS for w in _resource_lines(name))


@lru_cache(maxsize=1)
def us_cities() -> Tuple[str, ...]:
    """RETURNS (Tuple[str, ...]): US city names of ``us_cities.txt``, ``us_places.txt`` (GeoNames towns),
    Faker's geo lists and the time-zone database."""
    import zoneinfo

    from faker.providers.geo import Provider as Geo

    cities = {row[2] for row in Geo.land_coords if row[3] == "US"}
    cities.update(_resource_lines("us_cities.txt"), _resource_lines("us_places.txt"))
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
        # states, countries and languages are no PHI: not reported without a cue, as for census names
        not_names = self.excluded | non_places() | languages()
        first, last = first - not_names, last - not_names
        not_cueless = _not_cueless(self.excluded)
        census_first, census_last = ({n for n in names if _cueless(n, not_cueless)} for names in census_names())
        cats = set(categories)
        self.first_names: FrozenSet[str] = frozenset(first | census_first) if "NAME" in cats else frozenset()
        self.names: FrozenSet[str] = (
            frozenset(first | last | census_first | census_last) if "NAME" in cats else frozenset()
        )
        self.places = "LOCATION" in cats
        # Places are looked up as whitespace-normalised lower-case text of 1 to PLACE_TOKENS tokens
        # starting at a token whose leading letters begin a place (a PhraseMatcher would need a Doc
        # per place: seconds for the ~16,000 towns).
        self._places: FrozenSet[str] = frozenset()
        self._place_starts: FrozenSet[str] = frozenset()
        if self.places:
            places = [" ".join(c.lower().split()) for c in us_cities() if _cueless_place(c, not_cueless, self.excluded)]
            self._places = frozenset(places)
            self._place_starts = frozenset(_leading_letters(p) for p in places)

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
        places = self._place_mentions(doc, cased) if self.places else []
        if self.names:
            # A word that is both a surname and a town ("Baltimore") is taken for the town.
            spans = {(m.start, m.end) for m in places}
            out.extend(m for m in self._names(doc, cased) if (m.start, m.end) not in spans)
        if self.places:
            out.extend(places)
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

    def _place_mentions(self, doc: Doc, cased: bool) -> List[PhiMention]:
        """Places of the town lists: the longest place starting at each token (capitalised in a cased note)."""
        out: List[PhiMention] = []
        text = doc.text
        for token in doc:
            if _leading_letters(token.lower_) not in self._place_starts or (cased and token.is_lower):
                continue
            for end in range(min(len(doc), token.i + PLACE_TOKENS), token.i, -1):
                last = doc[end - 1]
                if last.is_space:  # the key drops whitespace: a place never ends on a line break
                    continue
                key = " ".join(text[token.idx : last.idx + len(last)].lower().split())
                if key in self._places:
                    if is_eponym(doc, token.i, end):  # "Anderson tubes", "Boston brace", "Guillain-Barre"
                        break
                    out.append(PhiMention(token.idx, last.idx + len(last), "LOCATION", "rule:dict_city", 1.0, "CITY"))
                    break
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
            pieces = [(0, text)] if token.is_alpha else _pieces(text)
            for offset, word in pieces:
                lower = word.lower()
                if lower not in names:
                    continue
                if (
                    cased
                    and (word.islower() or word.isupper() and len(word) <= SHORT_CAPS)
                    and not _after_initial(doc, token.i)
                ):
                    continue
                if is_eponym(doc, token.i, token.i + 1):
                    continue
                start = token.idx + offset
                end = start + len(word)
                if token.is_alpha:
                    start, end = self._extend(doc, token.i, start, end, cased, lower in first_names)
                    extended = doc.char_span(start, end, alignment_mode="expand")
                    # "Rocky Mountain spotted fever"
                    if extended is not None and is_eponym(doc, extended.start, extended.end):
                        continue
                out.append(PhiMention(start, end, "NAME", "rule:dict_name", 1.0, ""))
        return out

    def _extend(self, doc: Doc, i: int, start: int, end: int, cased: bool, is_first: bool) -> Tuple[int, int]:
        """Add an initial before or after the name, an unknown word before a surname ("ZORBETTA KOWALCZYK")
        and an unknown word after a first name ("MARY ZORBETTA"), in the name's case."""
        if i and INITIAL.fullmatch(doc[i - 1].text) and doc[i - 1].lower_[0] not in "ai":
            start = doc[i - 1].idx
        elif not is_first and i and self._unknown_word(doc[i - 1], doc[i], cased):
            start = doc[i - 1].idx
        if i + 1 < len(doc):
            nxt = doc[i + 1]
            if INITIAL.fullmatch(nxt.text) and nxt.lower_[0] not in "ai":
                end = nxt.idx + len(nxt)
            elif is_first and self._unknown_word(nxt, doc[i], cased):
                end = nxt.idx + len(nxt)
        return start, end

    def _unknown_word(self, token: Token, name: Token, cased: bool) -> bool:
        """Whether ``token``, next to the dictionary name ``name``, is a word of no list written like it."""
        return (
            token.is_alpha
            and len(token) > 1
            and token.lower_ not in self.excluded
            and (not cased or token.is_title or token.is_upper)
            and token.is_upper == name.is_upper
        )


def _after_initial(doc: Doc, i: int) -> bool:
    """Whether token ``i`` follows an initial ("d. renna" in a note written with capitals)."""
    return i > 0 and bool(INITIAL.fullmatch(doc[i - 1].text)) and doc[i - 1].lower_[0] not in "ai"


def _pieces(text: str) -> List[Tuple[int, str]]:
    """The words of a token glued to punctuation ("smith.l", "rehab(jones"), with their offsets;
    a word touching a digit is a unit or lab name ("PaCO2", "75MC"), never a name."""
    return [
        (m.start(), m.group(0))
        for m in WORD.finditer(text)
        if not (m.start() and text[m.start() - 1].isdigit()) and not (m.end() < len(text) and text[m.end()].isdigit())
    ]


def _leading_letters(text: str) -> str:
    """The letters a place or token starts with ("martha" for "martha's vineyard", "st" for "st. louis")."""
    match = LEADING_LETTERS.match(text)
    return match.group(0) if match else ""


def _not_cueless(excluded: Set[str]) -> Set[str]:
    """Words never reported without a cue although in a name or place list: ``excluded``, names
    that are English words (``ambiguous_names.txt``), languages and nationalities ("Russian"),
    US states and countries (not PHI), and clipped common words ("gluc", "crea", "spiro": the
    first letters of a word of ``excluded`` at least two letters longer)."""
    clipped = {w[:k] for w in excluded if len(w) > 4 for k in range(3, len(w) - 1)}
    return excluded | ambiguous_names() | clipped | languages() | non_places()


def _cueless(word: str, not_cueless: Set[str]) -> bool:
    """Whether a census name or one-word place is reported without a cue: at least
    ``MIN_CENSUS_LENGTH`` letters (shorter ones are mostly abbreviations) and not in ``not_cueless``."""
    return len(word) >= MIN_CENSUS_LENGTH and word.lower() not in not_cueless


def _cueless_place(place: str, not_cueless: Set[str], excluded: Set[str]) -> bool:
    """One-word places as :func:`_cueless`; longer ones unless all their words are common ("High Point")."""
    words = place.lower().split()
    if len(words) == 1:
        return _cueless(place, not_cueless)
    return place.lower() not in not_cueless and not all(w in excluded for w in words)


@lru_cache(maxsize=1)
def non_places() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): US state names and countries (Faker en_US), lower case: not PHI."""
    from faker.providers.address.en_US import Provider

    return frozenset(w.lower() for w in (*Provider.states, *Provider.countries))


@lru_cache(maxsize=1)
def languages() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): Faker's language names and their words ("russian", "creole"), lower case."""
    from faker.providers.person.en_US import Provider

    return frozenset(w.lower() for name in Provider.language_names for w in name.split())


def is_eponym(doc: Doc, start: int, end: int, *, heads: bool = True) -> bool:
    """Whether the tokens ``doc[start:end]`` name an eponym rather than a person or place: they
    are followed by a word of ``EPONYM_HEADS`` ("Holter monitor", "Rocky Mountain spotted fever",
    "Boston brace") or stand in a hyphenated eponym of ``EPONYM_COMPOUNDS`` ("Jackson-Pratt").

    doc (Doc): The note.
    start (int): First token.
    end (int): Token after the last.
    heads (bool): Also look at the word after the span (the dictionary does; the PHI head's
        spans are only checked against the compounds: its context already saw that word, and a
        recall-first tool does not drop what it found on a list this broad).
    RETURNS (bool): Whether to leave the span alone.
    """
    if end <= start:
        return False
    if heads and _before_eponym_head(doc, end - 1):
        return True
    return any(_in_eponym_compound(doc, i) for i in range(start, end))


def _in_eponym_compound(doc: Doc, i: int) -> bool:
    """Whether token ``i`` is a word of a hyphenated eponym (its hyphen-joined run, no spaces)."""

    def glued(j: int) -> bool:  # doc[j], a hyphen, doc[j + 2] with no space between them
        return doc[j + 1].text == "-" and not doc[j].whitespace_ and not doc[j + 1].whitespace_

    first = last = i
    while first >= 2 and glued(first - 2):
        first -= 2
    while last + 2 < len(doc) and glued(last):
        last += 2
    if first == last:
        return doc[i].lower_ in EPONYM_COMPOUNDS  # a token spaCy did not split
    return doc[first : last + 1].text.lower() in EPONYM_COMPOUNDS


def _before_eponym_head(doc: Doc, i: int) -> bool:
    """Whether token ``i`` is followed (after a possessive "'s") by a word of ``EPONYM_HEADS``."""
    j = i + 1
    if j < len(doc) and doc[j].lower_ in ("'s", "'", "\u2019s"):
        j += 1
    return j < len(doc) and doc[j].lower_ in EPONYM_HEADS
