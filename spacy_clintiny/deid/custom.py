"""The ``custom`` mode: a function of the user's replaces each PHI span (Presidio's "custom"
operator), with the guarantee every other mode gives: the original is never kept.

The function is called once per span as ``func(text, label=..., subtype=..., patient_id=...)``
and returns the replacement, a str. ``text`` is the span without its surrounding spaces and
punctuation (they stay in the output, as in surrogate mode); ``label`` is the PHI category
("NAME", "DATE", ...), ``subtype`` the finer kind or None, ``patient_id`` the note's patient
(consistent replacements per patient are the function's to keep, e.g. with a dict or a keyed
hash). A function that takes only some of these should accept ``**kwargs`` for the rest.

Where Presidio writes whatever the function returns, here a replacement that still contains
the original (letter case not counted; originals of one character only when it is the whole
replacement) is not used: the span is redacted instead, with operator "redact_fallback", as
when surrogate mode cannot make a value. A function that raises, or returns something other
than a str, fails the note (the engine reports it by note id and goes on), never the run.

``load_custom_operator("package.module:function")`` or ``("path/to/file.py:function")``
imports a function by name, for the command line (``clintiny deid --mode custom --custom
SPEC``) and for Spark executors, which import it themselves.
"""

import importlib
import importlib.util
from pathlib import Path
from typing import Callable, Optional, Tuple

from ..errors import Errors
from .surrogate import distinctive_words
from .textshape import plain, split_affixes

CustomFunction = Callable[..., str]


class CustomOperator:
    """A user's replacement function, checked so that no original is ever kept.

    func (CustomFunction): Called as ``func(text, label=..., subtype=..., patient_id=...)``.
    name (Optional[str]): How errors name the function (default: its qualified name).
    """

    def __init__(self, func: CustomFunction, *, name: Optional[str] = None) -> None:
        if not callable(func):
            raise ValueError(Errors.E738.format(value=type(func).__name__))
        self.func = func
        self.name = name or getattr(func, "__qualname__", None) or type(func).__name__

    def replace(self, original: str, *, label: str, subtype: Optional[str], patient_id: str) -> Tuple[str, bool]:
        """The replacement of one span.

        original (str): The span's text.
        label (str): Its PHI category.
        subtype (Optional[str]): Its finer kind, if any.
        patient_id (str): The note's patient.
        RETURNS (Tuple[str, bool]): The replacement of the span's core (its surrounding spaces
            and punctuation put back), and True; or ("", False) when the span has no core or
            the function's value still contains the original: the caller redacts the span.
        """
        lead, core, trail = split_affixes(original)
        if not core:
            return "", False
        try:
            value = self.func(core, label=label, subtype=subtype, patient_id=patient_id)
        except SystemExit:  # sys.exit(message) would end the run, its message (maybe the span) on stderr
            raise RuntimeError(f"custom operator '{self.name}' called sys.exit") from None
        if not isinstance(value, str):
            raise TypeError(Errors.E739.format(name=self.name, type=type(value).__name__))
        if keeps_original(core, value):
            return "", False
        return lead + value + trail, True


def keeps_original(original: str, replacement: str) -> bool:
    """Whether a replacement still shows the original, with letter case, whitespace, accents and
    apostrophe forms not counted ("John\nSmith" in "John Smith", "José" in "Jose"), or one of its
    distinctive words ("Smith" of "John Smith"), as surrogate mode refuses. An original of one
    character counts only when it is the whole replacement ("J" may be in any text)."""
    original, replacement = plain(original), plain(replacement)
    if len(original) < 2:
        return original == replacement.strip()
    return original in replacement or bool(distinctive_words(original) & distinctive_words(replacement))


def load_custom_operator(spec: str) -> CustomOperator:
    """Import a replacement function by name.

    spec (str): "package.module:function" (importable here, and on Spark executors) or
        "path/to/file.py:function".
    RETURNS (CustomOperator): The function, checked to be callable.
    """
    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ValueError(Errors.E734.format(spec=spec, reason="it is not MODULE:FUNCTION or FILE.py:FUNCTION"))
    path = Path(module_name) if module_name.endswith(".py") else None
    if path is not None and not path.is_file():
        raise ValueError(Errors.E734.format(spec=spec, reason=f"there is no file {path}"))
    try:
        if path is not None:
            loader = importlib.util.spec_from_file_location(f"clintiny_custom_{path.stem}", path)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any import failure is the user's file: say which
        raise ValueError(Errors.E734.format(spec=spec, reason=f"importing it raised {type(err).__name__}")) from err
    func = getattr(module, attr, None)
    if func is None:
        raise ValueError(Errors.E734.format(spec=spec, reason=f"it has no attribute '{attr}'"))
    if not callable(func):
        raise ValueError(Errors.E734.format(spec=spec, reason=f"'{attr}' is a {type(func).__name__}, not a function"))
    return CustomOperator(func, name=spec)
