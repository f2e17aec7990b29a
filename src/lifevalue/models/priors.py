"""Log densities of the priors, and their derivatives, in NumPy.

MAP maximises likelihood plus prior without building a compiled graph, so each prior a
user may choose (:data:`POSITIVE_PRIORS`, and for covariate coefficients
:data:`REAL_PRIORS`) has its log density here, up to a constant, with PyMC's parameter
names. The same specs build the PyMC
model for MCMC, so MAP and MCMC use one prior.
"""

from __future__ import annotations

import numpy as np

from lifevalue import validation as v

#: Positive-support PyMC distributions a prior may use.
POSITIVE_PRIORS = (
    "HalfNormal", "HalfCauchy", "HalfStudentT", "Gamma", "Exponential", "LogNormal",
    "Weibull", "InverseGamma", "HalfFlat",
)

#: Real-line PyMC distributions a covariate coefficient's prior may use.
REAL_PRIORS = ("Normal", "StudentT", "Flat")


def _gamma_shape_rate(spec):
    if "alpha" in spec:
        return spec["alpha"], spec.get("beta", 1.0 / spec.get("scale", 1.0))
    mu, sigma = spec["mu"], spec["sigma"]
    return mu**2 / sigma**2, mu / sigma**2


def logp_and_grad(spec: dict, x: float) -> tuple[float, float]:
    """``log p(x)`` (up to a constant) and ``d log p / dx`` of a prior spec.

    Examples
    --------
    >>> logp_and_grad({"dist": "HalfNormal", "sigma": 2.0}, 1.0)
    (-0.125, -0.25)
    """
    dist = spec["dist"]
    if dist == "HalfNormal":
        s2 = spec.get("sigma", 1.0) ** 2
        return -x * x / (2 * s2), -x / s2
    if dist == "HalfCauchy":
        beta2 = spec.get("beta", 1.0) ** 2
        return -np.log1p(x * x / beta2), -2 * x / (beta2 + x * x)
    if dist == "HalfStudentT":
        nu, s2 = spec.get("nu", 1.0), spec.get("sigma", 1.0) ** 2
        return (-(nu + 1) / 2 * np.log1p(x * x / (nu * s2)),
                -(nu + 1) * x / (nu * s2 + x * x))
    if dist == "Gamma":
        k, rate = _gamma_shape_rate(spec)
        return (k - 1) * np.log(x) - rate * x, (k - 1) / x - rate
    if dist == "Exponential":
        lam = spec.get("lam", 1.0 / spec.get("scale", 1.0))
        return -lam * x, -lam
    if dist == "LogNormal":
        mu, s2 = spec.get("mu", 0.0), spec.get("sigma", 1.0) ** 2
        lx = np.log(x)
        return -lx - (lx - mu) ** 2 / (2 * s2), -1 / x - (lx - mu) / (s2 * x)
    if dist == "Weibull":
        k, lam = spec["alpha"], spec["beta"]
        return ((k - 1) * np.log(x) - (x / lam) ** k,
                (k - 1) / x - k * x ** (k - 1) / lam**k)
    if dist == "InverseGamma":
        k, beta = spec["alpha"], spec.get("beta", 1.0)
        return -(k + 1) * np.log(x) - beta / x, -(k + 1) / x + beta / x**2
    if dist in ("HalfFlat", "Flat"):
        return 0.0, 0.0
    if dist == "Normal":
        mu, s2 = spec.get("mu", 0.0), spec.get("sigma", 1.0) ** 2
        return -(x - mu) ** 2 / (2 * s2), -(x - mu) / s2
    if dist == "StudentT":
        nu, mu, s2 = spec["nu"], spec.get("mu", 0.0), spec.get("sigma", 1.0) ** 2
        d = x - mu
        return -(nu + 1) / 2 * np.log1p(d * d / (nu * s2)), -(nu + 1) * d / (nu * s2 + d * d)
    raise ValueError(f"no NumPy log density for prior {dist!r}")


def logp_grad_hess(spec: dict, x: float) -> tuple[float, float, float]:
    """``log p(x)`` (up to a constant) and its first and second derivatives in ``x``.

    MAP takes Newton steps and the Laplace fit needs the curvature at the mode, so
    each prior of :func:`logp_and_grad` has its second derivative here.

    Examples
    --------
    >>> logp_grad_hess({"dist": "HalfNormal", "sigma": 2.0}, 1.0)
    (-0.125, -0.25, -0.25)
    """
    lp, dlp = logp_and_grad(spec, x)
    dist = spec["dist"]
    if dist == "HalfNormal":
        d2 = -1.0 / spec.get("sigma", 1.0) ** 2
    elif dist == "HalfCauchy":
        beta2 = spec.get("beta", 1.0) ** 2
        d2 = -2.0 * (beta2 - x * x) / (beta2 + x * x) ** 2
    elif dist == "HalfStudentT":
        nu, s2 = spec.get("nu", 1.0), spec.get("sigma", 1.0) ** 2
        d2 = -(nu + 1) * (nu * s2 - x * x) / (nu * s2 + x * x) ** 2
    elif dist == "Gamma":
        k, _ = _gamma_shape_rate(spec)
        d2 = -(k - 1) / x**2
    elif dist in ("Exponential", "HalfFlat", "Flat"):
        d2 = 0.0
    elif dist == "Normal":
        d2 = -1.0 / spec.get("sigma", 1.0) ** 2
    elif dist == "StudentT":
        nu, s2, d = spec["nu"], spec.get("sigma", 1.0) ** 2, x - spec.get("mu", 0.0)
        d2 = -(nu + 1) * (nu * s2 - d * d) / (nu * s2 + d * d) ** 2
    elif dist == "LogNormal":
        mu, s2 = spec.get("mu", 0.0), spec.get("sigma", 1.0) ** 2
        d2 = 1.0 / x**2 - (1.0 - (np.log(x) - mu)) / (s2 * x**2)
    elif dist == "Weibull":
        k, lam = spec["alpha"], spec["beta"]
        d2 = -(k - 1) / x**2 - k * (k - 1) * x ** (k - 2) / lam**k
    elif dist == "InverseGamma":
        k, beta = spec["alpha"], spec.get("beta", 1.0)
        d2 = (k + 1) / x**2 - 2.0 * beta / x**3
    else:
        raise ValueError(f"no NumPy log density for prior {dist!r}")
    return lp, dlp, d2


def check_prior(name: str, spec, allowed=POSITIVE_PRIORS) -> None:
    """Refuse a prior spec of parameter ``name`` that is not a dict naming a ``dist`` of
    ``allowed`` (:data:`POSITIVE_PRIORS`, or :data:`REAL_PRIORS` for a coefficient)."""
    if not isinstance(spec, dict) or "dist" not in spec:
        raise v.InvalidOptionError(
            f"prior of {name!r} must be a dict like {{'dist': 'HalfNormal', 'sigma': 10}}, "
            f"got {spec!r}",
            column="priors",
        )
    if spec["dist"] not in allowed:
        kind = "positive" if allowed is POSITIVE_PRIORS else "real-line"
        raise v.InvalidOptionError(
            f"prior of {name!r}: {spec['dist']!r} is not one of the {kind} distributions "
            f"{list(allowed)}",
            column="priors",
        )
