"""Word-list membership features for token heads (``TokenClassifier.v3``'s ``lexicons``).

A PHI head trained on a few dozen patients' notes and on synthetic notes has seen a few
thousand names and places; the census and GeoNames lists hold hundreds of thousands. Telling
the head, per token, which lists its lower-cased text belongs to lets it generalise to names and
towns it never saw, while its context layers decide when a list word is no PHI ("Hall" the
corridor, "Foley" the catheter): the gazetteer features of the CRF de-identifiers, learned
softly instead of the rules' hard decisions.

Each lexicon is a frozen set of lower-case words from packaged or installed lists only
(Faker, the 1990 US census, GeoNames towns, the common-English word list): no list is made
from the PhysioNet notes, so no feature encodes what the training patients' notes contain.
"""

from functools import lru_cache
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from ..errors import Errors


def _first_names() -> FrozenSet[str]:
    from ..deid.wordlists import _faker_names, census_names

    return _faker_names()[0] | census_names()[0]


def _last_names() -> FrozenSet[str]:
    from ..deid.wordlists import _faker_names, census_names

    return _faker_names()[1] | census_names()[1]


def _english_names() -> FrozenSet[str]:
    from ..deid.wordlists import ambiguous_names

    return ambiguous_names()


def _english() -> FrozenSet[str]:
    from ..deid.dictionary import common_english

    return common_english()


def _towns() -> FrozenSet[str]:
    from ..deid.dictionary import us_cities

    return frozenset(c.lower() for c in us_cities() if len(c.split()) == 1)


def _town_words() -> FrozenSet[str]:
    from ..deid.dictionary import us_cities

    return frozenset(w for c in us_cities() if len(c.split()) > 1 for w in c.lower().split())


def _hospital_words() -> FrozenSet[str]:
    from ..deid.dictionary import HOSPITAL_WORDS
    from ..deid.wordlists import HOSPITAL_HEADS, SAINTS

    return frozenset(HOSPITAL_WORDS) | frozenset(HOSPITAL_HEADS) | frozenset(SAINTS)


# name -> the word list it tests (lower case)
LEXICONS: Dict[str, Callable[[], FrozenSet[str]]] = {
    "first_name": _first_names,
    "last_name": _last_names,
    "english_name": _english_names,
    "english": _english,
    "town": _towns,
    "town_word": _town_words,
    "hospital_word": _hospital_words,
}


def _check_lexicon(name: str) -> None:
    if name not in LEXICONS:
        raise ValueError(Errors.E892.format(value=name, allowed=sorted(LEXICONS)))


@lru_cache(maxsize=None)
def lexicon_set(name: str) -> FrozenSet[str]:
    """The words of lexicon ``name`` (loaded once per process).

    name (str): A key of ``LEXICONS``.
    RETURNS (FrozenSet[str]): Lower-case words.
    """
    _check_lexicon(name)
    return LEXICONS[name]()


def lexicon_features(names: Sequence[str]) -> Model[List[Doc], List[Floats2d]]:
    """Per doc, a ``(n_tokens, len(names))`` array: 1.0 where the token's lower-case text is
    in that lexicon, else 0.0. No weights; rows are cached per distinct lower-case text.

    names (Sequence[str]): Keys of ``LEXICONS``, in column order.
    RETURNS (Model[List[Doc], List[Floats2d]]): The feature layer.
    """
    names = tuple(names)
    for name in names:  # refused when the head is built; the lists load at its first forward pass
        _check_lexicon(name)
    return Model(
        "lexicon_features",
        _lexicon_forward,
        dims={"nO": len(names)},
        attrs={"lexicons": names},
    )


# lexicon names -> lower-case text -> feature row (kept out of the model's attrs, which are
# serialized); at most MAX_CACHED texts per lexicon set, so a long de-identification run over
# millions of distinct words does not grow without bound (further words are looked up each time)
_ROWS: Dict[Tuple[str, ...], Dict[str, Tuple[float, ...]]] = {}
MAX_CACHED = 200_000


def _lexicon_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    names: Tuple[str, ...] = tuple(model.attrs["lexicons"])  # a list once deserialized
    rows = _ROWS.setdefault(names, {})
    sets = [lexicon_set(name) for name in names]
    Ys = []
    for doc in docs:
        values = []
        for token in doc:
            key = token.lower_
            row: Optional[Tuple[float, ...]] = rows.get(key)
            if row is None:
                row = tuple(1.0 if key in words else 0.0 for words in sets)
                if len(rows) < MAX_CACHED:
                    rows[key] = row
            values.append(row)
        Y = model.ops.asarray2f(values, dtype="float32") if values else model.ops.alloc2f(0, len(names))
        Ys.append(Y.reshape(len(doc), len(names)))

    def backprop(dYs: List[Floats2d]) -> List[Doc]:
        return []

    return Ys, backprop
