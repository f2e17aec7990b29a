"""Laplace approximation corrected by Pareto-smoothed importance sampling (PSIS).

at large n the posterior of the few population parameters is
close to Gaussian in log-parameter space. A proposal centred at the mode with the
inverse negative Hessian as scale, corrected by importance sampling, gives posterior
draws for about as many likelihood evaluations as draws, instead of tens of thousands
of gradient steps. The importance weights are Pareto-smoothed (Vehtari, Simpson,
Gelman, Yao & Gabry 2024, "Pareto smoothed importance sampling", JMLR 25(72); first
version arXiv:1507.02646, 2015), whose shape estimate k-hat says whether the
correction is reliable: above 0.7 it is not, and the caller falls back to NUTS.

Pure functions on NumPy arrays; :mod:`lifevalue.models.base` wires them into
``fit(method="laplace")``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

#: k-hat above which PSIS estimates are unreliable (Vehtari et al. 2024, section 3.2).
KHAT_MAX = 0.7

#: Fewest proposal draws by default: k-hat estimated from fewer is noisy (Vehtari et al.
#: 2024, section 3.3).
MIN_PROPOSALS = 1000

#: Default degrees of freedom of the Student-t proposal: heavier tails than the
#: Gaussian keep the importance weights bounded where the posterior's tails are
#: heavier than the Laplace approximation's, for a small loss of efficiency.
DEFAULT_DF = 5.0


@dataclass(frozen=True)
class Proposal:
    """A multivariate Student-t (``df=inf``: Gaussian) in log-parameter space.

    Attributes
    ----------
    mean : ndarray, shape (d,)
        The mode of the log posterior of ``theta = log(params)``.
    chol : ndarray, shape (d, d)
        Lower Cholesky factor of the scale matrix, the inverse of the negative Hessian.
    df : float
    """

    mean: np.ndarray
    chol: np.ndarray
    df: float

    @property
    def dim(self) -> int:
        return len(self.mean)


def laplace_proposal(mode: np.ndarray, hessian: np.ndarray, *, df: float = DEFAULT_DF,
                     scale: float = 1.0) -> Proposal:
    """The Laplace approximation at ``mode`` as a proposal.

    Parameters
    ----------
    mode : ndarray, shape (d,)
        Mode of the log density.
    hessian : ndarray, shape (d, d)
        Hessian of the log density at the mode; must be negative definite.
    df : float
        Degrees of freedom of the Student-t proposal; ``np.inf`` for a Gaussian.
    scale : float
        Multiplies the standard deviations (``> 1`` widens the proposal).

    Raises
    ------
    np.linalg.LinAlgError
        When ``-hessian`` is not positive definite (the point is not a maximum).
    """
    cov = np.linalg.inv(-np.asarray(hessian, dtype="float64"))
    cov = (cov + cov.T) / 2.0
    chol = np.linalg.cholesky(cov) * scale
    if not (df > 0):
        raise ValueError(f"df must be positive, got {df!r}")
    return Proposal(np.asarray(mode, dtype="float64"), chol, float(df))


def draw_proposal(proposal: Proposal, n: int, rng: np.random.Generator):
    """``n`` draws from the proposal and their log densities (up to one constant).

    A Student-t draw is ``mean + L z sqrt(df / u)`` with ``z ~ N(0, I)`` and
    ``u ~ chi2(df)``; its log density is ``-(df + d)/2 log(1 + |L^-1 (x - mean)|^2 / df)``,
    the Gaussian's ``-|L^-1 (x - mean)|^2 / 2``.

    Returns
    -------
    theta : ndarray, shape (n, d)
    log_q : ndarray, shape (n,)
    """
    z = rng.standard_normal((n, proposal.dim))
    if np.isinf(proposal.df):
        scale = np.ones(n)
    else:
        scale = np.sqrt(proposal.df / rng.chisquare(proposal.df, n))
    theta = proposal.mean + (z * scale[:, None]) @ proposal.chol.T
    return theta, proposal_logpdf(proposal, theta)


def proposal_logpdf(proposal: Proposal, theta: np.ndarray) -> np.ndarray:
    """Log density of the proposal at ``theta`` (rows), up to a constant."""
    from scipy.linalg import solve_triangular

    dev = np.atleast_2d(theta) - proposal.mean
    z = solve_triangular(proposal.chol, dev.T, lower=True)
    m = np.sum(z * z, axis=0)
    if np.isinf(proposal.df):
        return -0.5 * m
    return -(proposal.df + proposal.dim) / 2.0 * np.log1p(m / proposal.df)


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed, normalised log importance weights and the k-hat diagnostic.

    ArviZ's PSIS (``arviz_stats.base.array_stats.psislw``; Vehtari et al. 2024, "Pareto
    smoothed importance sampling", JMLR 25(72), algorithm 1): the largest
    ``min(n/5, 3 sqrt(n))`` ratios are replaced by the expected order statistics of a
    generalised Pareto distribution fitted to them, whose shape is k-hat. Non-finite
    ratios (a draw where the target density is zero or overflows) count as
    ``-inf`` (zero weight), unless all are.

    Returns
    -------
    log_weights : ndarray
        Normalised: ``logsumexp(log_weights) == 0``.
    khat : float
    """
    from arviz_stats.base import array_stats

    lr = np.asarray(log_ratios, dtype="float64").copy()
    lr[np.isnan(lr)] = -np.inf
    if not np.isfinite(lr).any():
        return np.full(len(lr), -np.log(len(lr))), np.inf
    finite_min = lr[np.isfinite(lr)].min()
    # psislw needs finite input; a dropped draw keeps an (effectively) zero weight
    lr[~np.isfinite(lr)] = finite_min - 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz's own k-hat warning: the caller decides
        # array_stats.psislw takes what LOO has, log-likelihoods, whose negatives are
        # the log importance ratios
        lw, khat = array_stats.psislw(-lr, r_eff=1.0)
    return np.asarray(lw, dtype="float64"), float(khat)


def importance_ess(log_weights: np.ndarray) -> float:
    """Effective sample size of normalised importance weights, ``1 / sum(w^2)``
    (Kish; Vehtari et al. 2024, eq. 6)."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    return float(1.0 / np.sum(w * w))


def systematic_resample(log_weights: np.ndarray, n: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws resampled in proportion to the weights, systematically
    (one uniform offset, evenly spaced points: the least added variance; with equal
    weights and ``n`` = number of draws, every draw once), in random order."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    cum = np.cumsum(w)
    cum[-1] = 1.0
    points = (rng.random() + np.arange(n)) / n
    idx = np.searchsorted(cum, points, side="right")
    idx = np.minimum(idx, len(w) - 1)
    return rng.permutation(idx)


@dataclass(frozen=True)
class LaplaceResult:
    """Posterior draws by Laplace + PSIS and their diagnostics.

    Attributes
    ----------
    theta : ndarray, shape (n_out, d)
        Resampled draws of the log parameters.
    khat : float
        Pareto k-hat of the importance ratios; above :data:`KHAT_MAX` the draws are
        not reliable.
    ess : float
        Effective sample size of the smoothed importance weights.
    n_proposals : int
    proposal : Proposal
    """

    theta: np.ndarray
    khat: float
    ess: float
    n_proposals: int
    proposal: Proposal

    @property
    def reliable(self) -> bool:
        return bool(np.isfinite(self.khat) and self.khat <= KHAT_MAX)


def laplace_psis(
    log_density: Callable[[np.ndarray], np.ndarray],
    mode: np.ndarray,
    hessian: np.ndarray,
    *,
    n_proposals: int,
    n_out: int,
    rng: np.random.Generator,
    df: float = DEFAULT_DF,
    scale: float = 1.0,
) -> LaplaceResult:
    """Draw from the Laplace proposal, weight by PSIS and resample.

    Parameters
    ----------
    log_density : callable
        Maps draws ``theta`` of shape (k, d) to the target log density (k,), up to a
        constant, in log-parameter space (Jacobian included).
    mode, hessian : ndarray
        Mode of ``log_density`` and its Hessian there.
    n_proposals : int
        Number of proposal draws (target density evaluations).
    n_out : int
        Number of resampled posterior draws returned.
    rng : numpy.random.Generator
    df, scale : float
        See :func:`laplace_proposal`.
    """
    proposal = laplace_proposal(mode, hessian, df=df, scale=scale)
    theta, log_q = draw_proposal(proposal, n_proposals, rng)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_p = np.asarray(log_density(theta), dtype="float64")
    log_w, khat = psis(log_p - log_q)
    idx = systematic_resample(log_w, n_out, rng)
    return LaplaceResult(theta=theta[idx], khat=khat, ess=importance_ess(log_w),
                         n_proposals=n_proposals, proposal=proposal)
