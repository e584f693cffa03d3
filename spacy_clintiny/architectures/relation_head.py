"""The relation classification head: one logit per relation label for each candidate pair.

An instance (head entity ``h``, tail entity ``t``) is represented as
``[mean(h), mean(t), mean(h) * mean(t), label_emb(h), label_emb(t)]``: the token vectors
of each entity are mean-pooled once per entity (not once per pair), and a small hashed
embedding of each entity's label (e.g. DRUG vs. ADVERSE_EFFECT) tells the classifier what
kind of entities it is looking at. The order of the concatenation carries the direction.
An MLP maps the instance to logits; the ``clintiny_rel`` component applies a sigmoid per
label, so "no relation" (every label below threshold) needs no label of its own.

``RelationClassifier.v2`` adds what tells two pairs with the same entities apart, which v1
cannot see: in "metoprolol 25 mg, aspirin 81 mg" the pairs (metoprolol, 81 mg) and (aspirin,
81 mg) differ only in where they are. It appends the mean of the token vectors strictly
between the two entities (zeros when they touch; the classic between-context feature of
relation extraction) and an embedding of the pair's geometry: direction (head first or
tail first), token distance in buckets (0, 1, 2, 3, 4, 5-7, 8-15, 16-31, 32+) and the number
of other entities between them (0, 1, 2, 3+).
"""

from typing import Callable, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import HashEmbed, Model
from thinc.types import Floats2d

from ..registry import registry
from ._head import classifier_head, init_token_width
from ._pooling import pool_ranges
from .instances import Candidates

# upper bounds of the token-distance buckets of RelationClassifier.v2 (the last is open)
DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 7, 15, 31)
# entities between the two of a pair: 0, 1, 2, 3 or more
MAX_BETWEEN = 3

# (docs, candidate entities and pairs per doc)
RelationInput = Tuple[List[Doc], List[Candidates]]


@registry.architectures("spacy-clintiny.RelationClassifier.v1")
def build_relation_classifier_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    hidden_width: int = 64,
    label_width: int = 16,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[RelationInput, Floats2d]:
    """Build the relation classification head.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy-transformers.TransformerListener.v1`` to the shared encoder.
    hidden_width (int): Width of the ReLU hidden layer (0 for none).
    label_width (int): Width of the entity-label embedding (0 to leave labels out).
    dropout (float): Dropout on the hidden layer.
    nO (Optional[int]): Number of relation labels; set by the component.
    RETURNS (Model[RelationInput, Floats2d]): Logits, ``(n_pairs_in_batch, n_labels)``,
        rows in the order of the candidates' pairs, doc by doc.
    """
    featurizer = instance_features(tok2vec, label_width=label_width)
    return classifier_head(
        tok2vec, featurizer, features_ref="featurizer", hidden_width=hidden_width, dropout=dropout, nO=nO
    )


@registry.architectures("spacy-clintiny.RelationClassifier.v2")
def build_relation_classifier_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    hidden_width: int = 64,
    label_width: int = 16,
    geometry_width: int = 16,
    context: bool = True,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[RelationInput, Floats2d]:
    """Build the relation classification head with the pair's context and geometry.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy-transformers.TransformerListener.v1`` to the shared encoder.
    hidden_width (int): Width of the ReLU hidden layer (0 for none).
    label_width (int): Width of the entity-label embedding (0 to leave labels out).
    geometry_width (int): Width of the embedding of direction, distance bucket and entities
        between (0 to leave it out).
    context (bool): Append the mean token vector between the two entities.
    dropout (float): Dropout on the hidden layer.
    nO (Optional[int]): Number of relation labels; set by the component.
    RETURNS (Model[RelationInput, Floats2d]): Logits, ``(n_pairs_in_batch, n_labels)``,
        rows in the order of the candidates' pairs, doc by doc.
    """
    featurizer = instance_features(tok2vec, label_width=label_width, geometry_width=geometry_width, context=context)
    return classifier_head(
        tok2vec, featurizer, features_ref="featurizer", hidden_width=hidden_width, dropout=dropout, nO=nO
    )


def instance_features(
    tok2vec: Model[List[Doc], List[Floats2d]], *, label_width: int, geometry_width: int = 0, context: bool = False
) -> Model[RelationInput, Floats2d]:
    """Featurize candidate pairs.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors.
    label_width (int): Width of the entity-label embedding (0 for none).
    geometry_width (int): Width of the pair-geometry embedding (0 for none).
    context (bool): Append the mean token vector between the two entities.
    RETURNS (Model[RelationInput, Floats2d]): ``(n_pairs, (3 + context) * width +
        2 * label_width + geometry_width)``.
    """
    layers: List[Model] = [tok2vec]
    refs = {}
    if label_width:
        refs["label_embed"] = HashEmbed(nO=label_width, nV=128, seed=17)
        layers.append(refs["label_embed"])
    if geometry_width:
        refs["geometry_embed"] = HashEmbed(nO=geometry_width, nV=256, seed=23)
        layers.append(refs["geometry_embed"])
    return Model(
        "clintiny_rel_instances",
        _instances_forward,
        init=_instances_init,
        layers=layers,
        refs=refs,
        dims={"nI": None, "nO": None},
        attrs={"label_width": label_width, "geometry_width": geometry_width, "context": bool(context)},
    )


def _instances_init(model: Model, X: Optional[RelationInput] = None, Y: Optional[Floats2d] = None) -> None:
    for layer in model.layers[1:]:
        layer.initialize()
    if X is None:
        return
    docs, _ = X
    init_token_width(model, docs)
    width = model.get_dim("nI")
    n_token_parts = 4 if model.attrs.get("context") else 3
    model.set_dim(
        "nO",
        n_token_parts * width + 2 * model.attrs["label_width"] + model.attrs.get("geometry_width", 0),
        force=True,
    )


def pair_geometry(candidates: List[Candidates]) -> Tuple[numpy.ndarray, List[Tuple[int, int, int]]]:
    """Each candidate pair's geometry id and the token range strictly between its entities.

    candidates (List[Candidates]): Candidates per doc of the batch.
    RETURNS (Tuple[numpy.ndarray, List[Tuple[int, int, int]]]): ``(n_pairs,)`` ids (direction
        x distance bucket x entities-between bucket, < 2 * 9 * 4) and (doc index, start, end)
        of the tokens between the two entities (empty when they touch or overlap).
    """
    ids: List[int] = []
    between: List[Tuple[int, int, int]] = []
    n_between = MAX_BETWEEN + 1
    n_distance = len(DISTANCE_BUCKETS) + 1
    for i, cands in enumerate(candidates):
        for h, t in cands.pairs:
            head, tail = cands.spans[h], cands.spans[t]
            first, second = (head, tail) if h < t else (tail, head)
            start, end = first.end, max(first.end, second.start)
            distance = int(numpy.searchsorted(DISTANCE_BUCKETS, end - start))
            others = min(abs(h - t) - 1, MAX_BETWEEN)
            ids.append(((int(h > t) * n_distance) + distance) * n_between + others)
            between.append((i, start, end))
    return numpy.asarray(ids, dtype="uint64"), between


def _instances_forward(model: Model, X: RelationInput, is_train: bool) -> Tuple[Floats2d, Callable]:
    docs, candidates = X
    ops = model.ops
    xp = ops.xp
    tok2vec = model.layers[0]
    width = model.get_dim("nI")
    Xs, bp_tok2vec = tok2vec(docs, is_train)
    ranges = [(i, span.start, span.end) for i, cands in enumerate(candidates) for span in cands.spans]
    ents, bp_pool = pool_ranges(ops, Xs, ranges, pooling="mean", width=width)  # (n_ents, width)
    # Pair indices into the batch-wide entity rows.
    heads_np, tails_np, offset = [], [], 0
    for cands in candidates:
        if cands.pairs:
            pairs = numpy.asarray(cands.pairs, dtype="int64")
            heads_np.append(pairs[:, 0] + offset)
            tails_np.append(pairs[:, 1] + offset)
        offset += len(cands.spans)
    heads = ops.asarray1i(numpy.concatenate(heads_np) if heads_np else numpy.zeros((0,), "int64"))
    tails = ops.asarray1i(numpy.concatenate(tails_np) if tails_np else numpy.zeros((0,), "int64"))
    E_h, E_t = ents[heads], ents[tails]  # (n_pairs, width) each
    parts = [E_h, E_t, E_h * E_t]
    lw, gw = model.attrs["label_width"], model.attrs.get("geometry_width", 0)
    if gw or model.attrs.get("context"):
        geometry_ids, between = pair_geometry(candidates)
    bp_context = None
    if model.attrs.get("context"):
        C, bp_context = pool_ranges(ops, Xs, between, pooling="mean", width=width)  # (n_pairs, width)
        parts.append(C)
    n_token_parts = len(parts)
    bp_label = bp_geometry = None
    if lw:
        label_ids = numpy.asarray([span.label for cands in candidates for span in cands.spans], dtype="uint64")
        if len(label_ids):
            L, bp_label = model.get_ref("label_embed")(ops.asarray(label_ids, dtype="uint64"), is_train)
        else:  # HashEmbed cannot backprop through an empty batch
            L = ops.alloc2f(0, lw)
        parts.extend([L[heads], L[tails]])  # (n_pairs, label_width) each
    if gw:
        if len(geometry_ids):
            G, bp_geometry = model.get_ref("geometry_embed")(ops.asarray(geometry_ids, dtype="uint64"), is_train)
        else:
            G = ops.alloc2f(0, gw)
        parts.append(G)
    output = xp.hstack(parts)  # (n_pairs, n_token_parts * width + 2 * label_width + geometry_width)

    def backprop(d_output: Floats2d) -> List[Doc]:
        d_h = d_output[:, :width]
        d_t = d_output[:, width : 2 * width]
        d_prod = d_output[:, 2 * width : 3 * width]
        d_ents = ops.alloc2f(*ents.shape)
        ops.scatter_add(d_ents, heads, d_h + E_t * d_prod)
        ops.scatter_add(d_ents, tails, d_t + E_h * d_prod)
        col = n_token_parts * width
        if bp_label is not None:
            d_L = ops.alloc2f(len(label_ids), lw)
            ops.scatter_add(d_L, heads, ops.as_contig(d_output[:, col : col + lw]))
            ops.scatter_add(d_L, tails, ops.as_contig(d_output[:, col + lw : col + 2 * lw]))
            bp_label(d_L)
        if bp_geometry is not None:
            bp_geometry(ops.as_contig(d_output[:, col + 2 * lw : col + 2 * lw + gw]))
        d_Xs = bp_pool(d_ents)
        if bp_context is not None:
            d_context = bp_context(ops.as_contig(d_output[:, 3 * width : 4 * width]))
            d_Xs = [a + b for a, b in zip(d_Xs, d_context)]
        return bp_tok2vec(d_Xs)

    return output, backprop
