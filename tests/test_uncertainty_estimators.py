"""Variance parts over ensemble members, conformers and a variance head."""

import numpy as np
import pytest
import torch

from molprop.bagging import aggregate_conformers, aggregate_ensemble
from molprop.exceptions import InputError
from molprop.uncertainty import (
    bernoulli_variance,
    parts_from_aggregated,
    resolve_components,
    variance_parts,
)


def test_parts_of_a_hand_made_ensemble():
    means = np.array([[[1.0]], [[3.0]]])  # M=2 members, n=1 molecule, T=1 task
    conformer = np.array([[[0.5]], [[1.5]]])
    mve = np.array([[[2.0]], [[4.0]]])
    parts = variance_parts(means, conformer, mve)
    assert parts.mean.item() == 2.0
    assert parts.ensemble.item() == 1.0  # population variance of {1, 3}
    assert parts.conformer.item() == 1.0 and parts.mve.item() == 3.0
    assert parts.total().item() == 4.0  # auto: ensemble + mve (law of total variance)
    assert parts.total(["ensemble", "mve", "conformer"]).item() == 5.0
    assert parts.total("conformer").item() == 1.0


def test_auto_falls_back_to_the_conformer_part_for_a_single_model():
    parts = variance_parts(np.ones((4, 2)), np.full((4, 2), 0.25))  # [n, T]: one member
    assert parts.ensemble is None and parts.available() == ("conformer",)
    np.testing.assert_allclose(parts.total(), 0.25)
    assert resolve_components("auto", ("ensemble", "conformer")) == ("ensemble",)
    with pytest.raises(InputError, match=r"\['mve'\] requested but only \['conformer'\]"):
        parts.total(["mve"])
    with pytest.raises(InputError, match="'aleatoric'"):
        parts.total(["aleatoric"])


def test_shape_and_sign_errors_name_the_argument():
    with pytest.raises(InputError, match=r"conformer_var: received shape \(2, 1, 1\)"):
        variance_parts(np.ones((2, 3, 1)), np.ones((2, 1, 1)))
    with pytest.raises(InputError, match="mve_var: received negative"):
        variance_parts(np.ones((2, 3, 1)), None, -np.ones((2, 3, 1)))
    # predictions (unlike variances) may be negative
    parts = variance_parts(np.array([[[-1.0]], [[-3.0]]]))
    assert parts.mean.item() == -2.0 and parts.ensemble.item() == 1.0
    with pytest.raises(InputError, match="expected probabilities"):
        bernoulli_variance(np.array([1.5]))
    np.testing.assert_allclose(bernoulli_variance(np.array([0.5, 0.0, 0.9])), [0.25, 0.0, 0.09])


def test_parts_from_aggregated_members_match_the_bagging_spreads():
    mol_idx = torch.tensor([0, 0, 1, 1, 1])
    preds = [torch.tensor([[1.0], [3.0], [0.0], [1.0], [2.0]]), torch.tensor([[2.0]] * 5)]
    members = [aggregate_conformers(p, mol_idx) for p in preds]
    variances = [aggregate_conformers(torch.full((5, 1), 0.5 * (m + 1)), mol_idx) for m in range(2)]
    parts = parts_from_aggregated(members, variances)
    ensemble = aggregate_ensemble(members)
    np.testing.assert_allclose(parts.mean, ensemble.prediction.numpy())
    np.testing.assert_allclose(np.sqrt(parts.ensemble), ensemble.ensemble_std.numpy(), rtol=1e-6)
    # member 0 spreads 1 (molecule 0) and 2/3 (molecule 1); member 1 does not spread
    np.testing.assert_allclose(parts.conformer[:, 0], [0.5, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(parts.mve, 0.75)
