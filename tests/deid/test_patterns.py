"""PHI rules (``spacy_clintiny.deid.patterns``): each pattern family on hand-written sentences
with the exact expected spans, clinical look-alikes that must not fire, allow and deny lists,
serialization, the rule files' validity and a PhysioNet regression on held-out patients."""

import copy

import pytest
import spacy
from spacy.schemas import validate_token_pattern

from helpers import require_shared_data
from spacy_clintiny.converters.physionet import iter_physionet
from spacy_clintiny.converters.splits import dev_groups
from spacy_clintiny.deid.dictionary import common_english
from spacy_clintiny.deid.patterns import PhiRuleDetector, load_regex_rules, load_token_rules, read_rule_file
from spacy_clintiny.deid.wordlists import word_lists


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="module")
def detector(nlp):
    return PhiRuleDetector(nlp.vocab, profile="precision")


@pytest.fixture(scope="module")
def recall(nlp):
    return PhiRuleDetector(nlp.vocab, profile="recall")


def at(text, sub, nth=0):
    """(start, end) of the ``nth`` occurrence of ``sub`` in ``text``."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return start, start + len(sub)


def spans(detector, nlp, text):
    return [(m.start, m.end, m.label, m.subtype) for m in detector(nlp(text))]


def texts(detector, nlp, text):
    return [text[m.start : m.end] for m in detector(nlp(text))]


# ---------------------------------------------------------------------- CONTACT


def test_phone_formats(detector, nlp):
    text = "Home (617) 555-1234 x1234, cell 617-555-2345, work 617.555.3456; call daughter at 555-4567."
    assert spans(detector, nlp, text) == [
        (*at(text, "(617) 555-1234 x1234"), "CONTACT", "PHONE"),
        (*at(text, "617-555-2345"), "CONTACT", "PHONE"),
        (*at(text, "617.555.3456"), "CONTACT", "PHONE"),
        (*at(text, "555-4567"), "CONTACT", "PHONE"),
    ]


def test_fax_pager_and_beeper(detector, nlp):
    text = "Fax 617-555-9999. Pager: #54321. PG 33445. He can be reached at beeper number 55037."
    assert spans(detector, nlp, text) == [
        (*at(text, "617-555-9999"), "CONTACT", "FAX"),
        (*at(text, "54321"), "CONTACT", "PHONE"),
        (*at(text, "33445"), "CONTACT", "PHONE"),
        (*at(text, "55037"), "CONTACT", "PHONE"),
    ]


def test_email_url_ip(detector, nlp):
    text = "Mail john.smith@mgh.harvard.edu or see http://www.example.org/notes?id=3, host 192.168.0.12."
    assert spans(detector, nlp, text) == [
        (*at(text, "john.smith@mgh.harvard.edu"), "CONTACT", "EMAIL"),
        (*at(text, "http://www.example.org/notes?id=3"), "CONTACT", "URL"),
        (*at(text, "192.168.0.12"), "CONTACT", "IPADDR"),
    ]


def test_more_phone_formats(detector, nlp):
    text = "Call 617 555 1234 or +1 617 555 2345, cell 6175553456, office 617/555-4567, call x2674."
    assert spans(detector, nlp, text) == [
        (*at(text, "617 555 1234"), "CONTACT", "PHONE"),
        (*at(text, "+1 617 555 2345"), "CONTACT", "PHONE"),
        (*at(text, "6175553456"), "CONTACT", "PHONE"),
        (*at(text, "617/555-4567"), "CONTACT", "PHONE"),
        (*at(text, "x2674"), "CONTACT", "PHONE"),
    ]


def test_joined_phones_unicode_emails_and_iso_date_times(detector, nlp):
    text = "Call 464-946-2667/464-946-2668, mail \u00e9lodie.67@example.org, seen 2021-03-04T10:00."
    assert texts(detector, nlp, text)[:4] == [
        "464-946-2667",
        "464-946-2668",
        "\u00e9lodie.67@example.org",
        "2021-03-04",
    ]
    assert texts(detector, nlp, "BP 120/80, HR 72/min, 617/555") == []


def test_spaced_numbers_without_a_phone_cue_are_not_phones(detector, nlp):
    assert spans(detector, nlp, "UO 200 250 1100, I/O 1500/800, x1000 magnification, TV 500 x 14.") == []


def test_number_ranges_are_not_phones(detector, nlp):
    text = "PLT 150-1000, Na 135-145, TV 700 100-1500, version 1.2.3, 555-1234 units."
    assert spans(detector, nlp, text) == []


# ---------------------------------------------------------------------- ID


def test_ids_after_their_cues(detector, nlp):
    text = "MRN: 1234567. Unit No: 123-45-67. Acct #12345678. SSN 123-45-6789. Patient ID: A12345."
    assert spans(detector, nlp, text) == [
        (*at(text, "1234567"), "ID", "MEDICALRECORD"),
        (*at(text, "123-45-67"), "ID", "MEDICALRECORD"),
        (*at(text, "12345678"), "ID", "ACCOUNT"),
        (*at(text, "123-45-6789"), "ID", "SSN"),
        (*at(text, "A12345"), "ID", "IDNUM"),
    ]


def test_long_number_after_number_sign_is_an_id(detector, nlp):
    text = "Pacemaker serial #123456, problem #2, OMIM # 253000."
    assert spans(detector, nlp, text) == [(*at(text, "123456"), "ID", "IDNUM")]


def test_id_section_and_units_are_not_ids(detector, nlp):
    assert spans(detector, nlp, "ID: afebrile, 10 units no change, unit no 12, acct pending.") == []


# ---------------------------------------------------------------------- DATE


@pytest.mark.parametrize(
    "date",
    [
        "3/14/2021",
        "3/14/21",
        "3/14",
        "3-14-2021",
        "2021-03-14",
        "March 14, 2021",
        "14 Mar 2021",
        "Mar 2021",
        "March 14th",
        "MARCH OF 1993",
        "may 16, 2015",
        "28 Oct, 88",
        "Sept. 3",
    ],
)
def test_date_formats(detector, nlp, date):
    text = f"Admitted {date} for CHF."
    assert spans(detector, nlp, text) == [(*at(text, date), "DATE", "DATE")]


def test_dates_glued_to_words_and_ranges(detector, nlp):
    text = "LITHIUM TOXICITY-9/2/92. TO CCU 8/25@2330. abx 3/14-3/16 and 3/18 to 3/20."
    assert texts(detector, nlp, text) == ["9/2/92", "8/25", "3/14", "3/16", "3/18", "3/20"]


# Forms found by the rules since the reviews on invented sentences (thirty-seventh session):
# each text with what the precision profile finds in it, and clinical text that is no PHI.
FOUND = [
    # dates joined by a slash: one token each, where a partial "04/2093" left the rest
    (
        "Seen 3/4/2093/3/5/2093, again 3/4/93/3/5/93 and 2093-03-04/2093-03-05 then.",
        ["3/4/2093/3/5/2093", "3/4/93/3/5/93", "2093-03-04/2093-03-05"],
    ),
    # "3/4" reads as a fraction, unless the other end of its range is a date
    ("abx 3/4-3/6, from 3/2 - 3/9; take 1/2-3/4 tab, 3/4 strength.", ["3/4", "3/6", "3/2", "3/9"]),
    (
        "Seen 14/03/2093 and 31/12/2093, ratio 14/3/20. Pt is a 94M, a 92 M. IP fe80::1ff:fe23:4567:890a ok.",
        ["14/03/2093", "31/12/2093", "94", "fe80::1ff:fe23:4567:890a"],
    ),
    (
        "Husband Rajesh updated. Son, Tomasz, is HCP. Pt's son Mark called. NP: Ojo. Report given to Priya RN.",
        ["Rajesh", "Tomasz", "Mark", "Ojo", "Priya"],
    ),
    (
        "Admitted May 14 w/ PNA, seen Dec 3, fell on Thanksgiving, home by Christmas Eve.",
        ["May 14", "Dec 3", "Thanksgiving", "Christmas Eve"],
    ),
    ("HPI: 99M w/ fall. 94M with AS. Pt turned 100 last week.", ["99", "94", "100"]),
    (
        "Pt's MR# is 5566778. Insurance ID: XJH123456789. Health plan number 44556677. License # D1234567.",
        ["5566778", "XJH123456789", "44556677", "D1234567"],
    ),
    ("Please page 54321. Pgr 4-5678. See page 2 of orders.", ["54321", "4-5678"]),
    (
        "Patient Name: ABERNATHY, QUENTIN\n--J. Smith RN\npt, 93, lives alone; pt, 45, too.",
        ["ABERNATHY, QUENTIN", "--J. Smith", "93"],
    ),
    (
        "From Sunrise Assisted Living, D/C to Maplewood Skilled Nursing Facility. Pt is a 92F.",
        ["Sunrise", "Maplewood", "92F."],
    ),
    ("Seen January 5-7 in ICU, admitted Feb 2-4, 2093; pt may 2-3 times.", ["January 5-7", "Feb 2-4, 2093"]),
    # a year after a birth or diagnosis cue (a year alone, without a cue, only 1960-1999)
    ("Born 2041, DOB 2041. DM dx 2088, diagnosed 2090; dx 2000 mg.", ["2041", "2041", "2088", "2090"]),
]
NOT_PHI = [
    "at 10:30:45, I:E 1:2, a::b, with a 101 F fever",
    "RN: Pt resting. Nurse: Please call. son at bedside. Seen by Cardiology, MD.",
    "Pt may 2 assist. Dec 2 mg. RUE 4/5, LUE 3/5, BLE 2/5. CPOT 2/8, GCS 3/15, Braden 12/23.",
    "1/1 sitter. RR 12/20, PCWP 12/18. Heparin gtt at 900-1100 units/hr, goal at 500-1000 negative.",
    "100F with chills, T 101F with rigors, turned 2 q2h.",
    "Medicare pt, on 2L NC; policy 10 mg.",
    "Spiked a 101F fever overnight.",
]


@pytest.mark.parametrize("text,expected", FOUND)
def test_forms_found_since_the_reviews(detector, nlp, text, expected):
    assert texts(detector, nlp, text) == expected


@pytest.mark.parametrize("text", NOT_PHI)
def test_clinical_text_the_reviews_found_taken_for_phi_is_not(detector, nlp, text):
    assert texts(detector, nlp, text) == []


def test_years_only_in_date_context(detector, nlp):
    text = "MI in 1980s, CABG in 1993, lumpectomy in the year of 2001; at 1900 hr, from 2000 to 2400, 1500 cc."
    assert spans(detector, nlp, text) == [
        (*at(text, "1980s"), "DATE", "YEAR"),
        (*at(text, "1993"), "DATE", "YEAR"),
        (*at(text, "2001"), "DATE", "YEAR"),
    ]


def test_ordinal_of_month(detector, nlp):
    text = "Seen on the 14th of March 2093, again on the 2nd of April."
    assert texts(detector, nlp, text) == ["14th of March 2093", "2nd of April"]


def test_ordinal_day_after_on_the(detector, nlp):
    text = "Cultures drawn on the 11th. Second dose on the 2nd attempt."
    assert spans(detector, nlp, text) == [(*at(text, "11th"), "DATE", "DATE")]


@pytest.mark.parametrize(
    "text",
    [
        "BP 120/80, HR 88.",
        "Grade 2/6 murmur at LSB.",
        "2/6 SEM heard.",
        "placed on ac mode 700x12x1.0/5 peep.",
        "Resp: PS 10/5, 40%.",
        "CPAP 5/5 35% FIO2.",
        "SIMV/PS 500 X 14, 50% 5/5.",
        "c/o pain 5/10, medicated.",
        "chest pain (7/10) resolved.",
        "ivf: 1/2 NS at 75cc/hr, 3/4 strength tube feeds.",
        "motor 5/5 strength bilat.",
        "HAND GRIPS 4/5 BILAT.",
        "rate 4/6 then up.",
        "abx for 2 weeks; RR 12-20; q2-3 hrs.",
        "Seen Monday. Family meeting on Friday.",
        "Pt may need lasix. Dec to 2 mg. Pt may 2 assist.",
        "Ventolin 5 mg at 14:30 and 2:30pm.",
    ],
)
def test_clinical_numbers_and_words_are_not_dates(detector, nlp, text):
    assert spans(detector, nlp, text) == []


def test_times_only_when_asked(nlp):
    text = "Meds at 14:30 and 2:30pm."
    detector = PhiRuleDetector(nlp.vocab, include_times=True)
    assert spans(detector, nlp, text) == [
        (*at(text, "14:30"), "DATE", "TIME"),
        (*at(text, "2:30pm"), "DATE", "TIME"),
    ]


# ---------------------------------------------------------------------- AGE


def test_ages_over_89(detector, nlp):
    text = "92 yo woman, 93 year old husband, aged 91, age 95, a 96-year-old aunt."
    assert spans(detector, nlp, text) == [
        (*at(text, "92"), "AGE", "AGE"),
        (*at(text, "93"), "AGE", "AGE"),
        (*at(text, "91"), "AGE", "AGE"),
        (*at(text, "95"), "AGE", "AGE"),
        (*at(text, "96"), "AGE", "AGE"),
    ]


def test_ages_over_89_in_words(detector, nlp):
    text = "Pt is a ninety-four year old man. NINETY FIVE YO MALE. Aged one hundred and two."
    assert texts(detector, nlp, text) == ["ninety-four", "NINETY FIVE", "one hundred and two"]
    assert spans(detector, nlp, "Ninety minutes later; eighty-nine year old; one hundred mg.") == []
    assert texts(detector, nlp, "Pt is a 92F with CP. Tmax 99F, T 98F.") == ["92F"]


def test_ages_up_to_89_are_not_phi(detector, nlp):
    assert spans(detector, nlp, "67 YO FEMALE, age 65, aged 89, 88 year old, HR 92 bpm.") == []


# ---------------------------------------------------------------------- LOCATION


def test_zip_plus_four_apartment_and_po_box(detector, nlp):
    text = "Lives at 12 Main St Apt 4B, zip 02115-1234; mail to PO Box 123. Brought to Operating Suite #1."
    assert texts(detector, nlp, text) == ["12 Main St", "Apt 4B", "02115-1234", "PO Box 123"]
    assert spans(detector, nlp, "Pt apt to fall. Mutations in APT1 were found.") == []


def test_zip_street_hospital_ward(detector, nlp):
    text = (
        "Lives at 123 Main St., Boston, MA 02114-1234. Transferred from Memorial Hospital to "
        "ST MARY HOSPITAL, then TRANSFER TO QUARTERMAIN 2. Screened by Holy Cross Rehab."
    )
    assert spans(detector, nlp, text) == [
        (*at(text, "123 Main St."), "LOCATION", "STREET"),
        (*at(text, "02114-1234"), "LOCATION", "ZIP"),
        (*at(text, "Memorial"), "LOCATION", "HOSPITAL"),
        (*at(text, "ST MARY"), "LOCATION", "HOSPITAL"),
        (*at(text, "QUARTERMAIN"), "LOCATION", "DEPARTMENT"),
        (*at(text, "Holy Cross"), "LOCATION", "HOSPITAL"),
    ]


def test_residence_keeps_cities_not_states(detector, nlp):
    text = "Social: lives in Parkville with wife. Son lives in Utah. Lives in Fayetteville, Tennessee."
    assert texts(detector, nlp, text) == ["Parkville", "Fayetteville"]


@pytest.mark.parametrize(
    "text",
    [
        "Echo: LA enlargement, MR 2+.",
        "HAD PROLONGED HOSPITAL STAY 4 MONTHS AGO.",
        "She has no known medical problems. Follow up in urology clinic.",
        "He was able to recall 3 of 3 words. Sent in bottle 2.",
        "Moved to supine position.",
        "urology able to reinsert 30 french foley.",
    ],
)
def test_location_look_alikes(detector, recall, nlp, text):
    assert spans(detector, nlp, text) == []
    assert spans(recall, nlp, text) == []


def test_wards_with_two_digits_staff_cues_and_saint_initials(detector, nlp):
    text = (
        "Transferred to Fenwick 12 at 0400. Per Dorrance 4 RN, no BM. Had a bed @ St B. last week. "
        "Pt to go to rehab(sacred heart Memorial) today."
    )
    assert texts(detector, nlp, text) == ["Fenwick", "Dorrance", "St B.", "sacred heart Memorial"]


def test_facility_heads(detector, nlp):
    text = "Screened by Brookfield Nursing Home and Larchmont Rehab. Cardiac Rehab next week. Seen at Oak Manor."
    assert texts(detector, nlp, text) == ["Brookfield", "Larchmont", "Oak"]


def test_saints_in_capitals_keep_their_dot(detector, nlp):
    # spaCy splits "ST." from the next word in a note written with capitals ("ST", ".", "AGNES")
    text = "PT WAS ACCEPTED BY ST. AGNES BUT CANNOT LEAVE. Accepted by St. Agnes today."
    assert spans(detector, nlp, text) == [
        (*at(text, "ST. AGNES"), "LOCATION", "HOSPITAL"),
        (*at(text, "St. Agnes"), "LOCATION", "HOSPITAL"),
    ]


def test_title_case_common_words_before_a_hospital_head(detector, recall, nlp):
    text = "D/C to Kindred Hospital when stable. Transfer back to Mercy Medical Center planned."
    assert texts(recall, nlp, text) == ["Kindred", "Mercy"]
    assert texts(detector, nlp, text) == ["Mercy"]  # a recall-profile rule: "kindred" is an English word


@pytest.mark.parametrize(
    "text",
    [
        "Admitted to Outside Hospital for 3 days.",
        "Will f/u at Wound Clinic next week. Seen at Podiatry Clinic today.",
        "Transferred from the Community Hospital. Seen in Neuroopthalmology Clinic.",
        "D/C TO KINDRED HOSPITAL WHEN STABLE.",
    ],
)
def test_title_case_hospital_look_alikes(recall, nlp, text):
    assert spans(recall, nlp, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Changed to Apaced 88 with good capture.",
        "He was placed on Zoloft 10 years ago.",
        "ADJUSTED DRIVE PRESSURE AND RATE.",
        "Transferred to floor 2 when bed available. Back to unit 4.",
        "TRANSFERRED TO MICU 2. FROM CCU 6 TO FLOOR.",
        "Will remain in good spirits. At the mercy of the disease.",
        "Pt states he is going to DIE.",
    ],
)
def test_ward_and_facility_look_alikes(detector, recall, nlp, text):
    assert spans(detector, nlp, text) == []
    assert spans(recall, nlp, text) == []


def test_recall_profile_places_after_transfer_and_residence_cues(detector, recall, nlp):
    text = (
        "Pt was transferred to Brightwater for rehab. Admitted to the Intensive Care Unit. "
        "Sent to Recovery Room. Transferred from TSICU. Lives alone in Kestrel Mills. "
        "Pt is a 70 yo man from Dunwoodie. Lives on Larkspur Road. He came to the United States."
    )
    assert texts(recall, nlp, text) == ["Brightwater", "Kestrel Mills", "Dunwoodie", "Larkspur Road"]
    assert texts(detector, nlp, text) == ["Kestrel Mills"]


def test_recall_profile_lower_case_and_glued_wards(detector, recall, nlp):
    text = "Found down On fenwick 6 At 0455. Plan: increase dose, fenwick 2\nWill transfer to fenwick2."
    assert texts(recall, nlp, text) == ["fenwick", "fenwick"]
    assert texts(detector, nlp, text) == []
    lower = "social: lives alone in brantley marsh, dtr close by. pt from brightwater hospital. transfer to fenwick2."
    assert texts(recall, nlp, lower) == ["brantley marsh", "brightwater", "fenwick2"]
    assert texts(detector, nlp, lower) == ["brantley marsh", "fenwick2"]


# ---------------------------------------------------------------------- NAME


def test_names_after_titles(detector, nlp):
    text = (
        "Dr. Van Leeuwen aware. DR. L. RUUSKA PRONOUNCED. DR SWACKHAMER AWARE. Mrs Nicholson called. dr. cozzi aware."
    )
    assert spans(detector, nlp, text) == [
        (*at(text, "Van Leeuwen"), "NAME", "DOCTOR"),
        (*at(text, "L. RUUSKA"), "NAME", "DOCTOR"),
        (*at(text, "SWACKHAMER"), "NAME", "DOCTOR"),
        (*at(text, "Nicholson"), "NAME", "PATIENT"),
        (*at(text, "cozzi"), "NAME", "DOCTOR"),
    ]


def test_names_with_letters_beyond_ascii_after_titles(detector, nlp):
    text = "Mr. M\u00fcller called. Dr. N\u00fa\u00f1ez aware. DR. O'BRIEN AWARE."
    assert texts(detector, nlp, text) == ["M\u00fcller", "N\u00fa\u00f1ez", "O'BRIEN"]


def test_english_word_surnames_after_titles(detector, nlp):
    text = "Seen by Dr. Green. Mr. Brown doing well. DR. WHITE AWARE. Mrs. Price called."
    assert texts(detector, nlp, text) == ["Green", "Brown", "WHITE", "Price"]
    # "MR" and "MS" in capitals are mitral regurgitation and multiple sclerosis; months, stop words
    # and cue words after a title are no names
    assert spans(detector, nlp, "MILD MR. WHITE COUNT UP. HX OF MS. WHITE BLOOD. Dr. will see. Dr. May call.") == []


def test_names_after_relatives_staff_and_in_signoffs(detector, nlp):
    text = (
        "SOCIAL: PT'S WIFE HELEN AND SON WILLIAM IN. Seen by NP Carol. Dr Griffin and Swackhamer aware."
        "\nIlene Macdonald RN\nQ. LANDER RRT"
    )
    assert spans(detector, nlp, text) == [
        (*at(text, "HELEN"), "NAME", "RELATIVE"),
        (*at(text, "WILLIAM"), "NAME", "RELATIVE"),
        (*at(text, "Carol"), "NAME", "DOCTOR"),
        (*at(text, "Griffin"), "NAME", "DOCTOR"),
        (*at(text, "Swackhamer"), "NAME", "DOCTOR"),
        (*at(text, "Ilene Macdonald"), "NAME", "DOCTOR"),
        (*at(text, "Q. LANDER"), "NAME", "DOCTOR"),
    ]


def test_a_name_stops_at_a_lower_case_word_in_cased_text(detector, nlp):
    text = "At this point, Dr. Trask entered the room."
    assert spans(detector, nlp, text) == [(*at(text, "Trask"), "NAME", "DOCTOR")]


@pytest.mark.parametrize(
    "text",
    [
        # Deliberately NOT a name: "appointment" is a common word, so no leak and no false alarm.
        "Dr. appointment next week.",
        "MD aware. DR NOTIFIED. Dr. aware of K 5.9.",
        "MS: alert and oriented. PA line in place. PT to see.",
        "RN will follow. Daughter called. Son in to visit. Brother, colon CA.",
        "per NP aware. Spoke with family.",
    ],
)
def test_name_look_alikes(detector, recall, nlp, text):
    assert spans(detector, nlp, text) == []
    assert spans(recall, nlp, text) == []


# ---------------------------------------------------------------------- recall profile (dictionaries)


def test_recall_profile_finds_dictionary_names_and_places(detector, recall, nlp):
    text = "Pt seen at MGH overnight. Janet Zorbetta at bedside. Seen by J. Stella this am. Daughter near Baltimore."
    assert spans(detector, nlp, text) == []
    assert [(text[m.start : m.end], m.label, m.source) for m in recall(nlp(text))] == [
        ("MGH", "LOCATION", "rule:dict_hospital"),
        ("Janet Zorbetta", "NAME", "rule:dict_name"),  # unknown capitalised word after a first name
        ("J. Stella", "NAME", "rule:dict_name"),  # initial before a dictionary name
        ("Baltimore", "LOCATION", "rule:dict_city"),
    ]


def test_recall_profile_glued_names_all_caps_and_lower_case_notes(recall, nlp):
    assert texts(recall, nlp, "d/w anderson.l re plan. pt seen by mary this am.") == ["anderson", "mary"]
    assert texts(recall, nlp, "WIFE IN TO VISIT. SEEN BY STELLA THIS AM. FOLEY DRAINING.") == ["STELLA"]
    # in a note written with capitals, a lower-case dictionary word is no name
    assert texts(recall, nlp, "Pt was seen by mary. Will follow.") == []


@pytest.mark.parametrize(
    "text",
    [
        "FOLEY CATHETER PLACED. MS: ALERT. PA LINE IN PLACE. PT MAY NEED LASIX. WILL CONTINUE TO MONITOR.",
        "Foley to gravity, Swan-Ganz removed. Hx of Parkinson disease and Graves disease. Passy-Muir valve on.",
        "Pt with AMI, on ASA. ICA stenosis. Eve shift: brady to 40s, paced. Hickman line in place.",
        "Hope to wean today. Will walk with PT. Rose to 38.5 overnight. Bill sent to insurance.",
    ],
)
def test_recall_profile_leaves_common_and_clinical_words(recall, nlp, text):
    assert spans(recall, nlp, text) == []


def test_common_english_list_is_words_only():
    words = common_english()
    assert {"catheter", "the", "foley", "parkinson"} <= words
    assert len(words) > 5000 and all(" " not in w for w in words)


def test_profile_is_checked_and_carried(nlp):
    with pytest.raises(ValueError, match="E713"):
        PhiRuleDetector(nlp.vocab, profile="max")
    saved = PhiRuleDetector(nlp.vocab, profile="precision")
    loaded = PhiRuleDetector(nlp.vocab).from_bytes(saved.to_bytes())
    assert loaded.profile == "precision" and texts(loaded, nlp, "Janet at bedside.") == []
    assert PhiRuleDetector(nlp.vocab).profile == "recall"
    assert texts(
        PhiRuleDetector(nlp.vocab, profile="precision").from_bytes(PhiRuleDetector(nlp.vocab).to_bytes()),
        nlp,
        "Janet at bedside.",
    ) == ["Janet"]


def test_component_profile_config_and_round_trip():
    from spacy_clintiny.components import deid  # noqa: F401

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("clintiny_deid", config={"profile": "precision"})
    assert pipe.detector.profile == "precision"
    other = spacy.blank("en").add_pipe("clintiny_deid")
    assert other.detector.profile == "recall"
    other.from_bytes(pipe.to_bytes())
    assert other.detector.profile == "precision"


# ---------------------------------------------------------------------- allow and deny lists, options


def test_default_allow_list(detector):
    assert detector.is_allowed("LA") and detector.is_allowed(" icu ") and detector.is_allowed("Passy  Muir")
    assert not detector.is_allowed("Smith") and not detector.is_allowed("LA enlargement")


def test_custom_allow_list_replaces_the_default_and_blocks_rules(nlp):
    detector = PhiRuleDetector(nlp.vocab, allow_list=["Marder"])
    assert detector.is_allowed("MARDER") and not detector.is_allowed("ICU")
    assert spans(detector, nlp, "Dr. Marder aware.") == []


def test_deny_list_matches_whole_words_case_insensitively(nlp):
    detector = PhiRuleDetector(
        nlp.vocab, deny_list={"NAME": ["Nicholson", "van leeuwen"], "LOCATION": ["GH"]}, allow_list=["GH"]
    )
    text = "MR NICHOLSON to GH. Nicholsonville. Van Leeuwen aware. gh."
    found = [(m.start, m.end, m.label, m.source) for m in detector(nlp(text))]
    assert found == [
        (*at(text, "NICHOLSON"), "NAME", "deny_list"),  # the title rule gives the same span: both kept
        (*at(text, "NICHOLSON"), "NAME", "rule:title_name"),
        (*at(text, "GH"), "LOCATION", "deny_list"),  # on both lists: the deny list wins
        (*at(text, "Van Leeuwen"), "NAME", "deny_list"),
        (*at(text, "Van Leeuwen"), "NAME", "rule:name_told"),
        (*at(text, "gh"), "LOCATION", "deny_list"),
    ]


def test_deny_list_finds_terms_inside_tokens_the_tokenizer_glued(nlp):
    detector = PhiRuleDetector(nlp.vocab, deny_list={"NAME": ["Xqvzor", "Room 5B"]}, categories=[])
    text = "Call Xqvzor/617-555-1234 in Room 5B. Xqvzor617 ok, xqvzorian not."
    found = [text[m.start : m.end] for m in detector(nlp(text)) if m.source == "deny_list"]
    assert found == ["Xqvzor", "Room 5B", "Xqvzor"]


def test_categories_limit_the_rules_not_the_deny_list(nlp):
    detector = PhiRuleDetector(nlp.vocab, categories=["DATE"], deny_list={"NAME": ["Smith"]})
    text = "Dr. Smith saw pt 3/14/2021, call 617-555-1234."
    assert [(text[m.start : m.end], m.label) for m in detector(nlp(text))] == [("Smith", "NAME"), ("3/14/2021", "DATE")]


def test_bad_options_are_rejected_with_codes(nlp):
    with pytest.raises(ValueError, match="E708"):
        PhiRuleDetector(nlp.vocab, categories=["PHONE"])
    with pytest.raises(ValueError, match="E706"):
        PhiRuleDetector(nlp.vocab, deny_list={"PERSON": ["x"]})
    with pytest.raises(ValueError, match="E706") as swapped:  # category and term swapped: no name shown
        PhiRuleDetector(nlp.vocab, deny_list={"Xqvzor Plimm": ["NAME"]})
    assert "Xqvzor" not in str(swapped.value) and "12 characters" in str(swapped.value)
    with pytest.raises(TypeError, match="E707"):
        PhiRuleDetector(nlp.vocab, allow_list="ICU")
    with pytest.raises(TypeError, match="E707") as err:
        PhiRuleDetector(nlp.vocab, deny_list={"NAME": "Secret Name"})
    assert "Secret" not in str(err.value)  # deny-list terms may be PHI: never in messages


# ---------------------------------------------------------------------- serialization


def test_bytes_round_trip_keeps_lists_and_options(nlp):
    saved = PhiRuleDetector(
        nlp.vocab,
        allow_list=["Marder"],
        deny_list={"NAME": ["Nicholson"]},
        categories=["NAME", "DATE"],
        include_times=True,
    )
    loaded = PhiRuleDetector(nlp.vocab).from_bytes(saved.to_bytes())
    assert (
        loaded.to_dict()
        == saved.to_dict()
        == {
            "allow_list": ["Marder"],
            "deny_list": {"NAME": ["Nicholson"]},
            "categories": ["NAME", "DATE"],
            "include_times": True,
            "profile": "recall",
        }
    )
    text = "Dr. Marder and Mr Nicholson at 14:30 on 3/14, call 617-555-1234."
    assert texts(loaded, nlp, text) == texts(saved, nlp, text) == ["Nicholson", "Nicholson", "14:30", "3/14"]


def test_disk_round_trip_and_errors(nlp, tmp_path):
    saved = PhiRuleDetector(nlp.vocab, deny_list={"ID": ["XJ-42"]})
    saved.to_disk(tmp_path / "rules")
    loaded = PhiRuleDetector(nlp.vocab).from_disk(tmp_path / "rules")
    assert loaded.to_dict() == saved.to_dict()
    with pytest.raises(ValueError, match="E710"):
        PhiRuleDetector(nlp.vocab).from_disk(tmp_path / "missing")
    with pytest.raises(ValueError, match="E709"):
        PhiRuleDetector(nlp.vocab).from_dict({"allow": []})


# ---------------------------------------------------------------------- the rule files


def test_token_rules_pass_spacys_pattern_schema():
    """The detector builds its Matcher with validate=False (speed): check the patterns here."""
    lists = {name: words[:3] for name, words in word_lists(set()).items()}
    lists["recall_non_places"] = ["icu"]  # added by the recall profile (common English)
    for rule in load_token_rules():
        for part in (rule.before, rule.target, rule.after):
            for token in part:
                token = {
                    k: (
                        {
                            kk: (lists[vv[1:]] if isinstance(vv, str) and vv.startswith("@") else vv)
                            for kk, vv in v.items()
                        }
                        if isinstance(v, dict)
                        else v
                    )
                    for k, v in token.items()
                }
                assert validate_token_pattern([token]) == [], (rule.name, token)
        assert rule.next_not_in is None or rule.next_not_in[1:] in lists, rule.name


def test_regex_rules_compile_and_bad_rules_are_reported():
    assert {r.name for r in load_regex_rules()} >= {"phone", "email", "url", "ip_address", "ssn", "numeric_date"}
    data = read_rule_file("token_rules.json")
    cases = [
        (lambda d: d["rules"][0].update(colour="red"), "E700"),
        (lambda d: d["rules"][0].update(label="PERSON"), "E701"),
        (lambda d: d["rules"][0]["before"][0].update(OP="+"), "E702"),
        (lambda d: d["rules"][0]["target"].append({"macro": "NOPE"}), "E704"),
        (lambda d: d["rules"][0].update(target=[]), "E705"),
    ]
    for change, code in cases:
        broken = copy.deepcopy(data)
        change(broken)
        with pytest.raises(ValueError, match=code):
            load_token_rules(broken)
    with pytest.raises(ValueError, match="E712"):
        load_regex_rules({"rules": [{"name": "x", "label": "DATE", "pattern": "x", "check": "nope"}]})
    with pytest.raises(ValueError, match="E711"):
        load_regex_rules({"rules": [{"name": "x", "label": "DATE", "pattern": "("}]})


# ---------------------------------------------------------------------- PhysioNet regression

# Measured with bench/deid_rules.py on the held-out patients (18 of 54, dev_groups(..., 0.334, seed=0)):
# DATE token recall 0.927 (38/41), CONTACT 0.429 (3/7), all-category precision 0.967. Floors leave a margin.
MIN_RECALL = {"DATE": 0.85, "CONTACT": 0.40}
MIN_PRECISION = 0.90


def test_physionet_heldout_date_and_contact_recall(nlp, detector):
    folder = require_shared_data("physionet-deid")
    notes = list(iter_physionet(folder / "id.text", folder / "id-phi.phrase"))
    held = dev_groups([n.group_id for n in notes], dev_fraction=0.334, seed=0)
    gold_tokens = {label: 0 for label in MIN_RECALL}
    caught = {label: 0 for label in MIN_RECALL}
    predicted = correct = 0
    for note in (n for n in notes if n.group_id in held):
        doc = nlp.make_doc(note.text)
        found = [(m.start, m.end) for m in detector(doc)]
        for token in doc:
            t_start, t_end = token.idx, token.idx + len(token)
            hit = any(s < t_end and t_start < e for s, e in found)
            gold = {span.label for span in note.spans if span.start < t_end and t_start < span.end}
            predicted += hit
            correct += hit and bool(gold)
            for label in gold & set(MIN_RECALL):
                gold_tokens[label] += 1
                caught[label] += hit
    assert gold_tokens["DATE"] >= 30 and gold_tokens["CONTACT"] >= 5
    for label, floor in MIN_RECALL.items():
        assert caught[label] / gold_tokens[label] >= floor, (label, caught[label], gold_tokens[label])
    assert correct / predicted >= MIN_PRECISION, (correct, predicted)


def test_anchored_matcher_finds_what_one_matcher_finds(recall, nlp):
    """Running each rule only on notes holding its anchor word changes no match: every token
    rule in one plain Matcher, on the training patients' notes, gives the same matches."""
    from spacy.matcher import Matcher

    folder = require_shared_data("physionet-deid")
    notes = list(iter_physionet(folder / "id.text", folder / "id-phi.phrase"))
    held = dev_groups([n.group_id for n in notes], dev_fraction=0.334, seed=0)
    docs = [nlp(n.text) for n in notes if n.group_id not in held][:200]
    anchored = recall._matcher
    assert anchored._anchored, "no rule got an anchor"
    plain = Matcher(nlp.vocab, validate=False)
    for key, pattern in anchored.patterns.items():
        plain.add(key, [pattern], greedy="LONGEST")
    n_matches = 0
    for doc in docs:
        expected = sorted(plain(doc))
        assert sorted(anchored(doc)) == expected
        n_matches += len(expected)
    assert n_matches >= 50


def test_names_and_deny_terms_in_decomposed_unicode(nlp):
    import unicodedata

    detector = PhiRuleDetector(nlp.vocab, profile="precision", deny_list={"NAME": ["Zo\u00eb Bront\u00eb"]})
    text = unicodedata.normalize("NFD", "Dr. M\u00fcller aware. Zo\u00eb Bront\u00eb visited.")
    found = texts(detector, nlp, text)
    assert unicodedata.normalize("NFD", "M\u00fcller") in found
    assert unicodedata.normalize("NFD", "Zo\u00eb Bront\u00eb") in found
