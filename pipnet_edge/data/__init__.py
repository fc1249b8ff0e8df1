"""Annotations, crops, augmentation and training targets."""
