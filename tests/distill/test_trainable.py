import torch

from spacy_clintiny.distill.mlm import load_mlm_model
from spacy_clintiny.distill.trainable import lr_lambda, run_model


def test_masked_logits_equal_full_logits_at_the_mask(tiny_mlm_encoder):
    model, _ = load_mlm_model(str(tiny_mlm_encoder))
    model.eval()
    ids = torch.randint(5, 60, (3, 12), generator=torch.Generator().manual_seed(0))
    attention = torch.ones_like(ids)
    positions = torch.rand(3, 12, generator=torch.Generator().manual_seed(1)) < 0.3
    full = run_model(model, ids, attention, logits=True, hidden=False, attentions=False)
    part = run_model(model, ids, attention, logits=True, hidden=True, attentions=False, positions=positions)
    assert full.masked_logits is None and part.logits is None
    torch.testing.assert_close(part.masked_logits, full.logits[positions], rtol=1e-5, atol=1e-5)
    assert len(part.hidden_states) == model.config.num_hidden_layers + 1


def test_schedules():
    linear = lr_lambda("linear", warmup=2, total=10)
    assert [round(linear(s), 3) for s in (0, 1, 2, 9, 10)] == [0.5, 1.0, 1.0, 0.125, 0.0]
    delayed = lr_lambda("constant", warmup=0, total=10, delay=3)
    assert [delayed(s) for s in (0, 2, 3, 9)] == [0.0, 0.0, 1.0, 1.0]
