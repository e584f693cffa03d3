import pytest

from spacy_clintiny.distill.layer_map import check_layer_map, hidden_state_pairs, resolve_layer_map, uniform_layer_map


@pytest.mark.parametrize(
    "n_teacher,n_student,expected",
    [
        (12, 6, [1, 3, 5, 7, 9, 11]),  # the seed's DistilClinicalBERT layers
        (12, 4, [2, 5, 8, 11]),  # TinyBERT's map, the seed's TinyClinicalBERT layers
        (6, 4, [0, 2, 3, 5]),
        (6, 2, [2, 5]),
        (6, 6, [0, 1, 2, 3, 4, 5]),
        (6, 1, [5]),
    ],
)
def test_uniform_layer_map(n_teacher, n_student, expected):
    assert uniform_layer_map(n_teacher, n_student) == expected


def test_override_is_validated():
    assert resolve_layer_map("0,2,4", n_teacher=6, n_student=3) == [0, 2, 4]
    assert resolve_layer_map(None, n_teacher=6, n_student=3) == [1, 3, 5]
    for bad in ("0,2", "0,2,6", "2,1,4", "x,y,z"):
        with pytest.raises(ValueError, match="E501"):
            resolve_layer_map(bad, n_teacher=6, n_student=3)
    with pytest.raises(ValueError, match="E502"):
        uniform_layer_map(4, 6)
    with pytest.raises(ValueError, match="E501"):
        check_layer_map([0, 0], n_teacher=4, n_student=2)


def test_hidden_state_pairs_include_embeddings():
    assert hidden_state_pairs([2, 5]) == [(0, 0), (1, 3), (2, 6)]
