"""The bundled models' registry: one card per model, and the one resolver of model names.

In the spirit of timm's pretrained configs: each bundled model is a :class:`ModelCard` holding its files (by role),
the licence of its weights, its training data, its recipe and its measured figures, each with the command that
reproduces it. The files' SHA-256 live in ``SHA256SUMS`` beside them (:func:`ModelCard.sha256`), checked the first
time a process opens a file.

Names say what the file is::

    "default" / "default-int8"   the full-INT8 TFLite the runtime loads
    "default-fp16"               the float weights, stored as float16 (float exports, evaluation, teachers)
    "default-qat"                the quantization-aware model every INT8 target is exported from

and the same for ``"lite"``. ``"default-float"`` / ``"lite-float"`` (the fp16 files' old names) still resolve, with a
:class:`FutureWarning`, for one release.

:func:`resolve_model` is what the runtime, the evaluation and export all call. This module imports numpy at most:
a device install reads it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelLoadError

__all__ = [
    "CARDS",
    "DEPRECATED_NAMES",
    "MACS_COMMAND",
    "ROLES",
    "Figure",
    "ModelCard",
    "ResolvedModel",
    "bundled_files",
    "get_card",
    "model_names",
    "render_models_table",
    "resolve_model",
]

ASSETS_DIR = Path(__file__).resolve().parent

# role -> (name suffix, what the file is)
ROLES: dict[str, tuple[str, str]] = {
    "int8": ("int8", "full-INT8 TFLite: what the runtime loads"),
    "fp16": ("fp16", "float weights stored as float16 (safetensors): float exports, evaluation, teachers"),
    "qat": ("qat", "quantization-aware model (safetensors): every INT8 export target starts here"),
}
# old name suffix -> the role it meant (one release of grace, then removed)
_DEPRECATED_SUFFIXES = {"float": "fp16"}

_TEST_300W = "../shared/data/300w/test"
_MTFL_5PT = "../shared/data/mtfl/train_5pt.txt"


@dataclass(frozen=True)
class Figure:
    """One measured figure of a model, with the command that reproduces it."""

    metric: str  # what was measured, e.g. "NME % INT8 TFLite"
    value: float
    data: str  # on what
    command: str
    note: str = ""


@dataclass(frozen=True)
class ModelCard:
    """A bundled model: what it is, where it came from, what it measures, and its files."""

    name: str
    title: str
    network: str
    input_size: int
    stride: int
    num_nb: int
    macs: int  # multiply-accumulates of one face (Vela's count of the INT8 graph)
    files: dict[str, str]  # role -> file name in the assets folder
    weights_licence: str
    training_data: str
    recipe: str  # the script that rebuilds it
    card: str  # the docs page with its history and how its last steps were chosen
    figures: tuple[Figure, ...] = field(default_factory=tuple)
    # the face presence threshold on FaceLandmarks.score the runtime applies for this network by default
    # (min_face_presence="auto"; chosen by `python -m benchmarks face_presence`, docs/runtime.md)
    min_face_presence: float | None = None

    @property
    def stem(self) -> str:
        """The file family's stem (``pipnet_mbv2_300w68``): exports of this model are named after it."""
        return self.files["int8"].removesuffix("_int8.tflite")

    def path(self, role: str = "int8") -> Path:
        """The verified path of this model's ``role`` file; ``ModelLoadError`` when absent or corrupted."""
        from . import verify_asset

        if role not in self.files:
            raise ModelLoadError(f"model {self.name!r} has no {role!r} file; it has: {', '.join(self.files)}")
        path = ASSETS_DIR / self.files[role]
        if not path.is_file():
            raise ModelLoadError(_missing_file_message(f"{self.name}-{role}", path, role))
        return verify_asset(path)

    def sha256(self, role: str = "int8") -> str:
        """The file's SHA-256 as listed in ``SHA256SUMS`` (what :meth:`path` checks the file against)."""
        from . import _manifest

        return _manifest()[self.files[role]]

    def figure(self, metric: str) -> Figure:
        for f in self.figures:
            if f.metric == metric:
                return f
        raise KeyError(f"model {self.name!r} has no figure {metric!r}")


def _missing_file_message(name: str, path: Path, role: str) -> str:
    """Why a bundled file is absent: the wheel (a device install) leaves out the float and QAT weights on purpose."""
    if role == "int8":
        return f"bundled {name} ({path}) is missing from this installation; reinstall pipnet-edge"
    return (f"bundled {name} ({path.name}) is not in this installation: the pipnet-edge wheel (a device install) "
            f"carries the INT8 models only. The float and QAT weights come with a training install, an editable install "
            f"of the git checkout (scripts/setup.sh, or pip install -e '.[train]' in the checkout or the unpacked sdist), "
            f"which reads them from its pipnet_edge/assets/ folder; no download")


def _figures(name: str, int8: float, fp16: float, mtfl_int8: float, mtfl_fp16: float, ms: float) -> tuple[Figure, ...]:
    ev = f"python -m pipnet_edge.evaluate --model {name}"
    return (
        Figure("NME % INT8", int8, "300W common test set, 554 faces, ground-truth-box crops", f"{ev} --data {_TEST_300W}"),
        Figure("NME % float", fp16, "300W common test set, 554 faces", f"{ev}-fp16 --data {_TEST_300W}"),
        Figure("NME % INT8, in the wild", mtfl_int8, "1,000 held-out MTFL faces, 5-point NME through the derived points",
               f"{ev} --five-point {_MTFL_5PT}"),
        Figure("NME % float, in the wild", mtfl_fp16, "1,000 held-out MTFL faces", f"{ev}-fp16 --five-point {_MTFL_5PT}"),
        Figure("ms / face INT8, 1 thread", ms, "the model call on ai-edge-litert (XNNPACK), 2-core x86 VM, median of 200",
               "python -m benchmarks artifacts --data ../shared/data/300w/test",
               note="measured before the residual Adds became integer; the same within run-to-run spread after "
                    "(docs/benchmarks.md)"),
    )


_LICENCE = "research only (trained on 300W and MTFL)"


def _family_files(stem: str) -> dict[str, str]:
    """A bundled model's three files by role, named after its stem (``<stem>_int8.tflite``, ...)."""
    return {"int8": f"{stem}_int8.tflite", "fp16": f"{stem}_fp16.safetensors", "qat": f"{stem}_qat.safetensors"}
CARDS: dict[str, ModelCard] = {
    card.name: card
    for card in (
        ModelCard(
            name="default", title="MobileNetV2-PIPNet-68: the accurate one",
            network="MobileNetV2-PIPNet-68, stride 32, `num_nb` 10", input_size=256, stride=32, num_nb=10,
            macs=519_299_072,
            files=_family_files("pipnet_mbv2_300w68"),
            weights_licence=_LICENCE,
            training_data="2,012 labelled 300W training faces (LFPW, Helen, AFW train) and 6,650 MTFL faces "
                          "(self-training; pseudo-labels anchored to their five human points)",
            recipe="scripts/build_default_model.sh", card="docs/models.md#default-mobilenetv2-pipnet-68",
            figures=_figures("default", 3.071, 3.058, 3.970, 3.945, 2.54), min_face_presence=0.48,
        ),
        ModelCard(
            name="lite", title="MobileNetV2 cut at stride 16: the fast one",
            network="MobileNetV2 cut at stride 16, 512-channel heads, `num_nb` 5", input_size=112, stride=16, num_nb=5,
            macs=77_051_520,
            files=_family_files("pipnet_lite_300w68"),
            weights_licence=_LICENCE,
            training_data="2,012 labelled 300W training faces and 6,650 MTFL faces (self-training, taught by the "
                          "default model; pseudo-labels anchored to their five human points)",
            recipe="scripts/build_lite_model.sh",
            card="docs/models.md#lite-mobilenetv2-cut-at-stride-16-512-channel-heads-112x112-input",
            figures=_figures("lite", 3.253, 3.237, 4.056, 4.109, 0.42), min_face_presence=0.44,
        ),
    )
}

# where ModelCard.macs comes from
MACS_COMMAND = "python -m benchmarks vela_matrix  (Vela's nn_macs of each INT8 file)"


def model_names(include_deprecated: bool = False) -> list[str]:
    """Every bundled model name: ``default``, ``default-int8``, ``default-fp16``, ``default-qat``, ``lite``, ..."""
    names = []
    for card in CARDS.values():
        names.append(card.name)
        names += [f"{card.name}-{ROLES[r][0]}" for r in card.files]
        if include_deprecated:
            names += [f"{card.name}-{old}" for old in _DEPRECATED_SUFFIXES]
    return names


DEPRECATED_NAMES = {f"{c}-{old}": f"{c}-{new}" for c in CARDS for old, new in _DEPRECATED_SUFFIXES.items()}


def _parse(name: str, warn: bool = True) -> tuple[ModelCard, str] | None:
    """``(card, role)`` of a bundled name, or None when ``name`` is not one."""
    if name in CARDS:
        return CARDS[name], "int8"
    if name in DEPRECATED_NAMES:
        new = DEPRECATED_NAMES[name]
        if warn:
            warnings.warn(f"bundled model name {name!r} is deprecated (the file is float16); use {new!r}",
                          FutureWarning, stacklevel=4)
        name = new
    family, _, suffix = name.rpartition("-")
    if family in CARDS:
        for role, (role_suffix, _) in ROLES.items():
            if suffix == role_suffix and role in CARDS[family].files:
                return CARDS[family], role
    return None


def bundled_files() -> dict[str, str]:
    """``{bundled name: file name}`` for every name, the deprecated ones included."""
    out = {}
    for name in model_names(include_deprecated=True):
        card, role = _parse(name, warn=False)
        out[name] = card.files[role]
    return out


def get_card(name: str) -> ModelCard:
    """The card of a bundled model family (``"default"``, ``"lite"``); ``ModelLoadError`` names the choices."""
    if name not in CARDS:
        raise ModelLoadError(f"unknown bundled model {name!r}; bundled: {', '.join(CARDS)}")
    return CARDS[name]


@dataclass(frozen=True)
class ResolvedModel:
    """What a model option named: the file, and the bundled card and role when it is a bundled file."""

    path: Path
    card: ModelCard | None = None
    role: str | None = None

    @property
    def name(self) -> str:
        """``"lite-int8"`` for a bundled file, else the file name."""
        return f"{self.card.name}-{self.role}" if self.card else self.path.name


def resolve_model(model: str | Path | None = None, roles: tuple[str, ...] | None = None) -> ResolvedModel:
    """The one resolver of model names: a bundled name (``None``: ``"default"``) or a path to an existing file.

    Args:
        model: a bundled name (see :func:`model_names`) or a file path.
        roles: the bundled roles the caller can use (the runtime: ``("int8",)``); another role is refused with a
            message saying which name to use instead.

    Raises:
        ModelLoadError: an unknown name, a missing or corrupted file, or a bundled role the caller cannot use.
    """
    model = "default" if model is None else model
    parsed = _parse(model) if isinstance(model, str) else None
    if parsed is not None:
        card, role = parsed
        if roles is not None and role not in roles:
            usable = [n for n in model_names() if n.startswith(card.name) and (_parse(n) or (None, ""))[1] in roles]
            raise ModelLoadError(f"bundled {model!r} is the {ROLES[role][1].split(':')[0]}, which this cannot load; "
                                 f"use {' or '.join(repr(u) for u in usable)}")
        return ResolvedModel(card.path(role), card, role)
    path = Path(model)
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist (bundled models: {', '.join(model_names())})")
    return ResolvedModel(path)


def _mb(card: ModelCard) -> str:
    path = ASSETS_DIR / card.files["int8"]
    return f"{path.stat().st_size / 1e6:.2f} MB" if path.is_file() else "-"


def render_models_table() -> str:
    """The README's table of bundled models, from the cards (sizes read from the files)."""
    rows = ["| name | network | input | MAC | INT8 TFLite | NME % INT8 (float) | ms / face, 1 thread | weights licence |",
            "|---|---|---|---|---|---|---|---|"]
    for c in CARDS.values():
        nme, fl, ms = (c.figure(m).value for m in ("NME % INT8", "NME % float", "ms / face INT8, 1 thread"))
        rows.append(f"| `{c.name}` | {c.network} | {c.input_size} px | {c.macs / 1e6:.0f} M | {_mb(c)} | "
                    f"{nme:.3f} ({fl:.3f}) | {ms:.2f} | {c.weights_licence} |")
    return "\n".join(rows)
