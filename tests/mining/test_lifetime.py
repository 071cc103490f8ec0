"""BG/NBD and Gamma-Gamma: the published CDNOW fits, recovery of simulated parameters, predictions
against independent numerical integration, and the inputs computed from raw orders.

Run with ``-rA`` (or ``-s``) to see the reproduced figures.
"""
import json
from itertools import pairwise

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln
from sklearn.base import clone

from shopcrm.errors import NotEnoughData
from shopcrm.mining.alive_purchases import _closed_form, _quadrature
from shopcrm.mining.lifetime import (
    MIN_REPEAT_BUYERS,
    BetaGeoModel,
    GammaGammaModel,
    TooFewRepeatBuyers,
    expected_value,
)
from shopcrm.mining.occasions import future_activity, lifetime_inputs
from tests.support import cdnow
from tests.support.simulate import simulate_bgnbd, simulate_gamma_gamma

# Fader, Hardie & Lee (2005) and Fader & Hardie (2013) on the CDNOW sample, in weeks and dollars.
PUBLISHED_BGNBD = {"r_": 0.243, "alpha_": 4.414, "a_": 0.793, "b_": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GG = {"p_": 6.25, "q_": 3.74, "v_": 15.44}
PUBLISHED_GG_LL = -4055.92


def report(record_property, title, values):
    line = f"{title}: " + ", ".join(f"{k.rstrip('_')} = {v:.6g}" for k, v in values.items())
    print(line)
    record_property(title, line)


@pytest.fixture(scope="module")
def summary():
    return cdnow.summary()


@pytest.fixture(scope="module")
def cdnow_bgnbd(summary):
    return BetaGeoModel().fit(summary["x"], summary["t_x"], summary["T"])


@pytest.fixture(scope="module")
def cdnow_gg(summary):
    monetary = np.where(summary["x"] > 0, summary["zbar"], np.nan)
    return GammaGammaModel().fit(summary["x"], monetary)


# --- the published fits ------------------------------------------------------------------------------

def test_bgnbd_reproduces_the_published_cdnow_fit(cdnow_bgnbd, record_property):
    model = cdnow_bgnbd
    fitted = {name: getattr(model, name) for name in PUBLISHED_BGNBD}
    report(record_property, "BG/NBD on CDNOW (weeks)", {**fitted, "log_likelihood": model.log_likelihood_})
    for name, published in PUBLISHED_BGNBD.items():
        assert fitted[name] == pytest.approx(published, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    assert model.converged_
    assert (model.n_customers_, model.n_repeat_buyers_) == (2357, 946)


def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow_gg, summary, record_property):
    model = cdnow_gg
    fitted = {name: getattr(model, name) for name in PUBLISHED_GG}
    report(record_property, "Gamma-Gamma on CDNOW ($)",
           {**fitted, "log_likelihood": model.log_likelihood_, "mean_value": model.mean_value_,
            "repeat_buyers": model.n_customers_, "corr(x, value)": model.frequency_value_correlation_})
    assert model.n_customers_ == 946 and model.n_skipped_ == 0
    for name, published in PUBLISHED_GG.items():
        assert fitted[name] == pytest.approx(published, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_GG_LL, abs=0.1)
    assert model.mean_value_ == pytest.approx(model.p_ * model.v_ / (model.q_ - 1))


def test_the_fit_does_not_depend_on_the_time_unit_or_currency(summary, cdnow_bgnbd, cdnow_gg):
    """Days instead of weeks and cents instead of dollars: α and γ scale, the shapes stay."""
    days = BetaGeoModel().fit(summary["x"], summary["t_x"] * 7, summary["T"] * 7)
    for name in ("r_", "a_", "b_"):
        assert getattr(days, name) == pytest.approx(getattr(cdnow_bgnbd, name), rel=1e-4)
    assert days.alpha_ == pytest.approx(cdnow_bgnbd.alpha_ * 7, rel=1e-4)
    cents = GammaGammaModel().fit(summary["x"], np.where(summary["x"] > 0, summary["zbar"] * 100, np.nan))
    assert (cents.p_, cents.q_) == pytest.approx((cdnow_gg.p_, cdnow_gg.q_), rel=1e-4)
    assert cents.v_ == pytest.approx(cdnow_gg.v_ * 100, rel=1e-4)


# --- inputs from raw orders ---------------------------------------------------------------------------

def test_inputs_from_the_raw_cdnow_purchases_match_the_published_summary(summary):
    customer, age_days, total = cdnow.purchases()
    inputs = lifetime_inputs(customer, age_days, total, cdnow.CUSTOMERS, unit_days=7,
                             cutoff_days=cdnow.CALIBRATION_CUTOFF_DAYS)
    np.testing.assert_array_equal(inputs.frequency, summary["x"])
    # The summary rounds weeks and dollars to two decimals.
    np.testing.assert_allclose(inputs.recency, summary["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(inputs.T, summary["T"], atol=0.005 + 1e-9)
    repeat = summary["x"] > 0
    np.testing.assert_allclose(inputs.monetary_value[repeat], summary["zbar"][repeat], atol=0.005 + 1e-9)
    assert np.isnan(inputs.monetary_value[~repeat]).all()
    # The match rests on merging same-day purchases: counted as orders, there would be more repeats.
    calibration = age_days >= cdnow.CALIBRATION_CUTOFF_DAYS
    repeat_orders = calibration.sum() - len(np.unique(customer[calibration]))
    assert repeat_orders > summary["x"].sum()


def test_same_day_orders_are_one_occasion_and_the_cutoff_hides_the_future():
    # Ages in days before the as-of date; the cutoff is one day back. Customer 0: two orders 10.2 and
    # 10.7 days back (the same calendar day when the as-of date is a midnight), one 3.5 days back and one
    # after the cutoff. Customer 1: 20.9 and 21.1 days back (02:24 and 21:36 on consecutive days).
    customer = np.array([0, 0, 0, 0, 1, 1])
    age = np.array([10.2, 10.7, 3.5, 0.5, 20.9, 21.1])
    total = np.array([5.0, 7.0, 30.0, 99.0, 8.0, 2.0])
    inputs = lifetime_inputs(customer, age, total, 3, cutoff_days=1.0)
    # Measured from the cutoff: customer 0's occasions are 12.0 at age 9.7 (the day's first order) and
    # 30.0 at age 2.5; customer 1's are 2.0 at age 20.1 and 8.0 at age 19.9; customer 2 never bought.
    np.testing.assert_allclose(inputs.frequency, [1, 1, 0])
    np.testing.assert_allclose(inputs.T[:2], [9.7, 20.1])
    assert np.isnan(inputs.T[2])
    np.testing.assert_allclose(inputs.recency, [9.7 - 2.5, 0.2, 0.0])
    np.testing.assert_allclose(inputs.monetary_value[:2], [30.0, 8.0])
    assert np.isnan(inputs.monetary_value[2])
    np.testing.assert_allclose(inputs.spend, [42.0, 10.0, 0.0])
    np.testing.assert_allclose(inputs.days_since_last[:2], [2.5, 19.9])
    # As of noon the day boundaries move by half a day: 10.2 and 10.7 days back fall on two calendar
    # days, 20.9 and 21.1 on one.
    noon = lifetime_inputs(customer, age, total, 3, cutoff_days=1.0, as_of_time_of_day=0.5)
    np.testing.assert_allclose(noon.frequency, [2, 0, 0])
    np.testing.assert_allclose(noon.monetary_value[0], (5.0 + 30.0) / 2)  # the first occasion is the older order, 7.0
    # In weeks, times are divided by 7.
    weeks = lifetime_inputs(customer, age, total, 3, cutoff_days=1.0, unit_days=7)
    np.testing.assert_allclose(weeks.T[:2], inputs.T[:2] / 7)
    np.testing.assert_allclose(weeks.days_since_last[:2], inputs.days_since_last[:2])
    # The window after the cutoff: customer 0's order at age 0.5.
    count, revenue = future_activity(customer, age, total, 3, cutoff_days=1.0, horizon_days=1.0)
    np.testing.assert_allclose(count, [1, 0, 0])
    np.testing.assert_allclose(revenue, [99.0, 0, 0])


def test_day_boundaries_at_midnight_and_at_a_cutoff_between_days():
    # As of a midnight: 5.0 days back is 00:00 and 4.5 days back 12:00 of the same day (a day includes
    # its first midnight); 6.0 days back is the day before.
    inputs = lifetime_inputs([0, 0, 0], [6.0, 5.0, 4.5], [1.0, 2.0, 4.0], 1)
    np.testing.assert_allclose(inputs.frequency, [1])
    np.testing.assert_allclose(inputs.monetary_value, [6.0])
    # A cutoff at noon of the day before does not move the calendar days: 10.2 and 10.7 days back stay together.
    inputs = lifetime_inputs([0, 0, 0], [10.2, 10.7, 3.0], [1.0, 1.0, 1.0], 1, cutoff_days=0.5)
    np.testing.assert_allclose(inputs.frequency, [1])
    np.testing.assert_allclose(inputs.T, [10.2])
    # An order exactly at the cutoff belongs to the past (age 0 as of the cutoff), not to the window after it.
    inputs = lifetime_inputs([0, 0], [30.0, 10.0], [1.0, 5.0], 1, cutoff_days=10.0)
    np.testing.assert_allclose((inputs.frequency, inputs.recency, inputs.T), ([1], [20.0], [20.0]))
    count, revenue = future_activity([0, 0], [30.0, 10.0], [1.0, 5.0], 1, cutoff_days=10.0, horizon_days=10.0)
    np.testing.assert_allclose((count, revenue), ([0], [0.0]))


def test_inputs_reject_orders_of_unknown_customers_with_a_clear_message():
    with pytest.raises(ValueError, match=r"orders.customer: 5 is not a customer row \(0 to 2\)"):
        lifetime_inputs([0, 5], [1.0, 2.0], [1.0, 1.0], 3)
    with pytest.raises(ValueError, match="orders.total: nan"):
        lifetime_inputs([0, 1], [1.0, 2.0], [1.0, np.nan], 3)


# --- parameter recovery ----------------------------------------------------------------------------

def bgnbd_log_likelihood(log_params, x, t_x, T):
    """FHL (2005)'s likelihood, written out per customer (independently of the model's vectorised sums)."""
    r, alpha, a, b = np.exp(log_params)
    log_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    log_a3 = -(r + x) * np.log(alpha + T)
    safe_x = np.maximum(x, 1)
    log_a4 = np.log(a) - np.log(b + safe_x - 1) - (r + x) * np.log(alpha + t_x)
    return np.sum(log_a1 + log_a2 + np.where(x > 0, np.logaddexp(log_a3, log_a4), log_a3))


def gamma_gamma_log_likelihood(log_params, x, m):
    """F&H (2013): the density of the mean of x Gamma(p, ν) values with ν ~ Gamma(q, γ)."""
    p, q, v = np.exp(log_params)
    return np.sum(gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
                  + p * x * np.log(x) - (p * x + q) * np.log(v + x * m))


def standard_errors(log_likelihood, log_params, step=1e-4):
    """Asymptotic standard errors of the log parameters from a finite-difference Hessian."""
    k = len(log_params)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            hessian[i, j] = (log_likelihood(log_params + e_i + e_j) - log_likelihood(log_params + e_i - e_j)
                             - log_likelihood(log_params - e_i + e_j) + log_likelihood(log_params - e_i - e_j)
                             ) / (4 * step * step)
    return np.sqrt(np.diag(np.linalg.inv(-hessian)))


def test_bgnbd_recovers_the_parameters_it_simulated(record_property):
    """20,000 customers drawn from BG/NBD itself, ages 30 days to 2 years, CDNOW's parameters in days.

    Tolerance: each fitted log parameter within 4 asymptotic standard errors (inverse Hessian of
    an independently written log-likelihood) of the truth; a correct fit misses that with
    probability ~6e-5 per parameter, a wrong one (a slip in the likelihood or its gradient)
    shifts the estimates by far more. The data are seeded, so the outcome is fixed.
    """
    truth = {"r_": 0.243, "alpha_": 4.414 * 7, "a_": 0.793, "b_": 2.426}
    T = np.random.default_rng(7).uniform(30, 730, 20000)
    x, t_x, T = simulate_bgnbd(20000, *truth.values(), T, seed=11)
    model = BetaGeoModel().fit(x, t_x, T)
    fitted = np.log([getattr(model, name) for name in truth])
    assert bgnbd_log_likelihood(fitted, x, t_x, T) == pytest.approx(model.log_likelihood_, rel=1e-12)
    se = standard_errors(lambda lp: bgnbd_log_likelihood(lp, x, t_x, T), fitted)
    report(record_property, "BG/NBD recovery (20k simulated)",
           {**{n: getattr(model, n) for n in truth}, **{f"se(log {n})": s for n, s in zip(truth, se)}})
    assert (se < 0.15).all()  # the test can tell a wrong fit from a right one
    np.testing.assert_array_less(np.abs(fitted - np.log(list(truth.values()))), 4 * se)
    # and no other point nearby is better: the fit is a maximum of the independent likelihood
    for direction in np.eye(4):
        for sign in (-1, 1):
            assert bgnbd_log_likelihood(fitted + sign * 0.01 * direction, x, t_x, T) < model.log_likelihood_


def test_gamma_gamma_recovers_the_parameters_it_simulated(record_property):
    """20,000 repeat buyers with 1 to 20 repeat orders; tolerance as for BG/NBD (4 standard errors)."""
    truth = {"p_": 6.25, "q_": 3.74, "v_": 15.44}
    x = np.random.default_rng(3).integers(1, 21, 20000).astype(float)
    m = simulate_gamma_gamma(x, *truth.values(), seed=5)
    model = GammaGammaModel().fit(x, m)
    fitted = np.log([getattr(model, name) for name in truth])
    assert gamma_gamma_log_likelihood(fitted, x, m) == pytest.approx(model.log_likelihood_, rel=1e-12)
    se = standard_errors(lambda lp: gamma_gamma_log_likelihood(lp, x, m), fitted)
    report(record_property, "Gamma-Gamma recovery (20k simulated)",
           {**{n: getattr(model, n) for n in truth}, **{f"se(log {n})": s for n, s in zip(truth, se)}})
    assert (se < 0.15).all()
    np.testing.assert_array_less(np.abs(fitted - np.log(list(truth.values()))), 4 * se)


# --- predictions against numerical integration ----------------------------------------------------------

def prior_integral(f, r, alpha, a, b, eps=1e-10):
    """∫∫ f(λ, p) Gamma(λ; r, α) Beta(p; a, b) dλ dp by nested adaptive quadrature.

    λ = v^(1/r) and p = w^(1/a) absorb the densities' singular factors λ^(r−1) and p^(a−1); the
    p range is cut at powers of ten so a narrow Beta peak near 0 is not stepped over.
    """
    norm = np.exp(r * np.log(alpha) - gammaln(r) - betaln(a, b)) / (r * a)

    def inner(w):
        p = w ** (1 / a)
        return integrate.quad(lambda v: f(v ** (1 / r), p) * np.exp(-alpha * v ** (1 / r)) * (1 - p) ** (b - 1),
                              0, np.inf, epsabs=0, epsrel=eps, limit=200)[0]

    edges = np.r_[0.0, np.logspace(-15, 0, 16)]
    return norm * sum(integrate.quad(inner, lo, hi, epsabs=0, epsrel=eps, limit=200)[0]
                      for lo, hi in pairwise(edges))


def integrated_predictions(params, x, t_x, T, t):
    """P(alive) and E[Y(t)] from the individual-level story: Poisson(λ) purchases, dropout p after each."""
    alive = lambda lam, p: (1 - p) ** x * lam ** x * np.exp(-lam * T)
    dropped = lambda lam, p: p * (1 - p) ** (x - 1) * lam ** x * np.exp(-lam * t_x) if x > 0 else 0.0
    evidence = prior_integral(lambda lam, p: alive(lam, p) + dropped(lam, p), *params)
    p_alive = prior_integral(alive, *params) / evidence
    purchases = prior_integral(lambda lam, p: alive(lam, p) * -np.expm1(-lam * p * t) / p, *params) / evidence
    return p_alive, purchases


@pytest.mark.parametrize("x, t_x, T, t", [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0), (1, 1.71, 38.86, 10.0),
                                          (7, 35.0, 38.0, 52.0)])
def test_predictions_equal_numerical_integration_of_the_model(cdnow_bgnbd, x, t_x, T, t):
    model = cdnow_bgnbd
    params = (model.r_, model.alpha_, model.a_, model.b_)
    p_alive, purchases = integrated_predictions(params, x, t_x, T, t)
    assert model.probability_alive([x], [t_x], [T])[0] == pytest.approx(p_alive, rel=1e-8)
    assert model.conditional_expected_purchases(t, [x], [t_x], [T])[0] == pytest.approx(purchases, rel=1e-8)


def test_unconditional_expectation_equals_numerical_integration(cdnow_bgnbd):
    model = cdnow_bgnbd
    params = (model.r_, model.alpha_, model.a_, model.b_)
    for t in (1.0, 39.0, 78.0):
        expected = prior_integral(lambda lam, p, t=t: -np.expm1(-lam * p * t) / p, *params)
        assert model.expected_purchases(t) == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(model.expected_purchases(np.array([1.0, 39.0])),
                               [model.expected_purchases(1.0), model.expected_purchases(39.0)])


def test_predictions_where_the_hypergeometric_closed_form_breaks_down():
    """Little dropout (large b) over a horizon 400 times the customer's age: SciPy's ₂F₁ returns
    NaN there; the quadrature fallback must give the integral's value."""
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = 0.5, 1.0, 2.72, 403.0
    x, t_x, T, t = 3, 0.5, 1.0, 806.0
    _, purchases = integrated_predictions((0.5, 1.0, 2.72, 403.0), x, t_x, T, t)
    got = model.conditional_expected_purchases(t, [x, x], [t_x, t_x], [T, np.nan])
    assert got[0] == pytest.approx(purchases, rel=1e-6)
    assert np.isnan(got[1])  # never bought: no prediction


@pytest.mark.parametrize("a, b", [(0.007, 0.007), (0.02, 5.0), (0.79, 2.4), (3.0, 0.01), (400.0, 1200.0),
                                  (1e4, 3e4)])
def test_the_quadrature_fallback_agrees_with_the_closed_form_where_that_holds(a, b):
    """Two independent evaluations of the same expectation: SciPy's ₂F₁ and the tanh-sinh rule,
    over U-shaped, skewed and very narrow Beta densities."""
    x = np.array([0, 0, 1, 3, 10, 10, 30])
    c = np.array([0.003, 1.0, 0.3, 3.0, 0.05, 2.0, 0.5])
    k = 0.24 + x
    closed = _closed_form(a, b + x, c, k)
    assert np.isfinite(closed).all()
    np.testing.assert_allclose(_quadrature(np.full(len(x), a), b + x, c, k), closed, rtol=1e-7)


def test_predictions_are_continuous_through_a_equal_to_one(cdnow_bgnbd):
    """The closed form is 0/0 at a = 1; values on either side must join up."""
    values = []
    for a in (1 - 1e-3, 1 - 1e-7, 1 - 1e-12, 1.0, 1 + 1e-12, 1 + 1e-7, 1 + 1e-3):
        model = BetaGeoModel()
        model.r_, model.alpha_, model.a_, model.b_ = cdnow_bgnbd.r_, cdnow_bgnbd.alpha_, a, cdnow_bgnbd.b_
        values.append(model.conditional_expected_purchases(39.0, [0, 3], [0.0, 20.0], [30.0, 30.0]))
    values = np.array(values)
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values[1:6], values[[3] * 5], rtol=1e-7)
    np.testing.assert_allclose(values[0], values[3], rtol=1e-2)
    np.testing.assert_allclose(values[6], values[3], rtol=1e-2)


def posterior_mean_order_value(p, q, v, x, m):
    """E[p/ν] under ν's posterior given x orders with mean m, by numerical integration over ν.

    The prior ν^(q−1) e^(−γν) times the density of the mean of x orders, Gamma(px, rate xν), as a
    function of ν, in logs and scaled by its value at the peak so the integrals are of order 1.
    """
    def log_post(nu):
        return (q - 1) * np.log(nu) - v * nu + p * x * np.log(x * nu) - x * nu * m

    peak = (q + p * x - 1) / (v + x * m)

    def posterior(nu):
        return np.exp(log_post(nu) - log_post(peak))

    pieces = ((0, peak), (peak, 10 * peak), (10 * peak, np.inf))
    top = sum(integrate.quad(lambda nu: p / nu * posterior(nu), lo, hi, epsabs=0, epsrel=1e-11)[0] for lo, hi in pieces)
    bottom = sum(integrate.quad(posterior, lo, hi, epsabs=0, epsrel=1e-11)[0] for lo, hi in pieces)
    return top / bottom


def test_gamma_gamma_expected_value_equals_the_posterior_mean(cdnow_gg):
    p, q, v = cdnow_gg.p_, cdnow_gg.q_, cdnow_gg.v_
    for x, m in ((1, 12.0), (4, 40.0), (15, 25.5)):
        expected = posterior_mean_order_value(p, q, v, x, m)
        assert cdnow_gg.conditional_expected_value([x], [m])[0] == pytest.approx(expected, rel=1e-8)
    # without repeat purchases: the population mean
    assert cdnow_gg.conditional_expected_value([0], [np.nan])[0] == pytest.approx(p * v / (q - 1))


def test_expected_value_is_purchases_times_order_value(cdnow_bgnbd, cdnow_gg, summary):
    x, t_x, T = summary["x"], summary["t_x"], summary["T"]
    m = np.where(x > 0, summary["zbar"], np.nan)
    value = expected_value(cdnow_bgnbd, cdnow_gg, x, t_x, T, m, horizon=39.0)
    np.testing.assert_allclose(value, cdnow_bgnbd.conditional_expected_purchases(39.0, x, t_x, T)
                               * cdnow_gg.conditional_expected_value(x, m))
    assert (value > 0).all()
    never = expected_value(cdnow_bgnbd, cdnow_gg, [0], [0.0], [np.nan], [np.nan])
    assert np.isnan(never).all()


# --- refusals, validation and storage -----------------------------------------------------------------

def test_too_few_repeat_buyers_is_refused_with_what_the_caller_needs():
    x, t_x, T = simulate_bgnbd(300, 0.243, 4.414, 0.793, 2.426, 39.0, seed=1)
    repeat = int((x > 0).sum())
    assert repeat < MIN_REPEAT_BUYERS
    with pytest.raises(TooFewRepeatBuyers) as refused:
        BetaGeoModel().fit(x, t_x, T)
    assert isinstance(refused.value, NotEnoughData)
    assert (refused.value.found, refused.value.needed) == (repeat, MIN_REPEAT_BUYERS)
    assert f"too few repeat buyers for the BG/NBD model: {repeat} customer(s)" in str(refused.value)
    m = simulate_gamma_gamma(x, 6.25, 3.74, 15.44, seed=2)
    with pytest.raises(TooFewRepeatBuyers, match="Gamma-Gamma"):
        GammaGammaModel().fit(x, m)
    assert BetaGeoModel(min_repeat_buyers=repeat).fit(x, t_x, T).n_repeat_buyers_ == repeat


def test_bad_inputs_name_the_customer_row_and_the_rule(cdnow_bgnbd):
    with pytest.raises(ValueError, match=r"recency of customer row 1 is 50.0; it must be between 0 and T"):
        BetaGeoModel(min_repeat_buyers=1).fit([1, 2], [3.0, 50.0], [10.0, 40.0])
    with pytest.raises(ValueError, match="frequency of customer row 0 is 1.5"):
        BetaGeoModel(min_repeat_buyers=1).fit([1.5], [3.0], [10.0])
    with pytest.raises(ValueError, match="recency of customer row 0 is 0.0; it must be above 0"):
        cdnow_bgnbd.probability_alive([2], [0.0], [10.0])
    with pytest.raises(ValueError, match="horizon t must be a finite time of 0 or more"):
        cdnow_bgnbd.conditional_expected_purchases(-1.0, [0], [0.0], [1.0])


def test_customers_who_never_bought_are_skipped_by_fit_and_get_nan(summary, cdnow_bgnbd):
    x = np.r_[summary["x"], 0.0]
    t_x = np.r_[summary["t_x"], 0.0]
    T = np.r_[summary["T"], np.nan]
    model = BetaGeoModel().fit(x, t_x, T)
    assert model.n_customers_ == 2357
    assert model.r_ == pytest.approx(cdnow_bgnbd.r_, rel=1e-9)
    assert np.isnan(model.probability_alive(x, t_x, T)[-1])
    assert np.isnan(model.conditional_expected_purchases(10.0, x, t_x, T)[-1])


def test_fitted_models_survive_json_and_score_new_customers_alike(cdnow_bgnbd, cdnow_gg, summary):
    x, t_x, T = summary["x"][:50], summary["t_x"][:50], summary["T"][:50]
    m = np.where(x > 0, summary["zbar"][:50], np.nan)
    purchases = BetaGeoModel.from_dict(json.loads(json.dumps(cdnow_bgnbd.to_dict())))
    values = GammaGammaModel.from_dict(json.loads(json.dumps(cdnow_gg.to_dict())))
    assert purchases.get_params() == cdnow_bgnbd.get_params()
    assert (purchases.r_, purchases.alpha_, purchases.a_, purchases.b_) == (
        cdnow_bgnbd.r_, cdnow_bgnbd.alpha_, cdnow_bgnbd.a_, cdnow_bgnbd.b_)
    np.testing.assert_array_equal(expected_value(purchases, values, x, t_x, T, m),
                                  expected_value(cdnow_bgnbd, cdnow_gg, x, t_x, T, m))
    assert purchases.n_repeat_buyers_ == 946 and purchases.converged_ is True
    with pytest.raises(ValueError, match="stored model is 'BetaGeoModel', not GammaGammaModel"):
        GammaGammaModel.from_dict(cdnow_bgnbd.to_dict())
    # scikit-learn conventions: parameters only in __init__, clone gives an unfitted copy
    copy = clone(BetaGeoModel(min_repeat_buyers=7, max_iter=50))
    assert copy.get_params() == {"min_repeat_buyers": 7, "max_iter": 50}
    assert not hasattr(copy, "r_")
