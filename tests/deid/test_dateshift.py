"""Date shifting keeps the written format and moves every date of a patient by the same offset;
ages over 89 are grouped."""

import datetime

import pytest

from spacy_clintiny.deid.dateshift import date_year, group_age, shift_date_text


@pytest.mark.parametrize(
    "text,days,expected",
    [
        ("3/14/2021", -10, "3/4/2021"),
        ("03/14/2021", -10, "03/04/2021"),
        ("3/14/21", -10, "3/4/21"),
        ("3/14", -10, "3/4"),
        ("3/14", -15, "2/28"),
        ("3/1", -1, "2/29"),  # no year: shifted within a leap year
        ("2021-03-14", -10, "2021-03-04"),
        ("2021.03.14", -10, "2021.03.04"),
        ("14/3/2021", -10, "4/3/2021"),  # first number > 12: day first
        ("11/21.93", -10, "11/11.93"),
        ("8/24/89", -30, "7/25/89"),
        ("March 14, 2021", -10, "March 4, 2021"),
        ("Mar 14", -10, "Mar 4"),
        ("Mar. 14", -20, "Feb. 23"),
        ("14-Mar-2021", -10, "4-Mar-2021"),
        ("14-MAR-2021", -20, "22-FEB-2021"),
        ("march 14", -20, "february 23"),
        ("MARCH 14TH", -15, "FEBRUARY 28TH"),
        ("14th of March", -12, "2nd of March"),
        ("Jan 3, 2021", -10, "Dec 24, 2020"),
        ("Monday, March 15, 2021", -10, "Friday, March 5, 2021"),
        ("Mon", -10, "Fri"),
        ("'92", -200, "'91"),
        ("11/92", -200, "4/92"),  # second number > 31: month/two-digit year
    ],
)
def test_shift_date_keeps_format(text, days, expected):
    assert shift_date_text(text, days) == expected


@pytest.mark.parametrize(
    "text,days,expected",
    [
        ("March 2021", -10, "March 2021"),  # March 15 - 10 days is still March
        ("March 2021", -20, "February 2021"),
        ("3/2021", -20, "2/2021"),
        ("2021-03", -20, "2021-02"),
        ("MARCH", -20, "FEBRUARY"),
        ("1992", -10, "1992"),  # July 2 - 10 days is still 1992
        ("1992", -200, "1991"),
    ],
)
def test_coarse_dates_shift_their_midpoint(text, days, expected):
    assert shift_date_text(text, days) == expected


def test_bare_two_digit_year_only_when_asked():
    assert shift_date_text("99", -200, two_digit_year=True) == "98"
    assert shift_date_text("99", -200) is None


@pytest.mark.parametrize(
    "text", ["11th", "1980s", "13/45/2021", "2/30/2021", "3/14/2021 10:30", "Monday 1992", "16", "x"]
)
def test_unreadable_dates_give_none(text):
    assert shift_date_text(text, -10) is None


def test_unchanged_day_level_date_gives_none():
    # A whole year back (dates without a year shift within leap year 2000) gives the same
    # month and day: the date would leak.
    assert shift_date_text("1/10", -365) is None
    assert shift_date_text("3/14", -366) is None
    # with its year too: only the year would be hidden, never the month and day
    assert shift_date_text("3/14/2021", -365) is None
    assert shift_date_text("March 14, 2021", -365) is None
    assert shift_date_text("3/14/2021", -364) == "3/15/2020"


def test_interval_between_dates_is_preserved():
    dates = ["2/25/2021", "3/7/2021", "12/28/2020", "1/4/2021"]
    for days in (-1, -47, -364):
        shifted = [shift_date_text(d, days) for d in dates]
        parse = [datetime.datetime.strptime(s, "%m/%d/%Y").date() for s in shifted]
        original = [datetime.datetime.strptime(d, "%m/%d/%Y").date() for d in dates]
        gaps = [(b - a).days for a, b in zip(parse, parse[1:])]
        assert gaps == [(b - a).days for a, b in zip(original, original[1:])]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("92", "90+"),
        ("103", "90+"),
        ("(92)", "(90+)"),
        ("92 yo", "90+ yo"),
        ("92yo", "90+yo"),
        ("45", "45"),
        ("89", "89"),
        ("89.5", "89.5"),
        ("18 months", "18 months"),
        ("ninety", None),
    ],
)
def test_group_age(text, expected):
    assert group_age(text) == expected


def test_dates_without_a_year_are_read_in_the_given_year():
    # 2093 has no February 29: "3/14/2093" and "3/16" stay two days apart
    assert shift_date_text("3/14/2093", -45) == "1/28/2093"
    assert shift_date_text("3/16", -45, year=2093) == "1/30"
    assert shift_date_text("3/16", -45) == "1/31"  # no year given: leap year 2000
    assert shift_date_text("3/1", -1, year=2093) == "2/28"
    assert shift_date_text("2/29", -1, year=2093) == "2/28"  # not a day of 2093: read in 2000
    assert shift_date_text("3/14/2093", -45, year=1999) == "1/28/2093"  # its own year wins


@pytest.mark.parametrize(
    "text,days,expected",
    [
        ("3/05/2093", -10, "2/23/2093"),  # one-digit month stays unpadded, the day keeps its zero
        ("03/14", -10, "03/04"),
        ("Sept 14", -10, "Sept 4"),
        ("Sept 14", -30, "Aug 15"),
    ],
)
def test_padding_and_abbreviations_follow_each_field(text, days, expected):
    assert shift_date_text(text, days) == expected


@pytest.mark.parametrize(
    "text,year", [("3/14/2093", 2093), ("March 14, 93", 1993), ("14-MAR-2093", 2093), ("3/14", None), ("soon", None)]
)
def test_date_year(text, year):
    assert date_year(text) == year
