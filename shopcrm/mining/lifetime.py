"""Buy-till-you-die models: how many purchases a customer will make, and of what value.

**BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"). While alive, a
customer buys as a Poisson process with rate λ; after every repeat purchase they drop out for
good with probability p. Across customers λ ~ Gamma(shape r, rate α) and p ~ Beta(a, b). From
each customer's (x, t_x, T) — repeat purchases, time of the last one and age, all measured from
the first purchase (see :mod:`.occasions`) — the model gives P(alive), the expected number of
purchases in the next t (conditional on the history) and E[X(t)] for a new customer.

**Gamma-Gamma** (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"). A customer's
order values are Gamma(p, ν) with a personal rate ν ~ Gamma(q, γ); the observed mean of x
repeat orders is therefore Gamma(px, νx). The model shrinks each repeat buyer's mean towards the
population mean pγ/(q − 1) by how many orders it rests on. It assumes a customer's order value
does not depend on how often they buy (``frequency_value_correlation_`` shows how far that
holds in a shop).

**Expected value** over a horizon = expected purchases × expected order value
(:func:`expected_value`).

Both models are fitted by maximum likelihood with a bounded L-BFGS-B on the logs of the
parameters, with analytic gradients. Times and values are scaled to about 1 inside the fit so
the same starting point (all parameters 1) suits days, weeks or any currency. Every term that
depends only on x is computed once per distinct x, so a fit costs a few array passes per step.

**Too little data.** Both fits refuse with :class:`TooFewRepeatBuyers` below
``min_repeat_buyers`` (default :data:`MIN_REPEAT_BUYERS` = 200). BG/NBD learns its dropout
parameters a and b only from repeat buyers (a one-time buyer says nothing about leaving after a
repeat purchase), and Gamma-Gamma sees only repeat buyers. 200 comes from fits on shops
simulated with CDNOW's parameters (``bench/lifetime.py --minimum``; figures in
docs/BENCHMARKS.md): from 200 repeat buyers on no fit ran to a parameter bound and a customer's
expected 90-day value was typically within 8 % of the value under the true parameters; with 50,
one fit in ten ran to a bound and the typical error doubled. Below the minimum RFM serves a shop
better.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ..errors import NotEnoughData
from .alive_purchases import purchases_if_alive

MIN_REPEAT_BUYERS = 200
LOG_BOUND = 12.0  # parameters stay within e^±12 of their scaled starting point 1


class TooFewRepeatBuyers(NotEnoughData):
    """A lifetime model was asked to fit with fewer repeat buyers than it needs.

    ``found`` and ``needed`` let the caller say so and fall back to RFM.
    """

    def __init__(self, model: str, found: int, needed: int):
        self.model, self.found, self.needed = model, found, needed
        super().__init__(f"too few repeat buyers for the {model} model: {found} customer(s) bought more than once, "
                         f"it needs at least {needed}")


def _array(name: str, values, n: int | None = None) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if n is not None and len(values) != n:
        raise ValueError(f"{name}: {len(values)} values where {n} were expected (one per customer)")
    return values


def _check_history(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated x, t_x, T; customers with NaN T (never bought) are kept and give NaN."""
    x = _array("frequency", frequency)
    t_x = _array("recency", recency, len(x))
    T = _array("T", T, len(x))
    known = ~np.isnan(T)
    problems = (
        ("frequency", x, known & ~((x >= 0) & (x == np.round(x))), "a whole number of repeat purchases, 0 or more"),
        ("T", T, known & ~(np.isfinite(T) & (T >= 0)), "the age since the first purchase, 0 or more"),
        ("recency", t_x, known & ~((t_x >= 0) & (t_x <= T)), "between 0 and T"),
        ("recency", t_x, known & (x == 0) & (t_x != 0), "0 for a customer without repeat purchases"),
        ("recency", t_x, known & (x > 0) & ~(t_x > 0), "above 0 for a customer with repeat purchases"),
    )
    for name, values, bad, rule in problems:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} of customer row {i} is {float(values[i])!r}; it must be {rule} "
                             f"({int(bad.sum())} row(s) affected: compute the inputs with lifetime_inputs)")
    return x, t_x, T


def _horizon(t) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if not (np.isfinite(t).all() and (t >= 0).all()):
        raise ValueError(f"horizon t must be a finite time of 0 or more, got {t!r}")
    return t


class _Fitted(BaseEstimator):
    """Serialisation shared by the models: parameters, fitted attributes, nothing else."""

    _fitted_names: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready dict from which :meth:`from_dict` rebuilds the fitted model."""
        check_is_fitted(self, self._fitted_names[0])
        fitted = {name: getattr(self, name) for name in self._fitted_names}
        fitted = {name: value.item() if isinstance(value, np.generic) else value for name, value in fitted.items()}
        return {"model": type(self).__name__, "params": self.get_params(), "fitted": fitted}

    @classmethod
    def from_dict(cls, data: dict):
        if data.get("model") != cls.__name__:
            raise ValueError(f"stored model is {data.get('model')!r}, not {cls.__name__}")
        model = cls(**data["params"])
        missing = set(cls._fitted_names) - set(data["fitted"])
        if missing:
            raise ValueError(f"stored {cls.__name__} lacks {sorted(missing)}; refit it")
        for name in cls._fitted_names:
            setattr(model, name, data["fitted"][name])
        return model


def _minimize(objective, n_params: int, max_iter: int):
    """L-BFGS-B from the scaled start (all log parameters 0) within ±LOG_BOUND.

    The optimiser's own linear algebra is on 3- or 4-vectors; BLAS threads only add
    synchronisation to every step (badly so on a busy machine), so they are held to one.
    """
    with threadpool_limits(1, user_api="blas"):
        result = minimize(objective, np.zeros(n_params), jac=True, method="L-BFGS-B",
                          bounds=[(-LOG_BOUND, LOG_BOUND)] * n_params,
                          options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9})
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise FloatingPointError(f"the likelihood could not be maximised ({result.message})")
    return result


class BetaGeoModel(_Fitted):
    """BG/NBD purchase counts (see the module docstring).

    Parameters
    ----------
    min_repeat_buyers : fit refuses (:class:`TooFewRepeatBuyers`) below this many repeat buyers
    max_iter : iterations of the optimiser

    Attributes
    ----------
    r_, alpha_ : shape and rate of the Gamma over purchase rates (alpha_ in the inputs' time unit)
    a_, b_ : the Beta over dropout probabilities
    log_likelihood_ : at the fitted parameters, in the inputs' units
    n_customers_, n_repeat_buyers_ : customers fitted on (those with a first purchase)
    converged_ : whether the optimiser reported convergence
    """

    _fitted_names = ("r_", "alpha_", "a_", "b_", "log_likelihood_", "n_customers_", "n_repeat_buyers_",
                     "converged_")

    def __init__(self, min_repeat_buyers: int = MIN_REPEAT_BUYERS, max_iter: int = 1000):
        self.min_repeat_buyers = min_repeat_buyers
        self.max_iter = max_iter

    # --- likelihood -------------------------------------------------------------------------------

    @staticmethod
    def _log_likelihood(params, ux, counts, T_once, x_rep, t_rep, T_rep, grad: bool):
        """Sum of log L over customers and, if asked, its gradient in (r, α, a, b).

        L = A1·A2·(A3 + [x>0]·A4) in the notation of Fader, Hardie & Lee (2005). A1·A2
        depends on x only (summed per distinct x, with ``counts`` customers each). One-time buyers
        (``T_once``) have L = A1·A2·A3; for repeat buyers (``x_rep``, ``t_rep``, ``T_rep``) the
        bracket is a log-sum-exp of the "still alive" and "dropped out after the last purchase"
        branches.
        """
        r, alpha, a, b = params
        per_x = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
                 + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux))
        log_once = np.log(alpha + T_once)
        rx = r + x_rep
        log_T, log_tx = np.log(alpha + T_rep), np.log(alpha + t_rep)
        # ln A4 − ln A3: the log odds of the "dropped out" branch
        odds = np.log(a) - np.log(b + x_rep - 1.0) + rx * (log_T - log_tx)
        bracket = -rx * log_T + np.logaddexp(0.0, odds)
        total = float(counts @ per_x - r * log_once.sum() + bracket.sum())
        if not grad:
            return total, None
        dropped = expit(odds)  # share of the "dropped out" branch
        n = counts.sum()
        d_r = (counts @ (digamma(r + ux) - digamma(r)) + n * np.log(alpha) - log_once.sum()
               - (log_T - dropped * (log_T - log_tx)).sum())
        d_alpha = (n * r / alpha - r * (1.0 / (alpha + T_once)).sum()
                   - (rx * ((1.0 - dropped) / (alpha + T_rep) + dropped / (alpha + t_rep))).sum())
        d_a = counts @ (digamma(a + b) - digamma(a + b + ux)) + dropped.sum() / a
        d_b = (counts @ (digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux))
               - (dropped / (b + x_rep - 1.0)).sum())
        return total, np.array([d_r, d_alpha, d_a, d_b])

    def fit(self, frequency, recency, T, y=None) -> BetaGeoModel:
        """Fit on per-customer x, t_x, T (customers with NaN T, who never bought, are skipped)."""
        x, t_x, T = _check_history(frequency, recency, T)
        keep = ~np.isnan(T)
        x, t_x, T = x[keep], t_x[keep], T[keep]
        repeat = int((x > 0).sum())
        if repeat < max(self.min_repeat_buyers, 1):
            raise TooFewRepeatBuyers("BG/NBD", repeat, max(self.min_repeat_buyers, 1))
        scale = float(T.mean()) or 1.0
        ux, counts = np.unique(x, return_counts=True)
        counts = counts.astype(np.float64)
        once, rep = x == 0, x > 0
        n = len(x)

        def data(unit):
            return T[once] / unit, x[rep], t_x[rep] / unit, T[rep] / unit

        scaled = data(scale)

        def objective(log_params):
            value, gradient = self._log_likelihood(np.exp(log_params), ux, counts, *scaled, True)
            return -value / n, -gradient * np.exp(log_params) / n

        result = _minimize(objective, 4, self.max_iter)
        r, alpha, a, b = np.exp(result.x)
        self.r_, self.alpha_, self.a_, self.b_ = float(r), float(alpha * scale), float(a), float(b)
        self.log_likelihood_, _ = self._log_likelihood(
            (self.r_, self.alpha_, self.a_, self.b_), ux, counts, *data(1.0), False)
        self.n_customers_, self.n_repeat_buyers_ = int(n), repeat
        self.converged_ = bool(result.success)
        return self

    # --- predictions ------------------------------------------------------------------------------

    def _params(self):
        check_is_fitted(self, "r_")
        return self.r_, self.alpha_, self.a_, self.b_

    def _log_odds_dropped(self, x, t_x, T):
        """ln of P(dropped out)/P(alive) given the history; -inf without repeat purchases."""
        r, alpha, a, b = self._params()
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(x > 0, odds, np.where(np.isnan(T), np.nan, -np.inf))

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(still a customer at T | x, t_x, T); NaN for customers who never bought."""
        x, t_x, T = _check_history(frequency, recency, T)
        return expit(-self._log_odds_dropped(x, t_x, T))

    def conditional_expected_purchases(self, t: float, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` (same time unit as T); FHL eq. 10.

        P(alive) times the purchases of a live customer (:mod:`.alive_purchases` says how those
        are computed so that frequent buyers and extreme parameters give numbers, not NaN).
        NaN for customers who never bought.
        """
        x, t_x, T = _check_history(frequency, recency, T)
        t = _horizon(t)
        alive = expit(-self._log_odds_dropped(x, t_x, T))
        return alive * purchases_if_alive(self.r_, self.alpha_, self.a_, self.b_, t, x, T)

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer within ``t`` of their first one (FHL eq. 9)."""
        self._params()
        t = _horizon(t)
        return purchases_if_alive(self.r_, self.alpha_, self.a_, self.b_, t, 0.0, 0.0)


class GammaGammaModel(_Fitted):
    """Gamma-Gamma order values (see the module docstring).

    Parameters
    ----------
    min_repeat_buyers : fit refuses (:class:`TooFewRepeatBuyers`) below this many repeat buyers
        with a positive mean repeat value
    max_iter : iterations of the optimiser

    Attributes
    ----------
    p_, q_, v_ : shape of the order values, shape and rate of the Gamma over their rate (v_ is
        the paper's γ, in the inputs' currency)
    log_likelihood_ : of the observed mean repeat values, at the fitted parameters
    mean_value_ : the population's expected order value pγ/(q − 1)
    n_customers_ : repeat buyers fitted on
    n_skipped_ : repeat buyers left out because their mean repeat value was not positive
        (free or refunded orders: the model has no room for a zero value)
    frequency_value_correlation_ : Pearson correlation of x and the mean value among the fitted;
        the model assumes it is near 0
    converged_ : whether the optimiser reported convergence
    """

    _fitted_names = ("p_", "q_", "v_", "log_likelihood_", "mean_value_", "n_customers_", "n_skipped_",
                     "frequency_value_correlation_", "converged_")

    def __init__(self, min_repeat_buyers: int = MIN_REPEAT_BUYERS, max_iter: int = 1000):
        self.min_repeat_buyers = min_repeat_buyers
        self.max_iter = max_iter

    @staticmethod
    def _log_likelihood(params, ux, counts, x, xm, sum_log_m, sum_x_log_m, grad: bool):
        """Sum over repeat buyers of ln f(m | x): the density of the mean m of x Gamma(p, ν) order
        values, with ν ~ Gamma(q, γ).

        Terms in x alone are summed per distinct x; the sums of ln m and x·ln m do not depend on
        the parameters and are passed in, so a step costs one logarithm per customer. (Products
        are summed rather than taken with ``@``: a long BLAS dot may start threads, which costs
        more than it saves on a busy machine.)
        """
        p, q, v = params
        px = p * ux
        per_x = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + px * np.log(ux)
        log_xm = np.log(v + xm)
        x_log_xm, sum_log_xm = (x * log_xm).sum(), log_xm.sum()
        total = float(counts @ per_x + p * sum_x_log_m - sum_log_m - p * x_log_xm - q * sum_log_xm)
        if not grad:
            return total, None
        inv_xm = 1.0 / (v + xm)
        d_p = counts @ (ux * (digamma(px + q) - digamma(px) + np.log(ux))) + sum_x_log_m - x_log_xm
        d_q = counts @ (digamma(px + q) - digamma(q) + np.log(v)) - sum_log_xm
        d_v = counts.sum() * q / v - p * (x * inv_xm).sum() - q * inv_xm.sum()
        return total, np.array([d_p, d_q, d_v])

    def fit(self, frequency, monetary_value, y=None) -> GammaGammaModel:
        """Fit on repeat buyers' (x, mean repeat value); other rows (x = 0, NaN values) are skipped."""
        x = _array("frequency", frequency)
        m = _array("monetary_value", monetary_value, len(x))
        repeat = (x > 0) & ~np.isnan(m)
        if (repeat & ~np.isfinite(m)).any() or (x[x > 0] != np.round(x[x > 0])).any():
            raise ValueError("frequency must be whole numbers and monetary_value finite for repeat buyers "
                             "(compute the inputs with lifetime_inputs)")
        positive = repeat & (m > 0)
        n = int(positive.sum())
        if n < max(self.min_repeat_buyers, 1):
            raise TooFewRepeatBuyers("Gamma-Gamma", n, max(self.min_repeat_buyers, 1))
        x, m = x[positive], m[positive]
        scale = float(m.mean())
        ux, counts = np.unique(x, return_counts=True)
        counts = counts.astype(np.float64)

        def data(unit):
            log_m = np.log(m / unit)
            return x, x * (m / unit), log_m.sum(), (x * log_m).sum()

        scaled = data(scale)

        def objective(log_params):
            value, gradient = self._log_likelihood(np.exp(log_params), ux, counts, *scaled, True)
            return -value / n, -gradient * np.exp(log_params) / n

        result = _minimize(objective, 3, self.max_iter)
        p, q, v = np.exp(result.x)
        self.p_, self.q_, self.v_ = float(p), float(q), float(v * scale)
        self.log_likelihood_, _ = self._log_likelihood((self.p_, self.q_, self.v_), ux, counts, *data(1.0), False)
        self.mean_value_ = self.p_ * self.v_ / (self.q_ - 1.0) if self.q_ > 1.0 else float("inf")
        self.n_customers_, self.n_skipped_ = n, int(repeat.sum()) - n
        self.frequency_value_correlation_ = (float(np.corrcoef(x, m)[0, 1])
                                             if len(x) > 1 and x.std() > 0 and m.std() > 0 else 0.0)
        self.converged_ = bool(result.success)
        return self

    def conditional_expected_value(self, frequency, monetary_value) -> np.ndarray:
        """E[order value | x, mean repeat value] (F&H 2013 eq. 5); the population mean where x = 0.

        The result weighs the customer's own mean by px/(px + q − 1) and the population mean by
        the rest. NaN where a repeat buyer's mean value is NaN.
        """
        check_is_fitted(self, "p_")
        if not self.q_ > 1.0:
            raise ValueError(f"the fitted Gamma-Gamma has q = {self.q_:.3g} ≤ 1: order values this heavy-tailed "
                             "have no finite mean, so no expected value can be given; rank by RFM instead")
        x = _array("frequency", frequency)
        m = _array("monetary_value", monetary_value, len(x))
        p, q, v = self.p_, self.q_, self.v_
        with np.errstate(invalid="ignore"):
            own = p * (v + x * m) / (p * x + q - 1.0)
        return np.where(x > 0, own, self.mean_value_)


def expected_value(purchases: BetaGeoModel, values: GammaGammaModel, frequency, recency, T, monetary_value,
                   horizon: float = 90.0) -> np.ndarray:
    """Expected revenue per customer in the next ``horizon``: expected purchases × expected order value.

    ``horizon`` is in the time unit the purchase model was fitted in (days with the default
    :func:`~.occasions.lifetime_inputs`). NaN for customers who never bought.
    """
    count = purchases.conditional_expected_purchases(horizon, frequency, recency, T)
    return count * values.conditional_expected_value(frequency, monetary_value)
