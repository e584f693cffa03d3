"""Optimized encoder paths (``spacy-clintiny.Encoder.v2``, ``clintiny optimize``): length-sorted
encoding, torch int8 and ONNX Runtime runtimes that save, load in a fresh process and agree
with fp32, and clear errors."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Span
from spacy.training import Example
from typer.testing import CliRunner

from helpers import add_tiny_encoder
from spacy_clintiny.architectures.encoder import length_groups
from spacy_clintiny.optimize.pipeline import optimize_pipeline

pytest.importorskip("onnxruntime")

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
TEXTS = [
    "John Smith was seen at Boston clinic on 3/14.",
    "Mary Jones reports chest pain and fever. " * 12,
    "No.",
    "Dr Jones started aspirin 81 mg daily for chest pain; denies nausea, vomiting or rash. " * 3,
]
VARIANTS = {"int8": {"int8": True}, "onnx": {"onnx": True}, "onnx-int8": {"onnx": True, "int8": True}}
V2 = {"components.clintiny_encoder.model.@architectures": "spacy-clintiny.Encoder.v2"}


def examples(nlp):
    out = []
    for text in TEXTS:
        ref = nlp.make_doc(text)
        ref.spans["phi"] = [Span(ref, 0, min(2, len(ref)), label="NAME")]
        out.append(Example(nlp.make_doc(text), ref))
    return out


@pytest.fixture(scope="module")
def fp32_pipeline(tiny_encoder, tmp_path_factory):
    """A tiny encoder + PHI head pipeline, trained a few steps and saved."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder, window=16, stride=12, transformer_config=NO_DROPOUT)
    nlp.add_pipe("clintiny_ner", config={"spans_key": "phi"})
    egs = examples(nlp)
    optimizer = nlp.initialize(lambda: egs)
    for _ in range(20):
        nlp.update(egs, sgd=optimizer)
    path = tmp_path_factory.mktemp("optimize") / "fp32"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def optimized(fp32_pipeline):
    """The three optimized folders written by optimize_pipeline."""
    paths = {}
    for name, flags in VARIANTS.items():
        paths[name] = fp32_pipeline.parent / name
        optimize_pipeline(fp32_pipeline, paths[name], **flags)
    return paths


OUTPUTS_SCRIPT = """
import json, sys, numpy, spacy
texts = json.loads(sys.argv[2])
out = {}
for path in sys.argv[1].split(","):
    nlp = spacy.load(path)
    docs = list(nlp.pipe(texts, batch_size=len(texts)))
    ner = nlp.get_pipe("clintiny_ner")
    out[path] = {
        "hidden": [doc._.trf_data.model_output.last_hidden_state[
            numpy.asarray(doc._.trf_data.wordpieces.attention_mask, dtype=bool)].tolist() for doc in docs],
        "tags": [numpy.asarray(p).argmax(axis=1).tolist() for p in ner.predict(docs)],
        "model_files": sorted(p.name for p in (nlp.path / "clintiny_encoder").iterdir()),
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def fresh_outputs(fp32_pipeline, optimized):
    """Encoder outputs and head tags of fp32 and the optimized folders, loaded in a fresh process."""
    paths = [str(fp32_pipeline)] + [str(optimized[name]) for name in VARIANTS]
    result = subprocess.run(
        [sys.executable, "-c", OUTPUTS_SCRIPT, ",".join(paths), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: data[str(path)] for name, path in [("fp32", fp32_pipeline)] + list(optimized.items())}


def flat(values):
    return numpy.concatenate([numpy.asarray(v, dtype="float32").ravel() for v in values])


def test_length_groups_sort_and_respect_the_budget():
    lengths = numpy.asarray([5, 100, 6, 50])
    groups = length_groups(lengths, budget=120)
    assert [g.tolist() for g in groups] == [[0, 2], [3], [1]]
    # a group stops where padding would exceed a tenth of it
    assert [g.tolist() for g in length_groups(numpy.asarray([10, 20, 10, 10]), budget=4096)] == [[0, 2, 3], [1]]
    # a window longer than the budget still gets encoded, alone
    assert [g.tolist() for g in length_groups(numpy.asarray([300, 2]), budget=100)] == [[1], [0]]


def test_v2_torch_fp32_gives_v1_outputs_with_less_padding(fp32_pipeline):
    v1 = spacy.load(fp32_pipeline)
    v2 = spacy.load(fp32_pipeline, config=V2)
    padded = {"v1": [], "v2": []}
    outputs = {}
    for name, nlp in (("v1", v1), ("v2", v2)):
        hf_model = nlp.get_pipe("clintiny_encoder").model.transformer
        handle = hf_model.register_forward_hook(
            lambda module, args, kwargs, out, sink=padded[name]: sink.append(kwargs["input_ids"].numel()),
            with_kwargs=True,
        )
        outputs[name] = list(nlp.pipe(TEXTS, batch_size=len(TEXTS)))
        handle.remove()
    docs, reference = outputs["v2"], outputs["v1"]
    for doc, ref in zip(docs, reference):
        mask = numpy.asarray(doc._.trf_data.wordpieces.attention_mask, dtype=bool)
        got = doc._.trf_data.model_output.last_hidden_state[mask]
        want = ref._.trf_data.model_output.last_hidden_state[mask]
        torch.testing.assert_close(torch.as_tensor(got), torch.as_tensor(want), rtol=1e-5, atol=1e-5)
        assert [s.text for s in doc.spans["phi"]] == [s.text for s in ref.spans["phi"]]
    n_real = sum(int(numpy.asarray(d._.trf_data.wordpieces.attention_mask).sum()) for d in docs)
    assert n_real <= sum(padded["v2"]) < sum(padded["v1"])


def test_onnx_fp32_matches_torch_in_a_fresh_process(fresh_outputs):
    ref, got = fresh_outputs["fp32"], fresh_outputs["onnx"]
    for a, b in zip(ref["hidden"], got["hidden"]):
        assert numpy.abs(numpy.asarray(a) - numpy.asarray(b)).max() < 1e-4
    assert got["tags"] == ref["tags"]


@pytest.mark.parametrize("name", ["int8", "onnx-int8"])
def test_int8_stays_close_to_fp32_in_a_fresh_process(fresh_outputs, name):
    ref, got = fresh_outputs["fp32"], fresh_outputs[name]
    a, b = flat(ref["hidden"]), flat(got["hidden"])
    assert numpy.corrcoef(a, b)[0, 1] > 0.99
    assert 0 < numpy.abs(a - b).max()  # it is really quantized
    tags_ref = numpy.concatenate([numpy.asarray(t) for t in ref["tags"]])
    tags_got = numpy.concatenate([numpy.asarray(t) for t in got["tags"]])
    assert (tags_ref == tags_got).mean() >= 0.9


@pytest.mark.parametrize("name", ["int8", "onnx-int8"])
def test_a_quantized_encoder_gives_a_note_the_same_output_alone_and_in_any_batch(optimized, name):
    # dynamic int8 scales activations per call, over every window in it: each window goes alone
    nlp = spacy.load(optimized[name])
    batched = list(nlp.pipe(TEXTS, batch_size=len(TEXTS)))
    for text, doc in zip(TEXTS, batched):
        alone = nlp(text)
        got = alone._.trf_data.model_output.last_hidden_state
        want = doc._.trf_data.model_output.last_hidden_state
        mask = numpy.asarray(alone._.trf_data.wordpieces.attention_mask, dtype=bool)
        width = mask.shape[1]
        assert numpy.array_equal(numpy.asarray(got)[mask], numpy.asarray(want)[:, :width][mask]), text[:20]


PIPE_AFTER_CALL = """
import sys, spacy
nlp = spacy.load(sys.argv[1])
texts = ["John Smith was seen at Boston clinic on 3/14.", "No."] * 10
nlp(texts[0])  # the parent makes its ONNX session first
print(len(list(nlp.pipe(texts, batch_size=4, n_process=2))))
"""


def test_n_process_after_the_parent_ran_an_onnx_pipeline_does_not_hang(optimized):
    # freeing the session a worker inherited joined the parent's threads: the worker waited forever
    result = subprocess.run(
        [sys.executable, "-c", PIPE_AFTER_CALL, str(optimized["onnx-int8"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "20", result.stderr[-2000:]


def test_onnx_folder_holds_the_onnx_model_and_no_torch_weights(fp32_pipeline, optimized):
    size = {name: (path / "clintiny_encoder" / "model").stat().st_size for name, path in optimized.items()}
    fp32_size = (fp32_pipeline / "clintiny_encoder" / "model").stat().st_size
    assert size["int8"] == pytest.approx(fp32_size, rel=0.01)  # fp32 weights, quantized at load
    assert size["onnx-int8"] < 0.8 * size["onnx"]
    meta = json.loads((optimized["onnx"] / "meta.json").read_text())
    assert any(req.startswith("onnxruntime") for req in meta["requirements"])
    assert "onnxruntime" not in (fp32_pipeline / "meta.json").read_text()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_training_an_optimized_encoder_is_refused(optimized, name):
    nlp = spacy.load(optimized[name])
    with pytest.raises(ValueError, match="E823"):
        nlp.update(examples(nlp))


def test_deid_int8_quantizes_an_onnx_pipeline_in_memory_as_optimize_would(fp32_pipeline, optimized):
    """``load_deid_pipeline(int8=True)`` (``clintiny deid --int8``) turns a loaded ONNX fp32
    encoder into the same int8 runtime that ``clintiny optimize --onnx --int8`` writes, without
    touching the folder; a pipeline without an ``Encoder.v2`` encoder is a clear error."""
    from spacy_clintiny.deid.engine import load_deid_pipeline, quantize_encoders

    model_file = optimized["onnx"] / "clintiny_encoder" / "model"
    before = model_file.read_bytes()
    nlp = load_deid_pipeline(str(optimized["onnx"]), int8=True)
    want = spacy.load(optimized["onnx-int8"])
    shim = nlp.get_pipe("clintiny_encoder").model.layers[0].shims[0]
    assert shim.quantize == "int8"
    assert quantize_encoders(nlp, "again") == []  # already int8: left as is
    for got, ref in zip(nlp.pipe(TEXTS), want.pipe(TEXTS)):
        numpy.testing.assert_allclose(
            got._.trf_data.model_output.last_hidden_state, ref._.trf_data.model_output.last_hidden_state, atol=1e-5
        )
    assert model_file.read_bytes() == before
    with pytest.raises(ValueError, match="E896"):  # Encoder.v1: spacy-transformers' own shim
        load_deid_pipeline(str(fp32_pipeline), int8=True)
    with pytest.raises(ValueError, match="E896"):
        load_deid_pipeline("rules", int8=True)


def test_config_route_onnx_int8_round_trips(tiny_encoder, tmp_path):
    nlp = spacy.blank("en")
    add_tiny_encoder(
        nlp, tiny_encoder, **{"@architectures": "spacy-clintiny.Encoder.v2", "backend": "onnx", "quantize": "int8"}
    )
    nlp.initialize()
    before = nlp("no chest pain")._.trf_data.model_output.last_hidden_state
    nlp.to_disk(tmp_path / "pipe")
    after = spacy.load(tmp_path / "pipe")("no chest pain")._.trf_data.model_output.last_hidden_state
    numpy.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="E824"):  # an ONNX folder read as a torch encoder
        spacy.load(tmp_path / "pipe", config={"components.clintiny_encoder.model.backend": "torch"})


def test_unknown_backend_or_quantize_is_a_clear_error(tiny_encoder):
    for config, code in (({"backend": "tensorrt"}, "E820"), ({"quantize": "int4"}, "E821")):
        nlp = spacy.blank("en")
        with pytest.raises(ValueError, match=code):
            add_tiny_encoder(nlp, tiny_encoder, **{"@architectures": "spacy-clintiny.Encoder.v2", **config})


def test_optimize_bad_arguments(fp32_pipeline, optimized, tmp_path):
    with pytest.raises(ValueError, match="E825"):
        optimize_pipeline(tmp_path / "missing", tmp_path / "out", int8=True)
    with pytest.raises(ValueError, match="E826"):
        optimize_pipeline(fp32_pipeline, fp32_pipeline / "inside", int8=True)
    with pytest.raises(ValueError, match="E826"):
        optimize_pipeline(fp32_pipeline, fp32_pipeline, onnx=True)
    with pytest.raises(ValueError, match="E828"):
        optimize_pipeline(fp32_pipeline, tmp_path / "out")
    with pytest.raises(ValueError, match="E829"):
        optimize_pipeline(fp32_pipeline, optimized["int8"], int8=True)
    with pytest.raises(ValueError, match="E830"):
        optimize_pipeline(optimized["onnx"], tmp_path / "out", int8=True)
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    with pytest.raises(ValueError, match="E827"):
        optimize_pipeline(blank, tmp_path / "out", int8=True)
    assert not (tmp_path / "out").exists()


def test_optimize_cli_reports_errors_and_writes(fp32_pipeline, tmp_path):
    from spacy_clintiny.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["optimize", str(tmp_path / "missing"), str(tmp_path / "out"), "--int8"])
    assert result.exit_code == 1 and "E825" in result.output
    result = runner.invoke(app, ["optimize", str(fp32_pipeline), str(tmp_path / "out"), "--int8"])
    assert result.exit_code == 0, result.output
    assert spacy.load(tmp_path / "out").get_pipe("clintiny_encoder").model.layers[0].shims[0].quantize == "int8"


@pytest.fixture(scope="module")
def dev_corpus(fp32_pipeline):
    """A corpus folder with one dev set (``synth/dev.spacy``) of gold PHI docs."""
    from spacy.tokens import DocBin

    folder = fp32_pipeline.parent / "corpus"
    (folder / "synth").mkdir(parents=True)
    DocBin(docs=[eg.reference for eg in examples(spacy.blank("en"))], store_user_data=True).to_disk(
        folder / "synth" / "dev.spacy"
    )
    return folder


def test_choose_writes_the_first_candidate_within_the_bound_and_reports_it(fp32_pipeline, dev_corpus, tmp_path):
    from spacy_clintiny.cli import app
    from spacy_clintiny.evaluation.scores import encoder_size
    from spacy_clintiny.optimize.pipeline import describe

    report = tmp_path / "runtime.json"
    args = ["optimize", str(fp32_pipeline), str(tmp_path / "out"), "--choose", str(dev_corpus)]
    result = CliRunner().invoke(app, args + ["--max-loss", "0", "--report", str(report), "--threads", "1"])
    assert result.exit_code == 0, result.output
    decision = json.loads(report.read_text())
    assert decision["phi_docs"] is None  # no real notes given: the report names none
    assert set(decision["fp32"]["figures"]) == {"phi", "phi@synth"}
    tried = list(decision["candidates"])
    assert tried[0] == "onnx-int8"
    first_within = next((name for name in tried if decision["candidates"][name]["within_bound"]), "fp32")
    assert decision["chosen"] == first_within
    for entry in decision["candidates"].values():
        assert entry["within_bound"] == (entry["worst_loss"] <= 0)
        assert entry["worst_loss"] == max(entry["loss"].values())
    # ONNX fp32 gives the fp32 scores, so with a bound of 0 one of the two is always chosen
    assert decision["chosen"] in ("onnx-int8", "onnx")
    expected = {"onnx-int8": "onnx int8", "onnx": "onnx fp32"}[decision["chosen"]]
    assert describe(tmp_path / "out") == expected
    chosen = spacy.load(tmp_path / "out")
    assert chosen("John Smith was seen.").spans["phi"] is not None
    # an ONNX encoder counts its graph's weights: fp32's parameters less the unused pooler
    fp32 = spacy.load(fp32_pipeline)
    hidden = fp32.get_pipe("clintiny_encoder").model.transformer.config.hidden_size
    assert encoder_size(chosen)["params"] == encoder_size(fp32)["params"] - hidden * hidden - hidden
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging folder left


def test_choose_scores_at_most_phi_limit_real_notes(fp32_pipeline, dev_corpus, tmp_path):
    from spacy.tokens import DocBin

    from spacy_clintiny.cli import app

    notes = [eg.reference for eg in examples(spacy.blank("en"))]
    assert len(notes) > 2
    phi_docs = tmp_path / "notes.spacy"
    DocBin(docs=notes, store_user_data=True).to_disk(phi_docs)
    report = tmp_path / "runtime.json"
    args = ["optimize", str(fp32_pipeline), str(tmp_path / "out"), "--choose", str(dev_corpus)]
    args += ["--candidates", "onnx", "--phi-docs", str(phi_docs), "--phi-limit", "2", "--report", str(report)]
    result = CliRunner().invoke(app, args + ["--threads", "1"])
    assert result.exit_code == 0, result.output
    decision = json.loads(report.read_text())
    assert decision["phi_docs"] == str(phi_docs)
    assert decision["phi_notes"] == 2
    assert "phi@physionet" in decision["fp32"]["figures"]


def test_choose_keeps_fp32_when_every_candidate_loses_too_much(fp32_pipeline, dev_corpus, tmp_path, monkeypatch):
    import spacy_clintiny.evaluation as evaluation
    from spacy_clintiny.optimize.choose import choose_runtime
    from spacy_clintiny.optimize.pipeline import describe

    real = evaluation.score_pipeline

    def worse_unless_fp32(nlp, dev_sets, **kwargs):
        scores = real(nlp, dev_sets, **kwargs)
        if describe(nlp.path) != "torch fp32":
            scores["tasks"]["phi"]["main"] = scores["tasks"]["phi"]["main"] - 0.02  # 2 F1 points lost
        return scores

    monkeypatch.setattr(evaluation, "score_pipeline", worse_unless_fp32)
    dev_sets = evaluation.read_eval_sets(dev_corpus)
    decision = choose_runtime(fp32_pipeline, tmp_path / "out", dev_sets, candidates=["onnx", "int8"], max_loss=1.0)
    assert decision["chosen"] == "fp32"
    assert [entry["within_bound"] for entry in decision["candidates"].values()] == [False, False]
    assert decision["candidates"]["onnx"]["worst_task"] == "phi"
    assert decision["candidates"]["onnx"]["worst_loss"] == pytest.approx(2.0)
    assert describe(tmp_path / "out") == "torch fp32"


def test_choose_records_the_phi_bound_and_deid_follows_it(fp32_pipeline, dev_corpus, tmp_path, monkeypatch):
    """Another task keeps the package off int8, PHI does not: the package's meta.json records
    that int8 is within the bound on PHI, and ``load_deid_pipeline`` then runs int8 by default
    (``clintiny deid``), fp32 when told ``int8=False``, and never for the rules alone."""
    import spacy_clintiny.evaluation as evaluation
    from spacy_clintiny.deid.engine import load_deid_pipeline, resolve_int8
    from spacy_clintiny.optimize.choose import META_KEY, choose_runtime
    from spacy_clintiny.optimize.pipeline import describe

    real = evaluation.score_pipeline

    def int8_loses_relations(nlp, dev_sets, **kwargs):
        scores = real(nlp, dev_sets, **kwargs)
        lost = 2.0 if describe(nlp.path) == "onnx int8" else 0.0  # 200 F1 points on a second task
        scores["tasks"]["rel"] = {"main": 0.5 - lost}
        return scores

    monkeypatch.setattr(evaluation, "score_pipeline", int8_loses_relations)
    dev_sets = evaluation.read_eval_sets(dev_corpus)
    out = tmp_path / "out"
    # a bound every PHI figure passes (at most 100 F1 points can be lost) and the relations' 200 do not
    decision = choose_runtime(fp32_pipeline, out, dev_sets, candidates=["onnx-int8", "onnx"], max_loss=100.0)
    assert decision["chosen"] == "onnx" and decision["candidates"]["onnx-int8"]["worst_task"] == "rel"
    record = json.loads((out / "meta.json").read_text())[META_KEY]
    assert record == {
        "chosen": "onnx",
        "max_loss": 100.0,
        "within_bound": {"all": ["onnx"], "phi": ["onnx-int8", "onnx"]},
    }
    shim = lambda nlp: nlp.get_pipe("clintiny_encoder").model.layers[0].shims[0]  # noqa: E731
    assert resolve_int8(str(out), None) is True
    assert shim(load_deid_pipeline(str(out))).quantize == "int8"
    assert shim(load_deid_pipeline(str(out), int8=False)).quantize is None
    assert resolve_int8("rules", None) is False and resolve_int8(str(out), True) is True
    # a package the check kept at torch fp32 (or never checked) is left alone
    (out / "meta.json").write_text(json.dumps({**json.loads((out / "meta.json").read_text()), META_KEY: None}))
    assert resolve_int8(str(out), None) is False and resolve_int8(str(fp32_pipeline), None) is False
    (out / "meta.json").unlink()  # a folder without meta.json: nothing recorded, fp32
    assert resolve_int8(str(out), None) is False


def test_choose_bad_arguments_are_clear_errors(fp32_pipeline, dev_corpus, tmp_path):
    from spacy_clintiny.cli import app

    runner = CliRunner()
    base = ["optimize", str(fp32_pipeline), str(tmp_path / "out")]
    cases = [
        (["--choose", str(dev_corpus), "--candidates", "onnx,gpu"], "E832"),
        (["--choose", str(dev_corpus), "--int8"], "E833"),
        (["--choose", str(dev_corpus), "--max-loss", "-1"], "E834"),
        (["--choose", str(tmp_path)], "E835"),
    ]
    for extra, code in cases:
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 1 and code in result.output, (extra, result.output)
    assert not (tmp_path / "out").exists()
