"""Customers drawn from the lifetime models' own generative stories (seeded), for tests and bench/lifetime.py."""
from __future__ import annotations

import numpy as np


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed: int = 0):
    """(x, t_x, T) of ``n`` customers observed for ``T`` after their first purchase (BG/NBD story).

    Each customer gets λ ~ Gamma(r, rate α) and p ~ Beta(a, b); purchases follow a Poisson
    process with rate λ and after each repeat purchase the customer leaves with probability p.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        i = np.flatnonzero(active)
        clock[i] += rng.exponential(1.0, len(i)) / lam[i]
        bought = clock[i] <= T[i]
        j = i[bought]
        x[j] += 1
        t_x[j] = clock[j]
        active[i[~bought]] = False
        active[j[rng.random(len(j)) < p[j]]] = False
    return x, t_x, T


def simulate_gamma_gamma(x, p: float, q: float, v: float, seed: int = 0):
    """Mean order value of each repeat buyer's ``x`` orders (Gamma-Gamma story); NaN where x = 0.

    ν ~ Gamma(q, rate γ) per customer; the mean of x orders ~ Gamma(p, rate ν) is Gamma(px, rate xν).
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    nu = rng.gamma(q, 1.0 / v, len(x))
    shape = np.where(x > 0, p * x, 1.0)
    mean = rng.gamma(shape, 1.0 / (np.maximum(x, 1) * nu))
    return np.where(x > 0, mean, np.nan)
