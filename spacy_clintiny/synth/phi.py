"""PHI surrogates in many surface forms, written into a ``NoteBuilder`` with their labels.

Names (titles kept outside the span; initials, hyphens, "Last, First", lower case, ALL CAPS),
dates in 18 formats including partial dates, phone / fax / pager numbers, e-mail, MRNs,
account, SSN, health-plan and licence numbers, street addresses, cities, states, zip codes,
countries, hospitals, named wards, companies, professions and ages. Ages are PHI only over 89
(HIPAA Safe Harbor, the PhysioNet gold standard) unless ``age_policy="all"`` (i2b2 2014).
Times of day and weekdays are written as plain text: they are not PHI under HIPAA Safe Harbor
or in the PhysioNet scheme (i2b2 2014 does annotate weekdays).
"""

import random
import string
import unicodedata
from datetime import date, timedelta
from typing import Dict, Optional, Sequence, Tuple

from faker import Faker

from .builder import NoteBuilder
from .vocab import Vocab

LOCALES = ("en_US", "en_GB", "en_IE", "es_MX", "it_IT", "de_DE", "pl_PL")
LOCALE_WEIGHTS = (70, 8, 6, 6, 4, 3, 3)
SAINTS = ("Elizabeth", "Mary", "Joseph", "Vincent", "Luke", "Anne", "Francis", "Margaret", "Jude", "Anthony", "Clare")
STATES = (
    ("Massachusetts", "MA"),
    ("New York", "NY"),
    ("California", "CA"),
    ("Texas", "TX"),
    ("Florida", "FL"),
    ("Maine", "ME"),
    ("New Hampshire", "NH"),
    ("Rhode Island", "RI"),
    ("Connecticut", "CT"),
    ("Ohio", "OH"),
    ("Maryland", "MD"),
    ("Vermont", "VT"),
    ("Illinois", "IL"),
    ("Pennsylvania", "PA"),
)
COUNTRIES = (
    "Canada",
    "Ireland",
    "Italy",
    "Portugal",
    "Haiti",
    "Brazil",
    "China",
    "India",
    "Greece",
    "Poland",
    "Mexico",
    "Vietnam",
    "the Dominican Republic",
    "England",
    "Russia",
)
NOUNS = ("Memorial", "Hospital", "Medical Center", "Rehab")
# (strftime-like pattern, weight in notes, weight in terse nursing notes)
DATE_FORMATS: Tuple[Tuple[str, int, int], ...] = (
    ("{m}/{d}", 6, 30),
    ("{m}/{d}/{yy}", 6, 8),
    ("{mm}/{dd}/{yyyy}", 10, 3),
    ("{m}/{d}/{yyyy}", 6, 3),
    ("{yyyy}-{mm}-{dd}", 6, 1),
    ("{month} {d}, {yyyy}", 8, 1),
    ("{mon} {d}", 4, 2),
    ("{d}-{mon}-{yyyy}", 4, 1),
    ("{d} {month} {yyyy}", 3, 1),
    ("{month} {yyyy}", 4, 1),
    ("{yyyy}", 4, 1),
    ("{m}/{yyyy}", 3, 1),
    ("{mm}.{dd}.{yyyy}", 2, 0),
    ("{mon}. {d}", 2, 1),
    ("the {dth}", 2, 1),
    ("{month} {dth}", 2, 0),
    ("{m}-{d}", 2, 3),
    ("{mm}{dd}{yy}", 1, 1),
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class PhiFactory:
    """Draw PHI surrogates for one note. Re-seed with ``reseed`` for each note.

    vocab (Vocab): Resource lists (hospital and ward patterns).
    age_policy (str): "over89" (default) or "all".
    """

    def __init__(self, vocab: Vocab, *, age_policy: str = "over89") -> None:
        if age_policy not in ("over89", "all"):
            raise ValueError(f"age_policy={age_policy!r}: use 'over89' or 'all'")
        self.vocab = vocab
        self.age_policy = age_policy
        self.fakers: Dict[str, Faker] = {}  # created on first use: each locale takes ~0.1 s to load
        self.rng = random.Random(0)
        self.terse = False
        self._seeds: Dict[str, int] = {}

    def reseed(self, rng: random.Random, *, terse: bool = False) -> None:
        """Use ``rng`` for every choice of this note and re-seed Faker from it."""
        self.rng = rng
        self.terse = terse
        self._seeds: Dict[str, int] = {}

    def _faker(self, locale: Optional[str] = None) -> Faker:
        """The Faker of a locale (weighted draw when None), seeded from this note's rng the
        first time the note uses it, so every draw depends only on the note's seed."""
        loc = locale or self.rng.choices(LOCALES, LOCALE_WEIGHTS)[0]
        if loc not in self._seeds:
            self._seeds[loc] = self.rng.getrandbits(32)
            if loc not in self.fakers:
                self.fakers[loc] = Faker(loc)
            self.fakers[loc].seed_instance(self._seeds[loc])
        return self.fakers[loc]

    # names -------------------------------------------------------------------------------

    def first_name(self) -> str:
        return _ascii(self._faker().first_name())

    def last_name(self) -> str:
        last = _ascii(self._faker().last_name())
        if self.rng.random() < 0.08:
            last = f"{last}-{_ascii(self._faker().last_name())}"
        return last.split(" ")[0] if self.rng.random() < 0.5 else last

    def person_name(self, *, style: Optional[str] = None) -> str:
        """A name in one of many forms (no title)."""
        first, last = self.first_name(), self.last_name()
        style = (
            style
            or self.rng.choices(
                (
                    "full",
                    "last",
                    "first",
                    "initial_last",
                    "first_initial_last",
                    "last_comma_first",
                    "initials",
                    "first_mi",
                ),
                (30, 25, 14, 8, 10, 5, 3, 5),
            )[0]
        )
        initial = self.rng.choice(string.ascii_uppercase)
        out = {
            "full": f"{first} {last}",
            "last": last,
            "first": first,
            "initial_last": f"{first[0]}. {last}",
            "first_initial_last": f"{first} {initial}. {last}",
            "last_comma_first": f"{last}, {first}",
            "initials": self.rng.choice((f"{first[0]}{last[0]}", f"{first[0]}.{last[0]}.")),
            "first_mi": f"{first} {initial}.",
        }[style]
        return self._vary_case(out)

    def _vary_case(self, text: str) -> str:
        r = self.rng.random()
        if r < 0.12:
            return text.upper()
        if r < 0.2:
            return text.lower()
        return text

    def write_name(self, b: NoteBuilder, role: str = "DOCTOR", *, style: Optional[str] = None) -> str:
        """Write a person's name. role: PATIENT, DOCTOR, RELATIVE or USERNAME."""
        return b.phi(self.person_name(style=style), "NAME", role)

    def write_titled_doctor(self, b: NoteBuilder) -> str:
        """``Dr. Smith`` / ``DR JONES`` / ``Smith, MD``: the title stays outside the span."""
        r = self.rng.random()
        if r < 0.7:
            b.text(self.rng.choice(("Dr. ", "Dr ", "DR. ", "dr ", "Dr.")))
            if b.parts[-1].endswith("."):
                b.text(" ")
            return b.phi(
                self._vary_case(
                    self.rng.choice((self.last_name(), self.last_name(), f"{self.first_name()} {self.last_name()}"))
                ),
                "NAME",
                "DOCTOR",
            )
        key = b.phi(self.person_name(style="full"), "NAME", "DOCTOR")
        b.text(self.rng.choice((", MD", " MD", ", M.D.", ", NP", " PA-C")))
        return key

    # dates -------------------------------------------------------------------------------

    def random_date(self) -> date:
        return date(1998, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 100))

    def date_string(self, day: Optional[date] = None) -> str:
        day = day or self.random_date()
        fmts = [f for f, _, _ in DATE_FORMATS]
        weights = [w_terse if self.terse else w for _, w, w_terse in DATE_FORMATS]
        fmt = self.rng.choices(fmts, weights)[0]
        text = fmt.format(
            m=day.month,
            d=day.day,
            mm=f"{day.month:02d}",
            dd=f"{day.day:02d}",
            yy=f"{day.year % 100:02d}",
            yyyy=day.year,
            month=MONTHS[day.month - 1],
            mon=MONTHS[day.month - 1][:3],
            weekday=WEEKDAYS[day.weekday()],
            dth=_ordinal(day.day),
        )
        return text

    def write_date(self, b: NoteBuilder, day: Optional[date] = None) -> str:
        text = self.date_string(day)
        if text.startswith("the "):
            b.text("the ")
            text = text[4:]
        return b.phi(text, "DATE", "DATE")

    def time_string(self) -> str:
        """A time of day (NOT PHI: written as plain text by callers)."""
        h, m = self.rng.randrange(24), self.rng.choice((0, 0, 15, 30, 45, 10, 20))
        return self.rng.choice(
            (
                f"{h:02d}{m:02d}",
                f"{h}:{m:02d}",
                f"{(h % 12) or 12}{'am' if h < 12 else 'pm'}",
                f"{h:02d}:{m:02d}",
                f"{(h % 12) or 12}:{m:02d} {'AM' if h < 12 else 'PM'}",
            )
        )

    # contact and ids ---------------------------------------------------------------------

    def phone_string(self) -> str:
        a, p, s = self.rng.randrange(201, 990), self.rng.randrange(200, 999), self.rng.randrange(0, 10000)
        return self.rng.choice(
            (
                f"({a}) {p}-{s:04d}",
                f"{a}-{p}-{s:04d}",
                f"{a}.{p}.{s:04d}",
                f"{p}-{s:04d}",
                f"{a} {p} {s:04d}",
                f"+1 {a} {p} {s:04d}",
                f"x{s:04d}",
                f"{a}/{p}-{s:04d}",
            )
        )

    def write_phone(self, b: NoteBuilder, kind: str = "PHONE") -> str:
        return b.phi(self.phone_string(), "CONTACT", kind)

    def write_pager(self, b: NoteBuilder) -> str:
        b.text(self.rng.choice(("pager ", "beeper #", "pgr ", "page ")))
        return b.phi(str(self.rng.randrange(10000, 99999)), "CONTACT", "PHONE")

    def write_email(self, b: NoteBuilder) -> str:
        user = f"{self.first_name()[0]}{self.last_name().split('-')[0]}".lower()
        domain = self.rng.choice(("example.org", "mail.example.com", "clinic.example.net", "hosp.example.edu"))
        return b.phi(f"{user}@{domain}", "CONTACT", "EMAIL")

    def id_string(self, kind: str) -> str:
        r = self.rng
        if kind == "MEDICALRECORD":
            n = r.randrange(10**6, 10**8)
            return r.choice(
                (
                    str(n),
                    f"{n:08d}",
                    f"{n // 10000}-{n % 10000:04d}",
                    f"{str(n)[:3]}-{str(n)[3:5]}-{str(n)[5:7]}",
                    f"{str(n)[:3]} {str(n)[3:5]} {str(n)[5:7]}",
                )
            )
        if kind == "SSN":
            return f"{r.randrange(100, 899)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}"
        if kind == "ACCOUNT":
            return r.choice(
                (
                    f"{r.randrange(10**9, 10**10)}",
                    f"A{r.randrange(10**7, 10**8)}",
                    f"{r.randrange(100, 999)}-{r.randrange(10**5, 10**6)}",
                )
            )
        if kind == "HEALTHPLAN":
            return f"{r.choice(string.ascii_uppercase)}{r.choice(string.ascii_uppercase)}{r.randrange(10**7, 10**9)}"
        if kind == "LICENSE":
            return f"{r.choice(('MA', 'RN', 'MD', 'DEA'))}{r.randrange(10**5, 10**7)}"
        if kind == "DEVICE":
            return f"SN{r.randrange(10**5, 10**8)}"
        return f"{r.randrange(10**4, 10**7)}"

    def write_id(self, b: NoteBuilder, kind: str = "MEDICALRECORD") -> str:
        return b.phi(self.id_string(kind), "ID", kind)

    # places ------------------------------------------------------------------------------

    def city(self) -> str:
        return _ascii(self._faker(self.rng.choice(("en_US", "en_US", "en_GB"))).city())

    def write_city(self, b: NoteBuilder) -> str:
        return b.phi(self._vary_case(self.city()), "LOCATION", "CITY")

    def write_state(self, b: NoteBuilder) -> str:
        full, abbr = self.rng.choice(STATES)
        return b.phi(abbr if self.rng.random() < 0.6 else full, "LOCATION", "STATE")

    def write_country(self, b: NoteBuilder) -> str:
        country = self.rng.choice(COUNTRIES)
        if country.startswith("the "):
            b.text("the ")
            country = country[4:]
        return b.phi(country, "LOCATION", "COUNTRY")

    def write_address(self, b: NoteBuilder) -> None:
        """Street, city, state and zip as four LOCATION spans (i2b2 2014 style)."""
        fk = self._faker("en_US")
        b.phi(_ascii(fk.street_address()), "LOCATION", "STREET")
        b.text(", ")
        self.write_city(b)
        b.text(", ")
        self.write_state(b)
        b.text(" ")
        b.phi(f"{self.rng.randrange(1000, 99999):05d}", "LOCATION", "ZIP")

    def hospital_string(self) -> str:
        pattern = self.rng.choice(self.vocab.hospitals)
        state = self.rng.choice(STATES)[0]
        abbr = "".join(self.rng.choice(string.ascii_uppercase) for _ in range(self.rng.choice((2, 3, 3, 4))))
        return pattern.format(
            last=self.last_name(),
            first=self.first_name(),
            city=self.city(),
            saint=self.rng.choice(SAINTS),
            state=state,
            abbr=abbr,
            noun=self.rng.choice(NOUNS),
        )

    def write_hospital(self, b: NoteBuilder) -> str:
        return b.phi(self._vary_case(self.hospital_string()), "LOCATION", "HOSPITAL")

    def write_ward(self, b: NoteBuilder) -> str:
        pattern = self.rng.choice(self.vocab.wards)
        text = pattern.format(
            last=self.last_name().split("-")[0], floor=self.rng.randrange(1, 15), letter=self.rng.choice("ABCDEFGHJK")
        )
        if text.startswith("the "):
            b.text("the ")
            text = text[4:]
        return b.phi(self._vary_case(text), "LOCATION", "DEPARTMENT")

    def write_room(self, b: NoteBuilder) -> str:
        b.text(self.rng.choice(("room ", "rm ", "bed ", "Room ")))
        return b.phi(
            f"{self.rng.randrange(1, 30)}{self.rng.choice(('', '', 'A', 'B'))}"
            if self.rng.random() < 0.5
            else str(self.rng.randrange(100, 999)),
            "LOCATION",
            "ROOM",
        )

    def write_organization(self, b: NoteBuilder) -> str:
        return b.phi(_ascii(self._faker("en_US").company()), "LOCATION", "ORGANIZATION")

    def write_profession(self, b: NoteBuilder) -> str:
        job = _ascii(self._faker("en_US").job()).split(",")[0].lower()
        return b.phi(job, "PROFESSION", "PROFESSION")

    # ages --------------------------------------------------------------------------------

    def age(self, *, old: Optional[bool] = None) -> int:
        if old is None:
            old = self.rng.random() < 0.25
        return self.rng.randrange(90, 104) if old else self.rng.randrange(18, 90)

    def write_age(self, b: NoteBuilder, *, old: Optional[bool] = None, forms: Sequence[str] = ()) -> Optional[str]:
        """Write an age phrase ("92 yo", "94-year-old"...); the number is PHI when over 89
        (or always, with age_policy "all")."""
        years = self.age(old=old)
        form = self.rng.choice(
            forms
            or (
                "{a} yo",
                "{a} y/o",
                "{a} year old",
                "{a}-year-old",
                "{a} YO",
                "{a}F",
                "{a}M",
                "{a} y.o.",
                "aged {a}",
                "age {a}",
            )
        )
        before, _, after = form.partition("{a}")
        b.text(before)
        key = None
        if years > 89 or self.age_policy == "all":
            key = b.phi(str(years), "AGE", "AGE")
        else:
            b.text(str(years))
        b.text(after)
        return key
