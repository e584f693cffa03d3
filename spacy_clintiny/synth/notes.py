"""Note types other than nursing notes: discharge summaries, progress (SOAP) notes, radiology
reports, medication lists and referral letters. Each writes one note into a ``NoteBuilder``."""

import random

from .builder import NoteBuilder
from .clinical import ClinicalFactory
from .phi import PhiFactory

IMAGING = (
    "CT of the head",
    "CT of the chest",
    "CT of the abdomen and pelvis",
    "MRI of the brain",
    "chest x-ray",
    "renal ultrasound",
    "MRI of the lumbar spine",
    "CT angiogram",
)
FINDING_CUES = (
    ("There is ", "present"),
    ("There is no ", "absent"),
    ("Redemonstrated ", "present"),
    ("Interval increase in ", "present"),
    ("No evidence of ", "absent"),
    ("Findings may represent ", "possible"),
    ("Stable ", "present"),
    ("Cannot exclude ", "possible"),
)


def _sentence_of_problems(b: NoteBuilder, clin: ClinicalFactory, rng: random.Random, n: int) -> None:
    for i in range(n):
        if i:
            b.text(rng.choice((", ", ", ", " and ", "; ")))
        clin.write_problem(b)
    b.text(". ")


def _clinical_paragraph(b: NoteBuilder, clin: ClinicalFactory, rng: random.Random, n: int) -> None:
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            b.text(rng.choice(("The patient ", "She ", "He ", "Pt ")))
            b.text(rng.choice(("reports ", "was noted to have ", "has ", "describes ")))
            clin.write_problem(b)
        elif r < 0.5:
            clin.write_test_problem(b)
        elif r < 0.7:
            clin.write_treatment_problem(b)
        elif r < 0.8:
            clin.write_problem_problem(b)
        else:
            clin.write_test_value(b)
        b.text(". ")


def _med_list(b: NoteBuilder, clin: ClinicalFactory, rng: random.Random, n: int) -> None:
    numbered = rng.random() < 0.6
    for i in range(n):
        b.text(f"{i + 1}. " if numbered else "- ")
        clin.write_medication(b)
        b.text("\n")


def discharge_summary(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """Admission/discharge dates, history, course, medications, follow-up."""
    admit = phi.random_date()
    b.text("Admission Date: ")
    phi.write_date(b, admit)
    b.text("    Discharge Date: ")
    phi.write_date(b)
    b.text("\n\nDate of Birth: ")
    phi.write_date(b)
    b.text(
        "    Sex: "
        + rng.choice(("F", "M"))
        + "\n\nService: "
        + rng.choice(("MEDICINE", "SURGERY", "CARDIOLOGY", "NEUROLOGY"))
    )
    b.text("\n\nMRN: ")
    phi.write_id(b)
    b.text("   Account: ")
    phi.write_id(b, "ACCOUNT")
    b.text("\n\nAttending: ")
    phi.write_titled_doctor(b)
    b.text("\n\nHISTORY OF PRESENT ILLNESS:\n")
    phi.write_name(b, "PATIENT", style=rng.choice(("full", "last_comma_first", "full")))
    b.text(" is a ")
    phi.write_age(b, forms=("{a} year old", "{a}-year-old", "{a} yo"))
    b.text(rng.choice((" woman", " man", " female", " male")) + " with ")
    clin.write_bare_problem(b)
    b.text(" who presented to ")
    phi.write_hospital(b)
    b.text(" on ")
    phi.write_date(b, admit)
    b.text(" with ")
    clin.write_bare_problem(b)
    b.text(". ")
    _clinical_paragraph(b, clin, rng, rng.randrange(2, 5))
    b.text("\n\nPAST MEDICAL HISTORY:\n")
    _sentence_of_problems(b, clin, rng, rng.randrange(2, 6))
    b.text("\n\nSOCIAL HISTORY:\nLives with " + rng.choice(("her husband", "his wife", "daughter", "alone")) + " in ")
    phi.write_city(b)
    b.text(". Works as a ")
    phi.write_profession(b)
    b.text(". " + rng.choice(("No tobacco.", "Quit smoking 10 years ago.", "Drinks socially.", "")))
    b.text("\n\nFAMILY HISTORY:\n")
    clin.write_problem(b, "associated_with_someone_else")
    b.text(".\n\nHOSPITAL COURSE:\n")
    _clinical_paragraph(b, clin, rng, rng.randrange(3, 7))
    b.text("\n\nDISCHARGE MEDICATIONS:\n")
    _med_list(b, clin, rng, rng.randrange(2, 7))
    b.text("\nDISCHARGE DISPOSITION: " + rng.choice(("Home", "Home with services", "Extended care facility: ")))
    if b.parts[-1].endswith(": "):
        phi.write_hospital(b)
    b.text("\n\nFOLLOW UP:\nWith ")
    phi.write_titled_doctor(b)
    b.text(" on ")
    phi.write_date(b)
    b.text(" at " + phi.time_string() + ". Phone ")
    phi.write_phone(b)
    b.text(".\n\n")
    phi.write_name(b, "DOCTOR", style="full")
    b.text(", MD\n\nDictated By: ")
    phi.write_name(b, "DOCTOR", style=rng.choice(("full", "last_comma_first")))
    b.text("\nD: ")
    phi.write_date(b)
    b.text("  T: ")
    phi.write_date(b)
    b.text("  JOB#: ")
    phi.write_id(b, "IDNUM")
    b.text("\n")


def progress_note(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """A SOAP progress note."""
    b.text(rng.choice(("Progress Note", "MICU Attending Note", "Medicine Progress Note", "Interval Note")) + " - ")
    phi.write_date(b)
    b.text("\n\nS: ")
    _clinical_paragraph(b, clin, rng, rng.randrange(1, 4))
    if rng.random() < 0.4:
        b.text("Spoke with " + rng.choice(("his wife ", "her son ", "daughter ", "HCP ")))
        phi.write_name(b, "RELATIVE", style=rng.choice(("first", "full")))
        b.text(" by phone at ")
        phi.write_phone(b)
        b.text(". ")
    b.text("\n\nO: ")
    for i in range(rng.randrange(2, 5)):
        if i:
            b.text(", ")
        clin.write_vitals(b)
    b.text(".\n")
    for _ in range(rng.randrange(1, 4)):
        clin.write_test_value(b)
        b.text(". ")
    b.text("\n\nA/P: ")
    phi.write_age(b)
    b.text(" with ")
    clin.write_bare_problem(b)
    b.text(".\n")
    for i in range(rng.randrange(2, 5)):
        b.text(f"{i + 1}) ")
        r = rng.random()
        if r < 0.4:
            clin.write_treatment_problem(b)
        elif r < 0.7:
            clin.write_medication(b, reason=True)
        else:
            clin.write_problem(b)
        b.text("\n")
    if rng.random() < 0.5:
        b.text("Dispo: possible transfer to ")
        if rng.random() < 0.5:
            phi.write_ward(b)
        else:
            phi.write_hospital(b)
        b.text(".\n")
    b.text("\n")
    phi.write_name(b, "DOCTOR", style=rng.choice(("full", "first_initial_last", "initial_last")))
    b.text(rng.choice((", MD", ", MD PGY-2", ", NP", " (pager ")))
    if b.parts[-1].endswith("("):
        b.phi(str(rng.randrange(10000, 99999)), "CONTACT", "PHONE")
        b.text(")")
    b.text("\n")


def radiology_report(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """A radiology report: exam, history, comparison, findings, impression, signature."""
    b.text("EXAM: ")
    exam = b.concept(rng.choice(IMAGING), "TEST", "test")
    b.text("\nDATE: ")
    phi.write_date(b)
    b.text(" " + phi.time_string() + "\nPATIENT: ")
    phi.write_name(b, "PATIENT", style=rng.choice(("last_comma_first", "full")))
    b.text("   MRN: ")
    phi.write_id(b)
    b.text("\nLOCATION: ")
    if rng.random() < 0.5:
        phi.write_hospital(b)
    else:
        phi.write_ward(b)
    b.text("\n\nCLINICAL HISTORY: ")
    phi.write_age(b, forms=("{a} year old", "{a}-year-old", "{a}F", "{a}M"))
    b.text(" with ")
    clin.write_bare_problem(b)
    b.text(", evaluate for ")
    problem = clin.write_bare_problem(b, "possible")
    b.relation(exam, problem, "TeCP")
    b.text(".\n\nCOMPARISON: ")
    if rng.random() < 0.7:
        b.text("Prior study dated ")
        phi.write_date(b)
        b.text(".")
    else:
        b.text("None.")
    b.text("\n\nFINDINGS: ")
    for _ in range(rng.randrange(2, 5)):
        rng.random()  # unused draw kept: the seeded notes stay the same
        cue, assertion = rng.choice(FINDING_CUES)
        b.text(cue)
        b.relation(exam, clin.write_bare_problem(b, assertion), "TeRP")
        b.text(". ")
    b.text("\n\nIMPRESSION:\n1. ")
    clin.write_problem(b, rng.choice(("present", "possible")))
    b.text(".\n\nDictated by: ")
    phi.write_name(b, "DOCTOR", style=rng.choice(("full", "first_initial_last")))
    b.text(", MD\nElectronically signed on ")
    phi.write_date(b)
    b.text(" " + phi.time_string() + "\n")


def medication_list(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """A medication list / reconciliation with prescriber and pharmacy."""
    b.text(rng.choice(("MEDICATION LIST", "Medication Reconciliation", "Outpatient Medications")) + "\nPatient: ")
    phi.write_name(b, "PATIENT", style=rng.choice(("full", "last_comma_first")))
    b.text("   DOB: ")
    phi.write_date(b)
    b.text("   MRN: ")
    phi.write_id(b)
    b.text("\nUpdated: ")
    phi.write_date(b)
    b.text("\n\n")
    _med_list(b, clin, rng, rng.randrange(4, 11))
    b.text("\nAllergies: ")
    if rng.random() < 0.5:
        b.text("NKDA")
    else:
        drug = clin.write_treatment(b)
        b.text(" (")
        b.relation(drug, clin.write_bare_problem(b), "TrCP")
        b.text(")")
    b.text("\nPharmacy: ")
    phi.write_organization(b)
    b.text(", ")
    phi.write_phone(b)
    b.text(", fax ")
    phi.write_phone(b, "FAX")
    b.text("\nPrescriber: ")
    phi.write_titled_doctor(b)
    b.text(", DEA ")
    phi.write_id(b, "LICENSE")
    b.text("\n")


def referral_letter(b: NoteBuilder, phi: PhiFactory, clin: ClinicalFactory, rng: random.Random) -> None:
    """A referral letter with letterhead, addresses and contact details."""
    specialty = rng.choice(clin.vocab.specialties)
    phi.write_hospital(b)
    b.text("\nDepartment of " + specialty.title() + "\n")
    phi.write_address(b)
    b.text("\nTel ")
    phi.write_phone(b)
    b.text("   Fax ")
    phi.write_phone(b, "FAX")
    b.text("\n\n")
    phi.write_date(b)
    b.text("\n\nDear ")
    phi.write_titled_doctor(b)
    b.text(",\n\nThank you for seeing ")
    b.text(rng.choice(("Mr. ", "Mrs. ", "Ms. ", "")))
    phi.write_name(b, "PATIENT", style=rng.choice(("full", "full", "first_initial_last")))
    b.text(" (DOB ")
    phi.write_date(b)
    b.text(", MRN ")
    phi.write_id(b)
    b.text("), a ")
    phi.write_age(b, forms=("{a}-year-old", "{a} year old"))
    b.text(" ")
    phi.write_profession(b)
    b.text(" from ")
    phi.write_city(b)
    b.text(", whom I am referring for evaluation of ")
    clin.write_bare_problem(b)
    b.text(". ")
    _clinical_paragraph(b, clin, rng, rng.randrange(2, 5))
    b.text("\n\nCurrent medications include ")
    for i in range(rng.randrange(1, 4)):
        if i:
            b.text(", ")
        clin.write_medication(b)
    b.text(".\n\n")
    if rng.random() < 0.5:
        b.text("Her daughter " if rng.random() < 0.5 else "His son ")
        phi.write_name(b, "RELATIVE", style="full")
        b.text(" accompanies the patient and can be reached at ")
        phi.write_phone(b)
        b.text(". ")
    b.text("Please do not hesitate to contact me at ")
    phi.write_phone(b)
    b.text(" or ")
    phi.write_email(b)
    b.text(".\n\nSincerely,\n\n")
    phi.write_name(b, "DOCTOR", style="full")
    b.text(", MD\n" + specialty.title() + "\n")
