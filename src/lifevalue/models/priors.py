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


#: The priors' codes in :func:`prior_code` (and in the compiled log density of
#: :mod:`lifevalue.models.nuts_density`, which branches on them).
PRIOR_CODES = {name: i for i, name in enumerate(POSITIVE_PRIORS + REAL_PRIORS)}


def prior_code(spec: dict) -> tuple[int, float, float, float]:
    """A prior spec as ``(code, a, b, c)``: its :data:`PRIOR_CODES` entry and up to three
    parameters with PyMC's defaults filled in, the only place they are read.

    HalfNormal ``(sigma^2, -, -)``; HalfCauchy ``(beta^2, -, -)``; HalfStudentT and
    StudentT ``(nu, sigma^2, mu)``; Gamma ``(shape, rate, -)`` (from ``alpha`` and
    ``beta`` or ``scale``, or from ``mu`` and ``sigma``); Exponential ``(lam, -, -)``;
    LogNormal and Normal ``(mu, sigma^2, -)``; Weibull ``(alpha, beta, -)``; InverseGamma
    ``(alpha, beta, -)``; HalfFlat and Flat none.

    Examples
    --------
    >>> prior_code({"dist": "HalfNormal", "sigma": 2.0})
    (0, 4.0, 0.0, 0.0)
    """
    dist = spec["dist"]
    if dist not in PRIOR_CODES:
        raise ValueError(f"no NumPy log density for prior {dist!r}")
    g = spec.get
    if dist == "HalfNormal":
        params = (g("sigma", 1.0) ** 2,)
    elif dist == "HalfCauchy":
        params = (g("beta", 1.0) ** 2,)
    elif dist in ("HalfStudentT", "StudentT"):
        params = (spec["nu"] if dist == "StudentT" else g("nu", 1.0), g("sigma", 1.0) ** 2,
                  g("mu", 0.0))
    elif dist == "Gamma":
        if "alpha" in spec:
            params = (spec["alpha"], g("beta", 1.0 / g("scale", 1.0)))
        else:
            params = (spec["mu"] ** 2 / spec["sigma"] ** 2, spec["mu"] / spec["sigma"] ** 2)
    elif dist == "Exponential":
        params = (g("lam", 1.0 / g("scale", 1.0)),)
    elif dist in ("LogNormal", "Normal"):
        params = (g("mu", 0.0), g("sigma", 1.0) ** 2)
    elif dist == "Weibull":
        params = (spec["alpha"], spec["beta"])
    elif dist == "InverseGamma":
        params = (spec["alpha"], g("beta", 1.0))
    else:  # HalfFlat, Flat
        params = ()
    a, b, c = (tuple(float(v) for v in params) + (0.0, 0.0, 0.0))[:3]
    return PRIOR_CODES[dist], a, b, c


def logp_and_grad(spec: dict, x: float) -> tuple[float, float]:
    """``log p(x)`` (up to a constant) and ``d log p / dx`` of a prior spec (``x`` a
    number or an array).

    Examples
    --------
    >>> logp_and_grad({"dist": "HalfNormal", "sigma": 2.0}, 1.0)
    (-0.125, -0.25)
    """
    _, a, b, c = prior_code(spec)
    dist = spec["dist"]
    if dist == "HalfNormal":
        return -x * x / (2 * a), -x / a
    if dist == "HalfCauchy":
        return -np.log1p(x * x / a), -2 * x / (a + x * x)
    if dist in ("HalfStudentT", "StudentT"):
        d = x - c
        return -(a + 1) / 2 * np.log1p(d * d / (a * b)), -(a + 1) * d / (a * b + d * d)
    if dist == "Gamma":
        return (a - 1) * np.log(x) - b * x, (a - 1) / x - b
    if dist == "Exponential":
        return -a * x, -a
    if dist == "LogNormal":
        lx = np.log(x)
        return -lx - (lx - a) ** 2 / (2 * b), -1 / x - (lx - a) / (b * x)
    if dist == "Weibull":
        return (a - 1) * np.log(x) - (x / b) ** a, (a - 1) / x - a * x ** (a - 1) / b**a
    if dist == "InverseGamma":
        return -(a + 1) * np.log(x) - b / x, -(a + 1) / x + b / x**2
    if dist == "Normal":
        return -(x - a) ** 2 / (2 * b), -(x - a) / b
    return 0.0, 0.0  # HalfFlat, Flat


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
    _, a, b, c = prior_code(spec)
    dist = spec["dist"]
    if dist in ("HalfNormal", "Normal"):
        d2 = -1.0 / (a if dist == "HalfNormal" else b)
    elif dist == "HalfCauchy":
        d2 = -2.0 * (a - x * x) / (a + x * x) ** 2
    elif dist in ("HalfStudentT", "StudentT"):
        d = x - c
        d2 = -(a + 1) * (a * b - d * d) / (a * b + d * d) ** 2
    elif dist == "Gamma":
        d2 = -(a - 1) / x**2
    elif dist == "LogNormal":
        d2 = 1.0 / x**2 - (1.0 - (np.log(x) - a)) / (b * x**2)
    elif dist == "Weibull":
        d2 = -(a - 1) / x**2 - a * (a - 1) * x ** (a - 2) / b**a
    elif dist == "InverseGamma":
        d2 = (a + 1) / x**2 - 2.0 * b / x**3
    else:  # Exponential, HalfFlat, Flat
        d2 = 0.0
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
