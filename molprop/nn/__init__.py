"""Equivariant backbone of molprop: the SE(3)-Transformer in plain torch + e3nn."""

from molprop.nn.fiber import Fiber
from molprop.nn.se3_transformer import SE3Transformer

__all__ = ["Fiber", "SE3Transformer"]
