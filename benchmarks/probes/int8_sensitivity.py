"""Where a QAT model loses accuracy to INT8: its fake-quantizers switched off group by group.

A QAT checkpoint's graph carries one fake-quantizer per quantized tensor. This probe evaluates the model on held-out
training faces (the split of ``--val-fraction F --seed S``: give the checkpoint trained on that split) with every
quantizer on, then with one group at a time in float: every weight, the ReLU6 outputs, the linear-bottleneck
(projection) outputs, the residual Add outputs, the heads' outputs, the input, and all of them together. The float
checkpoint given with ``--float`` is the reference row. Each row decodes with the checkpoint's own stored point bias.
Never give it the test set: it is a diagnosis, not a figure to publish. (Groups:
``pipnet_edge.quantization.ranges.quantizer_groups``.)

    python -m benchmarks.probes.int8_sensitivity runs/s10/r4-D/qat.safetensors --float runs/s10/nf/final.safetensors \\
        --data ../shared/data/300w/train --val-fraction 0.1 --seed 0     # -> benchmarks/results/probes/int8_sensitivity.json
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from benchmarks.envelope import (
    command_line,
    make_envelope,
    markdown_table,
    model_hashes,
    portable,
    result_path,
    utc_now,
    write_result,
)


def render_markdown(envelope: dict) -> str:
    """The table of an int8_sensitivity result: held-out NME with each group of fake-quantizers switched off."""
    res = envelope["results"]
    return "\n".join([f"QAT model `{res['qat']}` (float: `{res['float']}`) on {res['val_faces']} held-out training faces:", ""]
                     + markdown_table(res["rows"], [("row", "row", ""), ("quantizers off", "quantizers_off", ""),
                                                    ("val NME %", "val_nme", ".4f")])) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.int8_sensitivity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("qat", help="split-trained QAT .safetensors checkpoint")
    p.add_argument("--float", dest="float_model", help="its float model, for the reference row")
    p.add_argument("--data", required=True, help="the labelled faces the model was trained on (with the split)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(result_path("probes.int8_sensitivity")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.evaluation import predict_faces
    from pipnet_edge.evaluation.predictors import torch_predictor
    from pipnet_edge.metrics import summarize
    from pipnet_edge.quantization import QATModel
    from pipnet_edge.quantization.ranges import QUANTIZER_GROUPS, quantizer_groups
    from pipnet_edge.training.trainer import split_validation

    _, val = split_validation(list(load_faces(args.data)), args.val_fraction, args.seed)

    def nme(model) -> float:
        pred = predict_faces(torch_predictor(model, "probe"), val)
        return round(summarize(pred.points, pred.truth, model.spec.scheme).nme, 4)

    rows = []
    if args.float_model:
        from pipnet_edge.models.checkpoint import load_model

        rows.append({"row": "float model", "quantizers_off": None, "val_nme": nme(load_model(args.float_model))})
    model = QATModel.load(args.qat).eval()  # BatchNorm on running statistics, ranges frozen: as exported
    graph = model.graph
    groups = quantizer_groups(graph)
    every = [t for names in groups.values() for t in names]

    def run(row: str, off: list[str]) -> None:
        for t in every:
            graph.get_submodule(t).enable_fake_quant()
        for t in off:
            graph.get_submodule(t).disable_fake_quant()
        rows.append({"row": row, "quantizers_off": len(off), "val_nme": nme(model)})
        print(f"{row:<62} {len(off):>4} off  NME {rows[-1]['val_nme']:.4f} %", flush=True)

    if rows:
        print(f"{'float model':<62} {'':>8}  NME {rows[0]['val_nme']:.4f} %")
    run("all INT8 (as exported)", [])
    for g, what in QUANTIZER_GROUPS.items():
        run(f"{what} in float", groups[g])
    run("every quantizer off", every)
    write_result(make_envelope("probes.int8_sensitivity", command_line("probes.int8_sensitivity", argv),
                               model_hashes([args.qat, args.float_model]),
                               {"qat": args.qat, "float": args.float_model, "data": portable(args.data), "val_fraction": args.val_fraction,
                                "seed": args.seed, "val_faces": len(val), "rows": rows}, date=date), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
