"""Frozen reference copy of molprop.nn (the backbone before the speed work), for equivalence."""

from .fiber import Fiber
from .se3_transformer import SE3Transformer

__all__ = ["Fiber", "SE3Transformer"]
