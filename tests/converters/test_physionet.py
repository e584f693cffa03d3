from collections import Counter

from spacy_clintiny.converters.labels import PHYSIONET_PHI
from spacy_clintiny.converters.splits import group_of, split_docs



def _phrases(data_path):
    rows = []
    for line in data_path("physionet-deid", "id-phi.phrase").read_text().splitlines():
        pid, note, start, end, phi_type, text = line.split(" ", 5)
        rows.append((f"{pid}-{note}", int(start), int(end), phi_type, text))
    return rows


def test_physionet_reproduces_known_counts(physionet_docs, data):
    docs, report = physionet_docs
    assert len(docs) == 810
    assert sum(len(doc.spans["phi"]) for doc in docs) == 536
    expected = Counter(PHYSIONET_PHI[row[3]][0] for row in _phrases(data))
    assert report.spans["phi"] == expected
    assert report.n_unplaceable == 0


def test_physionet_span_text_equals_phrase_file(physionet_docs, data):
    docs, _ = physionet_docs
    by_id = {doc.user_data["clintiny_source"]["doc_id"]: doc for doc in docs}
    for doc_id, start, end, phi_type, text in _phrases(data):
        doc = by_id[doc_id]
        span = doc.char_span(start, end) or doc.char_span(start, start + len(text.strip()))
        assert span is not None and span.text == text.strip()
        label, subtype = PHYSIONET_PHI[phi_type]
        assert any(s.start_char == span.start_char and s.label_ == label and s.kb_id_ == subtype
                   for s in doc.spans["phi"])


def test_physionet_split_by_patient_is_deterministic(physionet_docs):
    docs, _ = physionet_docs
    train, dev, summary = split_docs(docs, dev_fraction=0.2, seed=0)
    assert not {group_of(d) for d in train} & {group_of(d) for d in dev}
    assert len(train) + len(dev) == 810 and summary["dev"]["docs"] == len(dev)
    again = split_docs(docs, dev_fraction=0.2, seed=0)[2]
    assert again["dev_groups"] == summary["dev_groups"]
    assert split_docs(docs, dev_fraction=0.2, seed=1)[2]["dev_groups"] != summary["dev_groups"]
