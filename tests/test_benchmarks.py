"""benchmarks/ as a suite: one envelope for every result file, each Markdown table rendered from its JSON, one way
to run each suite (``python -m benchmarks <suite>``), and package imports only (no ``sys.path`` tricks).

Fast: nothing here runs a benchmark; the ``--help`` calls are one short subprocess per suite.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import RESULTS, ROOT
from benchmarks.envelope import (
    ENVELOPE_KEYS,
    command_line,
    make_envelope,
    model_hashes,
    module_of,
    read_result,
    render,
    result_path,
    write_result,
)
from benchmarks.probes import PROBES
from benchmarks.suites import SUITES

BENCH = ROOT / "benchmarks"
RESULT_FILES = sorted(RESULTS.rglob("*.json"))


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.relative_to(RESULTS).as_posix() for p in RESULT_FILES])
def test_every_result_file_has_the_envelope(path: Path):
    env = read_result(path)  # raises on a missing key or an unknown suite
    assert list(env)[: len(ENVELOPE_KEYS) - 1] == list(ENVELOPE_KEYS[:-1]) and list(env)[-1] == "results"
    assert env["command"].startswith(("python -m benchmarks ", "python -m benchmarks.probes.")), env["command"]
    assert env["command"].split()[3 if env["command"].startswith("python -m benchmarks ") else 2] in (
        env["suite"], f"benchmarks.{env['suite']}"), "the command runs the suite the file belongs to"
    assert env["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", env["commit"]), env["commit"]
    assert env["date"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?Z)?", env["date"]), env["date"]
    assert env["models"] is None or all(re.fullmatch(r"[0-9a-f]{16,64}", h) for h in env["models"].values())
    if env["models"] is None:
        assert env.get("models_note"), "a result without model hashes says why (models_note)"
    assert env["machine"] is None or isinstance(env["machine"], dict)
    if "migrated_from" in env:
        assert env.get("migration_note"), "a carried-over result says where its fields came from"
    # where it lives: <suite>.json (a variant: <suite>_<what>.json), a probe's under results/probes/
    expected = result_path(env["suite"])
    assert path.parent == expected.parent and (path.stem == expected.stem or path.stem.startswith(expected.stem + "_"))


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.relative_to(RESULTS).as_posix() for p in RESULT_FILES])
def test_markdown_is_rendered_from_the_json(path: Path):
    md = path.with_suffix(".md")
    assert md.is_file(), f"{md.name} is missing: write results with benchmarks.envelope.write_result"
    assert md.read_text() == render(read_result(path)), f"{md.name} differs from its JSON: never edit it by hand"


def test_no_stray_result_files():
    """Every Markdown file in results/ is a rendered result; nothing in the old envelopes remains."""
    for md in RESULTS.rglob("*.md"):
        assert md.with_suffix(".json").is_file(), f"{md} has no JSON"


def test_write_and_read_round_trip(tmp_path: Path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model")
    rows = [{"crop_px": 112, "model_input_px": 112, "nme": 3.5, "fr10": 0.0, "faces": 2}]
    env = make_envelope("probes.resolution_probe", command_line("probes.resolution_probe", ["--model", "a b.tflite"]),
                        model_hashes([model, None, tmp_path / "missing.onnx"]),
                        {"model": "m.tflite", "data": "faces", "rows": rows})
    assert env["command"] == "python -m benchmarks.probes.resolution_probe --model 'a b.tflite'"
    assert env["models"] == {"m.tflite": hashlib.sha256(b"model").hexdigest()}  # a file outside the repository: its name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", env["date"]) and env["machine"]["cores"] >= 1
    path = write_result(env, tmp_path / "out" / "resolution_probe.json")
    assert read_result(path) == env
    assert path.with_suffix(".md").read_text() == render(env)
    (tmp_path / "bare.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a result envelope"):
        read_result(tmp_path / "bare.json")


def test_registries_match_the_modules():
    """Every module in suites/ is a registered suite (benchmarks.suites.SUITES: what the dispatcher runs and lists),
    every probe module is listed in benchmarks.probes.PROBES, and each has main (and a suite render_markdown)."""
    suites = {p.stem for p in (BENCH / "suites").glob("*.py")} - {"__init__"}
    probes = {p.stem for p in (BENCH / "probes").glob("*.py")} - {"__init__"}
    assert suites == set(SUITES), f"register these in benchmarks.suites.SUITES (or remove): {suites ^ set(SUITES)}"
    assert probes == set(PROBES), f"list these in benchmarks.probes.PROBES (or remove): {probes ^ set(PROBES)}"
    for name in SUITES:
        mod = importlib.import_module(module_of(name))
        assert callable(mod.main) and callable(mod.render_markdown), name
    for name in PROBES:
        mod = importlib.import_module(module_of(f"probes.{name}"))
        assert callable(mod.main), name


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("suite", list(SUITES))
def test_each_suite_runs_with_one_command(suite: str):
    r = _run("benchmarks", suite, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: python -m benchmarks {suite}")


def test_the_dispatcher_lists_the_suites_and_refuses_an_unknown_one():
    r = _run("benchmarks")
    assert r.returncode == 0 and all(name in r.stdout for name in [*SUITES, *PROBES])
    r = _run("benchmarks", "no_such_suite")
    assert r.returncode == 2 and "unknown suite" in r.stderr


def test_no_sys_path_tricks_in_benchmarks():
    """Intra-benchmark imports are package imports: no sys.path edits, no imports of sibling files by bare name."""
    siblings = {p.stem for p in BENCH.rglob("*.py")} - {"__init__", "__main__"}
    for path in [*BENCH.rglob("*.py"), *BENCH.rglob("*.sh")]:
        if "results" in path.relative_to(BENCH).parts or any(part.startswith(".") for part in path.relative_to(BENCH).parts):
            continue
        text = path.read_text()
        assert "sys.path" not in text, f"{path.relative_to(ROOT)} edits the module path"
        if path.suffix != ".py":
            assert "PYTHONPATH=" not in text, f"{path.relative_to(ROOT)} sets PYTHONPATH: run python -m from the repository root"
            continue
        for node in ast.walk(ast.parse(text)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            bare = [n for n in names if n.split(".")[0] in siblings]
            assert not bare, f"{path.relative_to(ROOT)} imports {bare} by bare name: use benchmarks.<...>"


OLD_SCRIPTS = ("benchmark.py", "end_to_end.py", "detector_sweep.py", "int8_agreement.py", "int8_detector.py",
               "vela_matrix.py", "qnn_agreement.py", "peers.py", "e2e_peers.py", "get_peers.sh", "requirements-peers.txt",
               "architecture_sweep.py", "five_point_bias.py", "int8_sensitivity.py", "point_bias_probe.py",
               "resolution_probe.py", "rotation_probe.py")


def test_docs_name_no_old_benchmark_path():
    """README, docs, scripts and tests name the suites by their command, not the scripts' old paths."""
    old = re.compile(r"benchmarks/(" + "|".join(re.escape(s) for s in OLD_SCRIPTS) + r")\b|benchmarks/results/(results\.|opencv/)")
    pages = [ROOT / "README.md", *ROOT.joinpath("docs").glob("*.md"), *ROOT.joinpath("scripts").glob("*"),
             *ROOT.joinpath("tests").glob("*.py")]
    for page in pages:
        if page.is_file():
            found = old.findall(page.read_text()) if page != Path(__file__) else []
            assert not found, f"{page.relative_to(ROOT)} names an old benchmark path: {found}"
