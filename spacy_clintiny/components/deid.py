"""``clintiny_deid``: recall-first hybrid PHI detection in one span group.

It unites the PHI head's predictions (``doc.spans[model_key]``, written by a ``clintiny_ner``
with ``spans_key = "phi"``) with high-precision rules for structured identifiers and the user's
deny list (``deid.patterns.PhiRuleDetector``), drops model spans that are exactly a term of the
allow list and the rules' cue-less dictionary hits (a census surname, a town, with no title or
cue before it) to which the PHI head gives less than ``dictionary_gate`` on every token
(``attrs["token_scores"]``: without a head, the rules alone, every hit stays), merges overlaps
one documented way (``deid.merge``: the union of overlapping spans, labelled by the longest,
then the more precise source) and writes the result to ``doc.spans[output_key]``. With
``propagate`` (the default) the distinctive words of the doc's NAME and LOCATION spans are then
PHI wherever else they occur in the doc (``deid.propagate``, note scope: "Dr. Quimbleton" found
from its title makes "QUIMBLETON aware" two lines on a NAME too); ``clintiny deid`` turns this
off and propagates itself, across all the notes of a patient.

The spans:

* ``span.label_``: the PHI category (NAME, PROFESSION, LOCATION, AGE, DATE, CONTACT, ID);
* ``span.kb_id_``: the finer subtype where a detector knows it (PHONE, EMAIL, DOCTOR, ...);
* ``span.id_``: the detector that fired (``"model"``, ``"rule:<pattern>"``, ``"deny_list"``);
* ``doc.spans[output_key].attrs["scores"]``: one confidence per span.

Spans are aligned outward to token boundaries (``alignment_mode="expand"``): a redaction
may cover a few more characters than the pattern matched, never fewer. The letters and digits
the tokens add are redacted with the span, the punctuation at their edges is not:
``attrs["chars"]`` holds each span's characters for the operators ("Room 5B." becomes "[NAME].").

With ``mode`` other than "annotate" (the default: find only) the component also writes the
de-identified text to ``doc._.deid_text``, with the operators of ``clintiny deid``
(``deid.operators``: redact, mask, surrogate, hash, encrypt, remove, custom);
``doc._.deid_patient``, if set before, keeps surrogates and date shifts consistent per patient
(None: one shared patient). A custom function is named in the config (``custom``) and imported
when the component is made. The keyed modes take their secret from ``$CLINTINY_DEID_KEY`` when
the component is made, never from the config (which is saved with the pipeline); without it a
random key serves this process only, and "encrypt" refuses to start. Streams of notes,
propagation across a patient's notes, chunking of very long notes and the audit are ``clintiny
deid``'s (``deid.engine.Deidentifier``).
"""

import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.util import SimpleFrozenList, ensure_path, raise_error
from spacy.vocab import Vocab

from ..converters.labels import PHI_KEY, PHI_LABELS
from ..deid.dictionary import CUELESS_SOURCES, is_eponym
from ..deid.engine import safe_detail
from ..deid.lists import read_surrogate_key
from ..deid.merge import merge_mentions
from ..deid.operators import apply_operator, mode_operator
from ..deid.patterns import PhiRuleDetector, plausible_date
from ..deid.propagate import propagation_words, with_propagated
from ..deid.types import KEYED_MODES, MERGED_SOURCE, MODES, PhiMention
from ..errors import Errors, Warnings

CFG_FILE = "cfg.json"
RULES_FILE = "rules.bin"


@Language.factory(
    "clintiny_deid",
    assigns=["doc.spans"],
    default_config={
        "model_key": PHI_KEY,
        "output_key": PHI_KEY,
        "rules": True,
        "threshold": 0.0,
        "allow_list": None,
        "deny_list": None,
        "categories": None,
        "profile": "recall",
        "propagate": True,
        "dictionary_gate": 0.01,
        "check_dates": False,
        "mode": "annotate",
        "custom": None,
    },
    default_score_weights={f"spans_{PHI_KEY}_f": 1.0, f"spans_{PHI_KEY}_p": 0.0, f"spans_{PHI_KEY}_r": 0.0},
)
def make_clintiny_deid(
    nlp: Language,
    name: str,
    # Typed Any on purpose: spaCy's config validation error prints the whole config, and so the
    # deny list's names; PhiDetector checks every setting itself, naming the setting, not its value.
    model_key: Any,
    output_key: Any,
    rules: Any,
    threshold: Any,
    allow_list: Any,
    deny_list: Any,
    categories: Any,
    profile: Any = "recall",
    propagate: Any = True,
    dictionary_gate: Any = 0.01,
    check_dates: Any = False,
    mode: Any = "annotate",
    custom: Any = None,
) -> "PhiDetector":
    """Create a ``clintiny_deid`` component.

    model_key (Optional[str]): Span group the PHI head writes ("phi"); None or a group the
        doc lacks means rules only.
    output_key (str): Span group for the merged PHI spans (may equal ``model_key``).
    rules (bool): Run the rule patterns for structured identifiers (phones, emails, URLs,
        IPs, SSNs, record numbers, dates, ZIP codes, ages over 89, titled names).
    threshold (float): Minimum confidence of a model span. 0 keeps every span the head
        decodes (the recall-first default); the head's own recall bias is its
        ``outside_weight``.
    allow_list (Optional[List[str]]): Terms never redacted (case-insensitive); None takes the
        shipped list of clinical abbreviations that collide with names and places.
    deny_list (Optional[Dict[str, List[str]]]): PHI category -> strings always redacted
        (known patient and staff names...), matched case-insensitively as whole words.
    categories (Optional[List[str]]): PHI categories the rules look for (None = all).
    profile (str): Rule profile: "recall" adds dictionary names and places, "precision" keeps the cued rules only.
    propagate (bool): Mark every other whole-word occurrence in the doc of a distinctive word of a
        NAME or LOCATION span (detector ``"propagated"``).
    dictionary_gate (float): Keep a cue-less dictionary name or town of the rules (``rule:dict_name``,
        ``rule:dict_city``) only where the PHI head's probability that one of its tokens is PHI
        (``doc.spans[model_key].attrs["token_scores"]``) reaches this. 0 keeps every hit; without
        the head's token scores (rules alone) every hit is kept.
    check_dates (bool): Drop the PHI head's DATE spans of digits and separators only that the
        rules' numeric-date test rejects ("PSV 12/10", "pain 3/10", "pads 22-29": see
        ``deid.patterns.plausible_date``). Off by default: more precision, and on the held-out
        PhysioNet patients one PHI token less recall (docs/deid.md).
    mode (str): "annotate" finds only; "redact", "mask", "surrogate", "hash", "encrypt",
        "remove" or "custom" also write ``doc._.deid_text`` (keyed modes: secret from
        $CLINTINY_DEID_KEY).
    custom (Optional[str]): With mode "custom", the replacement function by name,
        "package.module:function" or "path/to/file.py:function" (``deid.custom``).
    """
    return PhiDetector(
        nlp.vocab,
        name=name,
        model_key=model_key,
        output_key=output_key,
        rules=rules,
        threshold=threshold,
        allow_list=allow_list,
        deny_list=deny_list,
        categories=categories,
        profile=profile,
        propagate=propagate,
        dictionary_gate=dictionary_gate,
        check_dates=check_dates,
        mode=mode,
        custom=custom,
    )


class PhiDetector:
    """Unite model and rule PHI spans into one group (see the module docstring)."""

    def __init__(
        self,
        vocab: Vocab,
        *,
        name: str = "clintiny_deid",
        model_key: Optional[str] = PHI_KEY,
        output_key: str = PHI_KEY,
        rules: bool = True,
        threshold: float = 0.0,
        allow_list: Optional[Iterable[str]] = None,
        deny_list: Optional[Dict[str, Iterable[str]]] = None,
        categories: Optional[Iterable[str]] = None,
        profile: str = "recall",
        propagate: bool = True,
        dictionary_gate: float = 0.01,
        check_dates: bool = False,
        mode: str = "annotate",
        custom: Optional[str] = None,
    ) -> None:
        kinds = {
            "model_key": (model_key, (str, type(None)), "a span group name or null"),
            "output_key": (output_key, str, "a span group name"),
            "rules": (rules, bool, "true or false"),
            "threshold": (threshold, (int, float), "a number in [0, 1]"),
            "profile": (profile, str, '"recall" or "precision"'),
            "propagate": (propagate, bool, "true or false"),
            "check_dates": (check_dates, bool, "true or false"),
            "mode": (mode, str, "a mode name"),
            "custom": (custom, (str, type(None)), "a function name or null"),
        }
        for setting, (value, kind, expected) in kinds.items():
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise TypeError(
                    Errors.E920.format(name=name, setting=setting, expected=expected, type=type(value).__name__)
                )
        if mode not in MODES:
            raise ValueError(Errors.E742.format(mode=mode, modes=", ".join(MODES)))
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(Errors.E767.format(name=name, value=threshold))
        for label in categories or ():
            if label not in PHI_LABELS:
                raise ValueError(Errors.E768.format(name=name, label=label, labels=", ".join(PHI_LABELS)))
        self.vocab = vocab
        self.name = name
        self.cfg: Dict[str, Any] = {
            "model_key": model_key,
            "output_key": output_key,
            "rules": rules,
            "threshold": threshold,
            "propagate": bool(propagate),
            "dictionary_gate": checked_gate(dictionary_gate, name),
            "check_dates": bool(check_dates),
            "mode": mode,
            "custom": custom,
        }
        install_deid_extensions()
        self._keyed: Optional[tuple] = None
        self._operator()  # read now: "encrypt" without a secret or a custom function that cannot load fails here
        self.detector = PhiRuleDetector(
            vocab,
            allow_list=allow_list,
            deny_list=deny_list,
            categories=categories,
            profile=profile,
        )

    def __call__(self, doc: Doc) -> Doc:
        mentions = self.model_mentions(doc)
        if self.cfg["rules"]:
            mentions.extend(self.gate_dictionary(doc, self.detector(doc)))
        else:
            mentions.extend(m for m in self.detector(doc) if m.source == "deny_list")
        merged = merge_mentions(mentions)
        if self.cfg["propagate"]:
            merged = with_propagated(doc.text, merged, propagation_words(doc.text, merged))
        write_mentions(doc, self.cfg["output_key"], merged)
        mode = self.cfg["mode"]
        if mode != "annotate":
            generator = self._operator()
            try:
                doc._.deid_text, _ = apply_operator(
                    doc.text,
                    phi_mentions(doc, self.cfg["output_key"]),
                    mode=mode,
                    patient_id=doc._.deid_patient,
                    generator=generator,
                )
            except Exception as err:  # a custom function's message may hold the span: its type only
                detail = safe_detail(err)
                raise ValueError(Errors.E746.format(note_id="(this doc)", mode=mode, detail=detail)) from None
        return doc

    def _operator(self) -> Any:
        """The object of the configured mode (made once per mode; a keyed mode's secret from the
        environment, a custom mode's function imported by name)."""
        made_for = (self.cfg["mode"], self.cfg["custom"])
        if self._keyed is None or self._keyed[0] != made_for:
            mode, custom = made_for
            key = read_surrogate_key() if mode in KEYED_MODES else None
            self._keyed = (made_for, mode_operator(mode, key, custom))
        return self._keyed[1]

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        # spaCy hands errors to a component's own handler when it has a ``pipe``: a doc that fails
        # here is given to it (``Deidentifier`` then fails that note only), as trainable pipes do
        error_handler = self.get_error_handler()
        for doc in stream:
            try:
                yield self(doc)
            except Exception as err:
                error_handler(self.name, self, [doc], err)

    def get_error_handler(self) -> Callable[[str, Any, List[Doc], Exception], Any]:
        return getattr(self, "_error_handler", raise_error)

    def set_error_handler(self, error_handler: Callable[[str, Any, List[Doc], Exception], Any]) -> None:
        self._error_handler = error_handler

    def gate_dictionary(self, doc: Doc, mentions: Iterable[PhiMention]) -> List[PhiMention]:
        """Drop the cue-less dictionary mentions the PHI head gives no chance (``dictionary_gate``).

        doc (Doc): The doc, after the PHI head.
        mentions (Iterable[PhiMention]): The rules' mentions.
        RETURNS (List[PhiMention]): The mentions kept.
        """
        mentions = list(mentions)
        gate = self.cfg["dictionary_gate"]
        group = self._model_group(doc)
        scores = group.attrs.get("token_scores") if gate > 0 and group is not None else None
        if scores is None or len(scores) != len(doc):
            return mentions
        kept = []
        for mention in mentions:
            if mention.source in CUELESS_SOURCES:
                span = doc.char_span(mention.start, mention.end, alignment_mode="expand")
                if span is not None and len(span) and max(scores[span.start : span.end]) < gate:
                    continue
            kept.append(mention)
        return kept

    def _model_group(self, doc: Doc) -> Optional[SpanGroup]:
        """The PHI head's span group of the doc, or None (no ``model_key``, or the head did not run)."""
        key = self.cfg["model_key"]
        return doc.spans[key] if key and key in doc.spans else None

    def model_mentions(self, doc: Doc) -> List[PhiMention]:
        """The PHI head's spans above the threshold, minus exact allow-list terms, names and places
        inside a hyphenated eponym ("Jackson-Pratt": ``dictionary.is_eponym``) and (with
        ``check_dates``) numbers the rules would not call a date."""
        group = self._model_group(doc)
        if group is None:
            return []
        scores = group.attrs.get("scores") or [1.0] * len(group)
        if len(scores) != len(group):
            raise ValueError(Errors.E919.format(name=self.name, key=self.cfg["model_key"], n=len(group), m=len(scores)))
        unknown = sorted({span.label_ for span in group} - set(PHI_LABELS))
        if unknown and not getattr(self, "_warned_labels", False):
            self._warned_labels = True  # once per component: labels are names of categories, never text
            message = Warnings.W106.format(name=self.name, key=self.cfg["model_key"], labels=unknown[:10])
            warnings.warn(message, stacklevel=2)
        check_dates = self.cfg["check_dates"]
        out = []
        for span, score in zip(group, scores):
            if score < self.cfg["threshold"] or span.label_ not in PHI_LABELS:
                continue
            if self.detector.is_allowed(span.text):
                continue
            if span.label_ in ("NAME", "LOCATION") and is_eponym(doc, span.start, span.end, heads=False):
                continue  # "Jackson-Pratt drain", "Guillain-Barre"
            if span.label_ == "DATE" and check_dates and not plausible_date(doc, span.start_char, span.end_char):
                continue
            out.append(PhiMention(span.start_char, span.end_char, span.label_, "model", float(score), span.kb_id_))
        return out

    # ------------------------------------------------------------------ serialization

    def to_bytes(self, *, exclude: Sequence[str] = SimpleFrozenList()) -> bytes:
        return srsly.msgpack_dumps({"cfg": self.cfg, "rules": self.detector.to_bytes()})

    def from_bytes(self, data: bytes, *, exclude: Sequence[str] = SimpleFrozenList()) -> "PhiDetector":
        msg = srsly.msgpack_loads(data)
        self._load_saved(msg["cfg"], msg["rules"])
        return self

    def _load_saved(self, cfg: Dict[str, Any], rules: bytes) -> None:
        """Take the saved settings (they hold what ``load_deid_pipeline`` changed after loading,
        which the config does not), and say so when they replace settings the config given at
        load asked for: a deny list added that way was silently not used (W105; keys only,
        never values)."""
        differ = sorted(key for key, value in cfg.items() if key in self.cfg and self.cfg[key] != value)
        if self.detector.to_bytes() != rules:
            differ.append("rules and lists")
        if differ:
            warnings.warn(Warnings.W105.format(name=self.name, keys=", ".join(differ)), stacklevel=3)
        self.cfg.update(cfg)
        self.detector.from_bytes(rules)

    def to_disk(self, path: Union[str, Path], *, exclude: Sequence[str] = SimpleFrozenList()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / CFG_FILE, self.cfg)
        (path / RULES_FILE).write_bytes(self.detector.to_bytes())

    def from_disk(self, path: Union[str, Path], *, exclude: Sequence[str] = SimpleFrozenList()) -> "PhiDetector":
        path = ensure_path(path)
        for name in (CFG_FILE, RULES_FILE):
            if not (path / name).exists():
                raise ValueError(Errors.E769.format(name=self.name, path=path / name))
        self._load_saved(srsly.read_json(path / CFG_FILE), (path / RULES_FILE).read_bytes())
        return self

    def initialize(self, get_examples: Optional[Callable] = None, *, nlp: Optional[Language] = None) -> None:
        """Nothing to learn: rules and lists come from the config."""


def install_deid_extensions() -> None:
    """Register ``Doc._.deid_text`` (the de-identified text, None until a ``clintiny_deid`` with
    a replacing mode has run) and ``Doc._.deid_patient`` (the patient id surrogates are
    consistent for); idempotent. Both live in ``doc.user_data``, so they survive pickling and
    ``DocBin(store_user_data=True)``."""
    for name in ("deid_text", "deid_patient"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def checked_gate(value: Any, name: str = "clintiny_deid") -> float:
    """RETURNS (float): ``value`` as a ``dictionary_gate``, or raises E894 unless a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(Errors.E894.format(name=name, value=value))
    return float(value)


def write_mentions(doc: Doc, key: str, mentions: Sequence[PhiMention]) -> None:
    """Write merged mentions to ``doc.spans[key]`` (token-aligned outward; source on
    ``span.id_``, subtype on ``span.kb_id_``, confidences in ``attrs["scores"]``, and in
    ``attrs["chars"]`` each span's characters for the operators: ``edge_bounds``)."""
    spans, scores, chars = [], [], []
    text = doc.text
    for m in mentions:
        span = doc.char_span(m.start, m.end, label=m.label, kb_id=m.subtype, span_id=m.source, alignment_mode="expand")
        if span is None or not len(span):
            continue
        # Expanded to whole tokens, a span may take in letters or digits that are not this
        # mention's ("Quilligan,617-555-1234" is one token; so is "Zell,3/4/2021"), and a
        # surrogate copies what is not its kind through: such a span is "merged", and operators
        # redact it instead of making a surrogate.
        outside = text[span.start_char : m.start] + text[m.end : span.end_char]
        mixed = any(ch.isalnum() for ch in outside)
        bounds = edge_bounds(text, span.start_char, span.end_char, m.start, m.end)
        if spans and span.start < spans[-1].end:
            # two mentions now overlap: one span covers both (of two categories it is "merged")
            prev = spans[-1]
            mixed = mixed or m.label != prev.label_ or prev.id_ == MERGED_SOURCE
            spans[-1] = doc[prev.start : max(span.end, prev.end)]
            spans[-1].label_, spans[-1].kb_id_ = prev.label_, prev.kb_id_
            spans[-1].id_ = MERGED_SOURCE if mixed else prev.id_
            scores[-1] = max(scores[-1], m.score)
            chars[-1] = [min(chars[-1][0], bounds[0]), max(chars[-1][1], bounds[1])]
            continue
        if mixed:
            span.id_ = MERGED_SOURCE
        spans.append(span)
        scores.append(m.score)
        chars.append(list(bounds))
    doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs={"scores": scores, "chars": chars})


# Punctuation that ends a clause, never part of PHI: kept outside a span's replacement.
SENTENCE_PUNCT = ".,;:!?"


def edge_bounds(text: str, start: int, end: int, m_start: int, m_end: int) -> Tuple[int, int]:
    """The characters an operator replaces for a mention at ``m_start:m_end`` whose token-aligned
    span is ``start:end``: the mention, widened over the letters and digits the tokens add
    (they may be PHI of another kind) but not over the punctuation at the tokens' edges, which
    stays in the output ("Room 5B." becomes "[NAME].", not "[NAME]"), as does the clause
    punctuation that ends a mention ("a 92F." matched as one token)."""
    left = next((i for i in range(start, m_start) if text[i].isalnum()), m_start)
    right = next((i + 1 for i in range(end - 1, m_end - 1, -1) if text[i].isalnum()), m_end)
    left, right = min(left, m_start), max(right, m_end)
    while right - left > 1 and text[right - 1] in SENTENCE_PUNCT:  # a rule's whole token "92F."
        right -= 1
    return left, right


def phi_mentions(doc: Doc, key: str = PHI_KEY) -> List[PhiMention]:
    """Read the PHI spans of ``doc.spans[key]`` back as :class:`PhiMention` records (source
    ``"model"`` for spans without one, e.g. straight from a ``clintiny_ner`` head), with the
    characters of ``attrs["chars"]`` where ``write_mentions`` set them, else the span's own."""
    if key not in doc.spans:
        return []
    group = doc.spans[key]
    scores = group.attrs.get("scores") or [1.0] * len(group)
    chars = group.attrs.get("chars")
    if not isinstance(chars, list) or len(chars) != len(group):
        chars = [None] * len(group)
    mentions = []
    for span, score, bounds in zip(group, scores, chars):
        start, end = span.start_char, span.end_char
        if bounds is not None and start <= bounds[0] < bounds[1] <= end:
            start, end = bounds
        if span.label_ in PHI_LABELS and end > start:
            mentions.append(PhiMention(start, end, span.label_, span.id_ or "model", float(score), span.kb_id_))
    return mentions
