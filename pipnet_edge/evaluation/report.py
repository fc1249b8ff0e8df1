"""Accuracy of an artifact against its reference model, in a report a person can read.

With labelled faces (:func:`compare`): NME of both, the NME delta, landmark displacement between them (pixels
and % of the normaliser), heatmap argmax agreement, and a per-landmark error chart. Without labels
(:func:`compare_crops`, on crops such as the bundled check set): how far the candidate's points are from the
reference's (pixels of the model input, and NME taken against the reference's points) and heatmap argmax
agreement. Written as Markdown + JSON (+ PNG).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.annotations import FaceRecord
from ..metrics import normalizers, summarize
from .predictors import Predictor
from .runner import predict_faces

__all__ = ["AgreementReport", "ParityReport", "compare", "compare_crops"]


def _write_report(report, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """``OUT/<stem>.json`` (``report.to_dict()``) and ``OUT/<stem>.md`` (``report.markdown()``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    j, m = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    j.write_text(json.dumps(report.to_dict(), indent=2))
    m.write_text(report.markdown())
    return j, m


@dataclass
class ParityReport:
    reference: str
    candidate: str
    faces: int
    data: str
    nme_reference: float
    nme_candidate: float
    nme_delta: float
    displacement_mean_px: float
    displacement_max_px: float
    displacement_mean_percent: float
    argmax_agreement: float
    worst_landmarks: list[tuple[int, float]] = field(default_factory=list)
    per_landmark_reference: list[float] = field(default_factory=list)
    per_landmark_candidate: list[float] = field(default_factory=list)
    chart: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        lines = [
            f"### {self.candidate} vs {self.reference}",
            "",
            f"{self.faces} faces from `{self.data}`, ground-truth-box crops.",
            "",
            "| | NME % | vs reference |",
            "|---|---|---|",
            f"| reference | {self.nme_reference:.3f} | |",
            f"| candidate | {self.nme_candidate:.3f} | {self.nme_delta:+.3f} |",
            "",
            f"- landmark displacement candidate vs reference: mean {self.displacement_mean_px:.3f} px "
            f"({self.displacement_mean_percent:.3f} % of the normaliser), max {self.displacement_max_px:.2f} px",
            f"- heatmap argmax agreement: {self.argmax_agreement * 100:.2f} % of points",
            "- landmarks moved most (index: mean displacement %): "
            + ", ".join(f"{i}: {v:.3f}" for i, v in self.worst_landmarks),
        ]
        if self.chart:
            lines += ["", f"![per-landmark error]({Path(self.chart).name})"]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path, stem: str) -> tuple[Path, Path]:
        return _write_report(self, out_dir, stem)


def compare(
    reference: Predictor,
    candidate: Predictor,
    records: Sequence[FaceRecord],
    data_name: str,
    chart_path: Path | None = None,
    reference_predictions=None,
) -> ParityReport:
    scheme = reference.spec.scheme
    ref = reference_predictions or predict_faces(reference, records)
    cand = predict_faces(candidate, records)
    s_ref = summarize(ref.points, ref.truth, scheme)
    s_cand = summarize(cand.points, cand.truth, scheme)
    disp = np.linalg.norm(cand.points - ref.points, axis=-1)  # (F, N) pixels
    norm = normalizers(ref.truth, scheme)[:, None]
    disp_pct = disp / norm * 100
    per_lm_disp = disp_pct.mean(0)
    worst = sorted(((int(i), float(v)) for i, v in enumerate(per_lm_disp)), key=lambda x: -x[1])[:5]
    chart = None
    if chart_path is not None:
        from .plots import per_landmark_chart

        chart = str(
            per_landmark_chart(
                {f"reference {s_ref.nme:.2f}%": s_ref.per_landmark, f"candidate {s_cand.nme:.2f}%": s_cand.per_landmark},
                chart_path,
                f"{candidate.name} vs {reference.name}",
            )
        )
    return ParityReport(
        reference=reference.name,
        candidate=candidate.name,
        faces=len(records),
        data=data_name,
        nme_reference=s_ref.nme,
        nme_candidate=s_cand.nme,
        nme_delta=s_cand.nme - s_ref.nme,
        displacement_mean_px=float(disp.mean()),
        displacement_max_px=float(disp.max()),
        displacement_mean_percent=float(disp_pct.mean()),
        argmax_agreement=float((cand.cells == ref.cells).mean()),
        worst_landmarks=worst,
        per_landmark_reference=s_ref.per_landmark,
        per_landmark_candidate=s_cand.per_landmark,
        chart=chart,
    )


@dataclass
class AgreementReport:
    """A candidate against its reference on unlabelled crops: every figure is taken against the reference's points.

    ``displacement_*_px`` are pixels of the ``input_size``-px model input (the crop); ``nme_vs_reference`` is the
    mean point distance over the normalising distance of the reference's own points (the scheme's, as the labelled
    NME takes it from the ground truth: the outer eye corners for 300W-68), in percent; ``argmax_agreement`` the
    share of points whose heatmap argmax cell is the reference's.
    """

    reference: str
    candidate: str
    faces: int
    data: str
    input_size: int
    displacement_mean_px: float
    displacement_max_px: float
    nme_vs_reference: float
    nme_vs_reference_max: float
    argmax_agreement: float
    worst_landmarks: list[tuple[int, float]] = field(default_factory=list)
    per_landmark_vs_reference: list[float] = field(default_factory=list)
    chart: str | None = None
    labels: bool = False  # the figures need none: no ground truth is read

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        lines = [
            f"### {self.candidate} vs {self.reference}",
            "",
            f"{self.faces} crops of {self.data}, cut at the model's {self.input_size}-px input by the runtime's crop.",
            "No labels: every figure is taken against the reference model's points, not against a ground truth.",
            "",
            "| | value |",
            "|---|---|",
            f"| point displacement, mean (px of the {self.input_size}-px input) | {self.displacement_mean_px:.3f} |",
            f"| point displacement, max (px of the {self.input_size}-px input) | {self.displacement_max_px:.2f} |",
            f"| NME vs the reference's points, mean of faces (%) | {self.nme_vs_reference:.3f} |",
            f"| NME vs the reference's points, worst face (%) | {self.nme_vs_reference_max:.3f} |",
            f"| heatmap argmax agreement (% of points) | {self.argmax_agreement * 100:.2f} |",
            "",
            "- landmarks moved most (index: mean displacement, % of the normaliser): "
            + ", ".join(f"{i}: {v:.3f}" for i, v in self.worst_landmarks),
        ]
        if self.chart:
            lines += ["", f"![per-landmark displacement]({Path(self.chart).name})"]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path, stem: str) -> tuple[Path, Path]:
        return _write_report(self, out_dir, stem)


def predict_crops(predictor: Predictor, crops: np.ndarray, batch_size: int = 16):
    """``(points, cells)`` of ``(K, S, S, 3)`` crops: normalised crop coordinates ``(K, N, 2)`` and argmax cells."""
    pts, cells = [], []
    for i in range(0, len(crops), batch_size):
        out = predictor.predict_crops(crops[i : i + batch_size])
        pts.append(out.points)
        cells.append(out.cells)
    return np.concatenate(pts).astype(np.float64), np.concatenate(cells)


def compare_crops(
    reference: Predictor,
    candidate: Predictor,
    crops,
    data_name: str,
    chart_path: Path | None = None,
    reference_predictions=None,
) -> AgreementReport:
    """The candidate against the reference on unlabelled crops.

    Args:
        crops: ``(K, S, S, 3)`` uint8 crops at the models' input size, or a callable ``input_size -> crops`` (the
            bundled check set's :meth:`~pipnet_edge.calibration.check_set.CheckSet.crops`), cut for each model's own
            size; points are compared in normalised crop coordinates and reported in pixels of the reference's input.
        data_name: what the crops are, for the report.
        reference_predictions: the reference's ``(points, cells)`` from :func:`predict_crops`, when already run.
    """
    size = reference.spec.input_size
    crops_for = crops if callable(crops) else (lambda s: crops)
    ref_pts, ref_cells = reference_predictions or predict_crops(reference, crops_for(size))
    cand_pts, cand_cells = predict_crops(candidate, crops_for(candidate.spec.input_size))
    ref_px, cand_px = ref_pts * size, cand_pts * size  # the same crops: normalised coordinates compare across sizes
    disp = np.linalg.norm(cand_px - ref_px, axis=-1)  # (K, N) pixels of the input
    s = summarize(cand_px, ref_px, reference.spec.scheme)  # NME with the reference's points as the truth
    worst = sorted(((int(i), float(v)) for i, v in enumerate(s.per_landmark)), key=lambda x: -x[1])[:5]
    chart = None
    if chart_path is not None:
        from .plots import per_landmark_chart

        chart = str(per_landmark_chart({f"candidate vs reference {s.nme:.2f}%": s.per_landmark}, chart_path,
                                       f"{candidate.name} vs {reference.name} (no labels)"))
    same_grid = ref_cells.shape == cand_cells.shape and candidate.spec.input_size == size
    return AgreementReport(
        reference=reference.name,
        candidate=candidate.name,
        faces=len(ref_pts),
        data=data_name,
        input_size=size,
        displacement_mean_px=float(disp.mean()),
        displacement_max_px=float(disp.max()),
        nme_vs_reference=s.nme,
        nme_vs_reference_max=float(max(s.per_face)),
        argmax_agreement=float((cand_cells == ref_cells).mean()) if same_grid else float("nan"),
        worst_landmarks=worst,
        per_landmark_vs_reference=s.per_landmark,
        chart=chart,
    )


def worst_difference(reference: np.ndarray, candidate: np.ndarray, names: Sequence[str], label: str) -> str:
    """A readable diff for a failed parity check: which face, which landmark, how far (pixels)."""
    d = np.linalg.norm(np.asarray(candidate, np.float64) - np.asarray(reference, np.float64), axis=-1)
    f, i = np.unravel_index(int(d.argmax()), d.shape)
    return (
        f"{label}: max displacement {d.max():.4f} px at landmark {i} of face {names[f]} "
        f"(reference {np.round(reference[f, i], 3).tolist()}, candidate {np.round(candidate[f, i], 3).tolist()}); "
        f"mean {d.mean():.4f} px over {d.shape[0]} faces"
    )
