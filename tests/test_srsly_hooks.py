"""``freeze_msgpack_hooks``: entry-point hooks are read once and kept, code-registered hooks
still apply, and DocBins decode as before."""

import catalogue
import spacy
from spacy.tokens import DocBin

from spacy_clintiny._srsly import freeze_msgpack_hooks


def test_entry_points_are_read_once_and_kept(monkeypatch):
    registry = catalogue.create("clintiny_test", "msgpack_hooks", entry_points=True)
    calls = []

    def hook(obj, chain=None):
        return obj

    def entry_points():
        calls.append(1)
        return {"from_entry_point": hook}

    monkeypatch.setattr(registry, "get_entry_points", entry_points)
    assert "from_entry_point" in registry.get_all() and len(calls) == 1  # scanned at every call before
    freeze_msgpack_hooks([registry])
    assert registry.entry_points is False and len(calls) == 2
    for _ in range(3):
        assert registry.get_all()["from_entry_point"] is hook
    assert len(calls) == 2
    registry.register("later", func=hook)
    assert set(registry.get_all()) == {"from_entry_point", "later"}
    freeze_msgpack_hooks([registry])  # idempotent
    assert len(calls) == 2


def test_srsly_registries_are_frozen_on_import_and_docbins_round_trip():
    from srsly.msgpack import msgpack_decoders, msgpack_encoders

    import spacy_clintiny  # noqa: F401

    assert msgpack_decoders.entry_points is False and msgpack_encoders.entry_points is False
    nlp = spacy.blank("en")
    doc = nlp("Seen by Dr Smith on 3/14.")
    doc.spans["phi"] = [doc.char_span(11, 16, "NAME"), doc.char_span(20, 24, "DATE")]
    (back,) = list(DocBin().from_bytes(DocBin(docs=[doc]).to_bytes()).get_docs(nlp.vocab))
    assert [(s.start_char, s.end_char, s.label_) for s in back.spans["phi"]] == [(11, 16, "NAME"), (20, 24, "DATE")]


class _CountingDict(dict):
    copies = 0

    def copy(self):
        type(self).copies += 1
        return super().copy()


def test_frozen_lookup_gives_the_scan_result_without_rescanning(monkeypatch):
    counting = _CountingDict(catalogue.REGISTRY)
    monkeypatch.setattr(catalogue, "REGISTRY", counting)
    registry = catalogue.create("clintiny_test", "msgpack_lookup", entry_points=True)
    monkeypatch.setattr(registry, "get_entry_points", lambda: {})

    def first(obj, chain=None):
        return obj

    def second(obj, chain=None):
        return obj

    def replacement(obj, chain=None):
        return obj

    registry.register("first", func=first)
    freeze_msgpack_hooks([registry])

    def scanned():  # catalogue's own get_all: the whole REGISTRY, every call
        return catalogue.Registry.get_all(registry)

    assert registry.get_all() == scanned() == {"first": first}
    copies = _CountingDict.copies
    for _ in range(5):
        assert registry.get_all() == {"first": first}
    assert _CountingDict.copies == copies  # no scan while nothing was registered
    registry.register("second", func=second)
    assert list(registry.get_all().items()) == list(scanned().items()) == [("first", first), ("second", second)]
    registry.register("first", func=replacement)  # same name again: same size, new function
    assert registry.get_all() == scanned() == {"first": replacement, "second": second}
    catalogue._remove(("clintiny_test", "msgpack_lookup", "second"))
    catalogue._set(("clintiny_test", "elsewhere", "other"), first)  # same size, a key of ours gone
    assert registry.get_all() == scanned() == {"first": replacement}
