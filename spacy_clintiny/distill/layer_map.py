"""Which teacher layer each student layer learns from.

The map is computed from the two layer counts, never hard-coded: student layer ``j``
(0-based) follows teacher layer ``(j + 1) * n_teacher // n_student - 1``, so the last student
layer always follows the last teacher layer and the rest are spaced uniformly below it.
This gives TinyBERT's map for 12 -> 4 (teacher layers 2, 5, 8, 11) and the odd layers for
12 -> 6 (1, 3, 5, 7, 9, 11: the seed's "layers 1, 3, ..., 11"). The same map chooses the
teacher layers copied into a student of the teacher's width (DistilBERT-style init) and the
layers matched by the hidden-state and attention losses. Users override it with
``--layer-map 0,2,4``.
"""

from typing import List, Optional, Sequence, Tuple, Union

from ..errors import Errors

LayerMap = List[int]


def uniform_layer_map(n_teacher: int, n_student: int) -> LayerMap:
    """Uniformly spaced, top-aligned teacher layer for each student layer.

    n_teacher (int): Number of teacher transformer layers.
    n_student (int): Number of student transformer layers (1..n_teacher).
    RETURNS (List[int]): 0-based teacher layer index for each student layer.
    """
    if n_student < 1 or n_student > n_teacher:
        raise ValueError(Errors.E502.format(n_student=n_student, n_teacher=n_teacher))
    return [(j + 1) * n_teacher // n_student - 1 for j in range(n_student)]


def parse_layer_map(value: Union[None, str, Sequence[int]]) -> Optional[LayerMap]:
    """Read a layer map given as ``"0,2,4"``, a list of ints, or None (= compute it)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValueError(
                Errors.E501.format(layer_map=value, n_teacher="?", n_student="?", max="n-1", example="0,2,4")
            ) from None
    return [int(i) for i in value]


def check_layer_map(layer_map: Sequence[int], *, n_teacher: int, n_student: int) -> LayerMap:
    """Validate a layer map: one teacher index per student layer, strictly increasing.

    RETURNS (List[int]): The layer map as a list.
    """
    layer_map = list(layer_map)
    ok = (
        len(layer_map) == n_student
        and all(0 <= i < n_teacher for i in layer_map)
        and all(a < b for a, b in zip(layer_map, layer_map[1:]))
    )
    if not ok:
        example = ",".join(str(i) for i in uniform_layer_map(n_teacher, min(n_student, n_teacher)))
        raise ValueError(
            Errors.E501.format(
                layer_map=",".join(map(str, layer_map)),
                n_teacher=n_teacher,
                n_student=n_student,
                max=n_teacher - 1,
                example=example,
            )
        )
    return layer_map


def resolve_layer_map(value: Union[None, str, Sequence[int]], *, n_teacher: int, n_student: int) -> LayerMap:
    """The user's layer map if given (validated), else the uniform one."""
    parsed = parse_layer_map(value)
    if parsed is None:
        return uniform_layer_map(n_teacher, n_student)
    return check_layer_map(parsed, n_teacher=n_teacher, n_student=n_student)


def hidden_state_pairs(layer_map: Sequence[int]) -> List[Tuple[int, int]]:
    """Pairs of indices into Hugging Face ``hidden_states`` tuples (which start with the
    embedding output): the embeddings match each other, then student layer ``j`` output
    matches teacher layer ``layer_map[j]`` output.

    RETURNS (List[Tuple[int, int]]): (student index, teacher index) pairs.
    """
    return [(0, 0)] + [(j + 1, t + 1) for j, t in enumerate(layer_map)]
