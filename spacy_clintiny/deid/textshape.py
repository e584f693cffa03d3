"""Text shape helpers shared by the surrogate and date-shift code: split off surrounding
punctuation, normalize for keying, read and re-apply a case pattern, re-draw characters in the
same layout."""

import random
import re
import string
import unicodedata
from typing import Tuple

_ALPHA_RUN = re.compile(r"[^\W\d_]+")


def reshape(text: str, rng: random.Random, *, letters: bool = True) -> str:
    """Same layout, new characters: digits -> random digits, letters -> random letters of the
    same case (kept as they are if ``letters`` is False: "x12" in a phone number), the rest kept.

    text (str): The original.
    rng (random.Random): The seeded source of the new characters.
    letters (bool): Re-draw letters too.
    RETURNS (str): The new text, as long as ``text``.
    """
    out = []
    for char in text:
        if "0" <= char <= "9":
            out.append(rng.choice(string.digits))
        elif letters and char.isalpha():
            letter = rng.choice(string.ascii_lowercase)
            out.append(letter.upper() if char.isupper() else letter)
        else:
            out.append(char)
    return "".join(out)


def split_affixes(text: str) -> Tuple[str, str, str]:
    """Split a span into (leading non-alphanumerics, core, trailing non-alphanumerics); the
    combining accents of the core's last letter are the core's ("Jose" + U+0301)."""
    start = next((i for i, char in enumerate(text) if char.isalnum()), len(text))
    end = next((i for i in range(len(text), start, -1) if text[i - 1].isalnum()), start)
    while start < end < len(text) and unicodedata.combining(text[end]):
        end += 1
    return text[:start], text[start:end], text[end:]


# Apostrophes that word processors write for "'": O’Brien is O'Brien.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalize(text: str) -> str:
    """Case-folded, internal whitespace collapsed, composed (NFC: "Jose" + combining acute is
    "José") and with one apostrophe: the form surrogates and codes are keyed on."""
    return " ".join(unicodedata.normalize("NFC", text).translate(_APOSTROPHES).split()).casefold()


def plain(text: str) -> str:
    """``normalize``'s form without accents ("José García" is "jose garcia"): what a
    replacement must not contain."""
    decomposed = unicodedata.normalize("NFKD", normalize(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def case_pattern(text: str) -> str:
    """ "upper" (two or more letters, all capitals), "lower", "title" (each word capitalized),
    "mixed" ("McLaughlin", "BAltimore") or "none" (no letters)."""
    words = _ALPHA_RUN.findall(text)
    letters = "".join(words)
    if not letters:
        return "none"
    if len(letters) > 1 and letters.isupper():
        return "upper"
    if letters.islower():
        return "lower"
    if all(w[0].isupper() and (len(w) == 1 or w[1:].islower()) for w in words):
        return "title"
    return "mixed"


def recase(value: str, pattern: str) -> str:
    """Apply a ``case_pattern`` to ``value`` ("mixed" and "none" leave it as it is)."""
    if pattern == "upper":
        return value.upper()
    if pattern == "lower":
        return value.lower()
    if pattern == "title":
        return _ALPHA_RUN.sub(lambda m: m.group()[0].upper() + m.group()[1:], value)
    return value
