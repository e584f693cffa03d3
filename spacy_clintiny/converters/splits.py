"""Deterministic train/dev splits by document group (patient, PMID, distinct text...).

Documents sharing a group id always land on the same side, so sentences or notes of one
patient never appear in both. The dev groups are the ``round(fraction * n_groups)`` groups
with the smallest ``sha1(f"{seed}:{group}")``: the same seed and groups give the same split on
any machine, and adding groups elsewhere does not move an existing group to the other side
unless its rank crosses the cut.
"""

import hashlib
from typing import Any, Dict, Iterable, List, Set, Tuple

from spacy.tokens import Doc

from ..errors import Errors
from .placement import SOURCE_KEY
from .report import ConversionReport


def group_of(doc: Doc) -> str:
    """The split unit of a converted doc (``doc.user_data["clintiny_source"]["group"]``)."""
    source = doc.user_data.get(SOURCE_KEY) or {}
    return str(source.get("group", source.get("doc_id", "")))


def dev_groups(groups: Iterable[str], *, dev_fraction: float, seed: int = 0) -> Set[str]:
    """Choose the dev groups.

    groups (Iterable[str]): Group ids (duplicates are fine).
    dev_fraction (float): Fraction of GROUPS to put in dev, in [0, 1).
    seed (int): Seed of the hash order.
    RETURNS (Set[str]): The dev group ids (at least one when the fraction is > 0 and there
        are at least two groups).
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(Errors.E408.format(value=dev_fraction, option="The dev fraction"))
    unique = sorted(set(groups))
    if dev_fraction == 0.0 or len(unique) < 2:
        return set()
    n_dev = min(len(unique) - 1, max(1, round(dev_fraction * len(unique))))
    ranked = sorted(unique, key=lambda g: hashlib.sha1(f"{seed}:{g}".encode("utf8")).hexdigest())
    return set(ranked[:n_dev])


def split_docs(
    docs: List[Doc], *, dev_fraction: float, seed: int = 0, calib_fraction: float = 0.0
) -> Tuple[List[Doc], List[Doc], Dict[str, Any]]:
    """Split docs by group.

    docs (List[Doc]): Converted docs (with ``clintiny_source`` metadata).
    dev_fraction (float): Fraction of groups for dev.
    seed (int): Seed of the split.
    calib_fraction (float): Fraction of groups for a calibration side, carved out of what would
        be training: the groups ranked right after the dev ones in the same hash order (so the
        dev side is the same with or without it). Its docs are in ``summary["calib_docs"]``.
    RETURNS (Tuple[List[Doc], List[Doc], Dict[str, Any]]): Train docs, dev docs (input order
        kept) and a JSON-serialisable summary with the counts of each side.
    """
    groups = [group_of(d) for d in docs]
    dev = dev_groups(groups, dev_fraction=dev_fraction, seed=seed)
    calib: Set[str] = set()
    if calib_fraction > 0:
        if not 0.0 <= dev_fraction + calib_fraction < 1.0:
            total = dev_fraction + calib_fraction
            raise ValueError(Errors.E408.format(value=total, option="--split-dev plus --split-calib"))
        calib = dev_groups(groups, dev_fraction=dev_fraction + calib_fraction, seed=seed) - dev
    train_docs = [d for d, g in zip(docs, groups) if g not in dev and g not in calib]
    dev_docs = [d for d, g in zip(docs, groups) if g in dev]
    calib_docs = [d for d, g in zip(docs, groups) if g in calib]
    summary: Dict[str, Any] = {"unit": "group", "seed": seed, "dev_fraction": dev_fraction}
    sides = [("train", train_docs), ("dev", dev_docs)]
    if calib_fraction > 0:
        summary["calib_fraction"] = calib_fraction
        sides.append(("calib", calib_docs))
    for name, side in sides:
        counts = ConversionReport(name)
        for doc in side:
            counts.count_doc(doc)
        data = counts.to_dict()
        summary[name] = {
            "docs": len(side),
            "groups": len({group_of(d) for d in side}),
            "spans": data["spans"],
            "relations": data["relations"],
            "cats_positive": data["cats_positive"],
        }
    summary["dev_groups"] = sorted(dev)
    if calib_fraction > 0:
        summary["calib_groups"] = sorted(calib)
        summary["calib_docs"] = calib_docs
    return train_docs, dev_docs, summary
