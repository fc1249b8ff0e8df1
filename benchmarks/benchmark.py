"""Accuracy and speed of exported artifacts, measured in one run on this machine.

    python benchmarks/benchmark.py --artifacts exports/ --data ../shared/data/300w/test --out benchmarks/results

For every artifact: model size, latency per face (median / p90 of batch-1 inference, 1 and 2
threads), the runtime's own overhead (crop + decode) and NME on the labelled faces with
ground-truth-box crops (the 300W protocol). Writes ``results.json``, ``results.md`` and an
accuracy-vs-latency plot ``accuracy_latency.png``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipnet_edge.data.annotations import load_faces  # noqa: E402
from pipnet_edge.evaluation.predictors import ARTIFACT_SUFFIXES, open_predictor  # noqa: E402
from pipnet_edge.evaluation.runner import predict_faces, read_face_crops  # noqa: E402
from pipnet_edge.metrics import summarize  # noqa: E402
from pipnet_edge.runtime import geometry  # noqa: E402
from pipnet_edge.runtime.decode import DecodeTables  # noqa: E402
from pipnet_edge.runtime.preprocess import crop_faces  # noqa: E402


def time_it(fn, runs: int, warmup: int = 10) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return float(np.median(ts)), float(np.percentile(ts, 90))


def artifact_size(path: Path) -> int:
    size = path.stat().st_size
    if path.suffix == ".xml":
        size += path.with_suffix(".bin").stat().st_size
    return size


def bench_artifact(path: Path, records, crop: np.ndarray, runs: int) -> dict:
    row: dict = {"artifact": path.name, "size_mb": round(artifact_size(path) / 1e6, 2)}
    for threads in (1, 2):
        pred = open_predictor(path, num_threads=threads)
        med, p90 = time_it(lambda pred=pred: pred.backend.run(crop), runs)
        row[f"ms_{threads}t"] = round(med, 3)
        row[f"p90_{threads}t"] = round(p90, 3)
        backend, info = pred.backend.name, pred.info
        del pred
        gc.collect()
    row["backend"] = backend
    row["precision"] = info.precision
    pred = open_predictor(path, num_threads=1)
    t0 = time.time()
    p = predict_faces(pred, records)
    s = summarize(p.points, p.truth, pred.spec.scheme)
    row.update(nme=round(s.nme, 3), fr10=round(s.failure_rate, 2), auc10=round(s.auc, 4), eval_s=round(time.time() - t0, 1))
    return row


def runtime_overhead(records, spec, runs: int) -> dict:
    """Per-face cost of the runtime's own work: crop (affine warp) and the numpy decode."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(records[0].image_path)), cv2.COLOR_BGR2RGB)
    box = geometry.box_from_points(records[0].points)[None]
    crop_ms, _ = time_it(lambda: crop_faces(img, box, spec.crop, spec.input_size), runs)
    rng = np.random.default_rng(0)
    n, m, nb = spec.num_points, spec.map_size, spec.num_nb
    from pipnet_edge.models_io import HEAD_NAMES
    from pipnet_edge.runtime.decode import decode_nhwc

    heads = {k: rng.normal(size=(1, m, m, c)).astype(np.float32) for k, c in zip(HEAD_NAMES, (n, n, n, n * nb, n * nb))}
    tables = DecodeTables.from_spec(spec)
    dec_ms, _ = time_it(lambda: decode_nhwc(heads, tables), runs)
    return {"crop_ms": round(crop_ms, 4), "decode_ms": round(dec_ms, 4)}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import os

    prefix = os.path.commonprefix([r["artifact"] for r in rows]) if len(rows) > 1 else ""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    for r in rows:
        marker = "o" if r.get("kind", "ours") == "ours" else "s"
        label = r["artifact"][len(prefix):].rsplit(".", 1)[0] + f" [{r['backend']}] {r['ms_1t']:.1f} ms, {r['nme']:.3f} %"
        ax.scatter(r["ms_1t"], r["nme"], marker=marker, s=40, label=label)
    ax.legend(fontsize=7, loc="best")
    ax.set_xscale("log")
    ax.set_xlabel("latency per face, 1 thread (ms, log scale)")
    ax.set_ylabel("NME % (300W common, inter-ocular)")
    ax.set_title("accuracy vs latency (lower-left is better)")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", nargs="+", required=True, help="artifact files or folders of them")
    p.add_argument("--data", required=True, help="labelled faces (the 300W test folder)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--replot", action="store_true", help="only redraw the plot from OUT/results.json")
    args = p.parse_args(argv)
    if args.replot:
        rows = json.loads((Path(args.out) / "results.json").read_text())["rows"]
        plot(rows, Path(args.out) / "accuracy_latency.png")
        return 0
    paths: list[Path] = []
    for a in args.artifacts:
        a = Path(a)
        paths += sorted(x for x in a.iterdir() if x.suffix in ARTIFACT_SUFFIXES) if a.is_dir() else [a]
    records = load_faces(args.data)
    if args.limit:
        records = records[: args.limit]
    rows = []
    from pipnet_edge.runtime.metadata import read_artifact_info

    spec = read_artifact_info(paths[0]).spec  # no session: an idle runtime's threads would skew the timings
    overhead = runtime_overhead(records, spec, 1000)
    crops, _ = read_face_crops(records[:1], spec)
    for path in paths:
        print(f"benchmarking {path.name} ...", flush=True)
        rows.append(bench_artifact(path, records, crops, args.runs))
        gc.collect()  # close this artifact's runtime before timing the next
        print("  ", json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
            "faces": len(records), "data": str(args.data), "runs": args.runs,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (out / "results.json").write_text(json.dumps({"meta": meta, "runtime_overhead": overhead, "rows": rows}, indent=2))
    md = [
        f"Measured {meta['date']} on {meta['machine']} (Python {meta['python']}), {len(records)} faces of `{args.data}`, "
        f"batch 1, median of {args.runs} runs.",
        "",
        "| artifact | backend | precision | size MB | ms 1 thread (p90) | ms 2 threads (p90) | NME % | FR@0.1 % | AUC@0.1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['artifact']} | {r['backend']} | {r['precision']} | {r['size_mb']} | {r['ms_1t']:.2f} ({r['p90_1t']:.2f}) | "
            f"{r['ms_2t']:.2f} ({r['p90_2t']:.2f}) | {r['nme']:.3f} | {r['fr10']:.2f} | {r['auc10']:.4f} |"
        )
    md += ["", f"Runtime overhead per face: crop {overhead['crop_ms']:.3f} ms, numpy decode {overhead['decode_ms']:.3f} ms."]
    (out / "results.md").write_text("\n".join(md) + "\n")
    plot(rows, out / "accuracy_latency.png")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
