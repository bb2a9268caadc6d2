"""Synthetic molecule-like point clouds and their edge sets, for the backbone benchmarks."""

from __future__ import annotations

import math


def cluster(num: int, generator, density: float = 0.1, min_dist: float = 1.0):
    """Molecule-like point cloud: uniform in a ball of ``density`` atoms/A^3, pairs >= min_dist."""
    import torch

    radius = (3 * num / (4 * math.pi * density)) ** (1 / 3)
    points = torch.empty(0, 3)
    while points.shape[0] < num:
        cand = (torch.rand(4 * num, 3, generator=generator) * 2 - 1) * radius
        cand = cand[cand.norm(dim=1) <= radius]
        for p in cand:
            if points.shape[0] == num:
                break
            if points.shape[0] == 0 or torch.cdist(p[None], points).min() >= min_dist:
                points = torch.cat([points, p[None]])
    return points


def knn_edges(pos, k: int):
    """Directed edges ``j -> i`` from each atom's ``k`` nearest neighbours: ``[2, N k]``."""
    import torch

    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    nbr = dist.topk(min(k, pos.shape[0] - 1), largest=False).indices
    dst = torch.arange(pos.shape[0]).repeat_interleave(nbr.shape[1])
    return torch.stack([nbr.reshape(-1), dst])


def radius_edges(pos, cutoff: float):
    """All directed pairs closer than ``cutoff``: ``[2, E]``."""
    import torch

    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    dst, src = torch.nonzero(dist < cutoff, as_tuple=True)
    return torch.stack([src, dst])
