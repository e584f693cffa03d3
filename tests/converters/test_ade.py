def _rows(data_path, name):
    return [line.split("|") for line in data_path("ade-corpus-v2", name).read_text().splitlines() if line]


def test_ade_counts_match_source_files(ade_docs, data):
    docs, report = ade_docs
    ae, dose = _rows(data, "DRUG-AE.rel"), _rows(data, "DRUG-DOSE.rel")
    neg = {
        tuple(line.split(" ", 2)[::2]) for line in data("ade-corpus-v2", "ADE-NEG.txt").read_text().splitlines() if line
    }
    positive = {(r[0], r[1]) for r in ae + dose}
    assert len(docs) == len(positive) + len(neg)
    assert report.cats["ADE"] == len(positive)
    assert report.relations["DRUG_AE"] == len({tuple(r) for r in ae})
    assert report.relations["DRUG_DOSE"] == len({tuple(r) for r in dose})
    drugs = {(r[0], r[1], r[6]) for r in ae + dose}
    effects = {(r[0], r[1], r[3]) for r in ae}
    doses = {(r[0], r[1], r[3]) for r in dose}
    assert report.spans["concepts"]["TREATMENT"] == len(drugs)
    assert report.spans["concepts"]["PROBLEM"] == len(effects)
    assert report.spans["modifiers"]["DOSE"] == len(doses)
    assert report.n_unplaceable == 0
    positive_doc = next(d for d in docs if d.cats["ADE"] == 1.0)
    assert positive_doc.spans["concepts"].attrs["annotated_labels"] == ["PROBLEM", "TREATMENT"]  # no TEST


def test_ade_spans_are_the_mentions_and_relations_point_at_them(ade_docs, data):
    docs, _ = ade_docs
    mentions = {}
    for r in _rows(data, "DRUG-AE.rel") + _rows(data, "DRUG-DOSE.rel"):
        mentions.setdefault((r[0], r[1]), set()).update({r[2].strip(), r[5].strip()})
    for doc in docs:
        if doc.cats["ADE"] == 0.0:  # no entity; no relation, annotated for DRUG_AE only
            assert "concepts" not in doc.spans and doc.user_data["clintiny_rels"] == []
            assert doc.user_data["clintiny_source"]["relation_labels"] == ["DRUG_AE"]
            continue
        texts = {s.text for key in ("concepts", "modifiers") for s in doc.spans[key]}
        assert texts == mentions[(doc.user_data["clintiny_source"]["group"], doc.text)]
        spans = {(s.start_char, s.end_char): s for key in ("concepts", "modifiers") for s in doc.spans[key]}
        for rel in doc.user_data["clintiny_rels"]:
            head, tail = spans[tuple(rel["head"])], spans[tuple(rel["tail"])]
            assert head.kb_id_ == "DRUG"
            assert tail.kb_id_ == ("ADVERSE_EFFECT" if rel["label"] == "DRUG_AE" else "DOSE")
