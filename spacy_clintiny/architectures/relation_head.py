"""The relation classification head: one logit per relation label for each candidate pair.

An instance (head entity ``h``, tail entity ``t``) is represented as
``[mean(h), mean(t), mean(h) * mean(t), label_emb(h), label_emb(t)]``: the token vectors
of each entity are mean-pooled once per entity (not once per pair), and a small hashed
embedding of each entity's label (e.g. DRUG vs. ADVERSE_EFFECT) tells the classifier what
kind of entities it is looking at. The order of the concatenation carries the direction.
An MLP maps the instance to logits; the ``clintiny_rel`` component applies a sigmoid per
label, so "no relation" (every label below threshold) needs no label of its own.
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


def instance_features(tok2vec: Model[List[Doc], List[Floats2d]], *, label_width: int) -> Model[RelationInput, Floats2d]:
    """Featurize candidate pairs.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors.
    label_width (int): Width of the entity-label embedding (0 for none).
    RETURNS (Model[RelationInput, Floats2d]): ``(n_pairs, 3 * width + 2 * label_width)``.
    """
    layers: List[Model] = [tok2vec]
    if label_width:
        layers.append(HashEmbed(nO=label_width, nV=128, seed=17))
    return Model(
        "clintiny_rel_instances",
        _instances_forward,
        init=_instances_init,
        layers=layers,
        dims={"nI": None, "nO": None},
        attrs={"label_width": label_width},
    )


def _instances_init(model: Model, X: Optional[RelationInput] = None, Y: Optional[Floats2d] = None) -> None:
    for layer in model.layers[1:]:
        layer.initialize()
    if X is None:
        return
    docs, _ = X
    init_token_width(model, docs)
    model.set_dim("nO", 3 * model.get_dim("nI") + 2 * model.attrs["label_width"], force=True)


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
    bp_embed = None
    if model.attrs["label_width"]:
        label_ids = numpy.asarray([span.label for cands in candidates for span in cands.spans], dtype="uint64")
        if len(label_ids):
            L, bp_embed = model.layers[1](ops.asarray(label_ids, dtype="uint64"), is_train)  # (n_ents, label_width)
        else:  # HashEmbed cannot backprop through an empty batch
            L = ops.alloc2f(0, model.attrs["label_width"])
        parts.extend([L[heads], L[tails]])
    output = xp.hstack(parts)  # (n_pairs, 3 * width + 2 * label_width)

    def backprop(d_output: Floats2d) -> List[Doc]:
        d_h = d_output[:, :width]
        d_t = d_output[:, width : 2 * width]
        d_prod = d_output[:, 2 * width : 3 * width]
        d_ents = ops.alloc2f(*ents.shape)
        ops.scatter_add(d_ents, heads, d_h + E_t * d_prod)
        ops.scatter_add(d_ents, tails, d_t + E_h * d_prod)
        if bp_embed is not None:
            lw = model.attrs["label_width"]
            d_L = ops.alloc2f(len(label_ids), lw)
            ops.scatter_add(d_L, heads, ops.as_contig(d_output[:, 3 * width : 3 * width + lw]))
            ops.scatter_add(d_L, tails, ops.as_contig(d_output[:, 3 * width + lw :]))
            bp_embed(d_L)
        return bp_tok2vec(bp_pool(d_ents))

    return output, backprop
