"""``python -m benchmarks <suite> [options]``: run one suite; ``python -m benchmarks`` lists them.

Run from the repository root. ``python -m benchmarks <suite> --help`` prints a suite's options; every suite writes
``benchmarks/results/<suite>.json`` (the one envelope, :mod:`benchmarks.envelope`) and ``<suite>.md`` rendered from it.
"""

from __future__ import annotations

import importlib
import sys

from benchmarks.probes import PROBES
from benchmarks.suites import SUITES, module_name


def listing() -> str:
    width = max(map(len, [*SUITES, *PROBES]))
    lines = ["usage: python -m benchmarks <suite> [options]     (python -m benchmarks <suite> --help)", "", "suites:"]
    lines += [f"  {name:<{width}}  {what}" for name, what in SUITES.items()]
    lines += ["", "peers (optional extras of artifacts / end_to_end): bash benchmarks/peers/get_peers.sh",
              "", "probes (one-off, kept as a record): python -m benchmarks.probes.<probe> [options]"]
    lines += [f"  {name:<{width}}  {what}" for name, what in PROBES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(listing())
        return 0
    suite, rest = argv[0], argv[1:]
    try:
        name = module_name(suite)
    except ValueError as exc:
        print(f"{exc}\n\n{listing()}", file=sys.stderr)
        return 2
    return int(importlib.import_module(name).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
