"""Batch inference of a torch PIPNet over a FaceDataset, decoded with the runtime's decode."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.dataset import FaceDataset
from ..runtime import geometry
from ..runtime.decode import DecodeTables, HeadOutputs, decode
from .normalize import normalize_batch

__all__ = ["predict_dataset", "run_heads"]


@torch.no_grad()
def run_heads(model: torch.nn.Module, images_u8: torch.Tensor, spec) -> HeadOutputs:
    if getattr(model, "takes_raw_pixels", False):  # QAT graphs: raw NHWC pixels
        outs = model(images_u8.float())
    else:
        outs = model(normalize_batch(images_u8, spec))
    return HeadOutputs.from_sequence(o.float().cpu().numpy() for o in outs)


@torch.no_grad()
def predict_dataset(
    model: torch.nn.Module, dataset: FaceDataset, batch_size: int = 32, use_nrm: bool = True, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Predict every face; returns ``(pred, truth)`` in source-image pixels, ``(F, N, 2)``."""
    spec = dataset.spec
    tables = DecodeTables.from_spec(spec)
    model = model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    if progress:
        from tqdm import tqdm

        loader = tqdm(loader, desc="evaluate", unit="batch", leave=False)
    preds, truths = [], []
    for batch in loader:
        heads = run_heads(model, batch["image"], spec)
        pts, _ = decode(heads, tables, use_nrm=use_nrm)
        crop_px = geometry.from_normalized(pts, spec.input_size)
        for k in range(crop_px.shape[0]):
            m = batch["matrix"][k].numpy()
            preds.append(geometry.apply(geometry.invert(m), crop_px[k]))
            truths.append(dataset.records[int(batch["index"][k])].points)
    return np.stack(preds), np.stack(truths)
