"""``spacy-clintiny.Adam.v1``: the encoder's weights learn at their own rate, the heads at theirs,
through one optimizer that spaCy's training loop steps as usual."""

import numpy
import pytest
from spacy.tokens import Span
from spacy.training import Example
from spacy.util import registry
from thinc.api import Adam, Config

from helpers import phi_head_pipeline
from spacy_clintiny.training.optimizer import GroupedOptimizer, param_group

OPTIMIZER_CFG = """
[optimizer]
@optimizers = "spacy-clintiny.Adam.v1"
grad_clip = 0.0
L2 = 0.0

[optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 2
total_steps = 10
initial_rate = 1e-2

[optimizer.encoder_learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 2
total_steps = 10
initial_rate = 1e-4
"""


def first_adam_step(optimizer, key):
    weights = numpy.zeros((4,), dtype="f")
    gradient = numpy.asarray([1.0, -2.0, 0.5, 3.0], dtype="f")
    new, _ = optimizer(key, weights.copy(), gradient.copy())
    return numpy.abs(new).max()


def test_group_rate_and_schedule_come_from_the_config():
    optimizer = registry.resolve(Config().from_str(OPTIMIZER_CFG))["optimizer"]
    assert isinstance(optimizer, GroupedOptimizer)
    # warmup_linear starts at 0 and climbs over 2 steps; both schedules step together
    assert optimizer.learn_rate == 0.0
    assert optimizer.group_rates["encoder"] == 0.0
    optimizer.step_schedules()
    assert optimizer.learn_rate == pytest.approx(1e-2 / 2)
    assert optimizer.group_rates["encoder"] == pytest.approx(1e-4 / 2)
    optimizer.step_schedules()
    assert optimizer.learn_rate == pytest.approx(1e-2)
    assert optimizer.group_rates["encoder"] == pytest.approx(1e-4)
    # Adam's first step moves each weight by about the learning rate: 100x apart here
    head_step = first_adam_step(optimizer, (1, "W"))
    encoder_step = first_adam_step(param_group(optimizer, "encoder"), (2, "W"))
    assert head_step == pytest.approx(1e-2, rel=1e-3)
    assert encoder_step == pytest.approx(1e-4, rel=1e-3)
    # the group's update leaves the heads' rate as it was
    assert optimizer.learn_rate == pytest.approx(1e-2)


def test_without_a_group_rate_the_optimizer_is_used_as_it_is():
    plain = Adam(1e-3)
    assert param_group(plain, "encoder") is plain
    grouped = registry.resolve({"o": {"@optimizers": "spacy-clintiny.Adam.v1", "learn_rate": 1e-3}})["o"]
    assert param_group(grouped, "encoder") is grouped


def test_a_bad_group_rate_names_the_group():
    with pytest.raises(ValueError, match="E006.*'encoder'"):
        GroupedOptimizer(1e-3, group_learn_rates={"encoder": "fast"})


def _head_weights(nlp):
    model = nlp.get_pipe("ner_phi").model
    return numpy.concatenate(
        [
            node.get_param(name).ravel().copy()
            for node in model.walk()
            for name in node.param_names
            if node.has_param(name)
        ]
    )


def _encoder_weights(nlp):
    transformer = nlp.get_pipe("clintiny_encoder").model.transformer
    return numpy.concatenate([p.detach().numpy().ravel().copy() for p in transformer.parameters()])


@pytest.mark.parametrize("encoder_rate", [0.0, 1e-3])
def test_the_encoder_learns_at_its_group_rate_in_nlp_update(tiny_encoder, encoder_rate):
    head = {"@architectures": "spacy-clintiny.TokenClassifier.v2", "width": 32, "surface_width": 16, "depth": 1}
    nlp = phi_head_pipeline(tiny_encoder, head)
    examples = []
    for text, (start, end) in [
        ("Seen by Dr Quimbleton on Monday .", (3, 5)),
        ("Called Mr Okonkwo at home .", (1, 3)),
    ]:
        ref = nlp.make_doc(text)
        ref.spans["phi"] = [Span(ref, start, end, label="NAME")]
        examples.append(Example(nlp.make_doc(text), ref))
    nlp.initialize(lambda: examples)
    optimizer = GroupedOptimizer(1e-3, group_learn_rates={"encoder": encoder_rate})
    encoder_start, head_start = _encoder_weights(nlp), _head_weights(nlp)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    encoder_moved = numpy.abs(_encoder_weights(nlp) - encoder_start).max()
    head_moved = numpy.abs(_head_weights(nlp) - head_start).max()
    assert head_moved > 1e-4
    if encoder_rate == 0.0:
        assert encoder_moved == 0.0
    else:
        # Adam moves a weight by at most about its rate per step: 3 steps of 1e-3
        assert 1e-4 < encoder_moved < 3.5e-3
