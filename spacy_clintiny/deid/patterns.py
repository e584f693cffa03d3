"""High-precision PHI rules: structured identifiers, dates, ages over 89, cued names and places.

``PhiRuleDetector(vocab)(doc)`` returns :class:`~spacy_clintiny.deid.types.PhiMention` records
(character offsets, PHI category, subtype, ``source="rule:<pattern>"``, score 1.0), plus the
user's deny-list terms (``source="deny_list"``). It only finds: the ``clintiny_deid`` component
merges these with the PHI head's spans (``deid/merge.py``).

Two kinds of rules:

* **Token rules** (``resources/deid/token_rules.json``), run by one spaCy ``Matcher``: titled and
  cued names ("Dr. X", "Mrs X", "daughter X", "X Y, RN"), hospitals, wards, ZIP codes, streets,
  ages over 89, dates written with month names, years in date context and years 1960-1999
  standing alone (not quantities: "1975 cc", "I/O 1980"; later years collide with clock times).
  Each rule has a ``before`` / ``target`` / ``after`` part and only the target becomes a
  mention, so "DR. SMITH" yields "SMITH" (the PhysioNet and i2b2 annotation). Places: hospital and
  facility heads ("X Hospital", "X Nursing Home", "X Rehab"), wards ("to Fenwick 12", "Fenwick 4
  RN"), towns after residence cues ("lives in X Mills"); rules marked ``"profile": "recall"`` (a
  capitalised unknown word after "transferred to", "admitted to", "a 70 yo man from"; a word of
  no list before a ward number) run in the recall profile only. A name must not
  be a common word (``wordlists.common_words``); after weaker cues ("NP", "called", "daughter")
  it must also be in Faker's or the US census name lists.
* **Regular expressions over the text** (``resources/deid/regex_rules.json``), for formats
  that spaCy's tokenizer cuts unpredictably:
  phone, fax and pager numbers ("617-555-1234" is five tokens, "CELLULAR-410" one), e-mails,
  URLs, IP addresses, SSNs and record numbers after their cue, numeric dates (nursing notes
  glue them to words: "TOXICITY-9/2/92", "on[10/14/82", "labs on10/14/82", "8/25@2330"; "2021-03-14" is five
  tokens) and, when asked for, clock times. Slash numbers that are not dates (120/80, "2/6
  murmur", "PS 10/5", "pain 5/10", "1/2 NS") are told apart by range checks and the words
  around them, read from the doc's tokens.

The ``"recall"`` profile (the default) adds cue-less dictionary names and places
(``deid/dictionary.py``, like deid.pl); ``"precision"`` runs the cued rules only.

Weekdays, months alone, times (unless ``include_times``) and ages up to 89 are not PHI here
(HIPAA Safe Harbor, as in the PhysioNet gold standard).
"""

import functools
import re
import unicodedata
from dataclasses import dataclass
from importlib.resources import files
from itertools import product
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Match,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Union,
)

import srsly
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import ensure_path
from spacy.vocab import Vocab

from ..converters.labels import PHI_LABELS
from ..errors import Errors
from ..fileio import write_json_atomic
from .dictionary import PROFILES, DictionaryPhiFinder, common_english
from .merge import merge_mentions
from .types import PhiMention
from .wordlists import NUMERIC_NOT_AFTER, NUMERIC_NOT_BEFORE, UNITS, default_allow_list, word_lists

DISK_FILE = "phi_rules.json"
SETTINGS = ("allow_list", "deny_list", "categories", "include_times", "profile")
# A word of a deny-list term: a run of letters (with the combining marks of decomposed, NFD,
# text) or of digits, so "5B." holds the words of "Room 5B" and "Xqvzor617" the name "Xqvzor".
DENY_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+|\d+")
# Most characters of space or punctuation between two words of one deny-list term in a note.
DENY_GAP = 3


def _deny_word_key(word: str) -> str:
    return unicodedata.normalize("NFC", word).lower()


RULE_KEYS = ("name", "label", "subtype", "before", "target", "after", "next_not_in", "cased", "profile")
REGEX_KEYS = (
    "name",
    "label",
    "subtype",
    "pattern",
    "ignore_case",
    "group",
    "cue",
    "window",
    "subtype_cues",
    "min_digits",
    "check",
    "times_only",
)
TokenPattern = Dict[str, Any]
CASED_LABELS = ("NAME", "LOCATION")  # labels whose multi-word matches stop at a case change
SENTENCE_ENDS = (".", "!", "?")
CLAUSE_ENDS = SENTENCE_ENDS + (";",)
STRIP = ":;,.()[]#-"  # stripped from context words


@dataclass(frozen=True)
class TokenRule:
    """One Matcher rule: only the ``target`` tokens become the mention.

    name (str): Rule name; mentions get ``source="rule:<name>"``.
    label (str): PHI category.
    subtype (str): Fine type ("DOCTOR", "ZIP", "YEAR"...) or "".
    before, after (Tuple[TokenPattern, ...]): Fixed-length context (``"OP": "?"`` only).
    target (Tuple[TokenPattern, ...]): The PHI tokens (macros expanded, "@list" references kept).
    next_not_in (Optional[str]): Word list ("@units"): drop a match followed by one of its words.
    cased (bool): In a note written with capitals, drop a match whose target starts lower-case
        ("to achieve 2", "living in disability") while keeping all-lower-case notes' matches.
    profile (Optional[str]): Run the rule only in this profile ("recall": rules that cost
        precision, or that use ``@recall_non_places``); None runs it in every profile.
    """

    name: str
    label: str
    subtype: str
    before: Tuple[TokenPattern, ...]
    target: Tuple[TokenPattern, ...]
    after: Tuple[TokenPattern, ...]
    next_not_in: Optional[str] = None
    cased: bool = False
    profile: Optional[str] = None


def load_token_rules(data: Optional[Dict[str, Any]] = None, *, source: str = "token_rules.json") -> List[TokenRule]:
    """Read and check token rules.

    data (Optional[Dict[str, Any]]): ``{"rules": [...]}``; None reads the packaged file.
    source (str): Where the rules came from, for error messages.
    RETURNS (List[TokenRule]): The rules, in file order.
    """
    if data is None:
        data = read_rule_file("token_rules.json")
    macros = data.get("macros", {})
    rules = []
    for name, raw in _read_rules(data, source, RULE_KEYS, ("about", "macros", "rules")):
        if not raw.get("target"):
            raise ValueError(Errors.E705.format(rule=name, source=source))
        if raw.get("profile") is not None and raw["profile"] not in PROFILES:
            raise ValueError(Errors.E713.format(profile=raw["profile"], profiles=", ".join(PROFILES)))
        for part in ("before", "after"):
            for token in raw.get(part, []):
                if token.get("OP", "?") != "?":
                    raise ValueError(Errors.E702.format(rule=name, source=source, part=part, op=token["OP"]))
        before, target, after = (
            tuple(_macro(t, macros, name, source) for t in raw.get(part, [])) for part in ("before", "target", "after")
        )
        rules.append(
            TokenRule(
                name,
                raw["label"],
                raw.get("subtype", ""),
                before,
                target,
                after,
                raw.get("next_not_in"),
                bool(raw.get("cased", False)),
                raw.get("profile"),
            )
        )
    return rules


def _macro(token: TokenPattern, macros: Dict[str, TokenPattern], rule: str, source: str) -> TokenPattern:
    """A token written as {"macro": NAME, ...}: the macro's pattern with the other keys merged in."""
    if "macro" not in token:
        return dict(token)
    if token["macro"] not in macros:
        raise ValueError(
            Errors.E704.format(rule=rule, source=source, macro=token["macro"], available=", ".join(sorted(macros)))
        )
    return {**macros[token["macro"]], **{k: v for k, v in token.items() if k != "macro"}}


@dataclass(frozen=True)
class RegexRule:
    """One regular expression over the doc's text (keys as in ``resources/deid/regex_rules.json``)."""

    name: str
    label: str
    subtype: str
    pattern: Pattern
    group: int = 0
    cue: Optional[Pattern] = None
    window: int = 30
    subtype_cues: Tuple[Tuple[str, Pattern], ...] = ()
    min_digits: int = 0
    check: Optional[str] = None
    times_only: bool = False


def load_regex_rules(data: Optional[Dict[str, Any]] = None, *, source: str = "regex_rules.json") -> List[RegexRule]:
    """Read, check and compile the regular-expression rules.

    data (Optional[Dict[str, Any]]): ``{"rules": [...]}``; None reads the packaged file.
    source (str): Where the rules came from, for error messages.
    RETURNS (List[RegexRule]): The rules, in file order.
    """
    rules = []
    if data is None:
        data = read_rule_file("regex_rules.json")
    for name, raw in _read_rules(data, source, REGEX_KEYS, ("about", "rules")):
        if raw.get("check") is not None and raw["check"] not in CHECKS:
            raise ValueError(
                Errors.E712.format(rule=name, source=source, check=raw["check"], available=", ".join(sorted(CHECKS)))
            )
        flags = re.IGNORECASE if raw.get("ignore_case") else 0
        try:
            cue = re.compile(raw["cue"], re.IGNORECASE) if raw.get("cue") else None
            subtype_cues = tuple((k, re.compile(v, re.IGNORECASE)) for k, v in raw.get("subtype_cues", {}).items())
            rules.append(
                RegexRule(
                    name,
                    raw["label"],
                    raw.get("subtype", ""),
                    re.compile(raw["pattern"], flags),
                    int(raw.get("group", 0)),
                    cue,
                    int(raw.get("window", 30)),
                    subtype_cues,
                    int(raw.get("min_digits", 0)),
                    raw.get("check"),
                    bool(raw.get("times_only")),
                )
            )
        except (re.error, KeyError, IndexError, TypeError) as err:
            raise ValueError(Errors.E711.format(rule=name, source=source, err=repr(err))) from err
    return rules


def read_rule_file(name: str) -> Dict[str, Any]:
    """RETURNS (Dict[str, Any]): A packaged rule file of ``resources/deid`` ("token_rules.json", ...)."""
    return srsly.json_loads(files("spacy_clintiny").joinpath("resources", "deid", name).read_text(encoding="utf8"))


def _read_rules(
    data: Dict[str, Any], source: str, keys: Sequence[str], file_keys: Sequence[str]
) -> List[Tuple[str, Dict[str, Any]]]:
    """The (name, raw rule) pairs of a rule file, with keys and labels checked."""
    _check_keys(data, file_keys, source, "the file")
    out = []
    for i, raw in enumerate(data.get("rules", [])):
        name = str(raw.get("name", f"#{i}")) if isinstance(raw, dict) else f"#{i}"
        _check_keys(raw, keys, source, f"rule '{name}'")
        if raw.get("label") not in PHI_LABELS:
            raise ValueError(
                Errors.E701.format(rule=name, source=source, label=raw.get("label"), labels=", ".join(PHI_LABELS))
            )
        out.append((name, raw))
    return out


def _writes_capitals(doc: Doc) -> bool:
    """Whether the note's writer capitalises sentences (60% of the words that start a line or
    follow a full stop are not lower-case), so a lower-case word there is no proper name. Notes
    written all in lower case are not; all-upper-case notes are, harmlessly."""
    starts, at_start = [], True
    for token in doc:
        if token.is_space:
            at_start = at_start or "\n" in token.text
            continue
        if at_start and token.is_alpha:
            starts.append(not token.is_lower)
        at_start = token.text in SENTENCE_ENDS
    return len(starts) >= 2 and sum(starts) >= 0.6 * len(starts)


def _cased_length(span: Span) -> int:
    """How many tokens of a name keep its case: a lower-case word after a capitalised name word
    ("Dr. Trask entered", "lives in Houston approximately") is not part of it. All-lower-case
    and all-upper-case notes give no such hint, so their matches are kept whole."""
    words = [t for t in span if t.is_alpha and len(t) > 1]
    if not words or words[0].is_lower:
        return len(span)
    return next((i for i, t in enumerate(span) if i and t.is_alpha and t.is_lower), len(span))


def _neighbour_words(doc: Doc, start: int, end: int, n: int = 3) -> Tuple[List[str], str]:
    """Up to ``n`` words before the tokens covering [start, end), in the same clause, and the
    word after; lower-cased and stripped of punctuation (punctuation-only tokens skipped)."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return [], ""
    before: List[str] = []
    for token in reversed(doc[max(0, span.start - 2 * n) : span.start]):
        if token.text in CLAUSE_ENDS or "\n" in token.text or len(before) == n:
            break
        word = token.lower_.strip(STRIP)
        if word:
            before.insert(0, word)
    after = next((w for w in (t.lower_.strip(STRIP) for t in doc[span.end : span.end + 3]) if w), "")
    return before, after


def _numeric_date_ok(doc: Doc, match: Match, start: int, end: int) -> bool:
    """Tell numeric dates from clinical slash numbers: fractions (1/2, 3/4) and slash numbers
    after a percentage or near ventilator, pain, murmur, strength and cardiac-output words."""
    before, after = _neighbour_words(doc, start, end)
    if after in UNITS:
        return False
    if "/" not in match.group(0):
        return True
    if match.group("md") and _fraction_like(match.group("md")) and not _in_date_range(doc.text, start, end):
        return False
    if before and before[-1].endswith("%"):  # "SIMV/PS 500 X 14, 50% 5/5"
        return False
    return after not in NUMERIC_NOT_AFTER and not any(w in NUMERIC_NOT_BEFORE for w in before)


# A month/day on the other side of a dash: "3/4-3/6" is a range of dates, "1/2-3/4" of fractions.
_RANGE_AFTER = re.compile(r"\s?-\s?(\d{1,2}/\d{1,2})(?![\d/])")
_RANGE_BEFORE = re.compile(r"(?<![\d/])(\d{1,2}/\d{1,2})\s?-\s?$")


def _fraction_like(month_day: str) -> bool:
    """Whether a month/day reads as a fraction (1/2, 3/4: the month below a day of at most 4)."""
    month, day = (int(part) for part in month_day.split("/"))
    return month < day <= 4


def _in_date_range(text: str, start: int, end: int) -> bool:
    """Whether the month/day at ``start:end`` is one end of a dash range whose other end is a
    month/day that is no fraction ("3/4-3/6": the 3/4 is a date too)."""
    other = _RANGE_AFTER.match(text, end) or _RANGE_BEFORE.search(text, max(0, start - 8), start)
    if other is None:
        return False
    month, day = (int(part) for part in other.group(1).split("/"))
    return 1 <= month <= 12 and 1 <= day <= 31 and not _fraction_like(other.group(1))


CHECKS: Dict[str, Callable[[Doc, Match, int, int], bool]] = {"numeric_date": _numeric_date_ok}
_NUMERIC_TEXT = re.compile(r"[\d/.:-]+")


@functools.lru_cache(maxsize=1)
def _numeric_date_rule() -> "RegexRule":
    return next(rule for rule in load_regex_rules() if rule.name == "numeric_date")


def plausible_date(doc: Doc, start: int, end: int) -> bool:
    """Whether a DATE span that a model found at [start, end) of the doc can be a date. Text
    with letters is the model's call (True). Text of digits and separators only must be:
    with a slash, a numeric date the ``numeric_date`` rule reports there, with its check (not a
    fraction, a ventilator setting or a pain score: "PSV 12/10", "pain 3/10", "cx 2/4"); with
    dashes only, numbers that can be a month and a day ("3-14" yes, "22-29" no: the rules leave
    dash month-days to the model, since they read like ranges); digits only, six or eight that
    read as MMDDYY / MMDDYYYY, or a year.

    doc (Doc): The doc.
    start (int): The span's first character.
    end (int): The character after the span.
    RETURNS (bool): False for numbers that cannot be, or by the rules' test are not, a date.
    """
    text = doc.text[start:end]
    if not _NUMERIC_TEXT.fullmatch(text):
        return True
    if text.isdigit():
        if len(text) in (6, 8):
            return _month_day(text[:2], text[2:4])
        return len(text) == 4 and text[:2] in ("19", "20")
    if "/" not in text:
        parts = text.split("-")
        return len(parts) in (2, 3) and all(p.isdigit() for p in parts) and _month_day(parts[0], parts[1])
    match = _numeric_date_rule().pattern.match(doc.text, start)
    return match is not None and match.end() == end and _numeric_date_ok(doc, match, start, end)


def _month_day(month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def _check_keys(data: Any, allowed: Sequence[str], source: str, where: str) -> None:
    unknown = sorted(set(data) - set(allowed)) if isinstance(data, dict) else ["<not an object>"]
    if unknown:
        raise ValueError(Errors.E700.format(source=source, where=where, keys=unknown, allowed=", ".join(allowed)))


class PhiRuleDetector:
    """Rule-based PHI detection with an allow list and a deny list (see the module docstring).

    vocab (Vocab): The pipeline's vocab (shared by the matchers).
    allow_list (Optional[Iterable[str]]): Terms never redacted, case-insensitive; None takes the
        shipped list (``resources/deid/allow_list.txt``: ICU, LA, PA, MS, NSR, Foley...).
    deny_list (Optional[Dict[str, Iterable[str]]]): PHI category -> strings always reported
        (known patient and staff names...), matched case-insensitively as whole tokens. A term
        on both lists is reported.
    categories (Optional[Iterable[str]]): PHI categories the rules look for; None = all. The
        deny list is applied whatever the categories.
    include_times (bool): Also report clock times ("14:30", "2:30pm") as DATE, subtype TIME.
    profile (str): "precision" runs the cued rules only; "recall" (the default) adds dictionary
        names and places without a cue (``deid/dictionary.py``), as deid.pl does.
    """

    def __init__(
        self,
        vocab: Vocab,
        *,
        allow_list: Optional[Iterable[str]] = None,
        deny_list: Optional[Dict[str, Iterable[str]]] = None,
        categories: Optional[Iterable[str]] = None,
        include_times: bool = False,
        profile: str = "recall",
    ) -> None:
        self.vocab = vocab
        self._configure(allow_list, deny_list, categories, include_times, profile)

    def __call__(self, doc: Doc) -> List[PhiMention]:
        """Find PHI in a doc.

        doc (Doc): A tokenized doc (``spacy.blank("en")`` is enough).
        RETURNS (List[PhiMention]): Rule mentions (overlaps among them merged) and deny-list
            mentions, sorted by offsets.
        """
        capitals = _writes_capitals(doc)
        found = self._token_mentions(doc, capitals)
        found.extend(self._regex_mentions(doc))
        if self._dictionary is not None:
            found.extend(self._dictionary(doc, capitals=capitals))
        text = doc.text
        rules = [m for m in found if m.label in self.categories and not self.is_allowed(text[m.start : m.end])]
        out = merge_mentions(rules) + self._deny_mentions(doc)
        return sorted(out, key=lambda m: (m.start, m.end, m.label, m.source))

    def is_allowed(self, text: str) -> bool:
        """True if ``text`` is a term of the allow list (case-insensitive, surrounding space ignored).

        text (str): A detected span's text.
        RETURNS (bool): Whether callers should drop the span.
        """
        return " ".join(text.split()).lower() in self._allowed

    # ------------------------------------------------------------------ building

    def _configure(
        self,
        allow_list: Optional[Iterable[str]],
        deny_list: Optional[Dict[str, Iterable[str]]],
        categories: Optional[Iterable[str]],
        include_times: bool,
        profile: str = "recall",
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(Errors.E713.format(profile=profile, profiles=", ".join(PROFILES)))
        self.profile = profile
        allow = default_allow_list() if allow_list is None else _strings(allow_list, "allow_list")
        self.allow_list: List[str] = sorted({" ".join(a.split()) for a in allow if a.strip()})
        self._allowed: Set[str] = {a.lower() for a in self.allow_list}
        self.deny_list: Dict[str, List[str]] = {}
        if deny_list is not None and not isinstance(deny_list, dict):
            raise TypeError(
                Errors.E707.format(
                    name="deny_list", expected="a dict of PHI category -> strings", type=type(deny_list).__name__
                )
            )
        for label, terms in (deny_list or {}).items():
            if label not in PHI_LABELS:
                # the key may be a name (category and terms swapped): never shown
                shown = f"{len(label)} characters" if isinstance(label, str) else type(label).__name__
                raise ValueError(Errors.E706.format(label=shown, labels=", ".join(PHI_LABELS)))
            self.deny_list[label] = sorted(
                {" ".join(t.split()) for t in _strings(terms, f"deny_list['{label}']") if t.strip()}
            )
        cats = PHI_LABELS if categories is None else tuple(_strings(categories, "categories"))
        for label in cats:
            if label not in PHI_LABELS:
                raise ValueError(Errors.E708.format(label=label, labels=", ".join(PHI_LABELS)))
        self.categories: Tuple[str, ...] = tuple(label for label in PHI_LABELS if label in cats)
        self.include_times = bool(include_times)
        self._build_token_matcher()
        self._regex_rules = [
            r for r in load_regex_rules() if r.label in self.categories and (self.include_times or not r.times_only)
        ]
        self._build_deny_matcher()
        self._dictionary: Optional[DictionaryPhiFinder] = None
        if profile == "recall" and {"NAME", "LOCATION"} & set(self.categories):
            self._dictionary = DictionaryPhiFinder(
                self.vocab, excluded=self._lists["non_names"], categories=self.categories
            )

    def _build_token_matcher(self) -> None:
        lists = self._lists = {name: words for name, words in word_lists(self._allowed).items()}
        rules = [r for r in load_token_rules() if r.label in self.categories and r.profile in (None, self.profile)]
        if self.profile == "recall":
            # Words the recall profile's dictionaries never take for places: also common English.
            lists["recall_non_places"] = sorted(set(lists["non_places"]) | common_english())
        self._next_not_in: Dict[str, Set[str]] = {}
        self._keys: Dict[str, Tuple[int, TokenRule, int, int]] = {}  # key -> (rule rank, rule, before, after)
        # The rule file is checked by tests/deid/test_patterns.py with spaCy's pattern schema;
        # validating here would cost seconds (pydantic over word lists of thousands of words).
        self._matcher = AnchoredMatcher(self.vocab)
        for rank, rule in enumerate(rules):
            if rule.next_not_in is not None:
                self._next_not_in[rule.name] = set(_resolve(rule.next_not_in, lists, rule.name))
            target = [_expand(token, lists, rule.name) for token in rule.target]
            for i, (before, after) in enumerate(
                product(_variants(rule.before, lists, rule.name), _variants(rule.after, lists, rule.name))
            ):
                key = f"{rule.name}/{i}"
                try:
                    self._matcher.add(key, before + target + after)
                except ValueError as err:
                    raise ValueError(Errors.E711.format(rule=rule.name, source="token_rules.json", err=err)) from err
                self._keys[key] = (rank, rule, len(before), len(after))

    def _build_deny_matcher(self) -> None:
        self._deny_matcher = PhraseMatcher(self.vocab, attr="LOWER")
        # terms as word sequences too, found in the text whatever the tokenizer made of it:
        # "Xqvzor/617-555-1234" is one spaCy token, where the PhraseMatcher sees no "Xqvzor"
        self._deny_words: Dict[Tuple[str, ...], str] = {}
        for label, terms in self.deny_list.items():
            for term in terms:
                words = tuple(_deny_word_key(w.group()) for w in DENY_WORD.finditer(term))
                if words:
                    self._deny_words.setdefault(words, label)
        self._deny_longest = max((len(words) for words in self._deny_words), default=0)
        if not any(self.deny_list.values()):
            return
        import spacy

        tokenizer = spacy.blank("en", vocab=self.vocab).tokenizer
        for label, terms in self.deny_list.items():
            # a term in both Unicode forms: "Zoë" typed composed also matches a note written
            # with a combining diaeresis (NFD), and the other way round
            forms = dict.fromkeys(unicodedata.normalize(form, term) for term in terms for form in ("NFC", "NFD"))
            self._deny_matcher.add(label, [tokenizer(term) for term in forms])

    # ------------------------------------------------------------------ matching

    def _token_mentions(self, doc: Doc, capitals: bool) -> List[PhiMention]:
        """Target spans of the token rules; of rules giving the same span, the first in the file wins."""
        found: Dict[Tuple[int, int], Tuple[int, PhiMention]] = {}
        text = doc.text  # built once: doc.text joins every token
        for match_id, start, end in self._matcher(doc):
            rank, rule, n_before, n_after = self._keys[self.vocab.strings[match_id]]
            stop = rule.next_not_in is not None and end < len(doc) and doc[end].lower_ in self._next_not_in[rule.name]
            first, last = start + n_before, end - n_after
            if stop or last <= first or (rule.cased and capitals and doc[first].is_lower):
                continue
            if rule.label in CASED_LABELS:
                last = first + _cased_length(doc[first:last])
            s, e = doc[first].idx, doc[last - 1].idx + len(doc[last - 1])
            while e > s + 1 and text[e - 1] in "-'\u2019":
                e -= 1
            if (s, e) not in found or rank < found[(s, e)][0]:
                found[(s, e)] = (rank, PhiMention(s, e, rule.label, f"rule:{rule.name}", 1.0, rule.subtype))
        return [mention for _, mention in found.values()]

    def _regex_mentions(self, doc: Doc) -> List[PhiMention]:
        text, out = doc.text, []
        for rule in self._regex_rules:
            for match in rule.pattern.finditer(text):
                start, end = match.span(rule.group)
                before = text[max(0, match.start() - rule.window) : match.start()]
                if end <= start or (rule.cue is not None and not rule.cue.search(before)):
                    continue
                if rule.min_digits and sum(c.isdigit() for c in text[start:end]) < rule.min_digits:
                    continue
                if rule.check is not None and not CHECKS[rule.check](doc, match, start, end):
                    continue
                subtype = next((sub for sub, cue in rule.subtype_cues if cue.search(before)), rule.subtype)
                out.append(PhiMention(start, end, rule.label, f"rule:{rule.name}", 1.0, subtype))
        return out

    def _deny_mentions(self, doc: Doc) -> List[PhiMention]:
        found = {
            (doc[start].idx, doc[end - 1].idx + len(doc[end - 1])): self.vocab.strings[match_id]
            for match_id, start, end in self._deny_matcher(doc)
        }
        for start, end, label in self._deny_word_spans(doc.text):
            found.setdefault((start, end), label)
        return [PhiMention(start, end, label, "deny_list") for (start, end), label in sorted(found.items())]

    def _deny_word_spans(self, text: str) -> Iterator[Tuple[int, int, str]]:
        """Deny-list terms as runs of words (letters and combining marks, compared lower-cased in
        NFC), next to each other or joined by at most ``DENY_GAP`` characters of space or
        punctuation: one set lookup per word and term length, whatever the list's size."""
        if not self._deny_words:
            return
        words = list(DENY_WORD.finditer(text))
        keys = [_deny_word_key(w.group()) for w in words]
        for i in range(len(words)):
            for n in range(min(self._deny_longest, len(words) - i), 0, -1):
                label = self._deny_words.get(tuple(keys[i : i + n]))
                if label is None:
                    continue
                gaps = (text[words[j].end() : words[j + 1].start()] for j in range(i, i + n - 1))
                if all(len(gap) <= DENY_GAP and not any(ch.isalnum() for ch in gap) for gap in gaps):
                    yield words[i].start(), words[i + n - 1].end(), label
                    break

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The allow and deny lists and options (the deny list may hold PHI)."""
        return {
            "allow_list": list(self.allow_list),
            "deny_list": {k: list(v) for k, v in self.deny_list.items()},
            "categories": list(self.categories),
            "include_times": self.include_times,
            "profile": self.profile,
        }

    def from_dict(self, data: Dict[str, Any], *, source: str = "<dict>") -> "PhiRuleDetector":
        """Restore the settings written by :meth:`to_dict`; unknown keys raise, listing the allowed ones."""
        if not isinstance(data, dict) or set(data) - set(SETTINGS):
            keys = sorted(set(data) - set(SETTINGS)) if isinstance(data, dict) else ["<not an object>"]
            raise ValueError(Errors.E709.format(source=source, keys=keys, allowed=", ".join(SETTINGS)))
        self._configure(
            data.get("allow_list"),
            data.get("deny_list"),
            data.get("categories"),
            bool(data.get("include_times", False)),
            data.get("profile", self.profile),
        )
        return self

    def to_bytes(self) -> bytes:
        """RETURNS (bytes): The settings, msgpack-encoded."""
        return srsly.msgpack_dumps(self.to_dict())

    def from_bytes(self, data: bytes) -> "PhiRuleDetector":
        """Restore settings saved by :meth:`to_bytes`."""
        return self.from_dict(srsly.msgpack_loads(data), source="bytes")

    def to_disk(self, path: Union[str, Path]) -> None:
        """Save the settings to ``path/phi_rules.json`` (folder created if needed)."""
        write_json_atomic(ensure_path(path) / DISK_FILE, self.to_dict())

    def from_disk(self, path: Union[str, Path]) -> "PhiRuleDetector":
        """Restore settings saved by :meth:`to_disk`."""
        file = ensure_path(path) / DISK_FILE
        if not file.exists():
            raise ValueError(Errors.E710.format(path=file))
        return self.from_dict(srsly.read_json(file), source=str(file))


def _strings(values: Iterable[str], name: str) -> List[str]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(Errors.E707.format(name=name, expected="a list of strings", type=type(values).__name__))
    values = list(values)
    for value in values:
        if not isinstance(value, str):
            raise TypeError(
                Errors.E707.format(name=f"an entry of {name}", expected="a string", type=type(value).__name__)
            )
    return values


class AnchoredMatcher:
    """spaCy ``Matcher`` patterns run only around the words they require.

    Most token rules need a literal word somewhere ("hospital" after the name, "dr" before it, a
    month name), yet a ``Matcher`` tries every pattern's first token at every position of every
    doc: on nursing notes that is most of the rules' time. Each pattern's most selective required
    word set (a token without an optional ``OP`` whose ``LOWER``, ``ORTH`` or ``TEXT`` is a
    literal or an ``IN`` list) is its anchor; patterns sharing an anchor share one ``Matcher``.
    A match holds one of its anchor's words and is at most ``n`` tokens long (the pattern's
    longest form), so that ``Matcher`` runs only on the stretches of the doc within ``n - 1``
    tokens of an anchor word (overlapping stretches merged, so the ``greedy="LONGEST"`` choice
    among overlapping matches is made as over the whole doc); on no doc without one. Patterns
    without an anchor run on the whole doc, so do patterns of unbounded length (``+``, ``*``)
    on docs holding an anchor word. The matches are exactly those of one ``Matcher`` holding
    every pattern (tests/deid/test_patterns.py compares them on real notes).
    """

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self._always = Matcher(vocab, validate=False)
        self._anchored: Dict[Tuple[str, FrozenSet[str]], Matcher] = {}
        self._longest: Dict[Tuple[str, FrozenSet[str]], Optional[int]] = {}  # None: unbounded
        # attribute -> word -> the anchors holding it
        self._groups: Dict[str, Dict[str, List[Tuple[str, FrozenSet[str]]]]] = {"lower": {}, "orth": {}}
        self.patterns: Dict[str, List[TokenPattern]] = {}

    def add(self, key: str, pattern: List[TokenPattern]) -> None:
        """Add one pattern under ``key`` (``greedy="LONGEST"``), as ``Matcher.add`` would."""
        anchor = pattern_anchor(pattern)
        if anchor is None:
            matcher = self._always
        else:
            if anchor not in self._anchored:
                self._anchored[anchor] = Matcher(self.vocab, validate=False)
                for word in anchor[1]:
                    self._groups[anchor[0]].setdefault(word, []).append(anchor)
            matcher = self._anchored[anchor]
            longest, before = pattern_length(pattern), self._longest.get(anchor, 0)
            self._longest[anchor] = None if longest is None or before is None else max(longest, before)
        matcher.add(key, [pattern], greedy="LONGEST")
        self.patterns[key] = pattern

    def __call__(self, doc: Doc) -> List[Tuple[int, int, int]]:
        """(match_id, start, end) of every pattern's matches, as ``Matcher.__call__``."""
        found = list(self._always(doc)) if len(self._always) else []  # an empty Matcher warns (W036)
        hits: Dict[Tuple[str, FrozenSet[str]], List[int]] = {}
        lower, orth = self._groups["lower"], self._groups["orth"]
        for i, token in enumerate(doc):
            for group in lower.get(token.lower_, NO_GROUPS) + orth.get(token.orth_, NO_GROUPS):
                hits.setdefault(group, []).append(i)
        for group, at in hits.items():
            matcher, longest = self._anchored[group], self._longest[group]
            if longest is None:
                found.extend(matcher(doc))
                continue
            for start, end in _merged_windows(at, longest - 1, len(doc)):
                found.extend((match_id, start + s, start + e) for match_id, s, e in matcher(doc[start:end]))
        return found


def _merged_windows(positions: Sequence[int], reach: int, length: int) -> List[Tuple[int, int]]:
    """[start, end) token ranges covering ``reach`` tokens either side of each sorted position,
    overlapping or touching ranges merged."""
    out: List[Tuple[int, int]] = []
    for i in positions:
        start, end = max(0, i - reach), min(length, i + reach + 1)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def pattern_length(pattern: Sequence[TokenPattern]) -> Optional[int]:
    """The most tokens a match of ``pattern`` can have, or None if unbounded (``+``, ``*``, ``{n,}``)."""
    total = 0
    for token in pattern:
        op = str(token.get("OP", "1"))
        if op in ("+", "*"):
            return None
        bounds = re.fullmatch(r"\{(\d*)(,?)(\d*)\}", op)
        if bounds is None:
            total += 1  # "1", "!", "?"
        elif bounds.group(2) and not bounds.group(3):
            return None
        else:
            total += int(bounds.group(3) or bounds.group(1))
    return total


def pattern_anchor(pattern: Sequence[TokenPattern]) -> Optional[Tuple[str, FrozenSet[str]]]:
    """The most selective word set a doc must contain for ``pattern`` to match, or None.

    pattern (Sequence[TokenPattern]): One spaCy Matcher pattern ("@list" references resolved).
    RETURNS (Optional[Tuple[str, FrozenSet[str]]]): ("lower" or "orth", words): sets holding
        punctuation or stop words rank last, then smaller sets first.
    """
    candidates = []
    for token in pattern:
        op = token.get("OP")
        if not (op is None or op in ("+", "1") or re.fullmatch(r"\{[1-9]\d*(,\d*)?\}", str(op))):
            continue
        for key, attr in (("LOWER", "lower"), ("ORTH", "orth"), ("TEXT", "orth")):
            value = token.get(key)
            if isinstance(value, dict) and set(value) == {"IN"}:
                value = value["IN"]
            if isinstance(value, str):
                value = [value]
            found = _word_set(value) if isinstance(value, list) and value else None
            if found is not None:
                weak, words = found
                candidates.append(((weak, len(words)), (attr, words)))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


# id(word list) -> (the list, (weak, words)): rules share the big "@list" word lists, so each
# list's set is built once (the list is kept, so its id cannot be reused by another object)
_WORD_SETS: Dict[int, Tuple[List[str], Optional[Tuple[bool, FrozenSet[str]]]]] = {}


def _word_set(value: List[Any]) -> Optional[Tuple[bool, FrozenSet[str]]]:
    """(holds a stop word or punctuation, the words) of a list of words; None if not all strings."""
    cached = _WORD_SETS.get(id(value))
    if cached is not None and cached[0] is value:
        return cached[1]
    from spacy.lang.en.stop_words import STOP_WORDS

    result = None
    if all(isinstance(v, str) for v in value):
        words = frozenset(value)
        result = (not words.isdisjoint(STOP_WORDS) or PUNCT_WORD.search("\n".join(words)) is not None, words)
    _WORD_SETS[id(value)] = (value, result)
    return result


NO_GROUPS: List[Tuple[str, FrozenSet[str]]] = []
PUNCT_WORD = re.compile(r"(?m)^\W*$")  # a line (word) with no letter or digit


def _resolve(ref: str, lists: Dict[str, List[str]], rule: str) -> List[str]:
    if ref[1:] not in lists:
        raise ValueError(
            Errors.E703.format(
                rule=rule, source="token_rules.json", ref=ref, available=", ".join(f"@{k}" for k in sorted(lists))
            )
        )
    return lists[ref[1:]]


def _expand(token: TokenPattern, lists: Dict[str, List[str]], rule: str) -> TokenPattern:
    """Replace "@list" references by their words."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@") and len(value) > 1:
            return _resolve(value, lists, rule)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    return {k: resolve(v) for k, v in token.items()}


def _variants(tokens: Sequence[TokenPattern], lists: Dict[str, List[str]], rule: str) -> List[List[TokenPattern]]:
    """All fixed-length versions of a context part: each optional token present or absent."""
    out: List[List[TokenPattern]] = [[]]
    for token in tokens:
        plain = {k: v for k, v in _expand(token, lists, rule).items() if k != "OP"}
        out = [v + [plain] for v in out] + ([list(v) for v in out] if token.get("OP") == "?" else [])
    return out
