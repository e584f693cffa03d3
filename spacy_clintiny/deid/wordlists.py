"""Word lists behind the PHI rules (``deid/patterns.py``).

Packaged lists live in ``spacy_clintiny/resources/deid`` and are found with
``importlib.resources``: ``allow_list.txt`` (the default allow list: clinical abbreviations
that collide with names and places), ``clinical_words.txt`` (words of ICU notes that are never
names; how it was made is written at its top) and ``non_names.txt`` (hand-curated words that
are never names: cue followers, verbs, specialties, anatomy). Name dictionaries are Faker's person
lists and the 1990 US census names (``census_first_names.txt``, ``census_last_names.txt``; the
census names that are English words are listed in ``ambiguous_names.txt``); cue rules take any of
them, the recall profile's cue-less matching only the unambiguous ones (``deid/dictionary.py``).
Everything is read lazily and cached: importing this module costs nothing, which matters because
spaCy imports the ``clintiny_deid`` factory whenever a pipeline is created.
"""

import importlib
from functools import lru_cache
from importlib.resources import files
from typing import Dict, FrozenSet, Iterable, List, Set, Tuple

# Faker locales whose person names are used: en_US alone misses the older first names common
# among ICU patients' relatives and nurses (Irene, Thelma, Florence, Agnes...).
NAME_LOCALES = ("en", "en_US", "en_GB", "en_IE", "en_NZ")
# Census surnames used, most frequent first (all 88,799 cover 90% of the 1990 US population).
CENSUS_SURNAMES = 88799

MONTHS_FULL = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTHS_ABBR = ("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")
# Month tokens that are also common words in notes ("pt may need", "dec to 2", "jan" the name).
AMBIGUOUS_MONTHS = ("may", "mar", "dec", "jan")
WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
)

DOCTOR_TITLES = ("dr", "dr.", "drs", "drs.")
PATIENT_TITLES = ("mr", "mr.", "mrs", "mrs.", "miss", "ms.")
# Words before a staff member's name ("NP CAROL", "MD SPEARS", "per RN Maria"): the name must
# be in the Faker dictionaries, because these cues also precede plain words ("MD aware").
STAFF_CUES = (
    "np",
    "md",
    "ho",
    "rn",
    "pa",
    "resident",
    "attending",
    "fellow",
    "intern",
    "nurse",
    "rrt",
    "sw",
    "msw",
    "pcp",
    "anesthesiologist",
    "surgeon",
    "cardiologist",
    "specialist",
    "therapist",
    "coordinator",
    "manager",
    "worker",
    "chaplain",
    "dietician",
    "dietitian",
    "nutritionist",
)
# Words after "FIRST LAST" that make it a person being told something ("LINDSEY X CALLED").
AFTER_NAME_VERBS = ("aware", "notified", "paged", "called", "updated", "informed")
CONTACT_VERBS = ("called", "call", "paged", "page", "spoke", "talked", "notified", "informed", "updated", "per")
NAME_CUES = ("named", "name")
RELATIVES = (
    "wife",
    "husband",
    "son",
    "daughter",
    "dtr",
    "sister",
    "brother",
    "mother",
    "father",
    "mom",
    "dad",
    "niece",
    "neice",
    "nephew",
    "grandson",
    "granddaughter",
    "grandmother",
    "grandfather",
    "girlfriend",
    "boyfriend",
    "fiance",
    "fiancee",
    "partner",
    "spouse",
    "aunt",
    "uncle",
    "cousin",
    "friend",
    "stepson",
    "stepdaughter",
    "spokesperson",
    "proxy",
    "hcp",
    "guardian",
    "sibling",
)
CREDENTIALS = (
    "rn",
    "rrt",
    "np",
    "md",
    "pa-c",
    "lpn",
    "cna",
    "msw",
    "lcsw",
    "licsw",
    "rph",
    "pharmd",
    "crnp",
    "rd",
    "rt",
    "bsn",
    "ccrn",
    "do",
)
HOSPITAL_HEADS = (
    "hospital",
    "hosp",
    "hosp.",
    "clinic",
    "campus",
    "infirmary",
    "sanitarium",
    "sanatorium",
    "va",
    "rehab",
    "rehabilitation",
    "manor",
    "hospice",
    "healthcare",
    "house",
)
# Title-case words before a hospital head that say what kind of hospital it is, not which one
# ("transferred to Outside Hospital", "from the Community Hospital"): the rule for title-case
# common words before a head ("Kindred Hospital", "Greater Baltimore Medical Center") skips them.
GENERIC_FACILITY_WORDS = (
    "outside",
    "local",
    "community",
    "general",
    "university",
    "state",
    "county",
    "city",
    "regional",
    "psychiatric",
    "psych",
    "childrens",
    "children's",
    "women's",
    "veterans",
    "teaching",
    "private",
    "public",
    "other",
    "another",
    "previous",
    "prior",
    "referring",
    "acute",
    "chronic",
    "specialty",
    "mental",
    "cardiac",
    "pulmonary",
    "inpatient",
    "outpatient",
    "day",
    "short",
    "long",
    "term",
)
# Two-word facility heads ("Keswick Nursing Home", "Oak Hill Rehab Center"): first word, then second.
FACILITY_FIRST = (
    "nursing",
    "rehab",
    "rehabilitation",
    "care",
    "health",
    "healthcare",
    "medical",
    "surgical",
    "surgery",
    "convalescent",
    "retirement",
    "senior",
    "cancer",
    "heart",
    "skilled",
    "assisted",
)
FACILITY_SECOND = ("home", "center", "centre", "ctr", "ctr.", "facility", "hospital", "group", "living", "community")
# Cues before a care facility's or hospital's name ("transferred to X", "accepted at X", "bed @ X").
FACILITY_CUES = (
    "transfer",
    "transferred",
    "transfered",
    "xfer",
    "xferred",
    "admitted",
    "admit",
    "discharged",
    "d/c'd",
    "dc'd",
    "accepted",
    "screened",
    "sent",
    "arrived",
    "came",
    "returned",
    "return",
    "go",
    "going",
    "went",
    "bed",
)
FACILITY_CUE_PREPS = ("to", "from", "at", "by", "@", "in")
# After "transferred to X": words that make X a unit or service of this hospital ("Recovery Room",
# "Intensive Care Unit", "Department of Medicine"), not a place of its own.
NOT_AFTER_PLACE = (
    "care",
    "unit",
    "units",
    "room",
    "rm",
    "service",
    "svc",
    "department",
    "dept",
    "division",
    "icu",
    "of",
    "floor",
    "ward",
    "lab",
    "suite",
    "bay",
    "team",
    "diet",
    "nursery",
    "states",
    "kingdom",
)
# "a 70 yo man from X", "pt from X": the person words before "from" that introduce a home town.
PERSON_FROM = ("yo", "y/o", "male", "female", "man", "woman", "gentleman", "lady", "gent", "pt", "patient", "family")
# Street kinds strong enough to mark a street without a house number ("lives on Oak Hill Road").
STREET_KINDS = ("street", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "drive", "parkway", "highway")
# After "Ward 10" these make the number a quantity or a time ("Zoloft 10 years ago", "Xxx 12 mg").
NOT_AFTER_WARD = ("year", "years", "yr", "yrs", "ago", "old", "y", "yo", "%", "/", ":", "-", "+", "x", "am", "pm")
# Last words of town names ("Ellicott City", "Owings Mills", "Glen Burnie" aside): they join an unknown
# word before them after a residence cue.
TOWN_SUFFIXES = (
    "city",
    "park",
    "hill",
    "hills",
    "heights",
    "mills",
    "falls",
    "beach",
    "springs",
    "village",
    "point",
    "creek",
    "harbor",
    "lake",
    "island",
    "marsh",
    "ridge",
    "valley",
    "station",
    "county",
    "grove",
    "landing",
    "township",
    "woods",
    "junction",
)
# Words after "lives in" that are no place name ("lives in assisted living", "lives in senior housing").
NOT_RESIDENCE = (
    "assisted",
    "senior",
    "group",
    "nursing",
    "subsidized",
    "elderly",
    "retirement",
    "private",
    "same",
    "own",
    "rooming",
    "public",
    "section",
    "low",
    "family",
    "foster",
    "apartment",
    "apt",
    "condo",
    "house",
    "home",
    "shelter",
    "town",
    "area",
    "state",
)
# "PROLONGED HOSPITAL STAY": the word before a hospital head names no hospital when these follow.
NOT_AFTER_HOSPITAL = (
    "stay",
    "stays",
    "course",
    "admission",
    "admissions",
    "discharge",
    "bed",
    "beds",
    "days",
    "visit",
    "visits",
    "record",
    "records",
    "policy",
    "staff",
    "acquired",
    "setting",
    "care",
)
SAINTS = ("st", "st.", "saint")
RESIDENCE_VERBS = (
    "lives",
    "living",
    "lived",
    "resides",
    "reside",
    "resident",
    "moved",
    "relocated",
    "originally",
    "native",
    "home",
)
STREET_SUFFIXES = (
    "street",
    "st",
    "st.",
    "avenue",
    "ave",
    "ave.",
    "road",
    "rd",
    "rd.",
    "boulevard",
    "blvd",
    "blvd.",
    "lane",
    "ln",
    "ln.",
    "drive",
    "dr.",
    "court",
    "ct.",
    "place",
    "terrace",
    "parkway",
    "pkwy",
    "circle",
    "highway",
    "hwy",
    "square",
    "sq.",
)
AGE_UNITS = (
    "yo",
    "y.o",
    "y.o.",
    "y/o",
    "yoa",
    "yr",
    "yrs",
    "yr.",
    "year",
    "years",
    "y",
    "yom",
    "yof",
    "yowm",
    "yowf",
    "yobm",
    "yobf",
)
AGE_CUES = ("age", "aged", "ages", "age:", "turned", "turning", "turns")
YEAR_CUES = (
    "in",
    "since",
    "until",
    "circa",
    "year",
    "yr",
    "early",
    "late",
    "mid",
    "spring",
    "summer",
    "fall",
    "autumn",
    "winter",
    "till",
    "christmas",
    # a year of birth or of a diagnosis ("born 2041", "dx 2088")
    "born",
    "dob",
    "yob",
    "dx",
    "diagnosed",
)
ORDINAL_CUES = ("on", "since", "until", "till", "by", "from")
# Tokens after a number that make it a quantity, not a day or a year.
UNITS = (
    "mg",
    "mcg",
    "g",
    "kg",
    "lb",
    "lbs",
    "cc",
    "ccs",
    "ml",
    "l",
    "liter",
    "liters",
    "meq",
    "mmol",
    "u",
    "unit",
    "units",
    "iu",
    "mm",
    "cm",
    "hr",
    "hrs",
    "hour",
    "hours",
    "min",
    "mins",
    "minute",
    "minutes",
    "sec",
    "secs",
    "seconds",
    "day",
    "days",
    "week",
    "weeks",
    "wk",
    "wks",
    "month",
    "months",
    "x",
    "%",
    "bpm",
    "mmhg",
    "times",
    "doses",
    "dose",
    "tabs",
    "tab",
    "pills",
    "puffs",
    "amps",
    "amp",
    "bags",
    "mcg/kg/min",
    "mg/hr",
    "cc/hr",
    "ml/hr",
    "/hr",
    "o'clock",
    "fr",
    "french",
    "inch",
    "inches",
    "ounce",
    "ounces",
    "oz",
    "flights",
    "stairs",
    "steps",
    "feet",
    "ft",
)
# After a 4-digit number these make it a time or a range ("from 2000 to 2400", "1900 - 0700").
NOT_AFTER_YEAR = ("-", "to", "->", "am", "pm", "hrs", "hours", "h")
# Slash numbers next to these words are settings or scores, not dates ("PS 10/5", "pain 5/10",
# "2/6 murmur", "5/5 strength", "CO/CI/SVR 5.4/3.2").
NUMERIC_NOT_BEFORE = frozenset(
    (
        "cpap",
        "ps",
        "psv",
        "ips",
        "imv",
        "simv",
        "peep",
        "vent",
        "ventilator",
        "ventilation",
        "settings",
        "setting",
        "flowby",
        "bipap",
        "cmv",
        "prvc",
        "mode",
        "cpap/ps",
        "cpap/psv",
        "simv/ps",
        "imv/ps",
        "ps/peep",
        "cpap/peep",
        "pap",
        "co",
        "ci",
        "svr",
        "co/ci",
        "co/ci/svr",
        "c.o",
        "pain",
        "cp",
        "scale",
        "rated",
        "rates",
        "rating",
        "grade",
        "murmur",
        "wean",
        "weaning",
        "weaned",
        "bp",
        "b/p",
        "nbp",
        "abp",
        "abg",
        "fio2",
        "ratio",
        "strength",
        "motor",
        "grip",
        "grips",
        "grasp",
        "grasps",
        "handgrip",
        "handgrips",
        "rate",
        "pupils",
        "perrla",
        "perrl",
        "pa",
        "cvp",
        "map",
        "ve",
        "tv",
        # limb strength ("RUE 4/5, LUE 3/5") and scores ("CAM 4/4", "GCS 3/15", "Braden 12/23")
        "rue",
        "lue",
        "rle",
        "lle",
        "bue",
        "ble",
        "ue",
        "le",
        "ues",
        "les",
        "uext",
        "lext",
        "deltoid",
        "deltoids",
        "biceps",
        "triceps",
        "quads",
        "hamstrings",
        "cam",
        "cam-icu",
        "cpot",
        "gcs",
        "glasgow",
        "braden",
        "ramsay",
        "rass",
        "sofa",
        "apache",
        "norton",
        "morse",
        "nihss",
        "bps",
        "cows",
        "ciwa",
        "score",
        "scored",
        "scores",
        # paired settings and counts ("RR 12/20", "PCWP 12/18", "sitter 1/1")
        "rr",
        "pcwp",
        "pcw",
        "wedge",
        "sitter",
    )
)
NUMERIC_NOT_AFTER = frozenset(
    (
        "sitter",
        "murmur",
        "sem",
        "hsm",
        "systolic",
        "diastolic",
        "strength",
        "motor",
        "peep",
        "psv",
        "ips",
        "cpap",
        "ps",
        "pain",
        "scale",
        "ns",
        "nss",
        "mm",
        "bilat",
        "bilaterally",
        "up",
        "way",
        "full",
        "of",
        "lymph",
        "nodes",
        "node",
        "cores",
        "bottles",
        "bottle",
        "sets",
        "blood",
        "bld",
        "cultures",
        "cx",
    )
)


def _resource_lines(name: str) -> List[str]:
    text = files("spacy_clintiny").joinpath("resources", "deid", name).read_text(encoding="utf8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def default_allow_list() -> Tuple[str, ...]:
    """RETURNS (Tuple[str, ...]): The shipped allow list (``resources/deid/allow_list.txt``)."""
    return tuple(_resource_lines("allow_list.txt"))


@lru_cache(maxsize=1)
def clinical_words() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): Lower-cased words of ICU notes that are never names."""
    return frozenset(w.lower() for w in _resource_lines("clinical_words.txt"))


@lru_cache(maxsize=1)
def non_names() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): The hand-curated words that are never names (``non_names.txt``)."""
    return frozenset(w.lower() for w in _resource_lines("non_names.txt"))


@lru_cache(maxsize=1)
def _faker_names() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    first: set = set()
    last: set = set()
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        first.update(n.lower() for n in getattr(provider, "first_names", ()))
        last.update(n.lower() for n in getattr(provider, "last_names", ()))
    return frozenset(first), frozenset(last)


@lru_cache(maxsize=1)
def census_names() -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """The 1990 US census first names and the ``CENSUS_SURNAMES`` most frequent surnames
    (``resources/deid/census_first_names.txt``, ``census_last_names.txt``).

    RETURNS (Tuple[FrozenSet[str], FrozenSet[str]]): (first names, surnames), lower case.
    """
    first = frozenset(_resource_lines("census_first_names.txt"))
    last = frozenset(_resource_lines("census_last_names.txt")[:CENSUS_SURNAMES])
    return first, last


@lru_cache(maxsize=1)
def ambiguous_names() -> FrozenSet[str]:
    """RETURNS (FrozenSet[str]): Person names that are also English words ("hall", "white", "rusty"):
    ``resources/deid/ambiguous_names.txt``."""
    return frozenset(_resource_lines("ambiguous_names.txt"))


@lru_cache(maxsize=1)
def _states() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    from faker.providers.address.en_US import Provider

    return tuple(s.lower() for s in Provider.states), tuple(Provider.states_abbr)


@lru_cache(maxsize=1)
def _countries() -> FrozenSet[str]:
    from faker.providers.address.en_US import Provider

    return frozenset(c.lower() for c in Provider.countries)


@lru_cache(maxsize=1)
def common_words() -> FrozenSet[str]:
    """Words that a name cue's neighbour must not be: spaCy's English stop words, Faker's
    English lorem words, the packaged clinical words and non-names, months, weekdays, cue words
    and credentials.

    RETURNS (FrozenSet[str]): Lower-cased words.
    """
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    words = set(STOP_WORDS) | {w.lower() for w in Lorem.word_list} | set(clinical_words()) | set(non_names())
    for group in (
        MONTHS_FULL,
        MONTHS_ABBR,
        WEEKDAYS,
        DOCTOR_TITLES,
        PATIENT_TITLES,
        STAFF_CUES,
        RELATIVES,
        CREDENTIALS,
        HOSPITAL_HEADS,
        SAINTS,
        AGE_UNITS,
        UNITS,
    ):
        words.update(group)
    words.update(f"{m}." for m in MONTHS_ABBR)
    return frozenset(words)


def _not_street_words() -> Set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return set(STOP_WORDS) | set(clinical_words()) | set(UNITS) | set(STREET_SUFFIXES)


def word_lists(allow_list: Iterable[str]) -> Dict[str, List[str]]:
    """The named lists that rule patterns refer to as ``"@name"``.

    allow_list (Iterable[str]): Lower-cased allowed terms; they are never taken as names.
    RETURNS (Dict[str, List[str]]): List name -> sorted lower-cased words.
    """
    from spacy.lang.en.stop_words import STOP_WORDS

    excluded = set(common_words()) | {a for a in allow_list if " " not in a}
    first, last = _faker_names()
    census_first, census_last = census_names()
    first, last = first | census_first, last | census_last
    state_names, state_abbrs = _states()
    months = set(MONTHS_FULL) | set(MONTHS_ABBR) | {f"{m}." for m in MONTHS_ABBR}
    ambiguous = set(AMBIGUOUS_MONTHS) | {f"{m}." for m in AMBIGUOUS_MONTHS if m != "may"}
    lists = {
        "non_names": excluded,
        # States and countries are not PHI (HIPAA Safe Harbor keeps them): "lives in Utah".
        "non_places": excluded | set(state_names) | set(_countries()),
        "first_names": first - excluded,
        # Names that are also common English or clinical words ("Green", "Young", "Brown"): only
        # right after a title ("Dr. Green", "Mrs. Young"); never stop words, months or weekdays.
        "english_names": ((first | last) & excluded)
        - set(non_names())
        - set(STOP_WORDS)
        - months
        - set(WEEKDAYS)
        - {a for a in allow_list if " " not in a},
        "any_names": (first | last) - excluded,
        "months": months,
        "months_unambiguous": months - ambiguous - {"mar.", "dec.", "jan."},
        "doctor_titles": set(DOCTOR_TITLES),
        "patient_titles": set(PATIENT_TITLES),
        "staff_cues": set(STAFF_CUES),
        "contact_verbs": set(CONTACT_VERBS),
        "name_cues": set(NAME_CUES),
        "relatives": set(RELATIVES),
        "credentials": set(CREDENTIALS),
        "hospital_heads": set(HOSPITAL_HEADS),
        "facility_first": set(FACILITY_FIRST),
        "facility_second": set(FACILITY_SECOND),
        "facility_cues": set(FACILITY_CUES),
        "facility_cue_preps": set(FACILITY_CUE_PREPS),
        "town_suffixes": set(TOWN_SUFFIXES),
        "person_from": set(PERSON_FROM),
        "street_kinds": set(STREET_KINDS),
        "not_after_place": set(NOT_AFTER_PLACE) | set(UNITS),
        "not_after_ward": set(NOT_AFTER_WARD) | set(UNITS),
        "not_residence": set(NOT_RESIDENCE) | set(STOP_WORDS),
        "not_after_hospital": set(NOT_AFTER_HOSPITAL),
        "generic_facility_words": excluded
        | set(state_names)
        | set(_countries())
        | set(GENERIC_FACILITY_WORDS)
        | set(FACILITY_FIRST)
        | set(FACILITY_SECOND),
        "after_name_verbs": set(AFTER_NAME_VERBS),
        "saints": set(SAINTS),
        "residence_verbs": set(RESIDENCE_VERBS),
        "street_suffixes": set(STREET_SUFFIXES),
        "age_units": set(AGE_UNITS),
        "age_cues": set(AGE_CUES),
        # "spiked a 101F fever": a temperature, not "a 92F" patient
        "not_after_age_sex": {"fever", "fevers", "temp", "temperature", "temps", "tmax", "spike", "degrees"},
        "year_cues": set(YEAR_CUES),
        "ordinal_cues": set(ORDINAL_CUES),
        "units": set(UNITS),
        "not_after_year": set(UNITS) | set(NOT_AFTER_YEAR),
        # Street names are often plain words (Main, Park, Oak): only clinical words and stop words are excluded.
        "not_street_words": _not_street_words(),
        # "on the 2nd attempt", "by the 3rd dose": an ordinal before a common word is no date.
        "not_after_ordinal": set(UNITS) | (set(common_words()) - {"and", "at", "in", "on", "to", "with", "until"}),
        "state_names": set(state_names),
        # State codes match the exact upper-case text ("MA 02114"), so they stay upper case; IN and OR
        # are left out, being words in all-capitals notes.
        "state_abbrs": set(state_abbrs) - {"IN", "OR"},
    }
    return {name: sorted(words) for name, words in lists.items()}
