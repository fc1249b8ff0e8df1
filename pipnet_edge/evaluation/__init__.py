"""Evaluation: one code path for checkpoints and exported artifacts (the runtime's crops and decode)."""

from .predictors import Predictor, open_predictor
from .runner import Predictions, predict_faces

__all__ = ["Predictor", "open_predictor", "Predictions", "predict_faces"]
