"""z-scaling, normalised split-conformal, Platt/isotonic and the stored calibration record."""

import json
import math

import numpy as np
import pytest

from molprop.exceptions import InputError
from molprop.uncertainty import (
    Calibration,
    CalibrationSet,
    ProbabilityCalibration,
    VarianceParts,
    calibrate_classification,
    calibrate_regression,
    conformal_quantile,
    fit_calibration,
    fit_probability_calibration,
    load_record,
    missing_columns_note,
    regression_report,
    uncertainty_columns,
)
from molprop.uncertainty.evaluation import expected_calibration_error, gaussian_nll
from molprop.uncertainty.parts import part_calibrations, part_combinations, parts_report


def heteroscedastic(rng, n, true_scale=1.0):
    """Predictions whose raw std is off from the true noise std by ``true_scale``."""
    std = rng.uniform(0.2, 2.0, size=n)
    mean = rng.normal(size=n)
    target = mean + true_scale * std * rng.normal(size=n)
    return mean, std, target


def test_z_scaling_recovers_a_known_scale_and_minimises_the_nll():
    rng = np.random.default_rng(0)
    mean, std, target = heteroscedastic(rng, 20_000, true_scale=3.0)
    cal = fit_calibration(mean, std, target, "a", floor_fraction=1e-6)
    assert cal.scale == pytest.approx(3.0, rel=0.02)
    # the closed form is the NLL minimiser: nudging the factor either way costs likelihood
    best = gaussian_nll(target, mean, cal.scale * std)
    for factor in (0.97, 1.03):
        assert gaussian_nll(target, mean, factor * cal.scale * std) > best


def test_conformal_coverage_is_at_least_nominal_over_many_draws_and_not_far_above():
    rng = np.random.default_rng(1)
    n_cal, n_test, alpha = 50, 200, 0.1
    covered = []
    for _ in range(400):
        mean, std, target = heteroscedastic(rng, n_cal + n_test, true_scale=2.0)
        cal = fit_calibration(mean[:n_cal], std[:n_cal], target[:n_cal], "a", 1 - alpha)
        _, lower, upper = cal.apply(mean[n_cal:], std[n_cal:])
        covered.append(np.mean((target[n_cal:] >= lower) & (target[n_cal:] <= upper)))
    # marginal coverage lies in [1 - alpha, 1 - alpha + 1/(n_cal + 1)]; 400 x 200 test points
    # put the standard error of the mean near 0.002
    assert np.mean(covered) >= 1 - alpha - 0.006
    assert np.mean(covered) <= 1 - alpha + 1 / (n_cal + 1) + 0.006


def test_conformal_intervals_are_normalised_per_molecule():
    rng = np.random.default_rng(2)
    mean, std, target = heteroscedastic(rng, 500)
    cal = fit_calibration(mean, std, target, "a")
    std_cal, lower, upper = cal.apply(np.zeros(3), np.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(upper - lower, 2 * cal.quantile() * std_cal)
    np.testing.assert_allclose((upper - lower) / (upper - lower)[0], [1.0, 2.0, 4.0])
    # a wider coverage widens every interval, without refitting
    _, lo99, hi99 = cal.apply(np.zeros(3), np.array([0.5, 1.0, 2.0]), coverage=0.99)
    assert np.all(hi99 - lo99 > upper - lower)


def test_conformal_quantile_uses_the_finite_sample_rank():
    scores = np.arange(1.0, 10.0)  # n = 9
    assert conformal_quantile(scores, 0.9) == 9.0  # ceil(10 * 0.9) = 9th smallest
    assert conformal_quantile(scores, 0.5) == 5.0  # ceil(10 * 0.5) = 5th
    assert conformal_quantile(scores, 0.95) == math.inf  # ceil(9.5) = 10 > n: unbounded
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        conformal_quantile(scores, 1.5)


def test_zero_spread_is_floored_so_intervals_stay_finite_and_wide():
    rng = np.random.default_rng(3)
    target = rng.normal(size=200)
    cal = fit_calibration(np.zeros(200), np.zeros(200), target, "rigid")
    std_cal, lower, upper = cal.apply(np.zeros(2), np.zeros(2))
    # no spread at all: the calibrated std is the constant RMS residual
    assert std_cal[0] == pytest.approx(math.sqrt(np.mean(target**2)))
    assert np.all(np.isfinite(lower)) and np.all(upper > lower)


def test_nan_targets_are_masked_and_nan_rows_pass_through():
    rng = np.random.default_rng(4)
    mean, std, target = heteroscedastic(rng, 300, true_scale=2.0)
    holes = target.copy()
    holes[::3] = np.nan
    keep = ~np.isnan(holes)
    masked = fit_calibration(mean, std, holes, "a")
    direct = fit_calibration(mean[keep], std[keep], target[keep], "a")
    assert masked == direct
    std_cal, lower, _ = masked.apply(np.array([np.nan, 0.0]), np.array([1.0, 1.0]))
    assert np.isnan(lower[0]) and np.isfinite(lower[1])
    with pytest.raises(InputError, match="at least 2"):
        fit_calibration(mean[:3], std[:3], np.array([np.nan, np.nan, 1.0]), "a")


def test_calibration_json_round_trip_and_clear_errors():
    rng = np.random.default_rng(5)
    mean, std, target = heteroscedastic(rng, 40)
    cal = fit_calibration(mean, std, target, "logS", coverage=0.8)
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    assert cal.max_coverage == pytest.approx(40 / 41)
    _, lower, upper = cal.apply(np.zeros(1), np.ones(1), coverage=0.99)
    assert lower[0] == -math.inf and upper[0] == math.inf
    bad = cal.to_dict() | {"scale": -1.0}
    with pytest.raises(InputError, match=r"'logS'.*scale=-1.0.*> 0"):
        Calibration.from_dict(bad)
    with pytest.raises(InputError, match="version=2"):
        Calibration.from_dict(cal.to_dict() | {"version": 2})
    with pytest.raises(InputError, match=r"missing fields \['scores'\]"):
        Calibration.from_dict({k: v for k, v in cal.to_dict().items() if k != "scores"})
    with pytest.raises(InputError, match="not sorted"):
        Calibration.from_dict(cal.to_dict() | {"scores": [2.0, 1.0]})


def test_calibration_set_round_trip_apply_and_old_runs():
    rng = np.random.default_rng(6)
    columns = [heteroscedastic(rng, 100, true_scale=s) for s in (1.0, 4.0)]
    mean, std, target = (np.stack([c[i] for c in columns], axis=1) for i in range(3))
    record = calibrate_regression(mean, std, target, ["a", "b"], ("ensemble", "mve"))
    stored = json.loads(json.dumps(record.to_dict()))
    assert stored["method"] == "z-scaling + normalised split-conformal"
    again = load_record(stored)
    assert again == record
    std_cal, lower, upper = again.apply(mean, std)
    assert std_cal.shape == lower.shape == upper.shape == (100, 2)
    assert record.tasks[1].scale > 2 * record.tasks[0].scale  # one factor per task
    with pytest.raises(InputError, match=r"expected \[n, 2\]"):
        again.apply(mean[:, :1], std[:, :1])
    assert load_record(None) is None
    with pytest.raises(InputError, match="task='ranking'"):
        load_record(stored | {"task": "ranking"})
    with pytest.raises(InputError, match="expected \\['components', 'method'"):
        load_record({k: v for k, v in stored.items() if k != "tasks"})
    with pytest.raises(InputError, match="components=\\['dropout'\\]"):
        load_record(stored | {"components": ["dropout"]})
    note = missing_columns_note(None, ["a"], "regression")
    assert "a_std, a_lower, a_upper" in note
    assert missing_columns_note(record, ["a", "b"], "regression") is None
    assert uncertainty_columns(["p"], "classification") == ["p_calibrated", "p_std"]


def test_platt_sharpens_separable_data_and_flattens_random_labels():
    rng = np.random.default_rng(7)
    prob = rng.uniform(0.3, 0.7, size=400)
    separable = (prob > 0.5).astype(float)
    sharp = fit_probability_calibration(prob, separable, "t", "platt")
    assert math.isfinite(sharp.x[0]) and sharp.x[0] > 5  # smoothed targets: finite slope
    assert sharp.apply(np.array([0.35]))[0] < 0.1 and sharp.apply(np.array([0.65]))[0] > 0.9
    random = (rng.uniform(size=400) < 0.3).astype(float)
    flat = fit_probability_calibration(prob, random, "t", "platt")
    assert abs(flat.x[0]) < 1.0
    assert np.mean(flat.apply(prob)) == pytest.approx(random.mean(), abs=0.03)


def test_isotonic_is_monotone_and_calibrates_a_distorted_probability():
    rng = np.random.default_rng(8)
    true = rng.uniform(size=3000)
    label = (rng.uniform(size=3000) < true).astype(float)
    distorted = true**3  # over-confident towards 0
    fit, test = slice(0, 1500), slice(1500, None)
    iso = fit_probability_calibration(distorted[fit], label[fit], "t", "isotonic")
    out = iso.apply(np.linspace(0, 1, 50))
    assert np.all(np.diff(out) >= 0)
    before = expected_calibration_error(label[test], distorted[test])
    after = expected_calibration_error(label[test], iso.apply(distorted[test]))
    assert after < before / 3
    record = calibrate_classification(distorted[:, None], label[:, None], ["t"], "isotonic")
    assert CalibrationSet.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    assert ProbabilityCalibration.from_dict(iso.to_dict()) == iso
    with pytest.raises(InputError, match="method='beta'"):
        fit_probability_calibration(true, label, "t", "beta")


def _parts(rng, n: int):
    """Two tasks whose errors follow the ensemble part; conformer and mve are noise."""
    ensemble, conformer, mve = (rng.uniform(0.05, 2.0, size=(n, 2)) for _ in range(3))
    mean = rng.normal(size=(n, 2))
    target = mean + np.sqrt(ensemble) * rng.normal(size=(n, 2))
    return mean, target, VarianceParts(mean, ensemble=ensemble, conformer=conformer, mve=mve)


def test_each_combination_of_parts_is_calibrated_on_its_summed_variances():
    rng = np.random.default_rng(7)
    (mean, target, parts), (t_mean, t_target, t_parts) = _parts(rng, 300), _parts(rng, 300)
    fits = part_calibrations(mean, target, parts, ["a", "b"], coverage=0.8)
    assert list(fits) == [
        "conformer",
        "ensemble",
        "mve",
        "conformer+ensemble",
        "conformer+mve",
        "ensemble+mve",
        "conformer+ensemble+mve",
    ]
    for name, record in fits.items():
        assert record.components == tuple(name.split("+"))
        variance = sum(getattr(parts, p) for p in record.components)
        for t, cal in enumerate(record.tasks):
            alone = fit_calibration(
                mean[:, t], np.sqrt(variance[:, t]), target[:, t], cal.task, 0.8
            )
            assert cal.scale == pytest.approx(alone.scale) and cal.coverage == 0.8
            assert cal.std_floor == pytest.approx(alone.std_floor)
            np.testing.assert_allclose(cal.scores, alone.scores)
    report = parts_report(fits, t_mean, t_target, t_parts)
    std, lower, upper = fits["ensemble+mve"].apply(t_mean, np.sqrt(t_parts.ensemble + t_parts.mve))
    expected = regression_report(t_target, t_mean, std, ["a", "b"], lower, upper)
    assert report["ensemble+mve"] == pytest.approx(expected, nan_ok=True)
    # the part the errors follow is the informative one
    assert report["ensemble"]["nll"] < report["conformer"]["nll"] - 0.1
    assert report["ensemble"]["top_half_ratio"] < report["mve"]["top_half_ratio"]
    assert list(part_combinations(("mve", "conformer"))) == ["conformer", "mve", "conformer+mve"]
