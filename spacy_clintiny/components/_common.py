"""What the labelled heads (``clintiny_ner``, ``clintiny_textcat``, ``clintiny_rel``) share:
the listener part of their default model config, and label bookkeeping in ``cfg["labels"]``
with labels fixed once the output layer has its size."""

import warnings
from typing import Callable, Iterable, List, Optional, Set, Tuple

from thinc.api import Model

from ..errors import Errors, Warnings

# The ``[model.tok2vec]`` part of each head's default config: a listener to the shared encoder.
LISTENER_CONFIG_STR = """
[model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""


class LabelledHead:
    """Mixin for a ``TrainablePipe`` keeping its labels in ``self.cfg["labels"]`` and its
    output layer under the model ref ``"output_layer"``."""

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str, ...]): The labels."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The labels, for ``spacy init labels``."""
        return list(self.labels)

    @property
    def is_initialized(self) -> bool:
        """RETURNS (bool): Whether the output layer has its size (labels are fixed)."""
        return bool(self.model.get_ref("output_layer").has_dim("nO"))

    def _size_output_layer(self, n_out: int, make_layer: Callable[[int], Model]) -> None:
        """Give the output layer ``n_out`` outputs. Re-initializing with another label set
        replaces an already sized layer by a fresh one (``make_layer(n_out)``): thinc cannot
        resize a layer whose weights exist."""
        output_layer = self.model.get_ref("output_layer")
        if not output_layer.has_dim("nO"):
            output_layer.set_dim("nO", n_out)
        elif output_layer.get_dim("nO") != n_out:
            new_output = make_layer(n_out)
            self.model.replace_node(output_layer, new_output)
            self.model.set_ref("output_layer", new_output)

    def _append_label(self, label: str, fixed_error: str) -> int:
        """Add a label unless present. A label that is not a non-empty string raises E005;
        ``fixed_error`` (formatted with name, labels and label) is raised once the labels
        are fixed.

        RETURNS (int): 0 if the label was already present, 1 if it was added.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(Errors.E005.format(name=self.name, value=label, type=type(label).__name__))
        if label in self.labels:
            return 0
        if self.is_initialized:
            raise ValueError(fixed_error.format(name=self.name, labels=list(self.labels), label=label))
        self.cfg["labels"].append(label)
        return 1

    def _resolve_labels(self, labels: Optional[Iterable[str]], data_labels: Set[str], *, n_examples: int) -> List[str]:
        """The labels ``initialize`` settles on.

        Requested labels that the examples do not show are kept, with warning W103: spaCy
        shows ``initialize`` only the first 100 examples of a streamed corpus
        (``max_epochs = -1``), so a rare label can be absent there and still be in the data.

        labels (Optional[Iterable[str]]): Labels given to ``initialize``, if any; otherwise
            those added with ``add_label`` before the first initialization, plus all labels
            in the data.
        data_labels (Set[str]): The labels found in the examples.
        n_examples (int): How many examples ``initialize`` saw (for the warning).
        RETURNS (List[str]): The final labels.
        """
        if labels is not None:
            requested = list(labels)
        else:  # labels added with add_label before the first initialization
            requested = [] if self.is_initialized else list(self.cfg["labels"])
        unseen = [label for label in requested if label not in data_labels]
        if unseen:
            warnings.warn(
                Warnings.W103.format(name=self.name, labels=unseen, n=n_examples, known=sorted(data_labels)),
                stacklevel=2,
            )
        return list(labels) if labels is not None else sorted(set(requested) | data_labels)
