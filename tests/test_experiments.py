"""The dated experiment records under ``docs/experiments/``: each runs anywhere and says what it holds.

* one script per step, named ``NN_step.sh``, with no numbered copies (``ship2.sh``), each valid bash that stops on the
  first error, moves to the repository root by a path relative to itself and waits for nothing (no polling loops,
  no ``.done`` files);
* the README links resolve and name every file of the record.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted(p for p in (ROOT / "docs" / "experiments").glob("*") if p.is_dir())
SCRIPTS = sorted(s for r in RECORDS for s in r.glob("*.sh"))


def test_records_are_dated_and_have_a_readme():
    assert RECORDS, "no experiment record under docs/experiments/"
    for record in RECORDS:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d-[a-z0-9-]+", record.name), f"{record.name}: name it YYYY-MM-DD-topic"
        assert (record / "README.md").is_file(), f"{record.name} has no README.md"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_step_scripts_run_anywhere(script):
    text = script.read_text()
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.sh", script.name), f"{script.name}: name a step NN_what.sh"
    assert "set -euo pipefail" in text
    assert 'cd "$(dirname "$0")/../../.."' in text, "move to the repository root by a path relative to the script"
    for pattern in (r"\bsleep\b", r"\.done\b", r"\bpgrep\b", r"^\s*while\b"):
        assert not re.search(pattern, text, re.M), f"{script.name} waits on something ({pattern}): one step, run in order"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_no_numbered_copies():
    for record in RECORDS:
        stems = {re.sub(r"^\d\d_", "", p.stem) for p in record.rglob("*") if p.is_file()}
        copies = [s for s in stems if re.fullmatch(r".*[a-z]\d+", s) and re.sub(r"\d+$", "", s) in stems]
        assert not copies, f"{record.name}: numbered copies {copies}; keep the version taken, describe the others"


def test_readme_links_resolve_and_name_every_file():
    for record in RECORDS:
        readme = (record / "README.md").read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
            if "://" not in target:
                assert (record / target).exists(), f"{record.name}/README.md links to {target}, which does not exist"
        for path in record.rglob("*"):
            if path.is_file() and path.name != "README.md":
                assert path.name in readme, f"{record.name}/README.md does not mention {path.relative_to(record)}"
