"""Arm Ethos-U: both bundled landmark models and the INT8 face detector compiled by Vela for every configuration.

    python -m benchmarks vela_matrix          # -> benchmarks/results/vela_matrix.json and .md

For each model and configuration: operators on the NPU and on the CPU, Vela's estimated inference time, SRAM and
flash / DRAM use and MACs (Vela's performance model of that configuration; no silicon here). The landmark models go
through ``python -m pipnet_edge.export --target ethos-u`` (the bundled QAT model -> full-INT8 TFLite -> Vela); the
detector is the bundled INT8 file compiled with the same function. Needs ``pip install 'pipnet-edge[ethos-u]'``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.envelope import command_line, make_envelope, model_hashes, result_path, utc_now, write_result

FIELDS = ("cpu_operators", "npu_operators", "inference_time_ms", "sram_kib", "off_chip_flash_kib", "dram_kib", "nn_macs")


def render_markdown(envelope: dict) -> str:
    """The table of a vela_matrix result: one row per model and Ethos-U configuration."""
    res = envelope["results"]
    md = [f"Arm Vela {res['vela']}: estimated by Vela's performance model of each configuration (no silicon).", "",
          "| model | config | CPU ops | NPU ops | est. ms | SRAM KiB | flash KiB | DRAM KiB | MMAC |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        md.append(f"| {r['model']} | {r['config']} | {r['cpu_operators']} | {r['npu_operators']} | {r['inference_time_ms']:.2f} | "
                  f"{r['sram_kib']:.0f} | {r['off_chip_flash_kib']:.0f} | {r['dram_kib']:.0f} | {r['nn_macs'] / 1e6:.0f} |")
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks vela_matrix", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["lite", "default"], help="bundled landmark models")
    p.add_argument("--out", default=str(result_path("vela_matrix")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()

    from pipnet_edge.assets import bundled_model_path
    from pipnet_edge.converters.vela import ETHOS_U_CONFIGS, compile_vela, vela_version
    from pipnet_edge.export import export
    from pipnet_edge.runtime.detectors.blazeface import blazeface_model_path

    rows = []
    models: dict[str, str] = {}  # the QAT sources, the Vela-compiled files (hashed before the folder goes) and the detector
    with tempfile.TemporaryDirectory(prefix="vela-matrix-") as tmp:
        for model in args.models:
            records = export(model, "ethos-u", Path(tmp) / model)
            models |= model_hashes([bundled_model_path(f"{model}-qat"), *(r.path for r in records)])
            for r in records:
                rows.append({"model": model, "config": r.target, **{k: r.compiler_report[k] for k in FIELDS}})
                print(f"{model:8s} {r.target:14s} CPU ops {r.compiler_report['cpu_operators']}, "
                      f"{r.compiler_report['inference_time_ms']} ms", flush=True)
        detector = blazeface_model_path("short-int8")
        for name, cfg in ETHOS_U_CONFIGS.items():
            rep = compile_vela(detector, Path(tmp) / f"det_{name}.tflite", cfg)
            models |= model_hashes([detector, Path(tmp) / f"det_{name}.tflite"])
            rows.append({"model": "blazeface-short-int8", "config": name, **{k: rep[k] for k in FIELDS}})
            print(f"detector {name:14s} CPU ops {rep['cpu_operators']}, {rep['inference_time_ms']} ms", flush=True)

    results = {"vela": vela_version(),
               "configs": {k: {"system_config": c.system_config, "memory_mode": c.memory_mode} for k, c in ETHOS_U_CONFIGS.items()},
               "rows": rows}
    env = make_envelope("vela_matrix", command_line("vela_matrix", argv), dict(sorted(models.items())), results, date=date)
    write_result(env, args.out)
    print(render_markdown(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
