"""Uncertainty scores: ideal values for a calibrated predictor, known curves, bootstrap, reports."""

import math
import warnings

import numpy as np
import pytest

from molprop.exceptions import InputError
from molprop.uncertainty import bootstrap_ci, classification_report, regression_report
from molprop.uncertainty import evaluation as ev
from molprop.uncertainty.plots import calibration_plot


@pytest.fixture(scope="module")
def calibrated():
    """Targets drawn from exactly the predicted Gaussians."""
    rng = np.random.default_rng(0)
    n = 20_000
    sigma = rng.uniform(0.1, 3.0, size=n)
    mu = rng.normal(size=n)
    return mu + sigma * rng.normal(size=n), mu, sigma


def test_calibrated_predictor_scores_near_their_ideal(calibrated):
    y, mu, sigma = calibrated
    expected_nll = np.mean(0.5 * np.log(2 * np.pi * sigma**2)) + 0.5
    assert ev.gaussian_nll(y, mu, sigma) == pytest.approx(expected_nll, abs=0.02)
    assert ev.miscalibration_area(y, mu, sigma) < 0.01
    assert ev.ence(y, mu, sigma) < 0.05
    # stds twice too large or too small are clearly worse on every score
    for factor in (0.5, 2.0):
        assert ev.gaussian_nll(y, mu, factor * sigma) > ev.gaussian_nll(y, mu, sigma) + 0.1
        assert ev.miscalibration_area(y, mu, factor * sigma) > 0.1
        assert ev.ence(y, mu, factor * sigma) > 0.4
    assert ev.spearman_sigma_error(y, mu, sigma) > 0.3
    assert ev.spearman_sigma_error(y, mu, np.random.default_rng(1).permutation(sigma)) < 0.05


def test_coverage_curve_of_a_calibrated_predictor_follows_the_diagonal(calibrated):
    expected, observed = ev.coverage_curve(*calibrated)
    assert observed[0] == 0.0 and observed[-1] == 1.0
    assert np.max(np.abs(observed - expected)) < 0.02
    # 68.3 % of Gaussian draws lie within one sigma
    one_sigma = ev.coverage_curve(*calibrated, grid=[math.erf(1 / math.sqrt(2))])[1][0]
    assert one_sigma == pytest.approx(0.683, abs=0.01)


def test_selective_curve_of_a_known_ranking():
    error = np.arange(1.0, 11.0)  # sigma ranks the errors exactly
    curve = ev.selective_curve(error, np.zeros(10), error)
    expected = [math.sqrt(np.mean(error[:k] ** 2)) for k in range(1, 11)]
    np.testing.assert_allclose(curve, expected)
    reversed_curve = ev.selective_curve(error, np.zeros(10), -error)
    assert reversed_curve[0] == 10.0 and reversed_curve[-1] == curve[-1]


def test_top_half_ratio_on_hand_made_values():
    y, mu = np.zeros(4), np.array([1.0, -1.0, 3.0, -3.0])  # errors 1, 1, 3, 3
    sigma = np.array([0.1, 0.2, 0.3, 0.4])
    # the confident half has errors 1, 1 (RMSE 1); all four have RMSE sqrt(20 / 4)
    assert ev.top_half_ratio(y, mu, sigma) == pytest.approx(1 / math.sqrt(5))
    assert ev.top_half_ratio(y, mu, -sigma) == pytest.approx(3 / math.sqrt(5))
    # odd n: the half is ceil(3 / 2) = 2 molecules
    assert ev.top_half_ratio(y[:3], mu[:3], sigma[:3]) == pytest.approx(1 / math.sqrt(11 / 3))
    assert math.isnan(ev.top_half_ratio(y, y, sigma))  # exact predictions: no ratio
    report = regression_report(y[:, None], mu[:, None], sigma[:, None], ["t"], n_boot=10)
    assert report["top_half_ratio"] == pytest.approx(1 / math.sqrt(5))
    assert len(report["top_half_ratio_ci"]) == 2


def test_width_at_coverage_rescales_the_intervals_to_the_coverage():
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.0])
    centre = np.array([0.5, -1.0, 3.0, 0.0, 2.0])
    half = np.array([1.0, 1.0, 1.0, 2.0, 4.0])  # needed factors 0.5, 1, 3, 0, 0.5
    lower, upper = centre - half, centre + half
    # 0.6 of 5 molecules: the 3rd smallest factor, 0.5, times the mean width 3.6
    assert ev.width_at_coverage(y, lower, upper, 0.6) == pytest.approx(0.5 * 3.6)
    assert ev.width_at_coverage(y, lower, upper, 0.8) == pytest.approx(1.0 * 3.6)
    assert ev.width_at_coverage(y, lower, upper, 0.9) == pytest.approx(3.0 * 3.6)
    # the score ignores how the intervals were scaled: the same at any common width factor
    assert ev.width_at_coverage(y, centre - 7 * half, centre + 7 * half, 0.6) == pytest.approx(1.8)
    assert ev.width_at_coverage(y, lower, upper, 0.6) < ev.mean_interval_width(lower, upper)
    assert math.isnan(ev.width_at_coverage(y[:0], lower[:0], upper[:0]))
    unbounded = np.where(np.arange(5) == 2, np.inf, upper)  # a tiny calibration set's bound
    assert math.isnan(ev.width_at_coverage(y, lower, unbounded))


def test_interval_coverage_width_brier_and_ece_on_hand_made_values():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert ev.interval_coverage(y, y - 1, np.array([1.0, 2.0, 1.0, 4.0])) == 0.75
    assert ev.mean_interval_width(np.zeros(2), np.array([1.0, 3.0])) == 2.0
    labels = np.array([0.0, 1.0, 1.0, 0.0])
    prob = np.array([0.1, 0.9, 0.6, 0.6])
    assert ev.brier_score(labels, prob) == pytest.approx((0.01 + 0.01 + 0.16 + 0.36) / 4)
    # bins: {0.1 -> label 0}, {0.6, 0.6 -> rate 0.5}, {0.9 -> label 1}
    assert ev.expected_calibration_error(labels, prob) == pytest.approx((0.1 + 2 * 0.1 + 0.1) / 4)


def test_bootstrap_is_seeded_and_pairs_the_molecules(calibrated):
    y, mu, sigma = (a[:2000] for a in calibrated)
    first = bootstrap_ci(ev.gaussian_nll, y, mu, sigma, n_boot=200, seed=3)
    assert first == bootstrap_ci(ev.gaussian_nll, y, mu, sigma, n_boot=200, seed=3)
    assert first[1] < first[0] < first[2]

    def gain(y, mu, a, b):
        return ev.gaussian_nll(y, mu, a) - ev.gaussian_nll(y, mu, b)

    value, lower, upper = bootstrap_ci(gain, y, mu, 2 * sigma, sigma, n_boot=200)
    assert 0 < lower < value < upper  # the true stds are better on every resample
    same = bootstrap_ci(gain, y, mu, sigma, sigma, n_boot=50)
    assert same == (0.0, 0.0, 0.0)  # paired: identical methods never differ


def test_regression_report_masks_nan_targets_per_task(calibrated):
    y, mu, sigma = (a[:400] for a in calibrated)
    target = np.stack([y, y], axis=1)
    target[:200, 1] = np.nan
    two = np.stack([mu, mu], axis=1), np.stack([sigma, sigma], axis=1)
    report = regression_report(target, *two, ["a", "b"], two[0] - 2 * two[1], two[0] + 2 * two[1])
    assert report["n/a"] == 400 and report["n/b"] == 200 and report["n"] == 600
    alone = regression_report(y[200:, None], mu[200:, None], sigma[200:, None], ["b"])
    assert report["nll/b"] == pytest.approx(alone["nll"])
    assert report["selective_rmse/b"] == pytest.approx(alone["selective_rmse"])
    assert report["nll"] == pytest.approx((report["nll/a"] + report["nll/b"]) / 2)
    assert "coverage" in report and "coverage" not in alone
    assert len(report["selective_rmse"]) == len(report["selective_fractions"]) == 10
    with_ci = regression_report(y[:, None], mu[:, None], sigma[:, None], ["a"], n_boot=20)
    assert len(with_ci["ence_ci"]) == 2
    with pytest.raises(InputError, match="std: received shape"):
        regression_report(target, two[0], sigma[:, None], ["a", "b"])


def test_classification_report_and_calibration_plot(calibrated, tmp_path):
    labels = np.array([[0.0], [1.0], [np.nan], [1.0]])
    report = classification_report(labels, np.array([[0.0], [1.0], [0.5], [0.5]]), ["t"])
    assert report["brier"] == pytest.approx(0.25 / 3) and report["n"] == 3
    y, mu, sigma = (a[:300, None] for a in calibrated)
    path = calibration_plot(
        y, mu, sigma, ["a"], tmp_path / "calibration.png", mu - sigma, mu + sigma, 0.68
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bootstrap_of_an_undefined_or_unbounded_score_warns_nothing():
    y = np.arange(6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, lo, hi = ev.bootstrap_ci(lambda a: float("nan"), y, n_boot=20)
        assert math.isnan(value) and math.isnan(lo) and math.isnan(hi)
        # unbounded intervals: an infinite width; inf - inf replicates leave no interval
        value, lo, hi = ev.bootstrap_ci(ev.mean_interval_width, y - np.inf, y + np.inf, n_boot=20)
        assert value == np.inf and math.isnan(lo) and math.isnan(hi)
