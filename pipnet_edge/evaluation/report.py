"""Accuracy of an artifact against its reference model, in a report a person can read.

NME of both on labelled faces, the NME delta, landmark displacement between them (pixels
and % of the normaliser), heatmap argmax agreement, and a per-landmark error chart.
Written as Markdown + JSON (+ PNG).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.annotations import FaceRecord
from .predictors import Predictor
from .runner import predict_faces
from ..metrics import normalizers, summarize

__all__ = ["ParityReport", "compare"]


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
        out_dir.mkdir(parents=True, exist_ok=True)
        j = out_dir / f"{stem}.json"
        m = out_dir / f"{stem}.md"
        j.write_text(json.dumps(self.to_dict(), indent=2))
        m.write_text(self.markdown())
        return j, m


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


def worst_difference(reference: np.ndarray, candidate: np.ndarray, names: Sequence[str], label: str) -> str:
    """A readable diff for a failed parity check: which face, which landmark, how far (pixels)."""
    d = np.linalg.norm(np.asarray(candidate, np.float64) - np.asarray(reference, np.float64), axis=-1)
    f, i = np.unravel_index(int(d.argmax()), d.shape)
    return (
        f"{label}: max displacement {d.max():.4f} px at landmark {i} of face {names[f]} "
        f"(reference {np.round(reference[f, i], 3).tolist()}, candidate {np.round(candidate[f, i], 3).tolist()}); "
        f"mean {d.mean():.4f} px over {d.shape[0]} faces"
    )
