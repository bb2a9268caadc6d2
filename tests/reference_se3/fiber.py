"""Fibers: how many channels a feature field carries at each rotation degree."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

#: Node or edge features of one fiber: degree ``l`` -> tensor ``[*, channels, 2l+1]``.
Features = dict[int, torch.Tensor]


class Fiber:
    """An immutable map ``degree -> channels`` describing an equivariant feature field.

    A feature of degree ``l`` with ``c`` channels is stored as a tensor of shape
    ``[num_items, c, 2l+1]`` whose last axis follows e3nn's real spherical-harmonic basis,
    so it rotates by ``e3nn.o3.Irrep(l, p).D_from_matrix(R)``.

    Args:
        channels: Mapping from degree (``int >= 0``) to number of channels (``int > 0``).
    """

    def __init__(self, channels: Mapping[int, int]):
        items = sorted((int(d), int(c)) for d, c in channels.items())
        for degree, num in items:
            if degree < 0 or num <= 0:
                raise ValueError(
                    f"Fiber entry degree={degree}, channels={num} is invalid; "
                    "expected degree >= 0 and channels > 0"
                )
        self._channels = dict(items)

    @classmethod
    def uniform(cls, max_degree: int, channels: int) -> Fiber:
        """Fiber with ``channels`` channels at every degree ``0..max_degree``."""
        return cls({d: channels for d in range(max_degree + 1)})

    @property
    def degrees(self) -> list[int]:
        """Sorted degrees present in the fiber."""
        return list(self._channels)

    @property
    def max_degree(self) -> int:
        """Largest degree (``-1`` for an empty fiber)."""
        return max(self._channels, default=-1)

    def __getitem__(self, degree: int) -> int:
        return self._channels[degree]

    def __contains__(self, degree: object) -> bool:
        return degree in self._channels

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._channels.items())

    def __len__(self) -> int:
        return len(self._channels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fiber) and self._channels == other._channels

    def __hash__(self) -> int:
        return hash(tuple(self._channels.items()))

    def __repr__(self) -> str:
        return f"Fiber({self._channels})"

    @property
    def num_features(self) -> int:
        """Total number of scalar components, ``sum_l c_l (2l+1)``."""
        return sum(c * (2 * d + 1) for d, c in self)

    def zeros(self, num: int, like: torch.Tensor) -> Features:
        """Zero features of this fiber for ``num`` items, matching ``like``'s dtype and device."""
        return {d: like.new_zeros(num, c, 2 * d + 1) for d, c in self}
