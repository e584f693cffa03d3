"""``clintiny labels``: the label set of a DocBin, as the JSON list ``spacy.read_labels.v1`` reads.

When several heads train on one mixed corpus, each head is given its labels explicitly
(``[initialize.components.<name>.labels]``), so a doc-classification head for specialties does
not pick up the ADE sentence label that another corpus carries.
"""
import json
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ._app import app


def docbin_labels(path: Path, *, kind: str = "cats", spans_key: str = "") -> List[str]:
    """Sorted labels found in a DocBin: ``cats`` keys, or the labels of one span group."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    labels = set()
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        if kind == "cats":
            labels.update(doc.cats)
        elif kind == "spans":
            labels.update(span.label_ for span in doc.spans.get(spans_key, []))
        else:
            raise ValueError(f"kind must be 'cats' or 'spans', got '{kind}'")
    return sorted(labels)


@app.command("labels")
def labels_cli(
    docbin: Path = typer.Argument(..., help="Input DocBin (.spacy)", exists=True, dir_okay=False),
    output: Path = typer.Argument(..., help="Output JSON list of labels"),
    kind: str = typer.Option("cats", "--kind", help="cats or spans"),
    spans_key: str = typer.Option("", "--spans-key", help="Span group, with --kind spans"),
) -> None:
    """Write the label set of a DocBin as a JSON list."""
    try:
        labels = docbin_labels(docbin, kind=kind, spans_key=spans_key)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if not labels:
        msg.fail(f"No {kind} labels in {docbin}", exits=1)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(json.dumps(labels, indent=1), encoding="utf8")
    tmp.replace(output)
    msg.good(f"{len(labels)} labels -> {output}")
