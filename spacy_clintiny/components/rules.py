"""medspaCy after the heads: sentence splitting (PyRuSH), sectionizer and ConText that survive
``nlp.to_disk`` / ``spacy.load``.

medspaCy 1.3.1 has three problems in a saved pipeline, handled here:

* PyRuSH's sentencizer subclasses spaCy's ``Sentencizer`` but has no ``punct_chars``, so
  ``nlp.to_disk`` fails. ``clintiny_sentences`` runs the same RuSH rules and saves only
  its rules text; it also silences PyRuSH's per-doc loguru DEBUG lines.
* ``medspacy_context`` / ``medspacy_sectionizer`` have no ``to_disk``: rules added in code
  are lost, and their default rules are found through a path outside their package.
  ``clintiny_context`` / ``clintiny_sectionizer`` are the same components (subclasses)
  whose rules are written into the pipeline folder and read back; defaults come from
  ``spacy_clintiny/resources`` via ``importlib.resources`` (copies of medspaCy's, see
  ``resources/NOTICE.txt``).
* medspaCy's ConText compares every modifier with every other one and with every target:
  quadratic on long notes. ``clintiny_context`` gives the same results through
  ``ScopedContextGraph`` (``context_graph.py``), which compares only what can overlap.
* medspaCy declares no spaCy entry points; importing this module registers the
  ``medspacy_*`` factories too, so pipelines that use them directly also load.

``add_clinical_rules(nlp)`` appends the three in the order that works: sentences (ConText
scopes are sentences) -> sectionizer -> context. They act on ``doc.ents``, so put them
after a ``clintiny_ner`` with ``write_ents = true``. ``medspacy.load`` is not used: it
would replace the tokenizer the heads were trained with.
"""

import json
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path

_filters_before = list(warnings.filters)
import medspacy  # noqa: E402,F401  (registers the medspacy_* factories)
from medspacy.common.medspacy_matcher import MedspacyMatcher  # noqa: E402
from medspacy.context import ConText, ConTextModifier, ConTextRule  # noqa: E402
from medspacy.section_detection import Sectionizer, SectionRule  # noqa: E402

# medspacy.common.medspacy_matcher calls warnings.filterwarnings("ignore") at import,
# which silences every warning in the process. Undo exactly that filter and keep only
# what it was meant for: spaCy's W036 "matcher has no patterns" from medspaCy's matchers.
for _f in [f for f in warnings.filters if f not in _filters_before and f[0] == "ignore" and f[1] is None]:
    warnings.filters.remove(_f)
getattr(warnings, "_filters_mutated", lambda: None)()
warnings.filterwarnings("ignore", message=r".*\[W036\]", module=r"medspacy\.")

from ..errors import Errors, Warnings  # noqa: E402
from ..fileio import write_json_atomic  # noqa: E402
from ..models import reading  # noqa: E402
from .context_graph import ScopedContextGraph  # noqa: E402
from .rule_data import resource_path  # noqa: E402
from .sentences import make_clintiny_sentences  # noqa: E402,F401  (registers clintiny_sentences)

RULES_FILE = "rules.json"


# ---------------------------------------------------------------------- ConText


class _SavedRules:
    """Serialization of a medspaCy rule component: its rules as JSON (``rules.json`` in
    the component's pipeline folder). Subclasses name the rule class, the JSON key and
    the default rules file, and say how to empty their matcher (``_reset_matcher``)."""

    _default_file: str
    _rule_cls: Any
    _rules_key: str
    _pending_rules: Optional[str] = None

    def __init__(self, nlp: Language, *, phrase_matcher_attr: str = "LOWER", **kwargs: Any) -> None:
        super().__init__(nlp, phrase_matcher_attr=phrase_matcher_attr, **kwargs)  # type: ignore[call-arg]
        self._phrase_matcher_attr = phrase_matcher_attr

    def _reset_matcher(self) -> None:
        """Drop every rule (medspaCy has no API for it): a new, empty matcher."""
        raise NotImplementedError

    def _rules_data(self) -> Dict[str, Any]:
        self._check_rules_loaded()
        _warn_callables(self.name, self.rules)  # type: ignore[attr-defined]
        return {self._rules_key: [rule.to_dict() for rule in self.rules]}  # type: ignore[attr-defined]

    def _set_rules_data(self, data: Dict[str, Any]) -> None:
        self._reset_matcher()
        self._pending_rules = None
        self.add([self._rule_cls.from_dict(d) for d in data[self._rules_key]])  # type: ignore[attr-defined]

    def _load_rules(self, rules: Optional[str]) -> Any:
        """Add the rules named in the config. A rule file that does not exist (yet) is
        not an error here: ``spacy.load`` builds the component from its config and then
        replaces the rules with the saved ``rules.json``. It is an error if the component
        is used or saved before rules were loaded (E106)."""
        self._pending_rules = None
        if rules is None:
            return self
        path = resource_path(self._default_file) if rules == "default" else rules
        if Path(path).exists():
            self.add(self._rule_cls.from_json(path))
        else:
            self._pending_rules = path
        return self

    def _check_rules_loaded(self) -> None:
        if self._pending_rules is not None:
            raise ValueError(Errors.E106.format(name=self.name, path=self._pending_rules))

    def initialize(self, get_examples: Optional[Any] = None, *, nlp: Optional[Language] = None) -> None:
        """Check that the configured rule file was found."""
        self._check_rules_loaded()

    def __call__(self, doc: Doc) -> Doc:
        self._check_rules_loaded()
        return super().__call__(doc)  # type: ignore[misc]

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return json.dumps(self._rules_data()).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> Any:
        with reading(self.name, "<bytes>"):  # type: ignore[attr-defined]
            self._set_rules_data(json.loads(data.decode("utf8")))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        write_json_atomic(ensure_path(path) / RULES_FILE, self._rules_data(), indent=1)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> Any:
        path = ensure_path(path) / RULES_FILE
        with reading(self.name, path):  # type: ignore[attr-defined]
            self._set_rules_data(json.loads(path.read_text(encoding="utf8")))
        return self


@Language.factory(
    "clintiny_context",
    requires=["doc.ents", "token.is_sent_start"],
    default_config={
        "rules": "default",
        "phrase_matcher_attr": "LOWER",
        "allowed_types": None,
        "excluded_types": None,
        "terminating_types": None,
        "max_scope": None,
        "max_targets": None,
        "prune_on_modifier_overlap": True,
        "prune_on_target_overlap": False,
        "span_attrs": "default",
        "input_span_type": "ents",
        "span_group_name": "medspacy_spans",
    },
)
def make_clintiny_context(
    nlp: Language,
    name: str,
    rules: Optional[str],
    phrase_matcher_attr: str,
    allowed_types: Optional[List[str]],
    excluded_types: Optional[List[str]],
    terminating_types: Optional[Dict[str, List[str]]],
    max_scope: Optional[int],
    max_targets: Optional[int],
    prune_on_modifier_overlap: bool,
    prune_on_target_overlap: bool,
    span_attrs: Union[str, Dict[str, Dict[str, Any]], None],
    input_span_type: str,
    span_group_name: str,
) -> "ClinicalContext":
    """Create medspaCy ConText whose rules are saved with the pipeline.

    rules (Optional[str]): "default" (packaged medspaCy rules), a path to a ConText rules
        JSON file (read once, then saved into the pipeline folder), or None for no rules.
    Other settings are medspaCy ``ConText``'s; ``span_attrs = "default"`` sets
    ``ent._.is_negated / is_uncertain / is_historical / is_hypothetical / is_family``.
    """
    return ClinicalContext(
        nlp,
        name=name,
        rules=None,
        phrase_matcher_attr=phrase_matcher_attr,
        allowed_types=set(allowed_types) if allowed_types else None,
        excluded_types=set(excluded_types) if excluded_types else None,
        terminating_types=terminating_types,
        max_scope=max_scope,
        max_targets=max_targets,
        prune_on_modifier_overlap=prune_on_modifier_overlap,
        prune_on_target_overlap=prune_on_target_overlap,
        span_attrs=span_attrs,
        input_span_type=input_span_type,
        span_group_name=span_group_name,
    )._load_rules(rules)


class ClinicalContext(_SavedRules, ConText):
    """medspaCy ConText that writes its rules into the pipeline folder."""

    _default_file = "context_rules.json"
    _rule_cls = ConTextRule
    _rules_key = "context_rules"

    def _reset_matcher(self) -> None:
        self._ConText__matcher = MedspacyMatcher(
            self.nlp,
            name=self.name,
            phrase_matcher_attr=self._phrase_matcher_attr,
            prune=self.prune_on_modifier_overlap,
        )

    def __call__(self, doc: Doc, targets: Optional[str] = None) -> Doc:
        """medspaCy 1.3.1's ``ConText.__call__`` with ``ScopedContextGraph``, which gives
        the same modifiers, scopes and edges without comparing every modifier with every
        other one and with every target (quadratic on long notes).

        doc (Doc): The doc, with sentence starts and targets (``doc.ents`` by default).
        targets (Optional[str]): A custom ``doc._`` attribute holding the targets.
        RETURNS (Doc): The doc; targets get ``_.modifiers`` and the ``span_attrs``.
        """
        self._check_rules_loaded()
        if not targets and self.input_span_type == "ents":
            spans = doc.ents
        elif not targets and self.input_span_type == "group":
            spans = doc.spans[self.span_group_name]
        else:
            spans = getattr(doc._, targets)
        graph = ScopedContextGraph(prune_on_modifier_overlap=self.prune_on_target_overlap)
        graph.targets = spans
        graph.modifiers = []
        matcher = self._ConText__matcher
        for match_id, start, end in matcher(doc):
            rule = matcher.rule_map[self.nlp.vocab[match_id].text]
            graph.modifiers.append(ConTextModifier(rule, start, end, doc, max_scope=self.max_scope))
        graph.update_scopes()
        graph.apply_modifiers()
        for target, modifier in graph.edges:
            target._.modifiers += (modifier,)
        if self.context_attributes_mapping:
            self.set_context_attributes(graph.edges)
        doc._.context_graph = graph
        return doc


# ---------------------------------------------------------------------- sectionizer


@Language.factory(
    "clintiny_sectionizer",
    assigns=["doc._.sections"],
    default_config={
        "rules": "default",
        "max_section_length": None,
        "phrase_matcher_attr": "LOWER",
        "require_start_line": False,
        "require_end_line": False,
        "newline_pattern": r"[\n\r]+[\s]*$",
        "input_span_type": "ents",
        "span_group_name": "medspacy_spans",
        "span_attrs": "default",
        "apply_sentence_boundary": False,
    },
)
def make_clintiny_sectionizer(
    nlp: Language,
    name: str,
    rules: Optional[str],
    max_section_length: Optional[int],
    phrase_matcher_attr: str,
    require_start_line: bool,
    require_end_line: bool,
    newline_pattern: str,
    input_span_type: str,
    span_group_name: str,
    span_attrs: Union[str, Dict[str, Dict[str, Any]], None],
    apply_sentence_boundary: bool,
) -> "ClinicalSectionizer":
    """Create the medspaCy sectionizer whose rules are saved with the pipeline.

    rules (Optional[str]): "default" (packaged medspaCy section patterns), a path to a
        section rules JSON file (read once, then saved into the pipeline folder), or None.
    Other settings are medspaCy ``Sectionizer``'s.
    """
    return ClinicalSectionizer(
        nlp,
        name=name,
        rules=None,
        max_section_length=max_section_length,
        phrase_matcher_attr=phrase_matcher_attr,
        require_start_line=require_start_line,
        require_end_line=require_end_line,
        newline_pattern=newline_pattern,
        input_span_type=input_span_type,
        span_group_name=span_group_name,
        span_attrs=span_attrs,
        apply_sentence_boundary=apply_sentence_boundary,
    )._load_rules(rules)


class ClinicalSectionizer(_SavedRules, Sectionizer):
    """medspaCy Sectionizer that writes its rules into the pipeline folder."""

    _default_file = "section_patterns.json"
    _rule_cls = SectionRule
    _rules_key = "section_rules"

    def _reset_matcher(self) -> None:
        self._Sectionizer__matcher = MedspacyMatcher(
            self.nlp, name=self.name, phrase_matcher_attr=self._phrase_matcher_attr
        )
        self._parent_sections = {}
        self._parent_required = {}


# ---------------------------------------------------------------------- shared helpers


def _warn_callables(name: str, rules: Iterable[Any]) -> None:
    n = sum(1 for r in rules if getattr(r, "on_match", None) or getattr(r, "on_modifies", None))
    if n:
        warnings.warn(Warnings.W102.format(name=name, n=n), stacklevel=2)


def add_clinical_rules(
    nlp: Language,
    *,
    sentences: bool = True,
    sectionizer: bool = True,
    context: bool = True,
    context_config: Optional[Dict[str, Any]] = None,
    sectionizer_config: Optional[Dict[str, Any]] = None,
) -> Language:
    """Append medspaCy sentence splitting, sectionizer and ConText to ``nlp`` (in that
    order), keeping the pipeline's tokenizer.

    nlp (Language): A pipeline, usually ending with ``clintiny_ner`` heads (one with
        ``write_ents = true`` for ConText to act on).
    context_config / sectionizer_config (Optional[Dict[str, Any]]): Config overrides.
    RETURNS (Language): The same pipeline.
    """
    if sentences:
        nlp.add_pipe("clintiny_sentences")
    if sectionizer:
        nlp.add_pipe("clintiny_sectionizer", config=dict(sectionizer_config or {}))
    if context:
        nlp.add_pipe("clintiny_context", config=dict(context_config or {}))
    return nlp
