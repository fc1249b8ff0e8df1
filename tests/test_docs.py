"""The README's targets table is generated from the one table in the code."""

from __future__ import annotations

from pathlib import Path

from pipnet_edge.converters.targets import targets_markdown

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
