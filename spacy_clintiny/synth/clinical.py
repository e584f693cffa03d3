"""Medical concepts with assertions, drug attributes and relations, written into a
``NoteBuilder``. Concepts follow i2b2 2010 (PROBLEM / TEST / TREATMENT, assertion on the span),
treatment/test-problem relations use the i2b2 2010 labels (TrAP, TrIP, TrWP, TrCP, TrNAP,
TeRP, TeCP, PIP; head = treatment or test), drug attributes go to "modifiers" with
DRUG_DOSE / DRUG_ROUTE / DRUG_FREQUENCY relations (head = drug), as the n2c2 2018 preset does.
"""

import random
from typing import Optional, Sequence, Tuple

from .builder import NoteBuilder
from .vocab import Drug, Term, Vocab

# Cue templates per assertion: "{}" is where the problem goes.
ASSERTION_CUES = {
    "present": (
        "{}",
        "{}",
        "history of {}",
        "h/o {}",
        "presented with {}",
        "found to have {}",
        "known {}",
        "with {}",
        "c/o {}",
        "complains of {}",
        "s/p {}",
        "ongoing {}",
        "worsening {}",
    ),
    "absent": (
        "denies {}",
        "no {}",
        "negative for {}",
        "no evidence of {}",
        "without {}",
        "{} ruled out",
        "no signs of {}",
        "free of {}",
        "not consistent with {}",
        "no further {}",
    ),
    "possible": (
        "possible {}",
        "likely {}",
        "concern for {}",
        "rule out {}",
        "r/o {}",
        "questionable {}",
        "?{}",
        "suspected {}",
        "cannot exclude {}",
        "probable {}",
        "? of {}",
        "{} suspected",
    ),
    "conditional": (
        "{} with exertion",
        "{} when lying flat",
        "{} on ambulation",
        "{} with activity",
        "{} after meals",
        "{} when climbing stairs",
        "{} with position changes",
    ),
    "hypothetical": (
        "return if {} develops",
        "call for any {}",
        "monitor for {}",
        "watch for signs of {}",
        "at risk for {}",
        "if {} recurs, call",
        "should {} occur, return",
    ),
    "associated_with_someone_else": (
        "family history of {}",
        "mother with {}",
        "father had {}",
        "brother with {}",
        "FH {}",
        "sister died of {}",
        "grandmother with {}",
    ),
}
ASSERTION_WEIGHTS = {
    "present": 50,
    "absent": 22,
    "possible": 12,
    "conditional": 4,
    "hypothetical": 6,
    "associated_with_someone_else": 6,
}
TEST_PROBLEM = (  # (template, relation, assertion of the problem); {t} test, {p} problem
    ("{t} showed {p}", "TeRP", "present"),
    ("{t} revealed {p}", "TeRP", "present"),
    ("{t} notable for {p}", "TeRP", "present"),
    ("{t} c/w {p}", "TeRP", "present"),
    ("{t} negative for {p}", "TeRP", "absent"),
    ("{t} without evidence of {p}", "TeRP", "absent"),
    ("{t} to evaluate for {p}", "TeCP", "possible"),
    ("{t} to r/o {p}", "TeCP", "possible"),
    ("{t} ordered for ? {p}", "TeCP", "possible"),
    ("{t} pending to assess {p}", "TeCP", "possible"),
)
TREATMENT_PROBLEM = (  # {x} treatment, {p} problem
    ("started on {x} for {p}", "TrAP", "present"),
    ("{x} given for {p}", "TrAP", "present"),
    ("{p} treated with {x}", "TrAP", "present"),
    ("{p} improved with {x}", "TrIP", "present"),
    ("{p} resolved after {x}", "TrIP", "present"),
    ("{p} better since {x}", "TrIP", "present"),
    ("{p} worsened after {x}", "TrWP", "present"),
    ("{p} despite {x}", "TrWP", "present"),
    ("{p} secondary to {x}", "TrCP", "present"),
    ("{x} induced {p}", "TrCP", "present"),
    ("developed {p} on {x}", "TrCP", "present"),
    ("{x} held due to {p}", "TrNAP", "present"),
    ("{x} not given because of {p}", "TrNAP", "present"),
    ("{x} d/c'd for {p}", "TrNAP", "present"),
)
PROBLEM_PROBLEM = ("{a} secondary to {b}", "{a} due to {b}", "{a} in the setting of {b}", "{a} from {b}")
VITALS = (  # (test as written, value pattern)
    ("HR", " {hr} {rhythm}"),
    ("BP", " {sbp}/{dbp}"),
    ("SBP", " {sbp}S"),
    ("RR", " {rr}"),
    ("SATS", " {sat}%"),
    ("T", " {temp}"),
    ("CVP", " {cvp}"),
    ("HR", " {hr}S"),
    ("MAPS", " {map}S"),
    ("O2 SAT", " {sat}% ON {o2}"),
    ("TEMP", " {temp}"),
    ("HR", " {hr}-{hr2}"),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FILLERS = (
    "Pt resting comfortably.",
    "Will continue to monitor.",
    "Turned and repositioned q2h.",
    "Family updated.",
    "Plan discussed with team.",
    "Tolerating diet.",
    "OOB to chair.",
    "Pain well controlled.",
    "Safety maintained.",
    "Emotional support given.",
    "Skin intact.",
    "Lungs clear bilaterally.",
    "Abd soft, nontender.",
    "Voiding without difficulty.",
    "Ambulating in hallway.",
    "Afebrile overnight.",
    "No acute events.",
)


class ClinicalFactory:
    """Draw concepts for one note; ``terse`` prefers abbreviations (nursing notes)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.rng = random.Random(0)
        self.terse = False

    def reseed(self, rng: random.Random, *, terse: bool = False) -> None:
        self.rng = rng
        self.terse = terse

    def _term(self, terms: Sequence[Term]) -> str:
        full, abbr = self.rng.choice(terms)
        if abbr and self.rng.random() < (0.6 if self.terse else 0.25):
            return abbr
        return full

    def assertion(self) -> str:
        return self.rng.choices(list(ASSERTION_WEIGHTS), list(ASSERTION_WEIGHTS.values()))[0]

    def _cued(self, b: NoteBuilder, template: str, write) -> str:
        before, _, after = template.partition("{}")
        b.text(before)
        key = write()
        b.text(after)
        return key

    def write_problem(self, b: NoteBuilder, assertion: Optional[str] = None) -> str:
        """A problem with an assertion cue ("denies chest pain", "?PNA", "mother with DM")."""
        assertion = assertion or self.assertion()
        template = self.rng.choice(ASSERTION_CUES[assertion])
        term = self._term(self.vocab.problems)
        return self._cued(b, template, lambda: b.concept(term, "PROBLEM", "problem", assertion))

    def write_bare_problem(self, b: NoteBuilder, assertion: str = "present") -> str:
        return b.concept(self._term(self.vocab.problems), "PROBLEM", "problem", assertion)

    def write_test(self, b: NoteBuilder) -> str:
        return b.concept(self._term(self.vocab.tests), "TEST", "test")

    def write_test_value(self, b: NoteBuilder) -> str:
        """A lab or vital with a value ("K 3.2", "HCT 28.2"): a TEST concept, no relation."""
        key = self.write_test(b)
        b.text(self.rng.choice((" ", " ", "-", " = ", ": ")))
        b.text(
            self.rng.choice(
                (
                    f"{self.rng.randrange(1, 200)}",
                    f"{self.rng.uniform(0.1, 40):.1f}",
                    f"{self.rng.randrange(60, 180)}/{self.rng.randrange(30, 100)}",
                    self.rng.choice(("pending", "wnl", "neg", "elevated", "stable")),
                )
            )
        )
        return key

    def write_test_problem(self, b: NoteBuilder) -> None:
        template, label, assertion = self.rng.choice(TEST_PROBLEM)
        self._two(
            b,
            template,
            "{t}",
            "{p}",
            lambda: self.write_test(b),
            lambda: b.concept(self._term(self.vocab.problems), "PROBLEM", "problem", assertion),
            label,
        )

    def write_treatment(self, b: NoteBuilder) -> str:
        if self.rng.random() < 0.65:
            return b.concept(self.drug_name(self.rng.choice(self.vocab.drugs)), "TREATMENT", "drug")
        return b.concept(self._term(self.vocab.procedures), "TREATMENT", "procedure")

    def write_treatment_problem(self, b: NoteBuilder) -> None:
        template, label, assertion = self.rng.choice(TREATMENT_PROBLEM)
        self._two(
            b,
            template,
            "{x}",
            "{p}",
            lambda: self.write_treatment(b),
            lambda: b.concept(self._term(self.vocab.problems), "PROBLEM", "problem", assertion),
            label,
        )

    def write_problem_problem(self, b: NoteBuilder) -> None:
        template = self.rng.choice(PROBLEM_PROBLEM)
        self._two(
            b, template, "{a}", "{b}", lambda: self.write_bare_problem(b), lambda: self.write_bare_problem(b), "PIP"
        )

    def _two(
        self, b: NoteBuilder, template: str, head_slot: str, tail_slot: str, write_head, write_tail, label: str
    ) -> None:
        """Fill a two-slot template in text order; the relation always goes head -> tail."""
        first = head_slot if template.index(head_slot) < template.index(tail_slot) else tail_slot
        second = tail_slot if first == head_slot else head_slot
        before, _, rest = template.partition(first)
        middle, _, after = rest.partition(second)
        b.text(before)
        k1 = write_head() if first == head_slot else write_tail()
        b.text(middle)
        k2 = write_tail() if first == head_slot else write_head()
        b.text(after)
        head, tail = (k1, k2) if first == head_slot else (k2, k1)
        b.relation(head, tail, label)

    def drug_name(self, drug: Drug) -> str:
        if drug.abbreviation and self.rng.random() < (0.5 if self.terse else 0.2):
            return drug.abbreviation
        return drug.name

    def write_medication(self, b: NoteBuilder, *, reason: Optional[bool] = None) -> Tuple[str, Optional[str]]:
        """ "metoprolol 25 mg PO BID for HTN": drug, dose, route, frequency, optional reason.

        RETURNS (Tuple[str, Optional[str]]): The drug key and the reason's key.
        """
        drug = self.rng.choice(self.vocab.drugs)
        key = b.concept(self.drug_name(drug), "TREATMENT", "drug")
        if self.rng.random() < 0.85:
            b.text(" ")
            b.relation(key, b.modifier(self.rng.choice(drug.strengths), "DOSE", "Strength"), "DRUG_DOSE")
        if self.rng.random() < 0.6:
            b.text(" ")
            b.relation(key, b.modifier(self.rng.choice(drug.routes), "ROUTE", "Route"), "DRUG_ROUTE")
        if self.rng.random() < 0.75:
            b.text(" ")
            b.relation(key, b.modifier(self.rng.choice(drug.frequencies), "FREQUENCY", "Frequency"), "DRUG_FREQUENCY")
        reason_key = None
        if reason if reason is not None else self.rng.random() < 0.3:
            b.text(self.rng.choice((" for ", " for ", " prn ", " - ")))
            reason_key = self.write_bare_problem(b)
            b.relation(key, reason_key, "TrAP")
        return key, reason_key

    def write_vitals(self, b: NoteBuilder) -> str:
        """A vital sign with its value ("HR 80S NSR"): the measure is a TEST concept."""
        r = self.rng
        test, pattern = r.choice(VITALS)
        key = b.concept(test, "TEST", "test")
        b.text(
            pattern.format(
                hr=r.randrange(50, 140),
                hr2=r.randrange(60, 150),
                rhythm=r.choice(("NSR", "SR", "ST", "AFIB", "SB")),
                sbp=r.randrange(80, 180),
                dbp=r.randrange(40, 100),
                rr=r.randrange(10, 32),
                sat=r.randrange(88, 101),
                temp=f"{r.uniform(96.5, 102.5):.1f}",
                cvp=r.randrange(2, 20),
                map=r.randrange(50, 100),
                o2=r.choice(("2L NC", "RA", "40% FM", "50% FIO2", "4L")),
            )
        )
        return key

    def icu_phrase(self) -> str:
        """ICU jargon as plain text (devices, findings, numbers that look like dates but are not)."""
        phrase = self.rng.choice(self.vocab.icu_phrases)
        return phrase.format(n=self.rng.randrange(1, 10), day=self.rng.choice(WEEKDAYS))

    def filler(self) -> str:
        return self.rng.choice(FILLERS)
