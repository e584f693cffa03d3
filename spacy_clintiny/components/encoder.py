"""``clintiny_encoder``: the one shared encoder pass that every clintiny head listens to."""
from typing import Callable, List

from spacy.language import Language
from spacy.tokens import Doc
from spacy_transformers.annotation_setters import null_annotation_setter
from spacy_transformers.data_classes import FullTransformerBatch
from spacy_transformers.pipeline_component import Transformer
from thinc.api import Config, Model

DEFAULT_CONFIG_STR = """
[model]
@architectures = "spacy-clintiny.Encoder.v1"
name = "default"
window = 128
stride = 96
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)


@Language.factory(
    "clintiny_encoder",
    assigns=["doc._.trf_data"],
    default_config={
        "model": DEFAULT_CONFIG["model"],
        "set_extra_annotations": {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"},
        "max_batch_items": 4096,
    },
)
def make_clintiny_encoder(
    nlp: Language,
    name: str,
    model: Model[List[Doc], FullTransformerBatch],
    set_extra_annotations: Callable = null_annotation_setter,
    max_batch_items: int = 4096,
) -> "Encoder":
    """Create the shared encoder component.

    model (Model[List[Doc], FullTransformerBatch]): Usually ``spacy-clintiny.Encoder.v1``.
    max_batch_items (int): Wordpiece budget per batch (padded batch size x length).
    """
    return Encoder(
        nlp.vocab,
        model,
        set_extra_annotations,
        max_batch_items=max_batch_items,
        name=name,
    )


class Encoder(Transformer):
    """spacy-transformers' Transformer component under our name. Listeners (the
    ``TransformerListener`` layers inside ``clintiny_ner``, ``clintiny_textcat`` and
    ``clintiny_rel``) receive its output, so the encoder runs once per doc for all heads,
    in training and at inference."""
