import torch

from spacy_clintiny.distill.mlm import load_mlm_model, mask_tokens, masking_generator, set_attention_dropout


def batch(n=64, seq=40):
    ids = torch.randint(10, 100, (n, seq), generator=torch.Generator().manual_seed(0))
    special = torch.zeros(n, seq, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    # words of 1-3 pieces
    word_start = torch.zeros(n, seq, dtype=torch.bool)
    word_start[:, ::3] = True
    word_start[:, 1::3] = torch.rand(n, (seq + 1) // 3, generator=torch.Generator().manual_seed(1)) < 0.5
    return ids, special, word_start


def test_masking_rate_specials_and_replacements():
    ids, special, word_start = batch()
    corrupted, chosen = mask_tokens(
        ids,
        special=special,
        word_start=word_start,
        mask_token_id=4,
        vocab_size=100,
        generator=masking_generator(0, 0),
        mlm_probability=0.15,
    )
    assert not chosen[special].any()
    rate = chosen.float().sum() / (~special).sum()
    assert 0.12 < rate < 0.18
    assert (corrupted[~chosen] == ids[~chosen]).all()
    share_mask = (corrupted[chosen] == 4).float().mean()
    assert 0.7 < share_mask < 0.9


def test_masking_is_a_function_of_seed_and_step():
    ids, special, word_start = batch()
    kw = dict(special=special, word_start=word_start, mask_token_id=4, vocab_size=100)
    a = mask_tokens(ids, generator=masking_generator(3, 7), **kw)
    b = mask_tokens(ids, generator=masking_generator(3, 7), **kw)
    c = mask_tokens(ids, generator=masking_generator(3, 8), **kw)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_whole_word_masking_masks_every_piece_of_a_word():
    ids, special, word_start = batch()
    _, chosen = mask_tokens(
        ids,
        special=special,
        word_start=word_start,
        mask_token_id=4,
        vocab_size=100,
        generator=masking_generator(0, 1),
        whole_word=True,
    )
    assert chosen.any()
    # a continuation piece is chosen exactly when the piece before it (same word) is
    cont = ~word_start & ~special
    cont[:, 0] = False
    prev = torch.roll(chosen, 1, dims=1)
    inner = cont & ~torch.roll(special, 1, dims=1)
    assert torch.equal(chosen[inner], prev[inner])


def test_model_without_head_gets_a_tied_head(tiny_encoder, tiny_mlm_encoder):
    model, had_head = load_mlm_model(str(tiny_encoder))
    assert not had_head
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    _, had_head = load_mlm_model(str(tiny_mlm_encoder))
    assert had_head


def test_attention_dropout_switch(tiny_mlm_encoder):
    model, _ = load_mlm_model(str(tiny_mlm_encoder), attn_implementation="eager")
    set_attention_dropout(model, 0.0)
    model.train()
    ids = torch.randint(5, 50, (2, 9))
    torch.manual_seed(0)
    a = model(ids, output_attentions=True).attentions[0]
    # with dropout 0 the returned attention rows are distributions even in train mode
    torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)), atol=1e-5, rtol=0)
