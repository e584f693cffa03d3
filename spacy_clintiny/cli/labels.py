"""``clintiny labels``: the label set of DocBins, as the JSON list ``spacy.read_labels.v1`` reads.

When several heads train on one mixed corpus, each head is given its labels explicitly
(``[initialize.components.<name>.labels]``):

* a doc-classification head for specialties does not pick up the ADE sentence label that
  another corpus carries;
* with a streamed corpus (``max_epochs = -1``) spaCy shows ``initialize`` only the first 100
  examples, which can miss a rare label (a relation type, a PHI category) altogether.
"""

from pathlib import Path
from typing import Iterable, List, Union

import typer
from wasabi import msg

from ..fileio import check_outputs, write_json_atomic
from ._app import app

KINDS = ("cats", "spans", "rels")


def docbin_labels(paths: Union[Path, Iterable[Path]], *, kind: str = "cats", spans_key: str = "") -> List[str]:
    """Sorted labels found in one or more DocBins: ``cats`` keys, the labels of one span
    group (``spans``), or the labels of the gold relations (``rels``)."""
    import spacy
    from spacy.tokens import DocBin

    from ..relations import get_gold_relations

    if kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, got '{kind}'")
    if kind == "spans" and not spans_key:
        raise ValueError("--kind spans needs --spans-key (the span group to read, e.g. phi)")
    nlp = spacy.blank("en")
    labels = set()
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
            if kind == "cats":
                labels.update(doc.cats)
            elif kind == "spans":
                labels.update(span.label_ for span in doc.spans.get(spans_key, []))
            else:
                labels.update(rel["label"] for rel in get_gold_relations(doc) or [])
    return sorted(labels)


@app.command("labels")
def labels_cli(
    paths: List[Path] = typer.Argument(
        ..., help="Input DocBins (.spacy), then the output JSON file", metavar="DOCBIN... OUTPUT"
    ),
    kind: str = typer.Option("cats", "--kind", help="cats, spans or rels"),
    spans_key: str = typer.Option("", "--spans-key", help="Span group, with --kind spans"),
) -> None:
    """Write the label set of one or more DocBins as a JSON list (the last path is the output)."""
    if len(paths) < 2:
        msg.fail("Give at least one input DocBin and the output file", exits=1)
    *docbins, output = paths
    for docbin in docbins:
        if not docbin.is_file():
            msg.fail(f"Input DocBin '{docbin}' does not exist: run the corpus step first", exits=1)
    try:
        check_outputs({"OUTPUT": output}, {f"DOCBIN {d}": d for d in docbins})
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if output.suffix == ".spacy":
        msg.fail(f"The last path is the output, and '{output}' looks like a DocBin: put the JSON output last", exits=1)
    try:
        labels = docbin_labels(docbins, kind=kind, spans_key=spans_key)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if not labels:
        where = f" in span group '{spans_key}'" if kind == "spans" else ""
        msg.fail(f"No {kind} labels{where} in {', '.join(map(str, docbins))}", exits=1)
    write_json_atomic(output, labels, indent=1)
    msg.good(f"{len(labels)} labels -> {output}")
