"""BC5CDR (PubTator + IOB) and NCBI disease (CoNLL, BRAT standoff, PubTator original): counts,
and every span's (start, end, label), recomputed from the files with plain parsing; the
corrections a converter makes on its own (realigned offsets) are counted exactly."""

from collections import Counter

import pytest

from spacy_clintiny.converters import ConversionReport, read_brat, read_conll, read_pubtator


def _pubtator_truth(path):
    docs, mentions, cids = set(), [], []
    for line in path.read_text().splitlines():
        if "|t|" in line:
            docs.add(line.split("|t|")[0])
        fields = line.split("\t")
        if len(fields) in (6, 7):
            mentions.append(fields)
        elif len(fields) == 4 and fields[1] == "CID":
            cids.append(fields)
    return docs, mentions, cids


@pytest.fixture(scope="module")
def bc5cdr_dev(data):
    path = data("bc5cdr", "pubtator", "CDR_DevelopmentSet.PubTator.txt")
    report = ConversionReport("pubtator")
    return path, list(read_pubtator(path, report=report)), report


def test_bc5cdr_pubtator_counts(bc5cdr_dev):
    path, docs, report = bc5cdr_dev
    pmids, mentions, cids = _pubtator_truth(path)
    assert len(docs) == len(pmids)
    types = Counter(m[4] for m in mentions)
    assert report.spans["concepts"] == {"TREATMENT": types["Chemical"], "PROBLEM": types["Disease"]}
    assert report.events["info"]["cid_concept_pairs"] == len(cids)
    assert report.n_unplaceable == report.events["unplaceable"].get("no_mention_for_concept_id", 0)
    for doc in docs[:50]:
        for span in doc.spans["concepts"]:
            assert span.kb_id_ in ("Chemical", "Disease")
        spans = {(s.start_char, s.end_char): s for s in doc.spans["concepts"]}
        for rel in doc.user_data["clintiny_rels"]:
            assert rel["label"] == "CID"
            assert spans[tuple(rel["head"])].kb_id_ == "Chemical"
            assert spans[tuple(rel["tail"])].kb_id_ == "Disease"


def test_bc5cdr_mention_text_matches(bc5cdr_dev):
    path, docs, _ = bc5cdr_dev
    _, mentions, _ = _pubtator_truth(path)
    texts = {doc.user_data["clintiny_source"]["doc_id"]: doc.text for doc in docs}
    for pmid, start, end, text, *_ in mentions:
        assert texts[pmid][int(start) : int(end)] == text


@pytest.mark.parametrize("corpus,file", [("bc5cdr", ("iob", "devel.tsv")), ("ncbi-disease", ("conll", "devel.tsv"))])
def test_conll_counts_equal_b_tags(data, corpus, file):
    path = data(corpus, *file)
    lines = path.read_text().splitlines()
    b_tags = Counter(line.split("\t")[-1][2:] for line in lines if "\tB-" in line)
    report = ConversionReport("conll")
    docs = list(read_conll(path, report=report))
    mapped = Counter()
    for native, n in b_tags.items():
        mapped[{"Chemical": "TREATMENT", "Disease": "PROBLEM"}[native]] += n
    assert report.spans["concepts"] == mapped
    assert sum(len(d.spans["concepts"]) for d in docs) == sum(b_tags.values())
    tokens = [line.split("\t")[0] for line in lines if line.strip()]
    assert sum(len(d.text.split()) for d in docs) == len(tokens)


def test_ncbi_standoff_and_original_agree(data):
    standoff = data("ncbi-disease", "standoff", "devel")
    t_lines = [line for ann in standoff.glob("*.ann") for line in ann.read_text().splitlines() if line.startswith("T")]
    report = ConversionReport("brat")
    docs = list(read_brat(standoff, label_map="ncbi-disease", report=report))
    assert len(docs) == len(list(standoff.glob("*.ann")))
    assert report.spans["concepts"]["PROBLEM"] == len(t_lines)
    assert Counter(s.kb_id_ for d in docs for s in d.spans["concepts"]) == Counter(
        line.split("\t")[1].split()[0] for line in t_lines
    )
    original = data("ncbi-disease", "original-data", "devel", "NCBIdevelopset_corpus.txt")
    pmids, mentions, _ = _pubtator_truth(original)
    report2 = ConversionReport("pubtator")
    docs2 = list(read_pubtator(original, label_map="ncbi-disease", report=report2))
    assert len(docs2) == len(pmids) and report2.spans["concepts"]["PROBLEM"] == len(mentions)
    assert "clintiny_rels" not in docs2[0].user_data  # no relation lines: not annotated
    # NCBI annotates diseases only: its docs say so, so a concept head does not learn "no TREATMENT"
    for converted in (docs[0], docs2[0]):
        assert converted.spans["concepts"].attrs["annotated_labels"] == ["PROBLEM"]


def test_label_maps_declare_the_labels_they_annotate():
    from spacy_clintiny.converters.labels import PRESETS

    assert PRESETS["bc5cdr"].labels_by_group() == {"concepts": ["PROBLEM", "TREATMENT"]}
    assert PRESETS["n2c2-2018"].labels_by_group()["modifiers"] == [
        "DOSE",
        "DURATION",
        "FORM",
        "FREQUENCY",
        "ROUTE",
    ]
    assert PRESETS["identity"].labels_by_group() == {}  # labels kept as they are: open


# ---------------------------------------------------------------- every span against its source
# The expected (start, end, label, native type) of each span are parsed here from the source
# files with plain code (not the converters'), and compared as sets per document: a span
# moved, dropped, added or relabelled by a converter fails the test.

BIOMEDICAL = {"Chemical": "TREATMENT", "Disease": "PROBLEM"}
NCBI = dict.fromkeys(("SpecificDisease", "DiseaseClass", "CompositeMention", "Modifier", "Disease"), "PROBLEM")
# adjusted events that change where a span lands; a silent correction must be counted here
SPAN_CORRECTIONS = ("offsets_realigned", "mention_whitespace_differs", "whitespace_trimmed")


def _corrections(report):
    adjusted = report.events["adjusted"]
    return {k: n for k, n in adjusted.items() if k in SPAN_CORRECTIONS or k.startswith("alignment_")}


def _doc_spans(doc):
    return {(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans.get("concepts", [])}


def _pubtator_source(path, label_of):
    """PMID -> (text, {(start, end, label, type)}); a repeated PMID keeps its first block."""
    docs = {}
    for block in path.read_text(encoding="utf8").split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        pmid, title = lines[0].split("|t|")
        abstract = lines[1].split("|a|")[1]
        text = f"{title} {abstract}"
        spans = set()
        for line in lines[2:]:
            fields = line.split("\t")
            if len(fields) in (6, 7):
                start, end = int(fields[1]), int(fields[2])
                assert " ".join(text[start:end].split()) == " ".join(fields[3].split())
                spans.add((start, end, label_of[fields[4]], fields[4]))
        docs.setdefault(pmid, (text, spans))
    return docs


def _text_of(lines, sentence, start, end):
    """The doc text so far (finished lines plus the current sentence), sliced."""
    return "\n".join(lines + [" ".join(token for token, _ in sentence)])[start:end]


def _conll_source(path, n_sents=10):
    """Docs of ``n_sents`` sentences: (text, {(start, end, label, type)}). Tokens are joined by
    spaces and sentences by newlines (the converter's documented reconstruction); an entity is
    a B- token and the I- tokens of the same type after it."""
    sentences, current = [], []
    for line in path.read_bytes().decode("utf8").split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        fields = line.rstrip("\r").split("\t")
        current.append((fields[0], fields[-1]))
    if current:
        sentences.append(current)
    docs = []
    for first in range(0, len(sentences), n_sents):
        lines, spans, offset = [], set(), 0
        for sentence in sentences[first : first + n_sents]:
            entity = None  # [type, start, end, tokens]
            for token, tag in sentence + [(None, "O")]:  # the sentinel closes the last entity
                if entity is not None and not (tag.startswith("I-") and tag[2:] == entity[0]):
                    etype, start, end, tokens = entity
                    assert _text_of(lines, sentence, start, end) == " ".join(tokens)
                    spans.add((start, end, BIOMEDICAL[etype], etype))
                    entity = None
                if token is None:
                    break
                if tag.startswith("B-"):
                    entity = [tag[2:], offset, offset + len(token), [token]]
                elif tag.startswith("I-"):
                    assert entity is not None, f"I- tag opens an entity in {path}"  # IOB1: none in these files
                    entity[2], entity[3] = offset + len(token), entity[3] + [token]
                offset += len(token) + 1  # the space after it, or the newline after the sentence
            lines.append(" ".join(token for token, _ in sentence))
        docs.append(("\n".join(lines), spans))
    return docs


def _brat_source(folder):
    """File stem -> (text, {(start, end, label, type)}) from the T lines of each .ann file."""
    docs = {}
    for ann in sorted(folder.glob("*.ann")):
        text = ann.with_suffix(".txt").read_text(encoding="utf8")
        spans = set()
        for line in ann.read_text(encoding="utf8").split("\n"):
            if line.startswith("T"):
                etype, start, end = line.split("\t")[1].split(" ")
                spans.add((int(start), int(end), NCBI[etype], etype))
        docs[ann.stem] = (text, spans)
    # a document copied under a second name is read once (the first name in file order)
    seen = set()
    for stem in list(docs):  # file order, as the converter reads them
        key = (docs[stem][0], (folder / f"{stem}.ann").read_text(encoding="utf8"))
        if key in seen:
            del docs[stem]
        seen.add(key)
    return docs


@pytest.mark.parametrize(
    "corpus,file,label_map,corrections",
    [
        ("bc5cdr", "CDR_TrainingSet.PubTator.txt", "bc5cdr", {}),
        ("bc5cdr", "CDR_DevelopmentSet.PubTator.txt", "bc5cdr", {}),
        ("ncbi-disease", "train/NCBItrainset_corpus.txt", "ncbi-disease", {"mention_whitespace_differs": 1}),
        ("ncbi-disease", "devel/NCBIdevelopset_corpus.txt", "ncbi-disease", {}),
    ],
)
def test_pubtator_spans_equal_the_source(data, corpus, file, label_map, corrections):
    folder = "pubtator" if corpus == "bc5cdr" else "original-data"
    path = data(corpus, folder, *file.split("/"))
    source = _pubtator_source(path, BIOMEDICAL if corpus == "bc5cdr" else NCBI)
    report = ConversionReport("pubtator")
    docs = list(read_pubtator(path, label_map=label_map, report=report))
    assert [d.user_data["clintiny_source"]["doc_id"] for d in docs] == list(source)
    for doc in docs:
        text, spans = source[doc.user_data["clintiny_source"]["doc_id"]]
        assert doc.text == text
        assert _doc_spans(doc) == spans
    assert report.events["adjusted"].get("offsets_realigned", 0) == 0
    assert _corrections(report) == corrections
    assert report.n_unplaceable == 0


@pytest.mark.parametrize(
    "corpus,file",
    [
        ("ncbi-disease", ("conll", "train.tsv")),
        ("ncbi-disease", ("conll", "devel.tsv")),
        ("bc5cdr", ("iob", "devel.tsv")),
    ],
)
def test_conll_spans_equal_the_source(data, corpus, file):
    path = data(corpus, *file)
    source = _conll_source(path)
    report = ConversionReport("conll")
    docs = list(read_conll(path, label_map="ncbi-disease" if corpus == "ncbi-disease" else "bc5cdr", report=report))
    assert len(docs) == len(source) and sum(len(spans) for _, spans in source) > 0
    for doc, (text, spans) in zip(docs, source):
        assert doc.text == text
        assert _doc_spans(doc) == spans
    assert _corrections(report) == {} and report.n_unplaceable == 0
    assert sum(report.events["adjusted"].values()) == 0  # CoNLL tokens are the doc's tokens: nothing to fix


@pytest.mark.parametrize("split", ["train", "devel"])
def test_ncbi_brat_spans_equal_the_source(data, split):
    folder = data("ncbi-disease", "standoff", split)
    source = _brat_source(folder)
    report = ConversionReport("brat")
    docs = list(read_brat(folder, label_map="ncbi-disease", report=report))
    assert sorted(d.user_data["clintiny_source"]["doc_id"] for d in docs) == sorted(source)
    for doc in docs:
        text, spans = source[doc.user_data["clintiny_source"]["doc_id"]]
        assert doc.text == text
        assert _doc_spans(doc) == spans
    assert _corrections(report) == {} and report.n_unplaceable == 0
    assert report.events["skipped"].get("duplicate_document", 0) == (1 if split == "train" else 0)  # 8528200


def test_shifted_pubtator_offsets_are_realigned_and_counted(tmp_path):
    title, abstract = "Lithium toxicity in a newborn.", "Serum lithium was high; toxicity resolved."
    text = f"{title} {abstract}"
    tox = text.index("toxicity", 10)
    (tmp_path / "shifted.txt").write_text(
        f"1|t|{title}\n1|a|{abstract}\n"
        f"1\t0\t7\tLithium\tChemical\tD1\n"
        f"1\t{tox + 2}\t{tox + 10}\ttoxicity\tDisease\tD2\n"  # shifted 2 characters to the right
        "1\tCID\tD1\tD2\n\n"
    )
    report = ConversionReport("pubtator")
    (doc,) = read_pubtator(tmp_path / "shifted.txt", report=report)
    assert _doc_spans(doc) == {(0, 7, "TREATMENT", "Chemical"), (tox, tox + 8, "PROBLEM", "Disease")}
    assert report.events["adjusted"]["offsets_realigned"] == 1
    assert report.examples["adjusted:offsets_realigned"] == [
        {"file": str(tmp_path / "shifted.txt"), "line": 4, "offset": tox + 2, "detail": "shift -2"}
    ]
    assert doc.user_data["clintiny_rels"] == [{"head": [0, 7], "tail": [tox, tox + 8], "label": "CID"}]


def test_pubtator_documents_joined_without_a_blank_line_are_both_read(tmp_path):
    # what `cat a.txt b.txt` gives when a.txt does not end with a blank line
    (tmp_path / "joined.txt").write_text(
        "1|t|Lithium toxicity.\n1|a|Serum lithium was high.\n1\t0\t7\tLithium\tChemical\tD1\n"
        "2|t|Aspirin and asthma.\n2|a|None.\n2\t0\t7\tAspirin\tChemical\tD3\n"
    )
    docs = list(read_pubtator(tmp_path / "joined.txt"))
    assert [d.user_data["clintiny_source"]["doc_id"] for d in docs] == ["1", "2"]
    assert [[s.text for s in d.spans["concepts"]] for d in docs] == [["Lithium"], ["Aspirin"]]
