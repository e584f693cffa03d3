"""Operators: what happens to each PHI span of a note, one mode per call.

- "redact": the span becomes a tag, ``tag_format`` filled with the label and subtype ("[DATE]").
- "mask": every non-whitespace character becomes ``mask_char``; the length, and so every offset,
  is kept, and so are spaces and newlines (the layout survives).
- "annotate": the text is left as it is; each span is reported with operator "keep".
- "surrogate": dates are shifted ("date_shift"), ages over 89 grouped ("age_group"), everything
  else replaced by a keyed fake value ("surrogate"), see ``surrogate.py``. When no surrogate can
  be made the span is redacted (operator "redact_fallback"): the original is never kept.
- "hash": the span becomes a keyed code, the same for the same text in every note and run with
  one key ("[NAME-3f2a9c1e7b4d]"); "encrypt": a keyed AES-SIV token the key holder can turn back
  into the original ("[NAME~...]"); see ``pseudonym.py``. Surrounding punctuation and spaces of
  the span stay outside the code or token, as in surrogate mode.
- "remove": the span is deleted (Presidio's "redact"); the text around it closes up.
- "custom": a function of the user's makes the replacement (Presidio's "custom"); one that
  still contains the original is not used, the span is redacted ("redact_fallback"); see
  ``custom.py``.

``mode_operator`` makes the object a mode needs: the keyed object of ``KEYED_MODES`` from a
secret, the checked function of "custom".

The output is built in one pass with a list join, so time is linear in the text length plus
the number of mentions. Each :class:`Replacement` gives the span's offsets in the input and in
the output text (``output[out_start:out_end] == new_text``); text outside the spans is copied
unchanged.
"""

import re
from typing import List, Optional, Sequence, Tuple, Union

from ..errors import Errors
from .custom import CustomFunction, CustomOperator, load_custom_operator
from .dateshift import date_year
from .pseudonym import Pseudonymizer
from .surrogate import SurrogateGenerator
from .textshape import split_affixes
from .types import KEYED_MODES, MERGED_SOURCE, MODES, PhiMention, Replacement

ModeOperator = Union[SurrogateGenerator, Pseudonymizer, CustomOperator]
# the object each mode that has one needs: the keyed ones (KEYED_MODES) and "custom"
_MODE_CLASSES = {
    "surrogate": SurrogateGenerator,
    "hash": Pseudonymizer,
    "encrypt": Pseudonymizer,
    "custom": CustomOperator,
}

SURROGATE_OPERATORS = {"DATE": "date_shift", "AGE": "age_group"}
# Years of age past which Safe Harbor groups ages: a date this many years before the note is redacted.
OVER_89 = 90
_NON_SPACE = re.compile(r"\S")


def apply_operator(
    text: str,
    mentions: Sequence[PhiMention],
    *,
    mode: str,
    patient_id: Optional[str] = None,
    generator: Optional[ModeOperator] = None,
    mask_char: str = "*",
    tag_format: str = "[{label}]",
) -> Tuple[str, List[Replacement]]:
    """Apply one de-identification mode to the PHI mentions of a text.

    text (str): The note.
    mentions (Sequence[PhiMention]): Non-overlapping mentions (see ``merge.merge_mentions``), in
        any order.
    mode (str): One of ``MODES``: "redact", "mask", "annotate", "surrogate", "hash", "encrypt",
        "remove" or "custom".
    patient_id (Optional[str]): Surrogates and date shifts are consistent per patient. None is
        one shared anonymous patient: pass the note id to make a note its own patient.
    generator (Optional[ModeOperator]): The mode's object (``mode_operator``): a
        SurrogateGenerator in surrogate mode, a Pseudonymizer in hash and encrypt modes, a
        CustomOperator in custom mode.
    mask_char (str): The one character that masks PHI in mask mode.
    tag_format (str): The redaction tag, with placeholders ``{label}`` and ``{subtype}``.
    RETURNS (Tuple[str, List[Replacement]]): The output text, and one replacement per mention,
        sorted by offset.
    """
    if mode not in MODES:
        raise ValueError(Errors.E720.format(mode=mode, modes=", ".join(MODES)))
    needs = _MODE_CLASSES.get(mode)
    if needs is not None and not isinstance(generator, needs):
        if mode == "custom":
            raise ValueError(Errors.E738.format(value=type(generator).__name__))
        others = ", ".join(m for m in MODES if m != mode)
        raise ValueError(Errors.E721.format(mode=mode, needs=needs.__name__, modes=others))
    if not isinstance(mask_char, str) or len(mask_char) != 1 or mask_char.isspace():
        raise ValueError(Errors.E724.format(value=mask_char))
    try:
        tag_format.format(label="NAME", subtype="PATIENT")
    except (KeyError, IndexError, ValueError, AttributeError) as err:
        raise ValueError(Errors.E725.format(value=tag_format, err=f"{type(err).__name__}: {err}")) from None
    ordered = _check_mentions(mentions, len(text))
    patient = "" if patient_id is None else patient_id
    # each DATE's written year, read once: the note's first one places dates without a year,
    # its latest one tells which dates are too old to show (an age over 89)
    years = date_years(text, ordered) if mode == "surrogate" else [None] * len(ordered)
    year = next((y for y in years if y is not None), None)
    latest = max((y for y in years if y is not None), default=None)
    pieces: List[str] = []
    replacements: List[Replacement] = []
    pos = out_pos = 0
    for mention, written in zip(ordered, years):
        original = text[mention.start : mention.end]
        if mode == "annotate":
            new_text, operator = original, "keep"
        elif mode == "mask":
            new_text, operator = _NON_SPACE.sub(mask_char, original), "mask"
        elif mode == "redact":
            new_text, operator = _tag(mention, tag_format), "redact"
        elif mode == "remove":
            new_text, operator = "", "remove"
        elif mode == "surrogate":
            too_old = written is not None and latest is not None and written <= latest - OVER_89
            new_text, operator = _surrogate(original, mention, generator, patient, tag_format, year, too_old)
        elif mode == "custom":
            new_text, made = generator.replace(
                original, label=mention.label, subtype=mention.subtype, patient_id=patient
            )
            new_text, operator = (new_text, "custom") if made else (_tag(mention, tag_format), "redact_fallback")
        else:
            new_text, operator = _pseudonym(original, mention, generator, mode, tag_format)
        pieces.append(text[pos : mention.start])
        out_pos += mention.start - pos
        pieces.append(new_text)
        replacements.append(
            Replacement(
                start=mention.start,
                end=mention.end,
                out_start=out_pos,
                out_end=out_pos + len(new_text),
                label=mention.label,
                subtype=mention.subtype,
                source=mention.source,
                score=mention.score,
                operator=operator,
                new_text=new_text,
            )
        )
        out_pos += len(new_text)
        pos = mention.end
    pieces.append(text[pos:])
    return "".join(pieces), replacements


def date_years(text: str, mentions: Sequence[PhiMention]) -> List[Optional[int]]:
    """The year written in each DATE mention, None where there is none or the mention is no DATE.

    text (str): The note.
    mentions (Sequence[PhiMention]): Its mentions, in order.
    RETURNS (List[Optional[int]]): One entry per mention.
    """
    return [date_year(split_affixes(text[m.start : m.end])[1]) if m.label == "DATE" else None for m in mentions]


def _surrogate(
    original: str,
    mention: PhiMention,
    generator: SurrogateGenerator,
    patient_id: str,
    tag_format: str,
    year: Optional[int] = None,
    too_old: bool = False,
) -> Tuple[str, str]:
    if mention.source == MERGED_SOURCE:  # two kinds of PHI in one token: one surrogate would keep the other
        return _tag(mention, tag_format), "redact_fallback"
    if too_old:
        # a year 90 or more years before the note's dates tells an age over 89 (a birth date
        # beside "95 yo" grouped to "90+"): Safe Harbor removes it, a shift would not
        return _tag(mention, tag_format), "redact_fallback"
    new_text = generator.surrogate(
        original, label=mention.label, subtype=mention.subtype, patient_id=patient_id, year=year
    )
    if new_text is None:
        return _tag(mention, tag_format), "redact_fallback"
    return new_text, SURROGATE_OPERATORS.get(mention.label, "surrogate")


def _pseudonym(
    original: str, mention: PhiMention, pseudonymizer: Pseudonymizer, mode: str, tag_format: str
) -> Tuple[str, str]:
    lead, core, trail = split_affixes(original)
    if not core:
        return _tag(mention, tag_format), "redact_fallback"
    if mode == "hash":
        return lead + pseudonymizer.hashed(core, label=mention.label) + trail, "hash"
    return lead + pseudonymizer.encrypted(core, label=mention.label) + trail, "encrypt"


def mode_operator(
    mode: str, key: Optional[str] = None, custom: Union[None, str, CustomFunction] = None
) -> Optional[ModeOperator]:
    """The object a mode needs: a SurrogateGenerator for "surrogate" and a Pseudonymizer for
    "hash" and "encrypt", made from the secret; a CustomOperator for "custom"; None for the
    other modes.

    mode (str): One of ``MODES``.
    key (Optional[str]): The secret of the keyed modes; None is a random one (consistent within
        this object only), refused for "encrypt" (nothing could decrypt the output).
    custom (Union[None, str, CustomFunction]): The replacement function of "custom" mode, or
        its name ("package.module:function", "path/to/file.py:function"); only with "custom".
    RETURNS (Optional[ModeOperator]): The object to pass as ``generator``.
    """
    if mode not in MODES:
        raise ValueError(Errors.E720.format(mode=mode, modes=", ".join(MODES)))
    if mode == "custom":
        if custom is None:
            raise ValueError(Errors.E738.format(value="none"))
        if isinstance(custom, CustomOperator):
            return custom
        return load_custom_operator(custom) if isinstance(custom, str) else CustomOperator(custom)
    if custom is not None:
        name = custom if isinstance(custom, str) else getattr(custom, "__qualname__", type(custom).__name__)
        raise ValueError(Errors.E764.format(spec=name, mode=mode))
    if mode == "surrogate":
        return SurrogateGenerator(key)
    if mode not in KEYED_MODES:
        return None
    pseudonymizer = Pseudonymizer(key)
    if mode == "encrypt":
        pseudonymizer.check_encryption()  # E732 without a key: nothing could decrypt the output
    return pseudonymizer


def _tag(mention: PhiMention, tag_format: str) -> str:
    return tag_format.format(label=mention.label, subtype=mention.subtype)


def _check_mentions(mentions: Sequence[PhiMention], length: int) -> List[PhiMention]:
    """Sort mentions by offset; raise if one leaves the text or two overlap (offsets only in errors)."""
    for i, mention in enumerate(mentions):
        if mention.end > length:
            raise ValueError(
                Errors.E722.format(i=i, label=mention.label, start=mention.start, end=mention.end, length=length)
            )
    ordered = sorted(mentions, key=lambda m: (m.start, m.end))
    for prev, mention in zip(ordered, ordered[1:]):
        if mention.start < prev.end:
            raise ValueError(
                Errors.E723.format(
                    label_a=prev.label,
                    start_a=prev.start,
                    end_a=prev.end,
                    label_b=mention.label,
                    start_b=mention.start,
                    end_b=mention.end,
                )
            )
    return ordered
