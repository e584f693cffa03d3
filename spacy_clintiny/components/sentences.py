"""``clintiny_sentences``: medspaCy's PyRuSH sentence splitting in a form that can be saved.

PyRuSH 1.0.13's ``PyRuSHSentencizer`` subclasses spaCy's ``Sentencizer`` without its
``punct_chars``, so ``nlp.to_disk`` fails; it also logs every token (note text) at DEBUG
through loguru, and sets sentence starts token by token (quadratic in spaCy). This
component runs the same RuSH rules (``resources/rush_rules.tsv``, medspaCy's English rules
by default), saves only its rules text, stays silent, and writes sentence starts in one
array operation. PyRuSH's rule walk (pure Python, from every character) is started only
where a rule can match (``rush_prefilter.py``): the same sentences at about a tenth of
the cost.
"""

import json
from pathlib import Path
from typing import Any, Iterable, List, Optional, Union

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path

from ..errors import Errors
from ..models import reading
from .rule_data import resource_path
from .rush_prefilter import PrefilteredFastCNER


@Language.factory(
    "clintiny_sentences",
    assigns=["token.is_sent_start"],
    default_config={
        "rules": "default",
        "max_repeat": 50,
        "auto_fix_gaps": True,
        "merge_gaps": False,
        "max_sentence_length": None,
    },
)
def make_clintiny_sentences(
    nlp: Language,
    name: str,
    rules: str,
    max_repeat: int,
    auto_fix_gaps: bool,
    merge_gaps: bool,
    max_sentence_length: Optional[int],
) -> "RushSentences":
    """Create the PyRuSH sentence splitter.

    rules (str): "default" for the packaged RuSH rules, or a path to a RuSH ``.tsv`` rule
        file (read when first needed; saved into the pipeline folder by ``to_disk``).
    max_repeat (int): Maximum repeats of the ``+`` wildcard in rules.
    auto_fix_gaps (bool): Fix gaps left by malformed rules.
    merge_gaps (bool): Merge whitespace gaps into the preceding sentence instead of
        splitting them into their own sentences.
    max_sentence_length (Optional[int]): Split sentences longer than this many characters.
    """
    return RushSentences(
        nlp,
        name,
        rules=rules,
        max_repeat=max_repeat,
        auto_fix_gaps=auto_fix_gaps,
        merge_gaps=merge_gaps,
        max_sentence_length=max_sentence_length,
    )


class RushSentences:
    """PyRuSH sentence splitting whose state (the rules text) can be saved."""

    def __init__(
        self,
        nlp: Language,
        name: str = "clintiny_sentences",
        *,
        rules: str = "default",
        max_repeat: int = 50,
        auto_fix_gaps: bool = True,
        merge_gaps: bool = False,
        max_sentence_length: Optional[int] = None,
    ) -> None:
        from loguru import logger

        # PyRuSH logs every token (note text!) at DEBUG; its cython functions are attributed
        # to the calling module, so silence both.
        logger.disable("PyRuSH")
        logger.disable(__name__)
        self.name = name
        self.rules = rules
        self.max_repeat = max_repeat
        self.auto_fix_gaps = auto_fix_gaps
        self.merge_gaps = merge_gaps
        self.max_sentence_length = max_sentence_length
        self._rules_text: Optional[str] = None
        self._rush = None

    @property
    def rules_text(self) -> str:
        """RETURNS (str): The RuSH rules (tab-separated lines)."""
        if self._rules_text is None:
            path = resource_path("rush_rules.tsv") if self.rules == "default" else self.rules
            if not Path(path).exists():
                raise ValueError(Errors.E106.format(name=self.name, path=path))
            self._rules_text = Path(path).read_text(encoding="utf8")
        return self._rules_text

    @property
    def rush(self) -> Any:
        """RETURNS (PyRuSH.RuSH): The rule engine, built on first use."""
        if self._rush is None:
            from PyRuSH.RuSH import RuSH

            # RuSH reads a string that does not end in "tsv"/"csv" as the rules themselves
            rush = RuSH(
                rules=self.rules_text.rstrip("\n") + "\n", max_repeat=self.max_repeat, auto_fix_gaps=self.auto_fix_gaps
            )
            # the same rule walk, started only where a rule can match (identical output)
            rush.fastner = PrefilteredFastCNER(rush.fastner)
            self._rush = rush
        return self._rush

    def __call__(self, doc: Doc) -> Doc:
        """Set sentence starts on ``doc``."""
        if not len(doc):
            return doc
        if self.merge_gaps:
            from PyRuSH.StaticSentencizerFun import cpredict_merge_gaps

            starts = cpredict_merge_gaps([doc], self.rush.segToSentenceSpans, self.max_sentence_length)[0]
        else:
            starts = split_gaps_starts(doc, self.rush.segToSentenceSpans(doc.text), self.max_sentence_length)
        # one array write: setting token.is_sent_start one by one is quadratic in spaCy
        values = numpy.asarray([1 if is_start else -1 for is_start in starts], dtype="int32").reshape(-1, 1)
        doc.from_array([SENT_START], values.astype("uint64"))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Set sentence starts on a stream of docs."""
        for doc in stream:
            yield self(doc)

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return json.dumps({"rules_text": self.rules_text}).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> "RushSentences":
        with reading(self.name, "<bytes>"):
            self._rules_text = json.loads(data.decode("utf8"))["rules_text"]
        self._rush = None
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "rush_rules.tsv").write_text(self.rules_text, encoding="utf8")

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "RushSentences":
        path = ensure_path(path) / "rush_rules.tsv"
        with reading(self.name, path):
            self._rules_text = path.read_text(encoding="utf8")
        self._rush = None
        return self


def split_gaps_starts(doc: Doc, sentence_spans: List[Any], max_sentence_length: Optional[int] = None) -> List[bool]:
    """Sentence starts from RuSH's character spans, gaps between spans split off.

    A line-by-line port of PyRuSH 1.0.13's ``cpredict_split_gaps`` without its per-token
    debug logging (which formats note text and made a 200,000-character note take ~20 s
    longer than the rule engine itself).

    doc (Doc): The doc.
    sentence_spans (List[Any]): RuSH spans with ``.begin`` / ``.end`` character offsets.
    max_sentence_length (Optional[int]): Split sentences longer than this many characters.
    RETURNS (List[bool]): ``is_sent_start`` per token.
    """
    n = len(doc)
    starts = [False] * n
    idx = [token.idx for token in doc]
    is_space = [token.text.isspace() for token in doc]
    lengths = [len(token.text) for token in doc]
    num_spans = len(sentence_spans)
    t, span_idx, sentence_start_idx = 0, 0, 0
    while t < n:
        next_span_begin = sentence_spans[span_idx + 1].begin if span_idx < num_spans - 1 else -1
        if span_idx < num_spans - 1 and sentence_spans[span_idx].end <= idx[t] < next_span_begin:
            gap_start = gap_end = t
            while gap_end < n and idx[gap_end] < next_span_begin:
                gap_end += 1
            ws = next((i for i in range(gap_start, gap_end) if is_space[i]), -1)
            starts[ws if ws != -1 else gap_start] = True
            t = gap_end
            continue
        while span_idx < num_spans and idx[t] >= sentence_spans[span_idx].end:
            span_idx += 1
        if span_idx >= num_spans:
            if is_space[t]:
                starts[t] = True
            t += 1
            continue
        span = sentence_spans[span_idx]
        if idx[t] < span.begin:
            t += 1
            continue
        if idx[t] < span.end:
            if idx[t] == span.begin:
                starts[t] = True
                sentence_start_idx = idx[t]
            elif max_sentence_length is not None and (idx[t] - sentence_start_idx) + lengths[t] > max_sentence_length:
                starts[t] = True
                sentence_start_idx = idx[t]
            if t + 1 < n and idx[t + 1] >= span.end:
                starts[t + 1] = True
        t += 1
    return starts
