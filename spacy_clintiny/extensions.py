"""Doc extension attributes set by the clintiny components."""

from spacy.tokens import Doc

from .relations import get_predicted_relations, set_predicted_relations


def install_extensions() -> None:
    """Register ``Doc._.clintiny_rels`` (idempotent, never ``force=True``).

    The attribute reads None until a ``clintiny_rel`` component has run on the doc, then a
    list of :class:`spacy_clintiny.relations.Relation`. It is a getter/setter over plain
    tuples in ``doc.user_data``, so docs with predictions round-trip through
    ``DocBin(store_user_data=True)``, pickling and multiprocessing.
    """
    if not Doc.has_extension("clintiny_rels"):
        Doc.set_extension("clintiny_rels", getter=get_predicted_relations, setter=set_predicted_relations)
