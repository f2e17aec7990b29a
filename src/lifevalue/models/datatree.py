"""The ``xarray.DataTree`` of a fit: the groups ArviZ expects, PSIS-LOO over them,
and saving and loading a model as one netCDF file.

:class:`FitTree` is a mixin of :class:`lifevalue.models.base.BaseModel`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from lifevalue import validation as v
from lifevalue.files import atomic_write
from lifevalue.models import diagnostics as dg
from lifevalue.models.inference import _posterior_tree
from lifevalue.models.likelihoods import _map_blocks

#: Bumped when the saved file layout changes; :meth:`FitTree.load` refuses others.
#: 1: ArviZ 0.x ``InferenceData`` (lifevalue 0.1); 2: ``xarray.DataTree`` (ArviZ 1).
FORMAT_VERSION = 2

#: The pointwise log-likelihood (one value per unique row and draw) is stored in
#: ``idata_`` up to this many values (160 MB); :meth:`FitTree.loo` computes it in
#: chunks beyond.
LOGLIK_MAX_VALUES = 20_000_000


class FitTree:
    """The DataTree of a fit, LOO and persistence (a mixin of ``BaseModel``)."""

    def _values(self) -> np.ndarray:
        """Posterior draws as (draws, parameters), chains pooled, ``param_names`` order."""
        post = self.idata_["posterior"]
        return np.column_stack([np.asarray(post[n].values, dtype="float64").reshape(-1)
                                for n in self.param_names])

    def _total_loglik_draws(self, stats) -> np.ndarray:
        """Total log-likelihood of all customers at each draw, shape (chain, draw), up to
        one constant for all draws (all that the power-scaling diagnostic needs).

        After the compiled sampler it comes from the log density that NUTS recorded at
        each draw (``sample_stats["logp"]``: likelihood + log priors + the log Jacobian
        ``sum(log params)``, up to the constant of the whitening): no likelihood pass.
        At a million customers the pass over every draw cost more than the sampling.
        """
        post = self.idata_["posterior"]
        shape = (post.sizes["chain"], post.sizes["draw"])
        stats_group = self.idata_["sample_stats"] if "sample_stats" in self.idata_.children \
            else None
        if (self.metadata_.get("sampler") == "compiled" and stats_group is not None
                and "logp" in stats_group.data_vars):
            logp = np.asarray(stats_group["logp"].values, dtype="float64").reshape(shape)
            prior = sum(np.asarray(self.idata_["log_prior"][n].values).reshape(shape)
                        for n in self.param_names)
            jacobian = sum(np.log(np.asarray(post[n].values, dtype="float64")).reshape(shape)
                           for n, pos in zip(self.param_names, self._positive(), strict=True)
                           if pos)
            return logp - prior - jacobian
        return self._ll_draws(self._values(), stats).reshape(shape)

    def _complete(self, idata, stats, priors) -> xr.DataTree:
        """Add the groups ArviZ expects to the posterior of a fit: ``observed_data``
        (unique rows of the sufficient statistics with their ``count``), ``log_prior``
        and, up to :data:`LOGLIK_MAX_VALUES` values, ``log_likelihood`` per unique row."""
        from lifevalue.models.priors import logp_and_grad

        post = idata["posterior"].to_dataset()
        coords = {d: post[d].values for d in dg.SAMPLE_DIMS}
        groups = {k: idata[k].to_dataset() for k in idata.children}
        observed = self._ll_observed(stats)
        groups["observed_data"] = xr.Dataset(
            {k: ("row", np.asarray(a, dtype="float64")) for k, a in observed.items()},
            coords={"row": np.arange(stats.n_unique)})
        # a flat prior's log density is the scalar 0: broadcast to the draws' shape
        groups["log_prior"] = xr.Dataset(
            {n: (dg.SAMPLE_DIMS, np.broadcast_to(
                np.asarray(logp_and_grad(priors[n], post[n].values)[0], dtype="float64"),
                post[n].shape).copy())
             for n in self.param_names}, coords=coords)
        n_draws = post.sizes["chain"] * post.sizes["draw"]
        if stats.n_unique * n_draws <= LOGLIK_MAX_VALUES and n_draws > 1:
            values = np.column_stack([post[n].values.reshape(-1) for n in self.param_names])
            # blocks of draws on two threads (NumPy and SciPy release the GIL in their loops)
            ll = _map_blocks(lambda sl: self._ll_pointwise(values[sl], stats, 0, stats.n_unique),
                             n_draws, workers=min(2, os.cpu_count() or 1),
                             block=-(-n_draws // 4))
            groups["log_likelihood"] = xr.Dataset(
                {self.observed_name: ((*dg.SAMPLE_DIMS, "row"),
                                      ll.reshape(*post[self.param_names[0]].shape, -1))},
                coords={**coords, "row": np.arange(stats.n_unique)})
        tree = xr.DataTree.from_dict(groups)
        tree.attrs.update(idata.attrs)
        return tree

    def loo(self):
        """PSIS leave-one-out cross-validation of every customer.

        Equal to ``arviz.loo`` on a log-likelihood with one row per customer, computed
        on the unique rows of the sufficient statistics (customers with the same history
        have the same leave-one-out term) and weighted by their counts, in chunks of
        rows: memory does not grow with the number of customers. Pass results of several
        models fitted on the same summary to ``arviz.compare`` to rank them.

        ``arviz.loo(model.idata_)`` also works, but treats each unique row as one
        observation (the weights are in ``idata_.observed_data["count"]``).

        Returns
        -------
        arviz.ELPDDataLOO
            ``elpd``, its ``se``, ``p`` (effective number of parameters), pointwise
            ``elpd_i`` and ``pareto_k`` over dim ``customer`` (customers in the order
            of their unique rows).

        Examples
        --------
        >>> from lifevalue import BetaGeo, datasets
        >>> bg = BetaGeo().fit(datasets.load_cdnow_summary(), draws=200, tune=200,
        ...                    random_seed=1)  # doctest: +SKIP
        >>> bg.loo().elpd  # doctest: +SKIP
        -9583.9...
        """
        self._check_fitted()
        post = self.idata_["posterior"]
        if post.sizes["chain"] * post.sizes["draw"] < 2:
            raise v.InvalidOptionError(
                "loo() needs posterior draws; this model is a point estimate "
                f"({self.metadata_['method']}): fit it with method='mcmc' or 'laplace'",
                column="method")
        obs = self.idata_["observed_data"]
        counts = obs["count"].values
        if "log_likelihood" in self.idata_.children:
            ll = self.idata_["log_likelihood"][self.observed_name].values

            def rows(start, stop):
                return ll[..., start:stop]
        else:
            stats = self._stats_from_observed(obs.to_dataset())
            values = self._values()
            shape = (post.sizes["chain"], post.sizes["draw"])

            def rows(start, stop):
                return self._ll_pointwise(values, stats, start, stop).reshape(*shape, -1)
        return dg.weighted_loo(dg.posterior_dataset(self.idata_), rows, counts,
                               var_name=self.observed_name)

    def _stats_from_observed(self, observed: xr.Dataset):
        """Sufficient statistics rebuilt from the ``observed_data`` group."""
        columns = {k: observed[k].values for k in observed.data_vars if k != "count"}
        columns[v.COUNT_COLUMN] = observed["count"].values
        if self._design is not None:
            from lifevalue.models.covariates import compress

            Z = np.column_stack([columns.pop(c) for c in self._design.columns])
            return compress(self, columns, Z)
        return self._stats(columns)

    @classmethod
    def from_params(cls, params: dict[str, float], *, time_unit: str | None = None):
        """A point-estimate model: one draw at ``params``, usable everywhere downstream.

        ``time_unit`` ('D', 'W' or 'M') is the unit of the data the parameters were
        estimated on; a transaction model without it cannot be valued (lifevalue does
        not guess a unit).
        """
        if time_unit is not None:
            v.check_time_unit(time_unit)
        missing = [n for n in cls.param_names if n not in params]
        if missing:
            raise v.InvalidOptionError(f"params lack {missing[0]!r}", column="params")
        model = cls()
        model.idata_ = _posterior_tree({n: np.array([[float(params[n])]])
                                        for n in cls.param_names})
        model.metadata_ = {
            "model": cls.__name__, "format_version": FORMAT_VERSION,
            "lifevalue_version": _version(), "method": "point", "sampler": None,
            "priors": {}, "time_unit": time_unit,
        }
        model.diagnostics_ = {"method": "point"}
        return model

    def save(self, path) -> Path:
        """Save to one netCDF file, atomically: the ``DataTree`` of :attr:`idata_` (its
        groups as netCDF groups, readable by ``xarray.open_datatree`` and
        ``arviz.from_netcdf``) with lifevalue's metadata and diagnostics as JSON in the
        root attributes ``lifevalue_metadata`` and ``lifevalue_diagnostics``."""
        self._check_fitted()
        path = Path(path)
        tree = self.idata_.copy()
        tree.attrs["lifevalue_metadata"] = json.dumps(self.metadata_)
        tree.attrs["lifevalue_diagnostics"] = json.dumps(self.diagnostics_)
        atomic_write(path, tree.to_netcdf)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved by :meth:`save`; refuses foreign or incompatible files."""
        path = Path(path)
        if not path.exists():
            raise v.InputError(f"model file {str(path)!r} does not exist", column="model")
        try:
            with xr.open_datatree(path) as opened:
                tree = opened.load()
            # lifevalue 0.1 (format 1) kept its metadata in the posterior's attributes
            attrs = tree.attrs if "lifevalue_metadata" in tree.attrs \
                else tree["posterior"].attrs
            meta = json.loads(attrs["lifevalue_metadata"])
            diag = json.loads(attrs.get("lifevalue_diagnostics", "{}"))
        except Exception as err:  # noqa: BLE001 - any failure means the same to the user
            raise v.InputError(
                f"model file {str(path)!r} is truncated, corrupt or not a lifevalue model "
                f"({type(err).__name__})",
                column="model",
            ) from err
        if meta.get("format_version") != FORMAT_VERSION:
            old = meta.get("format_version")
            raise v.InputError(
                f"model file {str(path)!r} was saved by lifevalue "
                f"{meta.get('lifevalue_version')} in format {old}"
                f"{' (ArviZ 0.x InferenceData)' if old == 1 else ''}; this lifevalue "
                f"({_version()}) reads format {FORMAT_VERSION} (ArviZ 1 DataTree). Refit "
                "the model on its summary and save it again: `lifevalue fit ...`, or "
                "`model.fit(summary).save(path)`.",
                column="model",
            )
        if meta.get("model") != cls.__name__:
            raise v.InputError(
                f"model file {str(path)!r} holds a {meta.get('model')}, not a {cls.__name__}",
                column="model",
            )
        for key in ("lifevalue_metadata", "lifevalue_diagnostics"):
            tree.attrs.pop(key, None)
        covariates = meta.get("covariates") or {}
        model = cls(priors=None, **({"purchase_covariates": covariates["purchase"],
                                     "dropout_covariates": covariates["dropout"]}
                                    if covariates else {}))
        model.idata_ = tree
        model.metadata_ = meta
        model.diagnostics_ = diag
        return model


def _version() -> str:
    from lifevalue import __version__

    return __version__
