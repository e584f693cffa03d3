"""ONNX Runtime int8 with some of the encoder's MatMuls kept in fp32: how much of int8's loss they carry.

    python bench/int8_partial.py build/en_clintiny_sm-fp32 corpus/ade/dev.spacy --variants all,l1_ffn,l1_out \
        --out-dir build/int8-partial

For each variant it quantizes the fp32 pipeline's encoder as `clintiny optimize --onnx --int8` does (dynamic int8,
per-channel weights), except the MatMul nodes the variant names, and scores it against fp32 on the given dev DocBins
with `optimize`'s own check (`choose_runtime`, bound `--max-loss`). It prints the worst task's F1 loss and writes
what the check chose to ``--out-dir/<variant>`` (the int8 pipeline when it passes: time it with
bench/pipeline_speed.py). The variants name nodes of a 2-layer BERT encoder's ONNX graph
(``/model/encoder/layer.1/...``). Texts are never printed.
"""

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Dict, List

LAST = "/model/encoder/layer.1"
VARIANTS: Dict[str, List[str]] = {
    "all": [],
    "l1_ffn": [f"{LAST}/intermediate/dense/MatMul", f"{LAST}/output/dense/MatMul"],
    "l1_out": [f"{LAST}/output/dense/MatMul"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", type=Path, help="the fp32 pipeline (build/en_clintiny_sm-fp32)")
    parser.add_argument("dev", type=Path, nargs="+", help="dev DocBins, each in a folder named after its corpus")
    parser.add_argument("--variants", default="all,l1_ffn,l1_out")
    parser.add_argument("--max-loss", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out-dir", type=Path, default=Path("build/int8-partial"))
    args = parser.parse_args()

    import torch

    import spacy_clintiny.optimize.backends as backends
    from spacy_clintiny.evaluation import read_eval_sets
    from spacy_clintiny.optimize.backends import quantize_onnx_int8 as quantize
    from spacy_clintiny.optimize.choose import choose_runtime

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.dev:  # read_eval_sets reads <folder>/<corpus>/dev.spacy
            (Path(tmp) / path.parent.name).mkdir()
            (Path(tmp) / path.parent.name / "dev.spacy").symlink_to(path.resolve())
        dev_sets = read_eval_sets(Path(tmp), phi_docs=None, limit=0)
    print(f"{'variant':<8} {'fp32 MatMuls':>12} {'worst loss':>10} {'on':<16} {'within':>6} {'s':>5}")
    for name in args.variants.split(","):
        backends.quantize_onnx_int8 = partial(quantize, nodes_to_exclude=VARIANTS[name])
        start = time.perf_counter()
        decision = choose_runtime(
            args.pipeline, args.out_dir / name, dev_sets, candidates=["onnx-int8"], max_loss=args.max_loss, force=True
        )
        loss = decision["candidates"]["onnx-int8"]["loss"]
        task, worst = max(loss.items(), key=lambda item: item[1])
        print(
            f"{name:<8} {len(VARIANTS[name]):>12} {worst:>10.2f} {task:<16} "
            f"{'yes' if decision['chosen'] == 'onnx-int8' else 'no':>6} {time.perf_counter() - start:>5.0f}"
        )


if __name__ == "__main__":
    main()
