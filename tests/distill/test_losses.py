import pytest
import torch

from spacy_clintiny.distill import losses
from spacy_clintiny.distill.types import ModelOutputs
from spacy_clintiny.registry import distill_losses

B, S, H, V, HEADS = 2, 7, 8, 11, 2


def outputs(seed, *, layers=3, width=H, heads=HEADS):
    g = torch.Generator().manual_seed(seed)
    hidden = tuple(torch.randn(B, S, width, generator=g) for _ in range(layers + 1))
    attn = tuple(torch.softmax(torch.randn(B, heads, S, S, generator=g), dim=-1) for _ in range(layers))
    logits = torch.randn(B, S, V, generator=g)
    return ModelOutputs(hidden, attn, logits)


def token_mask():
    mask = torch.ones(B, S, dtype=torch.bool)
    mask[1, 4:] = False  # padding in the second sequence
    return mask


def perturb_outside(out: ModelOutputs, mask: torch.Tensor) -> ModelOutputs:
    """Change every value at positions outside ``mask`` (queries and keys for attention)."""
    off = ~mask
    hidden = tuple(h.masked_fill(off[..., None], 123.0) for h in out.hidden_states)
    logits = out.logits.masked_fill(off[..., None], -50.0)
    attn = []
    for a in out.attentions:
        a = a.clone()
        a[off[:, None, :, None].expand_as(a)] = 0.3  # masked query rows
        keys = off[:, None, None, :].expand_as(a)
        a[keys] = 0.7  # masked keys
        attn.append(a)
    return ModelOutputs(hidden, tuple(attn), logits)


COMPARISONS = [
    (losses.soft_target_kl, {"temperature": 2.0}),
    (losses.hidden_cosine, {}),
    (losses.hidden_mse, {"layer_map": [0, 2]}),
    (losses.attention_kl, {"layer_map": [0, 2]}),
    (losses.attention_mse, {"layer_map": [0, 2]}),
]


@pytest.mark.parametrize("func,kwargs", COMPARISONS)
def test_zero_at_identity(func, kwargs):
    student = outputs(1, layers=2)
    # identical outputs on mapped layers: student layer j == teacher layer layer_map[j]
    teacher = ModelOutputs(
        (student.hidden_states[0], student.hidden_states[1], torch.zeros(B, S, H), student.hidden_states[2]),
        (student.attentions[0], torch.zeros(B, HEADS, S, S), student.attentions[1]),
        student.logits,
    )
    value = func(student, teacher, mask=token_mask(), **kwargs)
    torch.testing.assert_close(value, torch.tensor(0.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("func,kwargs", COMPARISONS)
def test_positive_when_different(func, kwargs):
    value = func(outputs(1, layers=2), outputs(2), mask=token_mask(), **kwargs)
    assert value.item() > 1e-3


@pytest.mark.parametrize("func,kwargs", COMPARISONS + [(losses.masked_lm, {})])
def test_respects_mask(func, kwargs):
    mask = token_mask()
    student, teacher = outputs(1, layers=2), outputs(2)
    if func is losses.masked_lm:
        kwargs = {"labels": torch.randint(V, (B, S), generator=torch.Generator().manual_seed(0))}
    before = func(student, teacher, mask=mask, **kwargs)
    after = func(perturb_outside(student, mask), perturb_outside(teacher, mask), mask=mask, **kwargs)
    torch.testing.assert_close(before, after, atol=1e-6, rtol=1e-6)
    assert torch.isfinite(before)


def test_denominator_scales_a_global_mean():
    mask = token_mask()
    s, t = outputs(1, layers=2), outputs(2)
    local = losses.hidden_cosine(s, t, mask=mask)
    torch.testing.assert_close(losses.hidden_cosine(s, t, mask=mask, denominator=2 * int(mask.sum())), local / 2)


def test_soft_target_kl_scaled_by_t_squared():
    mask = token_mask()
    s, t = outputs(1, layers=2), outputs(2)
    manual = (
        torch.nn.functional.kl_div(
            torch.log_softmax(s.logits[mask] / 3.0, -1), torch.softmax(t.logits[mask] / 3.0, -1), reduction="batchmean"
        )
        * 9.0
    )
    torch.testing.assert_close(losses.soft_target_kl(s, t, mask=mask, temperature=3.0), manual, atol=1e-5, rtol=1e-5)


def test_masked_lm_is_cross_entropy_on_masked_positions():
    mask = torch.zeros(B, S, dtype=torch.bool)
    mask[0, 1] = mask[1, 3] = True
    s = outputs(1)
    labels = torch.randint(V, (B, S), generator=torch.Generator().manual_seed(3))
    expected = torch.nn.functional.cross_entropy(s.logits[mask], labels[mask])
    torch.testing.assert_close(losses.masked_lm(s, None, mask=mask, labels=labels), expected)


def test_projection_and_head_averaging():
    mask = token_mask()
    narrow = outputs(1, layers=2, width=4, heads=1)
    wide = outputs(2, width=H)
    projections = {i: torch.nn.Linear(4, H) for i in range(3)}
    assert losses.hidden_mse(narrow, wide, mask=mask, layer_map=[0, 2], projections=projections).item() > 0
    assert losses.hidden_cosine(narrow, wide, mask=mask, projections=projections).item() > 0
    # different head counts: compared after averaging heads
    assert losses.attention_kl(narrow, wide, mask=mask, layer_map=[0, 2]).item() >= 0


def test_registered_with_requirements():
    for name in ("MaskedLM", "SoftTargetKL", "HiddenCosine", "HiddenMSE", "AttentionKL", "AttentionMSE"):
        func = distill_losses.get(f"spacy-clintiny.{name}.v1")
        assert func.mask_kind in ("masked", "tokens")
        assert isinstance(func.requires, tuple)
