"""The ``detect`` estimator: train a pyramid space's FCOS head on boxes, score COCO box AP."""

from archspace.estimators.detect.estimator import DetectEstimator

__all__ = ["DetectEstimator"]
