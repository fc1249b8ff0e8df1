"""Training (torch): the loop (:mod:`.trainer`), the loss, self-training rounds on unlabelled faces
(:mod:`.self_training`) and several processes (:mod:`.distributed`).

:func:`train` is the entry point the CLI (``python -m pipnet_edge.train``) and Python users call::

    from pipnet_edge.training import TrainConfig, train
    final = train(TrainConfig(data="../shared/data/300w/train", out="runs/mbv2"))
"""

from __future__ import annotations

from pathlib import Path

from .trainer import TrainConfig, fit

__all__ = ["TrainConfig", "fit", "train"]


def train(cfg: TrainConfig) -> Path:
    """Run training; returns the path of the final model file (``final``/``qat`` safetensors).

    With ``cfg.unlabelled``: self-training rounds (:func:`~pipnet_edge.training.self_training.self_train`), else one
    run of the loop (:func:`~pipnet_edge.training.trainer.fit`).
    """
    if cfg.unlabelled:
        from .self_training import self_train

        return self_train(cfg)
    return fit(cfg)
