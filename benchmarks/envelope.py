"""The one envelope of every benchmark result file, its writer, its reader and its Markdown.

Every ``benchmarks/results/<suite>.json`` (and ``results/probes/<probe>.json``) is one JSON object::

    {"suite":   "artifacts",                       # the suite (or "probes.<probe>")
     "command": "python -m benchmarks artifacts --artifacts exports/ ...",   # the command that reproduces it
     "commit":  "2198399…",                        # git HEAD of the run, "+dirty" when tracked files differed
     "models":  {"exports/x.tflite": "<sha256>"},  # every model file the suite used (path in the repository
                                                   #  when inside it); null where unknown (then "models_note")
     "machine": {"cpu", "cores", "os", "python", "packages": {name: version}},
     "date":    "2026-12-06T04:30:12Z",            # UTC, ISO 8601
     "results": {...}}                             # the suite's own payload

Results carried over from an older file format say so: ``"migrated_from"`` (the old envelope kind: ``"date"``,
``"command"``, ``"meta"`` or ``"list"``) and ``"migration_note"`` (where each field came from). Other top-level keys
may add notes (``"models_note"``, ``"command_recorded"``).

:func:`write_result` writes the JSON and, beside it, the Markdown rendered from it (:func:`render`: a provenance
header, then the suite module's ``render_markdown(envelope)``); the Markdown is never written by hand, and
``tests/test_benchmarks.py`` checks that each ``.md`` is what :func:`render` makes of its ``.json``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import RESULTS, ROOT

__all__ = [
    "ENVELOPE_KEYS",
    "PACKAGES",
    "command_line",
    "git_commit",
    "machine_info",
    "make_envelope",
    "markdown_table",
    "model_hashes",
    "module_of",
    "portable",
    "read_result",
    "render",
    "result_path",
    "sha256_file",
    "utc_now",
    "write_result",
]

ENVELOPE_KEYS = ("suite", "command", "commit", "models", "machine", "date", "results")
# the packages whose versions a result records, when installed
PACKAGES = ("pipnet-edge", "numpy", "opencv-python-headless", "ai-edge-litert", "onnxruntime", "onnxruntime-qnn",
            "openvino", "nncf", "torch", "litert-torch", "ethos-u-vela", "dlib-bin")


# ------------------------------------------------------------------------------------------ what a run records
def utc_now() -> str:
    """Now, UTC, ISO 8601 to the second: ``2026-12-06T04:30:12Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_commit(root: Path = ROOT) -> str | None:
    """``git rev-parse HEAD`` of the repository, with ``+dirty`` when a tracked file differs from it; ``None``
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, OS, Python and the versions of :data:`PACKAGES` that are installed."""
    import importlib.metadata as md

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(), "os": platform.platform(),
            "python": platform.python_version(), "packages": packages}


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _name(path: Path) -> str:
    """A model file's name in a result: its path in an installed package (``cv2/data/...``), else in the repository,
    else its file name; never a path of this machine."""
    p = path.resolve()
    if "site-packages" in p.parts:
        return "/".join(p.parts[len(p.parts) - p.parts[::-1].index("site-packages"):])
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:
        return p.name


def portable(path: str | Path) -> str:
    """A data path as a result records it: relative to the repository when it lies beside it (``../shared/...``),
    as given otherwise."""
    p = Path(path)
    if p.is_absolute() and p.resolve().is_relative_to(ROOT.parent):
        return Path(os.path.relpath(p.resolve(), ROOT)).as_posix()
    return str(path)


def model_hashes(paths: Iterable[str | Path | None]) -> dict[str, str]:
    """``{name: sha256}`` of every existing file given (an OpenVINO ``.xml`` brings its ``.bin``), sorted by name."""
    out: dict[str, str] = {}
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        for p in (path, path.with_suffix(".bin")) if path.suffix == ".xml" else (path,):
            if p.is_file():
                out[_name(p)] = sha256_file(p)
    return dict(sorted(out.items()))


def command_line(suite: str, argv: Sequence[str]) -> str:
    """The command that runs ``suite`` with ``argv``: ``python -m benchmarks <suite> ...`` for a suite,
    ``python -m benchmarks.probes.<probe> ...`` for a probe."""
    head = f"python -m benchmarks.{suite}" if suite.startswith("probes.") else f"python -m benchmarks {suite}"
    return " ".join([head, *map(shlex.quote, argv)])


THIS_RUN: Any = object()  # make_envelope's default for commit, machine and date: this run's


def make_envelope(suite: str, command: str, models: dict[str, str] | None, results: Any, *,
                  commit: str | None = THIS_RUN, machine: dict | None = THIS_RUN, date: str | None = THIS_RUN,
                  **extra: Any) -> dict[str, Any]:
    """A result in the envelope; ``commit``, ``machine`` and ``date`` default to this run's (``None``: not recorded).
    ``extra`` keys (notes) go after the envelope's own keys, before ``results``."""
    module_of(suite)  # a known suite or probe
    env = {"suite": suite, "command": command, "commit": git_commit() if commit is THIS_RUN else commit,
           "models": models, "machine": machine_info() if machine is THIS_RUN else machine,
           "date": utc_now() if date is THIS_RUN else date}
    env.update(extra)
    env["results"] = results
    return env


# ------------------------------------------------------------------------------------------ where results live
def module_of(suite: str) -> str:
    """The module of a suite (``"artifacts"`` -> ``benchmarks.suites.artifacts``) or probe
    (``"probes.rotation_probe"`` -> ``benchmarks.probes.rotation_probe``); ValueError if neither."""
    from benchmarks.probes import PROBES
    from benchmarks.suites import SUITES

    if suite in SUITES:
        return f"benchmarks.suites.{suite}"
    if suite.startswith("probes.") and suite.split(".", 1)[1] in PROBES:
        return f"benchmarks.{suite}"
    raise ValueError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}; probes: probes.{', probes.'.join(PROBES)}")


def result_path(suite: str) -> Path:
    """Where a suite's result lives: ``benchmarks/results/<suite>.json``, a probe's ``results/probes/<probe>.json``."""
    module_of(suite)
    return RESULTS.joinpath(*suite.split(".")).with_suffix(".json")


# ------------------------------------------------------------------------------------------ write, read, render
def _fmt_models(models: dict[str, str] | None) -> str:
    if models is None:
        return "not recorded"
    if not models:
        return "none"
    return ", ".join(f"`{name}` ({digest[:12]})" for name, digest in models.items())


def _fmt_machine(machine: dict | None) -> str:
    if not machine:
        return "not recorded"
    if "cpu" in machine or "os" in machine:
        parts = [str(machine.get("cpu", "?"))]
        if machine.get("cores"):
            parts.append(f"{machine['cores']} cores")
        if machine.get("os"):
            parts.append(str(machine["os"]))
        if machine.get("python"):
            parts.append(f"Python {machine['python']}")
        text = ", ".join(parts)
    else:  # as an older result recorded it
        text = ", ".join(str(v) if k == "recorded" else f"{k} {v}" for k, v in machine.items() if k != "packages")
    pk = ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items())
    return f"{text} ({pk})" if text and pk else text or pk


def render(envelope: dict[str, Any]) -> str:
    """The Markdown of a result: a provenance header from the envelope, then the suite's own tables
    (``render_markdown(envelope)`` of its module)."""
    suite = envelope["suite"]
    body = importlib.import_module(module_of(suite)).render_markdown(envelope).strip("\n")
    head = [f"<!-- generated from {result_path(suite).name} by benchmarks.envelope.render; do not edit -->",
            f"# {suite}", "",
            f"- command: `{envelope['command']}`",
            f"- commit: {envelope['commit'] or 'not recorded'}; date: {envelope['date'] or 'not recorded'}",
            f"- machine: {_fmt_machine(envelope['machine'])}",
            f"- model files: {_fmt_models(envelope['models'])}"]
    for key in ("models_note", "migrated_from", "migration_note"):
        if envelope.get(key):
            head.append(f"- {key.replace('_', ' ')}: {envelope[key]}")
    return "\n".join(head) + "\n\n" + body + "\n"


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, Any, str]]) -> list[str]:
    """A Markdown table, one line per row: ``columns`` are ``(header, key or function of the row, format spec)``;
    a missing or ``None`` value prints ``-``."""
    lines = ["| " + " | ".join(h for h, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = []
        for _, key, spec in columns:
            v = key(r) if callable(key) else r.get(key)
            cells.append("-" if v is None else format(v, spec))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_result(envelope: dict[str, Any], path: str | Path | None = None) -> Path:
    """Write ``envelope`` as JSON to ``path`` (default :func:`result_path` of its suite) and its Markdown
    (:func:`render`) beside it, ``.md``. Returns the JSON's path."""
    missing = [k for k in ENVELOPE_KEYS if k not in envelope]
    if missing:
        raise ValueError(f"not a result envelope, missing {missing}")
    path = Path(path) if path is not None else result_path(envelope["suite"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(envelope, indent=1) + "\n")
    path.with_suffix(".md").write_text(render(envelope))
    print(f"wrote {path} and {path.with_suffix('.md').name}", file=sys.stderr)
    return path


def read_result(path: str | Path) -> dict[str, Any]:
    """A result file's envelope; ValueError when the file is not one (a missing key, an unknown suite)."""
    doc = json.loads(Path(path).read_text())
    missing = [k for k in ENVELOPE_KEYS if k not in doc] if isinstance(doc, dict) else list(ENVELOPE_KEYS)
    if missing:
        raise ValueError(f"{path}: not a result envelope, missing {missing}")
    module_of(doc["suite"])
    return doc
