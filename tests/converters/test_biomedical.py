"""BC5CDR (PubTator + IOB) and NCBI disease (CoNLL, BRAT standoff, PubTator original): counts
recomputed from the files with plain parsing."""
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
        assert texts[pmid][int(start):int(end)] == text


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
        line.split("\t")[1].split()[0] for line in t_lines)
    original = data("ncbi-disease", "original-data", "devel", "NCBIdevelopset_corpus.txt")
    pmids, mentions, _ = _pubtator_truth(original)
    report2 = ConversionReport("pubtator")
    docs2 = list(read_pubtator(original, label_map="ncbi-disease", report=report2))
    assert len(docs2) == len(pmids) and report2.spans["concepts"]["PROBLEM"] == len(mentions)
    assert "clintiny_rels" not in docs2[0].user_data  # no relation lines: not annotated
