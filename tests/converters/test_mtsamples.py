import json

from spacy_clintiny.converters import ConversionReport
from spacy_clintiny.converters.mtsamples import iter_mtsamples
from spacy_clintiny.converters.placement import build_doc


def test_mtsamples_one_doc_per_distinct_text(data, nlp):
    folder = data("mtsamples")
    rows = [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines() if line]
    assert len(rows) == 4048
    pairs = {(r["transcription"], r["medical_specialty"]) for r in rows}
    report = ConversionReport("mtsamples")
    sources = list(iter_mtsamples(folder, report=report))
    assert len(sources) == len({r["transcription"] for r in rows}) == 1915
    labels = {r["medical_specialty"] for r in rows}
    for src in sources:
        assert set(src.cats) == labels
        assert {lab for lab, v in src.cats.items() if v == 1.0} == {s for t, s in pairs if t == src.text}
    assert sum(v for src in sources for v in src.cats.values()) == len(pairs)
    doc = build_doc(sources[0], nlp, report)
    assert doc.text == sources[0].text and doc.cats == sources[0].cats
