"""Shift dates and group ages, keeping the way they are written.

Dates: ``shift_date_text("3/14/21", -15)`` -> ``"2/27/21"``. Read formats: numeric with "/",
"-", "." or spaces (month first, unless the first number is > 12: "14/3/2021" is day-month-year;
ISO when the first number has four digits), month names and abbreviations in any case
("March 14, 2021", "14-MAR-2021", "Mar 14th", "14th of March"), weekday names (recomputed),
"March 2021", "3/2021", "11/92" (a second number > 31 is a two-digit year), "'92", a year alone
("1992") and, with ``two_digit_year``, a bare two-digit year ("99"). Written back with the same
separators, zero padding (if the month or day had a leading zero), year width, month-name
length and case, and ordinal suffix ("4TH").

Coarse dates shift their midpoint: a month alone or with its year becomes the month holding its
15th + offset, a year alone the year holding July 2 + offset, so it may stay as it is (years are
not PHI under HIPAA Safe Harbor, and the offset stays secret). Two-digit years read as
1950-2049. Dates without a year shift within the year they are given (``year``: the caller passes
the year of the note's first date that has one, so "3/14/2093 and 3/16" stay two days apart across
February), else within leap year 2000 (so "2/29" is valid). Anything else
("11th" without a month, "1980s", "3/14/2021 10:30", "2/30") is unreadable: None, so the caller
redacts. A day-level date that comes out unchanged (a 365-day shift of a date without its year)
is None too.

Ages: HIPAA groups ages over 89: "92" -> "90", "92 yo" -> "90+ yo"; ages up to 89 are kept.
"""

import datetime
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .textshape import case_pattern, recase
from .wordlists import MONTHS_FULL as MONTHS

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")
DATE_FILLERS = ("of", "the")
DATE_SEPARATORS = frozenset(" \t/-.,'’")
_DATE_TOKEN = re.compile(r"[0-9]+|[^\W\d_]+|[\W_]+")
_AGE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def shift_date_text(text: str, days: int, *, two_digit_year: bool = False, year: Optional[int] = None) -> Optional[str]:
    """Shift a date written in one of many formats, and write it back in that format.

    text (str): The date, without surrounding punctuation ("3/14", "March 14th, 2021", "'92").
    days (int): Days to add (negative: into the past).
    two_digit_year (bool): Read a bare two-digit number as a year.
    year (Optional[int]): The year a date without one is read in (the note's year); None, or a
        year in which the date does not exist ("2/29"), reads it in leap year 2000.
    RETURNS (Optional[str]): The shifted date, or None if it cannot be read, or if a day-level
        date comes out unchanged or with its month and day (a shift of whole years).
    """
    tokens = _DATE_TOKEN.findall(text)
    roles = _date_roles(tokens, two_digit_year=two_digit_year)
    if roles is None:
        return None
    found = {role: i for i, role in roles.items()}
    try:
        written_year = _full_year(tokens[found["year"]]) if "year" in found else None
        if "month_name" in found:
            month: Optional[int] = _word_index(tokens[found["month_name"]], MONTHS) + 1
        else:
            month = int(tokens[found["month"]]) if "month" in found else None
        day = int(tokens[found["day"]]) if "day" in found else None
        ref_year = _reference_year(written_year, year, month, day)
        delta = datetime.timedelta(days=days)
        if month is not None and day is not None:
            new: Optional[datetime.date] = datetime.date(ref_year, month, day) + delta
        elif day is not None:  # a day without its month ("11th")
            return None
        elif "weekday" in found:  # a weekday alone moves with the offset; with a month or year it is unreadable
            if month is not None or written_year is not None:
                return None
            new = None
        elif month is not None:
            new = datetime.date(ref_year, month, 15) + delta
        else:
            new = datetime.date(ref_year, 7, 2) + delta
    except (ValueError, OverflowError):  # month 13, February 30, year 0...
        return None
    # Zero padding: a field written with two digits keeps two if any field had a leading zero
    # ("03/14" -> "02/05"); a one-digit field stays unpadded ("3/05" -> "2/18").
    zero = any(len(tokens[found[r]]) == 2 and tokens[found[r]][0] == "0" for r in ("month", "day") if r in found)
    pad = {r: zero and len(tokens[found[r]]) == 2 for r in ("month", "day") if r in found}
    out = list(tokens)
    for i, role in roles.items():
        if role == "weekday":
            if new is None or written_year is None:
                weekday = (_word_index(tokens[i], WEEKDAYS) + days) % 7
            else:
                weekday = new.weekday()
            out[i] = _name_like(WEEKDAYS[weekday], tokens[i], WEEKDAYS)
        elif new is None:
            return None
        elif role == "year":
            out[i] = f"{new.year:04d}" if len(tokens[i]) == 4 else f"{new.year % 100:02d}"
        elif role in ("month", "day"):
            out[i] = str(new.month if role == "month" else new.day).zfill(2 if pad[role] else 1)
        elif role == "month_name":
            out[i] = _name_like(MONTHS[new.month - 1], tokens[i], MONTHS)
        elif role == "ordinal":
            out[i] = recase(_ordinal_suffix(new.day), case_pattern(tokens[i]))
    shifted = "".join(out)
    if new is not None and month is not None and day is not None and (new.month, new.day) == (month, day):
        return None  # a shift of whole years keeps the month and day, which are PHI
    return None if (day is not None or "weekday" in found) and shifted == text else shifted


def _date_roles(tokens: Sequence[str], *, two_digit_year: bool) -> Optional[Dict[int, str]]:
    """Token index -> "year", "month", "day", "month_name", "weekday" or "ordinal"; None if unreadable."""
    roles: Dict[int, str] = {}
    numbers: List[int] = []
    for i, token in enumerate(tokens):
        if token.isdigit():
            numbers.append(i)
        elif not token[0].isalpha():
            if not DATE_SEPARATORS.issuperset(token):
                return None
        elif _word_index(token, MONTHS) is not None:
            roles[i] = "month_name"
        elif _word_index(token, WEEKDAYS) is not None:
            roles[i] = "weekday"
        elif token.casefold() in ORDINAL_SUFFIXES and i > 0 and tokens[i - 1].isdigit():
            roles[i], roles[i - 1] = "ordinal", "day"
        elif token.casefold() not in DATE_FILLERS:
            return None
    for i in numbers:
        if i > 0 and tokens[i - 1][-1] in "'’" and len(tokens[i]) == 2:
            roles[i] = "year"
    free = [i for i in numbers if i not in roles]
    if "month_name" in roles.values():
        for i in free:
            token, taken = tokens[i], set(roles.values())
            if len(token) == 4 and "year" not in taken:
                roles[i] = "year"
            elif len(token) <= 2 and int(token) <= 31 and "day" not in taken:
                roles[i] = "day"
            elif len(token) == 2 and "year" not in taken:
                roles[i] = "year"
            else:
                return None
    else:
        numeric = _numeric_roles([tokens[i] for i in free], two_digit_year=two_digit_year)
        if numeric is None:
            return None
        roles.update(zip(free, numeric))
    values = list(roles.values())
    if not values or len(values) != len(set(values)):
        return None
    widths_ok = all(
        len(tokens[i]) in (2, 4) if r == "year" else len(tokens[i]) <= 2
        for i, r in roles.items()
        if r in ("year", "month", "day")
    )
    return roles if widths_ok else None


def _numeric_roles(values: Sequence[str], *, two_digit_year: bool) -> Optional[Tuple[str, ...]]:
    """Roles of the numbers of an all-numeric date (US month-first unless the first is > 12)."""
    if not values:
        return ()
    ints = [int(v) for v in values]
    if len(values) == 3:
        if len(values[0]) == 4:
            return ("year", "month", "day")
        return ("day", "month", "year") if ints[0] > 12 >= ints[1] else ("month", "day", "year")
    if len(values) == 2:
        if len(values[0]) == 4:
            return ("year", "month")
        if len(values[1]) == 4 or (len(values[1]) == 2 and ints[1] > 31):
            return ("month", "year")
        return ("day", "month") if ints[0] > 12 >= ints[1] else ("month", "day")
    if len(values) == 1 and (len(values[0]) == 4 or (two_digit_year and len(values[0]) == 2)):
        return ("year",)
    return None


def date_year(text: str) -> Optional[int]:
    """The year written in a date, if it has one and can be read.

    text (str): A date as written ("3/14/2093", "March 2093", "3/14").
    RETURNS (Optional[int]): The four-digit year, or None.
    """
    tokens = _DATE_TOKEN.findall(text)
    roles = _date_roles(tokens, two_digit_year=False)
    if not roles:
        return None
    years = [_full_year(tokens[i]) for i, role in roles.items() if role == "year"]
    return years[0] if years and datetime.MINYEAR < years[0] < datetime.MAXYEAR else None


def _reference_year(written: Optional[int], hint: Optional[int], month: Optional[int], day: Optional[int]) -> int:
    """The year a date is read in: its own, else the caller's (if the day exists in it), else 2000."""
    if written is not None:
        return written
    if hint is not None and datetime.MINYEAR < hint < datetime.MAXYEAR:
        if month is None or day is None:
            return hint
        try:
            datetime.date(hint, month, day)
            return hint
        except ValueError:  # 2/29 in a year without it
            pass
    return 2000


def _full_year(token: str) -> int:
    year = int(token)
    if len(token) == 2:
        return 2000 + year if year < 50 else 1900 + year
    return year


def _word_index(word: str, names: Sequence[str]) -> Optional[int]:
    """Index of a (possibly abbreviated, >= 3 letters) month or weekday name, else None."""
    folded = word.casefold()
    if len(folded) < 3:
        return None
    for i, name in enumerate(names):
        if name.startswith(folded):
            return i
    return None


def _name_like(name: str, original: str, names: Sequence[str]) -> str:
    """``name`` abbreviated to three letters if ``original`` was abbreviated, re-cased like it."""
    index = _word_index(original, names)
    abbreviated = index is not None and len(original) < len(names[index])
    if abbreviated:  # "Sept" keeps its four letters where the new month is September too
        name = name[: len(original)] if name[:4] == "sept" and len(original) == 4 else name[:3]
    return recase(name, case_pattern(original))


def _ordinal_suffix(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def group_age(original: str) -> Optional[str]:
    """HIPAA age grouping: ages over 89 become "90+" ("92 yo" -> "90+ yo": a bare "90" would
    read as exactly 90); others are kept.

    original (str): The age as written ("92", "92 yo", "45").
    RETURNS (Optional[str]): The grouped age, or None when no number is found (redact).
    """
    numbers = _AGE_NUMBER.findall(original)
    if not numbers:
        return None
    if all(float(n) < 90 for n in numbers):
        return original
    return _AGE_NUMBER.sub(lambda m: "90+" if float(m.group()) >= 90 else m.group(), original)
