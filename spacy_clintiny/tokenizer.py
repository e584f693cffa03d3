"""spaCy's tokenizer with a cost linear in the text's length, whatever the text, and a
pipeline setting that lets notes over spaCy's 1,000,000-character guard through.

spaCy's tokenizer strips prefixes and suffixes from a whitespace-free span one at a time,
re-searching and slicing the whole remaining span each time: quadratic in the span's length
(a 24,000-character run of punctuation took 42 s). ``BoundedTokenizer`` is that tokenizer,
except that a whitespace-free run longer than ``max_run`` characters is tokenized in pieces
of ``chunk`` characters (no token crosses a piece boundary). A text without such a run, which
is every note in this project's corpora (their longest run is 82 characters), is tokenized by
spaCy's code unchanged, so ordinary text gets exactly spaCy's tokens; around a long run the
text is cut at whitespace in a way that keeps the tokens before and after it as they were.

Use it in a config::

    [nlp]
    tokenizer = {"@tokenizers":"spacy-clintiny.Tokenizer.v1"}
    after_creation = {"@callbacks":"spacy-clintiny.MaxLength.v1","max_length":20000000}
"""

import re
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Union

from spacy.language import Language, create_tokenizer
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path, registry
from spacy.vocab import Vocab

from .errors import Errors
from .models import reading


@registry.tokenizers("spacy-clintiny.Tokenizer.v1")
def build_tokenizer_v1(max_run: int = 256, chunk: int = 32) -> Callable[[Language], "BoundedTokenizer"]:
    """spaCy's rule-based tokenizer for the language (``spacy.Tokenizer.v1``: the language's
    prefixes, suffixes, infixes and exceptions), with a linear cost on long runs.

    max_run (int): Whitespace-free runs longer than this are tokenized in pieces.
    chunk (int): Characters per piece of such a run.
    RETURNS (Callable[[Language], BoundedTokenizer]): The tokenizer factory.
    """
    _check_sizes(max_run, chunk)

    def make_tokenizer(nlp: Language) -> BoundedTokenizer:
        base = create_tokenizer()(nlp)
        return BoundedTokenizer(
            nlp.vocab,
            rules=base.rules,
            prefix_search=base.prefix_search,
            suffix_search=base.suffix_search,
            infix_finditer=base.infix_finditer,
            token_match=base.token_match,
            url_match=base.url_match,
            max_run=max_run,
            chunk=chunk,
        )

    return make_tokenizer


@registry.callbacks("spacy-clintiny.MaxLength.v1")
def build_max_length_v1(max_length: int = 20_000_000) -> Callable[[Language], Language]:
    """Set ``nlp.max_length``, spaCy's guard against long texts (E088, 1,000,000 characters
    by default, sized for the memory of its parser and NER, which this pipeline does not
    have: the encoder covers a long note with windows). Use as ``[nlp] after_creation``.

    max_length (int): The longest text, in characters, the pipeline accepts.
    RETURNS (Callable[[Language], Language]): The callback.
    """
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(Errors.E840.format(value=max_length))

    def set_max_length(nlp: Language) -> Language:
        nlp.max_length = max_length
        return nlp

    return set_max_length


class BoundedTokenizer(Tokenizer):
    """spaCy's ``Tokenizer``, with whitespace-free runs longer than ``max_run`` characters
    tokenized in pieces of ``chunk`` characters. Serializes like spaCy's tokenizer (its
    rules and affixes); ``max_run`` and ``chunk`` come from the config.

    vocab (Vocab): The vocab. Other arguments: spaCy's ``Tokenizer``'s, plus
    max_run (int): Whitespace-free runs longer than this are tokenized in pieces.
    chunk (int): Characters per piece of such a run.
    """

    def __init__(
        self,
        vocab: Vocab,
        rules: Optional[dict] = None,
        prefix_search: Optional[Callable] = None,
        suffix_search: Optional[Callable] = None,
        infix_finditer: Optional[Callable] = None,
        token_match: Optional[Callable] = None,
        url_match: Optional[Callable] = None,
        faster_heuristics: bool = True,
        *,
        max_run: int = 256,
        chunk: int = 32,
    ) -> None:
        super().__init__(
            vocab,
            rules=rules,
            prefix_search=prefix_search,
            suffix_search=suffix_search,
            infix_finditer=infix_finditer,
            token_match=token_match,
            url_match=url_match,
            faster_heuristics=faster_heuristics,
        )
        _check_sizes(max_run, chunk)
        self.max_run = max_run
        self.chunk = chunk
        # spaCy splits at str.isspace, which is exactly what re's \s matches
        self._long_run = re.compile(r"\S{%d,}" % (max_run + 1))

    def __reduce__(self) -> tuple:
        args = (self.vocab, self.rules, self.prefix_search, self.suffix_search, self.infix_finditer)
        args += (self.token_match, self.url_match, self.faster_heuristics)
        return (_rebuild, (args, self.max_run, self.chunk), None, None)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "BoundedTokenizer":
        """spaCy's ``Tokenizer.from_disk``; a damaged file gives one error naming it (E845)."""
        path = ensure_path(path)
        with reading("tokenizer", path):
            Tokenizer.from_bytes(self, path.read_bytes(), exclude=exclude)
        return self

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> "BoundedTokenizer":
        """spaCy's ``Tokenizer.from_bytes``; damaged data gives one clear error (E845)."""
        with reading("tokenizer", "<bytes>"):
            Tokenizer.from_bytes(self, data, exclude=exclude)
        return self

    def __call__(self, text: str) -> Doc:
        """Tokenize ``text``.

        text (str): The text.
        RETURNS (Doc): The doc; its text is exactly ``text``.
        """
        pieces = self.pieces(text)
        if len(pieces) == 1:
            return super().__call__(text)
        return Doc.from_docs(
            [super(BoundedTokenizer, self).__call__(piece) for piece in pieces], ensure_whitespace=False
        )

    def pieces(self, text: str) -> List[str]:
        """Cut ``text`` where a whitespace-free run longer than ``max_run`` begins and ends
        and every ``chunk`` characters inside it. A single space after a run goes with the
        run, as spaCy attaches it to the run's last token.

        text (str): The text.
        RETURNS (List[str]): Pieces whose concatenation is ``text`` (``[text]`` if there
            is no long run).
        """
        cuts = []
        for match in self._long_run.finditer(text):
            start, end = match.span()
            cuts.extend(range(start, end, self.chunk))
            cuts.append(end + 1 if text[end : end + 1] == " " else end)
        if not cuts:
            return [text]
        bounds = [0] + [c for c in cuts if 0 < c < len(text)] + [len(text)]
        return [text[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


def _rebuild(args: tuple, max_run: int, chunk: int) -> BoundedTokenizer:
    return BoundedTokenizer(*args, max_run=max_run, chunk=chunk)


def _check_sizes(max_run: int, chunk: int) -> None:
    if not (isinstance(max_run, int) and isinstance(chunk, int) and 1 <= chunk <= max_run):
        raise ValueError(Errors.E841.format(max_run=max_run, chunk=chunk))
