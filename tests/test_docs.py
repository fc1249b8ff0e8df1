"""The README: its targets table is generated from the one table in the code; it stays a page a user reads in five
minutes (the two commands near the top, no lab notebook: no dates, no local run folders), and its links resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipnet_edge.converters.targets import targets_markdown

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

ROOT = Path(__file__).resolve().parents[1]


def test_readme_targets_table_matches_the_code():
    readme = ROOT.joinpath("README.md").read_text()
    start = readme.index("<!-- targets table")
    end = readme.index("<!-- end targets table -->")
    table = readme[start:end].split("\n", 1)[1].strip()
    assert table == targets_markdown().strip(), "regenerate the README table from TARGETS"


def test_export_help_lists_every_target():
    from pipnet_edge.export import build_parser

    text = build_parser().format_help()
    for name in ("onnx-int8", "openvino-fp16", "tflite-int8"):
        assert name in text


def test_readme_is_short_and_not_a_lab_notebook():
    import re

    readme = ROOT.joinpath("README.md").read_text()
    lines = readme.splitlines()
    assert len(lines) <= 300, f"README has {len(lines)} lines; move detail to docs/"
    two = readme.index("## The two commands")
    assert two < readme.index("## The bundled models") and readme[:two].count("\n") < 40
    assert "scripts/setup.sh && .venv/bin/python -m pipnet_edge.export" in readme and ".venv/bin/python -m pytest -q" in readme
    dated = [l for l in lines if re.search(r"\b20\d\d-\d\d-\d\d\b|\bUTC\b", l)]
    assert not dated, f"dates belong in docs/ and the model cards: {dated[:3]}"
    runs = [l for l in lines if re.search(r"(^|[\s`(=])runs/", l)]
    assert not runs, f"local run folders in the README: {runs[:3]}"


def test_readme_and_docs_links_resolve():
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
