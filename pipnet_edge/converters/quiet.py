"""Keep the converters' third-party chatter out of an export's output (``verbose`` shows it again).

What the toolchains say during an export, none of it actionable for a user of this package:

* torch.onnx logs a warning per missing torchvision operator on every export; torch.export,
  torchao and onnxscript warn through ``warnings`` and their loggers;
* litert-torch warns "converted in training mode" on the root logger, ai-edge-quantizer prints
  a size report to stdout and a tqdm progress bar to stderr, and their C++ core writes absl /
  TensorFlow log lines to the process's stderr (file descriptor 2) when it is first imported and
  on every conversion (:func:`import_quietly`, with the runtime's descriptor capture).

:func:`quiet` silences all of that for the duration of an export; ``pipnet_edge`` log records
and errors (level ERROR and up) still come through.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Iterator

from ..runtime.backends.quiet import capture_stderr_fd

__all__ = ["NOISY_LOGGERS", "import_quietly", "quiet"]

# loggers of the toolchains (children inherit the level); raised to ERROR while quiet
NOISY_LOGGERS = (
    "torch.onnx", "torch.export", "torch._export", "torch.fx", "torch.utils._pytree", "torch._dynamo", "torchao",
    "onnxscript", "onnx_ir", "onnxslim", "litert_torch", "ai_edge_quantizer", "ai_edge_litert", "absl", "openvino", "nncf",
)
# read once by the TFLite converter's C++ core when it is loaded: 2 keeps errors only
_CPP_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"


class _OnlyOursOrErrors(logging.Filter):
    """On the root logger: drops third-party ``logging.warning(...)`` calls made on the root logger itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.startswith("pipnet_edge")


@contextlib.contextmanager
def quiet(verbose: bool = False) -> Iterator[None]:
    """Silence third-party warnings, log lines below ERROR and stdout prints inside the block.

    ``verbose=True`` changes nothing. (``pipnet_edge`` reports through logging, never ``warnings``:
    a third-party warning is attributed to the line of ours that called into the library.)
    """
    if verbose:
        yield
        return
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is not None:
        importlib.import_module("torch")  # importing torch resets the levels of its loggers: first, then ours
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    root_filter = _OnlyOursOrErrors()
    env_was_set = _CPP_LOG_ENV in os.environ
    os.environ.setdefault(_CPP_LOG_ENV, "2")
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _progress_bars_off():
            warnings.simplefilter("ignore")
            for name in NOISY_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
            logging.getLogger().addFilter(root_filter)
            yield
    finally:
        logging.getLogger().removeFilter(root_filter)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if not env_was_set:
            os.environ.pop(_CPP_LOG_ENV, None)


@contextlib.contextmanager
def _progress_bars_off() -> Iterator[None]:
    """tqdm bars drawn through ``tqdm.tqdm(...)`` inside the block are disabled.

    ai-edge-quantizer draws one ("Applying Transformations to tensors:") on sys.stderr whenever it rewrites a
    graph of 100 tensors or more (litert-torch's fp16 weight recipe does, for ``tflite-fp16``); it has no switch
    the converter passes through. A module that runs ``from tqdm import tqdm`` inside the block keeps the silent
    class.
    """
    try:
        import tqdm
    except ImportError:
        yield
        return
    original = tqdm.tqdm

    class _Silent(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    tqdm.tqdm = _Silent
    try:
        yield
    finally:
        tqdm.tqdm = original


def import_quietly(modules: Iterable[str], verbose: bool = False) -> None:
    """Import ``modules`` (those not imported yet) with the process's stderr captured unless ``verbose``.

    Native libraries log straight to file descriptor 2 when they load (litert-torch's absl
    "All log messages before absl::InitializeLog()" and TensorFlow's oneDNN notice), where
    Python cannot filter them. The captured text is written out again if an import fails.

    Raises:
        ImportError: from the failing import.
    """
    todo = [m for m in dict.fromkeys(modules) if m not in sys.modules]
    if not todo:
        return
    with contextlib.nullcontext() if verbose else capture_stderr_fd(replay_on_error=True):
        for m in todo:
            importlib.import_module(m)
