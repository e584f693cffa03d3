"""Terse ICU nursing progress notes in the style of the PhysioNet deid corpus: system-by-system
("NEURO:", "CV:", "RESP:"...), abbreviations, vitals, often ALL CAPS or all lower case, with
names of staff and family, short dates, named wards and outside hospitals."""

import random

from .builder import NoteBuilder
from .clinical import ClinicalFactory
from .phi import PhiFactory

HEADERS = (
    "NPN 7P-7A",
    "NPN 7A-7P",
    "Nursing Progress Note",
    "CCU NPN",
    "MICU NURSING PROGRESS NOTE",
    "Resp Care",
    "NURSING ADMISSION NOTE",
    "SICU NPN",
    "Nursing note 1900-0700",
    "CSRU NPN",
    "NEURO ICU NPN",
    "",
)
SYSTEMS = (
    "NEURO",
    "CV",
    "RESP",
    "GI",
    "GU",
    "ID",
    "SKIN",
    "ENDO",
    "HEME",
    "PAIN",
    "LINES",
    "ACCESS",
    "OBJECTIVE",
    "SUBJECTIVE",
    "ASSESSMENT",
    "D",
    "A",
    "R",
    "O",
    "S",
    "CODE",
    "ACTIVITY",
    "NUTRITION",
)
RELATIVES = (
    "wife",
    "husband",
    "daughter",
    "son",
    "sister",
    "brother",
    "mother",
    "father",
    "niece",
    "nephew",
    "friend",
    "HCP",
    "grandson",
    "granddaughter",
)
STAFF_ROLES = ("RN", "RRT", "NP", "MD", "PA", "SW", "PT")


def nursing_note(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """Write one nursing note into ``b``."""
    sep = rng.choice((" \n", "\n", " \n \n", "\n\n"))
    header = rng.choice(HEADERS)
    if header:
        b.text(header)
        if rng.random() < 0.3:
            b.text(" ")
            phi.write_date(b)
        b.text(sep)
    if rng.random() < 0.6:
        _opener(b, phi, clin, rng)
        b.text(sep)
    for system in rng.sample(SYSTEMS, rng.randrange(3, 8)):
        b.text(rng.choice((f"{system}: ", f"{system}- ", f"{system}= ", f"{system.lower()}: ", f"{system}:")))
        for i in range(rng.randrange(1, 4)):
            if i:
                b.text(rng.choice((". ", ", ", ". ", "; ")))
            _fragment(b, phi, clin, rng)
        b.text(". " if rng.random() < 0.7 else "")
        b.text(sep)
    if rng.random() < 0.5:
        _social(b, phi, rng)
        b.text(sep)
    b.text(rng.choice(("PLAN: ", "A/P: ", "Plan- ", "P: ")))
    for i in range(rng.randrange(1, 4)):
        if i:
            b.text(". ")
        _plan(b, phi, clin, rng)
    b.text(".")
    if rng.random() < 0.6:
        b.text(rng.choice(("\n\n", " \n", "\n \n")) + rng.choice(("", "", " ", "                \n")))
        phi.write_name(b, "DOCTOR", style=rng.choice(("full", "full", "first_initial_last", "initials")))
        b.text(rng.choice((", RN", ", RN", " RN", ", RRT", ", SN", "")))
    b.text("\n")


def _opener(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    phi.write_age(b, forms=("{a} YO", "{a} yo", "{a} y/o", "{a} YO ", "pt is a {a} yo"))
    b.text(rng.choice((" F ", " M ", " FEMALE ", " MALE ", " woman ", " gentleman ")))
    b.text(rng.choice(("admitted ", "transferred ", "s/p ", "brought ")))
    if rng.random() < 0.6:
        phi.write_date(b)
        b.text(" ")
    b.text("from ")
    if rng.random() < 0.7:
        phi.write_hospital(b)
    else:
        b.text(rng.choice(("EW", "OSH", "home", "rehab")))
    b.text(" with ")
    clin.write_bare_problem(b)
    if rng.random() < 0.5:
        b.text(" and ")
        clin.write_problem(b)
    b.text(". ")
    b.text(rng.choice(("PMH: ", "PMHX- ", "hx: ", "PMH ")))
    for i in range(rng.randrange(1, 4)):
        if i:
            b.text(rng.choice((", ", ". ", ", ")))
        clin.write_bare_problem(b)
        if rng.random() < 0.25:
            b.text(" ")
            phi.write_date(b)
    b.text(".")


def _fragment(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    if rng.random() < 0.3:
        b.text(clin.icu_phrase())
        return
    r = rng.random()
    if r < 0.25:
        clin.write_vitals(b)
    elif r < 0.42:
        clin.write_problem(b)
    elif r < 0.5:
        clin.write_test_problem(b)
    elif r < 0.58:
        clin.write_medication(b)
        b.text(rng.choice((" given", " started", " cont", "")))
    elif r < 0.64:
        clin.write_treatment_problem(b)
    elif r < 0.70:
        clin.write_test_value(b)
    elif r < 0.78:
        b.text(rng.choice(("Dr. ", "DR ", "dr ", "MD ", "Dr ")))
        phi.write_name(b, "DOCTOR", style=rng.choice(("last", "last", "full")))
        b.text(rng.choice((" aware", " notified", " in to see pt", " made aware", " paged", " updated")))
    elif r < 0.83:
        clin.write_test(b)
        b.text(rng.choice((" done ", " on ", " ")))
        phi.write_date(b)
        b.text(rng.choice((" neg", ", results pending", " unchanged", "")))
    elif r < 0.86:
        b.text(rng.choice(("transfer to ", "? transfer to ", "bed available on ", "to go to ")))
        phi.write_ward(b)
        b.text(rng.choice((" when bed available", " today", "")))
    elif r < 0.89:
        b.text(rng.choice(("per ", "spoke with ")))
        phi.write_name(b, "DOCTOR", style=rng.choice(("full", "first", "last")))
        b.text(rng.choice((" from ", " of ")))
        b.text(rng.choice(("wound care", "PT", "nutrition", "case management", "speech and swallow", "IV team")))
    elif r < 0.91:
        b.text(rng.choice(("at ", "@ ", "")) + phi.time_string() + " ")
        clin.write_problem(b, "present")
    elif r < 0.96:
        b.text(clin.icu_phrase())
    else:
        b.text(clin.filler().rstrip("."))


def _social(b: NoteBuilder, phi: PhiFactory, rng: random.Random) -> None:
    b.text(rng.choice(("SOCIAL: ", "Social- ", "FAMILY: ", "social: ")))
    relative = rng.choice(RELATIVES)
    r = rng.random()
    if r < 0.4:
        b.text(f"{relative} ")
        phi.write_name(b, "RELATIVE", style=rng.choice(("first", "first", "full")))
        b.text(rng.choice((" in to visit", " called", " at bedside", " updated by phone", " is HCP")))
        if rng.random() < 0.3:
            b.text(", can be reached at ")
            phi.write_phone(b)
    elif r < 0.6:
        b.text(f"lives with {relative} in ")
        phi.write_city(b)
        if rng.random() < 0.3:
            b.text(", ")
            phi.write_state(b)
    elif r < 0.75:
        b.text(f"{relative} called from ")
        if rng.random() < 0.7:
            phi.write_city(b)
        else:
            phi.write_country(b)
    elif r < 0.88:
        b.text(rng.choice(("pt works as a ", "retired ", "pt is a ")))
        phi.write_profession(b)
        if rng.random() < 0.4:
            b.text(" at ")
            phi.write_organization(b)
    else:
        b.text(f"{relative} ")
        phi.write_name(b, "RELATIVE", style="first")
        b.text(" and ")
        phi.write_name(b, "RELATIVE", style="first")
        b.text(" visited")
    b.text(".")


def _plan(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    r = rng.random()
    if r < 0.3:
        b.text(rng.choice(("monitor ", "cont to monitor ", "f/u ", "follow ")))
        clin.write_test(b)
    elif r < 0.5:
        clin.write_problem(b, rng.choice(("hypothetical", "possible")))
    elif r < 0.65:
        b.text(rng.choice(("possible transfer to ", "? to ", "plan for d/c to ")))
        if rng.random() < 0.5:
            phi.write_ward(b)
        else:
            phi.write_hospital(b)
    elif r < 0.8:
        b.text(rng.choice(("family meeting ", "CT ", "cath ", "f/u appt ")))
        phi.write_date(b)
    elif r < 0.9:
        b.text(clin.icu_phrase())
    else:
        b.text(clin.filler().rstrip("."))
