"""pipnet-edge's benchmarks, a package run from the repository root.

* :mod:`benchmarks.suites`: the maintained suites, one command each: ``python -m benchmarks <suite> [options]``
  (``python -m benchmarks`` lists them). Each writes ``benchmarks/results/<suite>.json`` in the one result envelope
  (:mod:`benchmarks.envelope`) and the Markdown table rendered from it (``<suite>.md``).
* :mod:`benchmarks.peers`: adapters to peer projects (dlib, MediaPipe), optional extras installed by
  ``bash benchmarks/peers/get_peers.sh``.
* :mod:`benchmarks.probes`: one-off probes, kept as the record of how a choice was made
  (``python -m benchmarks.probes.<probe>``); their results are in ``benchmarks/results/probes/``.
* Support: :mod:`benchmarks.multiface` (the synthetic multi-face photos), :mod:`benchmarks.reference_int8` (each
  runtime's own INT8 of our float model, for ``artifacts --references``).

Importing this package imports nothing heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
HERE = Path(__file__).resolve().parent  # benchmarks/
RESULTS = HERE / "results"
SHARED = Path(os.environ.get("PIPNET_EDGE_SHARED", ROOT.parent / "shared"))
