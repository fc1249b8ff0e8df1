"""Arm Ethos-U: the full-INT8 TFLite compiled by Arm's Vela (``pip install 'pipnet-edge[ethos-u]'``).

Vela replaces every operator it places on the NPU by one ``ethos-u`` custom operator holding the NPU's command
stream, and leaves the rest as TFLite operators for the CPU. Its report says how many went where and estimates the
NPU's time and memory (a performance model of the configuration, not a measurement on silicon). Each configuration
is a Vela accelerator with a system configuration and memory mode from the ``Arm/vela.ini`` that Vela ships:

=================  =====================  =================================  ================
target             accelerator            system config (Arm/vela.ini)       memory mode
=================  =====================  =================================  ================
``ethos-u55-128``  Ethos-U55, 128 MAC/cc  Ethos_U55_High_End_Embedded        Shared_Sram
``ethos-u55-256``  Ethos-U55, 256 MAC/cc  Ethos_U55_High_End_Embedded        Shared_Sram
``ethos-u65-256``  Ethos-U65, 256 MAC/cc  Ethos_U65_High_End                 Dedicated_Sram
``ethos-u65-512``  Ethos-U65, 512 MAC/cc  Ethos_U65_High_End                 Dedicated_Sram
``ethos-u85-256``  Ethos-U85, 256 MAC/cc  Ethos_U85_SYS_DRAM_Mid             Dedicated_Sram
``ethos-u85-512``  Ethos-U85, 512 MAC/cc  Ethos_U85_SYS_DRAM_Mid             Dedicated_Sram
=================  =====================  =================================  ================

The U55 sits beside Cortex-M microcontrollers (TensorFlow Lite Micro runs the file); the U65 and U85 also sit beside
Cortex-A application processors running Linux (NXP i.MX 93: the TFLite ``ethos-u`` external delegate runs it).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportError

__all__ = ["EthosUConfig", "ETHOS_U_CONFIGS", "VELA_MODULE", "compile_vela", "vela_version", "ETHOS_U_CUSTOM_OP", "ETHOS_U_DELEGATE"]

VELA_MODULE = "ethosu.vela"
# the TFLite custom operator Vela writes for the NPU's part of the graph
ETHOS_U_CUSTOM_OP = "ethos-u"
# what an artifact's metadata names as the delegate it needs (export["npu"]["delegate"])
ETHOS_U_DELEGATE = "ethos-u"


@dataclass(frozen=True)
class EthosUConfig:
    """One Ethos-U configuration Vela compiles for."""

    name: str  # the export target's name, e.g. ethos-u55-128
    accelerator: str  # vela --accelerator-config
    system_config: str  # a [System_Config.*] of Arm/vela.ini
    memory_mode: str  # a [Memory_Mode.*] of Arm/vela.ini

    @property
    def description(self) -> str:
        npu, macs = self.accelerator.removeprefix("ethos-").upper().split("-")
        return f"Arm Ethos-{npu} ({macs} MAC/cycle): full-INT8 TFLite compiled by Vela ({self.system_config}, {self.memory_mode})"


ETHOS_U_CONFIGS: dict[str, EthosUConfig] = {
    c.name: c
    for c in (
        EthosUConfig("ethos-u55-128", "ethos-u55-128", "Ethos_U55_High_End_Embedded", "Shared_Sram"),
        EthosUConfig("ethos-u55-256", "ethos-u55-256", "Ethos_U55_High_End_Embedded", "Shared_Sram"),
        EthosUConfig("ethos-u65-256", "ethos-u65-256", "Ethos_U65_High_End", "Dedicated_Sram"),
        EthosUConfig("ethos-u65-512", "ethos-u65-512", "Ethos_U65_High_End", "Dedicated_Sram"),
        EthosUConfig("ethos-u85-256", "ethos-u85-256", "Ethos_U85_SYS_DRAM_Mid", "Dedicated_Sram"),
        EthosUConfig("ethos-u85-512", "ethos-u85-512", "Ethos_U85_SYS_DRAM_Mid", "Dedicated_Sram"),
    )
}


def vela_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ethos-u-vela")
    except PackageNotFoundError:
        return "?"


_CPU_OPS = re.compile(r"CPU operators = (\d+) \(([\d.]+)%\)")
_NPU_OPS = re.compile(r"NPU operators = (\d+) \(([\d.]+)%\)")


def compile_vela(tflite: str | Path, out: str | Path, config: str | EthosUConfig, timeout: float = 600) -> dict[str, Any]:
    """Compile a full-INT8 ``.tflite`` with Vela for ``config``; write the result to ``out``.

    Returns Vela's report: ``cpu_operators``, ``npu_operators``, ``cpu_operator_reasons`` (Vela's reason for each
    operator it left on the CPU), ``inference_time_ms``, ``inferences_per_second``, ``sram_kib``, ``dram_kib``,
    ``off_chip_flash_kib``, ``on_chip_flash_kib``, ``nn_macs``, and the configuration and Vela version.

    Raises:
        ExportError: Vela is not installed, fails, or writes no model.
    """
    import importlib.util

    cfg = ETHOS_U_CONFIGS[config] if isinstance(config, str) else config
    if importlib.util.find_spec("ethosu") is None:
        raise ExportError(f"target {cfg.name} needs Arm's Vela compiler: pip install 'pipnet-edge[ethos-u]'")
    tflite, out = Path(tflite), Path(out)
    with tempfile.TemporaryDirectory(prefix="pipnet-vela-") as tmp:
        cmd = [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main())",
               str(tflite), "--accelerator-config", cfg.accelerator, "--config", "Arm/vela.ini",
               "--system-config", cfg.system_config, "--memory-mode", cfg.memory_mode, "--show-cpu-operations",
               "--output-dir", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportError(f"Vela ({cfg.name}) did not finish within {timeout:.0f} s") from None
        compiled = Path(tmp) / f"{tflite.stem}_vela.tflite"
        if proc.returncode != 0 or not compiled.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
            raise ExportError(f"Vela ({cfg.name}) failed (exit {proc.returncode}):\n{tail}")
        summary = next(Path(tmp).glob(f"{tflite.stem}_summary_*.csv"), None)
        row = next(csv.DictReader(summary.open()), {}) if summary is not None else {}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(compiled.read_bytes())
    return _report(cfg, proc.stdout, row)


def _report(cfg: EthosUConfig, stdout: str, row: dict[str, str]) -> dict[str, Any]:
    def num(key: str, scale: float = 1.0, digits: int = 3):
        try:
            return round(float(row[key]) * scale, digits)
        except (KeyError, ValueError):
            return None

    cpu = _CPU_OPS.search(stdout)
    npu = _NPU_OPS.search(stdout)
    # --show-cpu-operations: "   CPU: <op> = <name>" lines, each followed by its reasons ("      - ...")
    reasons = sorted({line.strip().lstrip("- ").strip() for line in stdout.splitlines()
                      if line.startswith("      ") and line.strip().startswith("-")})
    return {
        "compiler": f"vela {vela_version()}",
        "accelerator": cfg.accelerator,
        "system_config": cfg.system_config,
        "memory_mode": cfg.memory_mode,
        "cpu_operators": int(cpu.group(1)) if cpu else None,
        "npu_operators": int(npu.group(1)) if npu else None,
        "cpu_operator_reasons": reasons,
        "inference_time_ms": num("inference_time", 1000.0),
        "inferences_per_second": num("inferences_per_second", 1.0, 1),
        "sram_kib": num("sram_memory_used", 1.0, 1),
        "dram_kib": num("dram_memory_used", 1.0, 1),
        "on_chip_flash_kib": num("on_chip_flash_memory_used", 1.0, 1),
        "off_chip_flash_kib": num("off_chip_flash_memory_used", 1.0, 1),
        "nn_macs": int(float(row["nn_macs"])) if row.get("nn_macs") else None,
    }
