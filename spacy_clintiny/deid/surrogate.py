"""Keyed, format-preserving surrogates for PHI: realistic fake values that are consistent per patient.

Every random choice is seeded by ``HMAC-SHA256(key, f"{patient}|{label}|{normalized original}")``
(then ``...|1``, ``...|2`` for retries), so with the same key the same patient's "SMITH" and
"Smith" get the same surrogate in every note, process and run, and nothing depends on global
random state or on Python's ``hash()``. The normalized original is case-folded with internal
whitespace collapsed; the surrogate is then re-cased like the original (ALL CAPS, Title, lower).
Surrounding punctuation and whitespace of a span ("ROSSETTI. ") is kept as given. Names are
replaced word by word (first names by first names, last names by last names, initials by
letters; titles such as "Dr." and lower-case particles such as "de la" are kept), so "John Smith"
and a later "Smith" agree. A word's role depends on the word alone, never on its neighbours: a word
of the locale's first-name list is replaced by a first name wherever it stands ("Thomas Jones" and a
later "Thomas" agree), any other word by a last name.

Values come from Faker (``locale``), or from small pools passed as ``pools`` (tests, site lists):
a pool replaces Faker for its kind ("first_name", "last_name", "city", "hospital", ...; see
``POOL_KINDS``). Phone numbers, IDs, ZIP codes and acronyms keep their layout: digits stay digits,
letters stay letters in the same case, punctuation stays. A surrogate never equals the original:
after ``MAX_ATTEMPTS`` draws that all equal it (a pool that runs dry, a locale without the
provider), ``surrogate`` returns None and the operator redacts the span instead. Nor does it
share a distinctive word with the original ("Smith Hospital" never becomes "Smith Clinic"; a
name's words never reappear in it, in any order): draws that do are retried the same way.

Dates move by one keyed offset per patient, ``date_shift_days``, in [-max_shift_days,
-min_shift_days], written back in their own format ("3/14" -> "2/27"), so intervals between a
patient's dates survive; ages over 89 are grouped. The rules (coarse dates, unreadable dates,
ages) are in ``dateshift.py``.
"""

import hashlib
import hmac
import random
import re
from functools import lru_cache
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

from faker import Faker

from ..converters.labels import PHI_LABELS
from ..errors import Errors
from .dateshift import group_age, shift_date_text
from .lists import secret_bytes
from .textshape import case_pattern, normalize, recase, reshape, split_affixes

MAX_ATTEMPTS = 10
CACHE_SIZE = 65536
FAKER_METHODS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "state": "state",
    "state_abbr": "state_abbr",
    "country": "country",
    "street_address": "street_address",
    "company": "company",
    "job": "job",
    "email": "safe_email",
    "url": "url",
    "user_name": "user_name",
    "ipv4": "ipv4_public",
    "ipv6": "ipv6",
}
# Same layout as the original: "reshape" re-draws digits and letters, "digits" only digits.
RESHAPE_KINDS = ("reshape", "digits")
POOL_KINDS = tuple(sorted(set(FAKER_METHODS) | {"hospital"}))
FACILITY_SUFFIXES = ("Medical Center", "Hospital", "Memorial Hospital", "Clinic", "Health Center")
FACILITY_WORDS = frozenset(
    {
        "hospital",
        "medical",
        "center",
        "centre",
        "clinic",
        "memorial",
        "health",
        "infirmary",
        "institute",
        "rehab",
        "nursing",
        "hospice",
    }
)
# Kept as they are inside NAME spans.
NAME_TITLES = frozenset(
    {
        "dr",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "prof",
        "rev",
        "md",
        "rn",
        "np",
        "pa",
        "jr",
        "sr",
        "ii",
        "iii",
        "iv",
        "phd",
        "dds",
        "dmd",
        "lpn",
        "crna",
        "pharmd",
    }
)
# Lower-case name particles ("de la Cruz", "van der Berg"), kept as they are before a surname.
NAME_PARTICLES = frozenset(
    {"de", "la", "del", "della", "der", "den", "van", "von", "da", "di", "du", "le", "dos", "das"}
)
LOCATION_KINDS = {
    "CITY": "city",
    "COUNTRY": "country",
    "STREET": "street_address",
    "ZIP": "reshape",
    "ROOM": "reshape",
    "HOSPITAL": "hospital",
    "DEPARTMENT": "hospital",
    "ORGANIZATION": "company",
}
CONTACT_KINDS = {"PHONE": "digits", "FAX": "digits", "EMAIL": "email", "URL": "url"}
# A name word: letters with their combining accents (NFD "José"), joined by apostrophes
# ("O'Brien"), but not a possessive "'s", which stays as it is ("Smith's" -> "Hanson's").
_NAME_WORD = re.compile(r"(?<!['’])(?:[^\W\d_]|[\u0300-\u036f])+(?:['’](?![sS]\b)(?:[^\W\d_]|[\u0300-\u036f])+)*")
_ALPHA_RUN = re.compile(r"[^\W\d_]+")
_UNIT = re.compile(r"(?:apt|apartment|suite|p\.?\s?o\.?\s?box)\b", re.IGNORECASE)
_VOWELS = re.compile(r"[AEIOUY]")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def _whole_years(days: int) -> bool:
    """Whether a shift of ``days`` can land a date on its own month and day (365 or 366 days, or
    as many years of them): such a shift hides the year only, so it is never drawn."""
    years = round(days / 365.25)
    return years >= 1 and 365 * years <= days <= 366 * years


def _keeps(original: str, value: str, kind: str) -> bool:
    """Whether a drawn value (normalized) gives the original (normalized) away: equal to it, or,
    for names and places drawn whole, holding it ("Dan" in "Daniel", "Wood" in "Underwood":
    the leak rate counts an original inside its own surrogate as a leak)."""
    if value == original:
        return True
    return kind not in RESHAPE_KINDS and len(original) >= 2 and original in value


class SurrogateGenerator:
    """Makes keyed surrogates, date shifts and age groups (see the module docstring).

    key (Optional[Union[str, bytes]]): The secret behind every choice. None: a random key, so
        surrogates are consistent within this instance only.
    locale (str): The Faker locale for names, places, jobs, emails...
    max_shift_days (int): Largest date shift, in days into the past.
    min_shift_days (int): Smallest date shift (>= 1, so every day-level date moves).
    pools (Optional[Dict[str, Sequence[str]]]): Values to use instead of Faker, by kind (one of
        ``POOL_KINDS``). An empty pool, or one holding only the original, gives None.
    """

    def __init__(
        self,
        key: Optional[Union[str, bytes]] = None,
        *,
        locale: str = "en_US",
        max_shift_days: int = 365,
        min_shift_days: int = 1,
        pools: Optional[Dict[str, Sequence[str]]] = None,
    ) -> None:
        key = secret_bytes(key)
        if not 1 <= min_shift_days <= max_shift_days:
            raise ValueError(Errors.E726.format(min_days=min_shift_days, max_days=max_shift_days))
        unknown = sorted(set(pools or {}) - set(POOL_KINDS))
        if unknown:
            raise ValueError(Errors.E728.format(kinds=unknown, allowed=", ".join(POOL_KINDS)))
        try:
            self._faker = Faker(locale)
        except AttributeError:
            raise ValueError(Errors.E727.format(locale=locale)) from None
        self._key = key
        self.locale = locale
        self.max_shift_days = max_shift_days
        self.min_shift_days = min_shift_days
        self._pools: Dict[str, Tuple[str, ...]] = {kind: tuple(values) for kind, values in (pools or {}).items()}
        self._name_sets: Optional[Tuple[FrozenSet[str], FrozenSet[str]]] = None
        self._draw = lru_cache(maxsize=CACHE_SIZE)(self._draw_uncached)

    def __getstate__(self) -> Dict[str, Any]:
        # For multiprocessing: the Faker instance and the cache are rebuilt on the other side.
        state = dict(self.__dict__)
        del state["_faker"], state["_draw"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._faker = Faker(self.locale)
        self._draw = lru_cache(maxsize=CACHE_SIZE)(self._draw_uncached)

    def __repr__(self) -> str:
        # Never show the key.
        return (
            f"SurrogateGenerator(locale={self.locale!r}, min_shift_days={self.min_shift_days}, "
            f"max_shift_days={self.max_shift_days}, pools={sorted(self._pools)})"
        )

    def date_shift_days(self, patient_id: str) -> int:
        """The patient's date offset.

        patient_id (str): The patient.
        RETURNS (int): Days to add to every date of the patient, in [-max_shift_days, -min_shift_days],
            never a whole number of years (365 or 366 days kept every month and day of about
            one patient in 365: the next offset in the range is taken instead).
        """
        span = self.max_shift_days - self.min_shift_days + 1
        start = self._seed(f"date-shift|{patient_id}") % span
        for step in range(span):  # the first offset from the drawn one that is no whole number of years
            days = self.min_shift_days + (start + step) % span
            if not _whole_years(days):
                return -days
        return -(self.min_shift_days + start)  # a range of whole years only: shift_date_text redacts

    def surrogate(
        self, original: str, *, label: str, subtype: str = "", patient_id: str, year: Optional[int] = None
    ) -> Optional[str]:
        """A replacement for one PHI span.

        original (str): The span's text.
        label (str): Its PHI category (``PHI_LABELS``).
        subtype (str): Its fine type where known (PHONE, EMAIL, CITY, HOSPITAL, YEAR, ...).
        patient_id (str): The patient: the same original gets the same surrogate per patient.
        year (Optional[int]): The note's year, for a date written without one (see
            ``shift_date_text``).
        RETURNS (Optional[str]): The surrogate (a shifted date, an age group, a fake value), or
            None when none can be made: the caller must then redact, never keep the original.
        """
        if label not in PHI_LABELS:
            raise ValueError(Errors.E731.format(label=label, labels=", ".join(PHI_LABELS)))
        if label == "DATE":
            return self.shift_date(original, patient_id=patient_id, subtype=subtype, year=year)
        if label == "AGE":
            return group_age(original)
        prefix, core, suffix = split_affixes(original)
        if not core:
            return None
        kind = surrogate_kind(label, subtype, core)
        message = f"{patient_id}|{label}|{normalize(core)}"
        if kind == "name":
            new = self._name(core, label=label, patient_id=patient_id)
        elif kind in RESHAPE_KINDS:
            new = self._draw(kind, message, core)
        else:
            new = self._draw(kind, message, normalize(core))
            if new is not None and kind == "url" and not core.casefold().startswith("http"):
                new = re.sub(r"^https?://", "", new).rstrip("/")  # keep the original's scheme-less form
            new = None if new is None else recase(new, case_pattern(core))
        if new is None or normalize(new) == normalize(core):
            return None
        return prefix + new + suffix

    def shift_date(
        self, original: str, *, patient_id: str, subtype: str = "", year: Optional[int] = None
    ) -> Optional[str]:
        """Shift a date by the patient's offset, in its own format.

        original (str): The date as written.
        patient_id (str): The patient.
        subtype (str): "YEAR" lets a bare two-digit number ("99") read as a year.
        year (Optional[int]): The year a date written without one is read in (the note's).
        RETURNS (Optional[str]): The shifted date, or None if it cannot be read.
        """
        prefix, core, suffix = split_affixes(original)
        if prefix[-1:] in ("'", "’"):  # '92
            prefix, core = prefix[:-1], prefix[-1] + core
        if not core:
            return None
        days = self.date_shift_days(patient_id)
        shifted = shift_date_text(core, days, two_digit_year=subtype.upper() == "YEAR", year=year)
        return None if shifted is None else prefix + shifted + suffix

    def _seed(self, message: str) -> int:
        return int.from_bytes(hmac.new(self._key, message.encode("utf8"), hashlib.sha256).digest(), "big")

    def _draw_uncached(self, kind: str, message: str, source: str) -> Optional[str]:
        """Draw a value of ``kind`` that differs from ``source`` (retrying with derived seeds)."""
        avoid = normalize(source)
        avoid_words = set() if kind in RESHAPE_KINDS else distinctive_words(source)
        for attempt in range(MAX_ATTEMPTS):
            seed = self._seed(message if attempt == 0 else f"{message}|{attempt}")
            if kind in RESHAPE_KINDS:
                value = reshape(source, random.Random(seed), letters=kind == "reshape")
            else:
                value = self._pick(kind, seed)
            if value and not _keeps(avoid, normalize(value), kind) and not avoid_words & distinctive_words(value):
                return value
        return None

    def _pick(self, kind: str, seed: int) -> Optional[str]:
        if kind in self._pools:
            pool = self._pools[kind]
            return random.Random(seed).choice(pool) if pool else None
        self._faker.seed_instance(seed)
        try:
            if kind == "hospital":
                return f"{self._faker.last_name()} {self._faker.random_element(FACILITY_SUFFIXES)}"
            return getattr(self._faker, FAKER_METHODS[kind])()
        except AttributeError:  # this locale has no such provider
            return None

    def _name(self, core: str, *, label: str, patient_id: str) -> Optional[str]:
        """Replace each name word: first names, last names and initials apart; titles kept."""
        words = list(_NAME_WORD.finditer(core))
        roles = self._name_roles(core, words)
        if not any(roles):
            return None
        pieces: List[str] = []
        pos = 0
        for match, role in zip(words, roles):
            word = match.group()
            pieces.append(core[pos : match.start()])
            pos = match.end()
            if role is None:
                pieces.append(word)
                continue
            source = word if role == "reshape" else normalize(word)
            new = self._draw(role, f"{patient_id}|{label}|{normalize(word)}", source)
            if new is None:
                return None
            pieces.append(new if role == "reshape" else recase(new, case_pattern(word)))
        pieces.append(core[pos:])
        out = "".join(pieces)
        # "Jordan Taylor" -> "James Jordan": each word's surrogate differs from that word, but one
        # can be another word of the same name. Redact rather than show it.
        named = {m.group().casefold() for m, role in zip(words, roles) if role not in (None, "reshape")}
        return None if named & {m.group().casefold() for m in _NAME_WORD.finditer(out)} else out

    def _name_roles(self, core: str, words: Sequence[re.Match]) -> List[Optional[str]]:
        """Per word: "first_name", "last_name", "reshape" (initials) or None (a title or a particle,
        kept). The role depends on the word alone, so a word gets the same surrogate wherever it
        stands: a first name of the locale (or pool) is replaced by a first name, any other word
        by a last name."""
        first, last = self._known_names()
        roles: List[Optional[str]] = []
        for i, match in enumerate(words):
            text = match.group()
            word = text.casefold()
            if word in NAME_TITLES:
                roles.append(None)
            elif word in NAME_PARTICLES and text.islower() and any(not w.group().islower() for w in words[i + 1 :]):
                # "de la Cruz": a lower-case particle before a capitalised name. In a name written
                # all in lower case ("van dyke") nothing tells the particle from the name: replaced.
                roles.append(None)
            elif len(word) <= 2 and word not in first and word not in last:
                roles.append("reshape")
            else:
                roles.append("first_name" if word in first else "last_name")
        return roles

    def _known_names(self) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        """Case-folded first and last names of the locale (and pools), to tell them apart."""
        if self._name_sets is None:
            first = {n.casefold() for n in self._pools.get("first_name", ())}
            last = {n.casefold() for n in self._pools.get("last_name", ())}
            for provider in self._faker.get_providers():
                first.update(n.casefold() for n in getattr(provider, "first_names", ()))
                last.update(n.casefold() for n in getattr(provider, "last_names", ()))
            self._name_sets = (frozenset(first), frozenset(last))
        return self._name_sets


def distinctive_words(text: str) -> FrozenSet[str]:
    """Case-folded words of 3 letters or more that are not generic facility words: what a
    surrogate must not share with its original.

    text (str): A value.
    RETURNS (FrozenSet[str]): Its distinctive words.
    """
    return frozenset(w for w in (m.casefold() for m in _ALPHA_RUN.findall(text)) if len(w) >= 3) - FACILITY_WORDS


def surrogate_kind(label: str, subtype: str, core: str) -> str:
    """Which kind of value replaces a span: a Faker/pool kind, "name", or one of ``RESHAPE_KINDS``
    (same layout).

    label (str): The PHI category (not DATE or AGE).
    subtype (str): The fine type, or "".
    core (str): The span without surrounding punctuation.
    RETURNS (str): The kind.
    """
    subtype = subtype.upper()
    if label == "NAME":
        return "user_name" if subtype == "USERNAME" else "name"
    if label == "PROFESSION":
        return "job"
    if label == "LOCATION":
        if subtype == "STATE":
            return "state_abbr" if len(core) == 2 else "state"
        words = [w.casefold() for w in _ALPHA_RUN.findall(core)]
        if subtype == "STREET" and _UNIT.match(core):
            return "digits"  # "Apt 4B" -> "Apt 7B", not a whole street address
        if subtype in ("HOSPITAL", "DEPARTMENT") and words and not FACILITY_WORDS.intersection(words):
            return "last_name"  # "Kindred" of "Kindred Hospital": its facility word is outside the span
        if subtype in LOCATION_KINDS:
            return LOCATION_KINDS[subtype]
        if not words:
            return "reshape"
        if core[0].isdigit():
            return "street_address"
        if FACILITY_WORDS.intersection(words):
            return "hospital"
        if len(words) == 1 and core.isupper() and (len(core) <= 3 or not _VOWELS.search(core)):
            return "reshape"  # an acronym ("GH", "MGH", "NWH"), not a town in capitals ("SALEM", "LYNN")
        return "city"
    if label == "CONTACT":
        if subtype == "IPADDR" or (not subtype and _IPV4.fullmatch(core)):
            return "ipv6" if ":" in core else "ipv4"
        if subtype in CONTACT_KINDS:
            return CONTACT_KINDS[subtype]
        if "@" in core:
            return "email"
        if core.casefold().startswith(("http", "www.")):
            return "url"
        if any(char.isdigit() for char in core):
            return "digits"  # a phone number, maybe with "ext"
    return "reshape"
