"""The checkout itself: it works on every machine and file system.

* no two tracked paths differ only by case (a checkout on macOS or Windows keeps one of them);
* no tracked text file names an absolute path of a particular machine (a work or home folder): commands and records
  use paths relative to the repository root (temporary folders such as ``/tmp`` are fine, and only tests need them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

ROOT = Path(__file__).resolve().parents[1]
# "/work/", "/home/", "/Users/", "/root/" at the start of a path (not inside a URL or a relative path), or "C:\Users\"
MACHINE_PATH = re.compile(r"(?<![\w.~:/-])/(?:" + "|".join(("work", "home", "Users", "root")) + r")/|[A-Za-z]:\\Users\\")
TEXT_SUFFIXES = {".py", ".sh", ".md", ".txt", ".json", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".pbtxt", ""}


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def test_no_two_tracked_paths_differ_only_by_case():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in _tracked():
        seen[path.lower()].append(path)
    clashes = [names for names in seen.values() if len(names) > 1]
    assert not clashes, f"paths that differ only by case (one is lost on macOS / Windows): {clashes}"


def test_no_tracked_file_names_a_machine_path():
    hits = []
    for path in _tracked():
        p = ROOT / path
        if path == "tests/test_repository.py":  # this file: the pattern and its examples
            continue
        if p.suffix not in TEXT_SUFFIXES or not p.is_file() or p.stat().st_size > 5_000_000:
            continue
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                hits.append(f"{path}:{n}: {line.strip()[:120]}")
    assert not hits, "absolute paths of a particular machine (use paths relative to the repository root):\n" + "\n".join(hits[:20])


@pytest.mark.parametrize("line, found", [
    ("cd /work/main && make", True), ("R=/home/me/runs", True), ('"model": "/Users/x/m.onnx"', True),
    (r"C:\Users\me\model.onnx", True), ("see https://example.org/home/page", False), ("runs/s10/work/x", False),
    ("/tmp/pipnet-vela-x", False), ("../shared/data/300w", False),
])
def test_machine_path_pattern(line, found):
    assert bool(MACHINE_PATH.search(line)) == found
