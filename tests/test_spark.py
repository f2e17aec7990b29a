"""Tests of lifevalue.spark: scoring a Spark DataFrame of customers gives, customer by
customer and bit for bit, the numbers of local scoring; fits on Spark's sufficient
statistics equal fits on the full summary. Every test runs on Spark classic and on Spark
Connect (a local Connect server), one session of each kind for the module."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import require_tool
from lifevalue import CustomerValue
from lifevalue import validation as v
from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.spark import (
    RANK,
    customer_scores,
    local_session,
    ranked_blocks,
    score_customers,
    sufficient_statistics,
    value_base,
    value_customers,
)


@pytest.fixture(scope="module", params=["classic", "connect"])
def spark(request):
    """A local Spark session of each kind: classic (``local[2]``) and Spark Connect
    (``remote("local[2]")``, which has no RDD API). Spark needs a Java runtime."""
    require_tool(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")),
                 "no Java runtime: `make test` installs Debian's default-jre-headless")
    session = local_session(request.param)
    yield session
    session.stop()


def _spark_summary(spark, summary):
    frame = summary.rename_axis("customer_id").reset_index()
    return spark.createDataFrame(frame.sample(frac=1.0, random_state=3))


def _local(scores, index):
    return scores.toPandas().set_index("customer_id").loc[index]


@pytest.fixture(scope="module")
def string_id_summary(cdnow_cal):
    # string ids, so that the id order is not the row order of the file
    out = cdnow_cal.copy()
    out.index = pd.Index([f"c{(i * 7919) % 100003:06d}" for i in out.index], name="customer_id")
    return out


def test_scores_equal_local_scoring(spark, string_id_summary, cdnow_bg_mcmc, cdnow_gg_mcmc):
    kw = dict(t=39.0, ci=0.8, random_seed=11, max_draws=300)
    local = customer_scores(string_id_summary, cdnow_bg_mcmc, cdnow_gg_mcmc, **kw)
    got = score_customers(_spark_summary(spark, string_id_summary), cdnow_bg_mcmc,
                          cdnow_gg_mcmc, n_partitions=3, **kw)
    got = _local(got, local.index)
    assert list(got.columns) == list(local.columns)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_names=False)
    # the predictive interval is random: it changes with the seed
    other = customer_scores(string_id_summary, cdnow_bg_mcmc, **{**kw, "random_seed": 12})
    assert not np.array_equal(other["purchases_pred_hi"], local["purchases_pred_hi"])


def test_values_equal_local_evaluate(spark, cdnow_cal, cdnow_bg_mcmc, cdnow_gg_mcmc):
    cv = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, retention_cost=0.5,
                       max_draws=200, random_seed=5, horizon=6)
    local = cv.evaluate(cdnow_cal, "realistic").customers
    got = value_customers(_spark_summary(spark, cdnow_cal), cv, "realistic", n_partitions=4)
    got = _local(got, local.index)
    for col in ("cell", "most_likely_cell"):
        assert got[col].tolist() == local[col].astype(str).tolist()
    floats = [c for c in local.columns if c not in ("cell", "most_likely_cell")]
    pd.testing.assert_frame_equal(got[floats], local[floats], check_exact=True,
                                  check_names=False)


@pytest.fixture(scope="module")
def other_models(cdnow_cal):
    from lifevalue.models import ModifiedBetaGeo, ParetoNBD

    return {cls.__name__: cls().fit(cdnow_cal, method="map")
            for cls in (ModifiedBetaGeo, ParetoNBD)}


@pytest.mark.parametrize("name", ["ModifiedBetaGeo", "ParetoNBD"])
def test_other_models_score_as_locally(spark, string_id_summary, other_models, name):
    model = other_models[name]
    kw = dict(t=39.0, ci=0.8, random_seed=11)
    local = customer_scores(string_id_summary, model, **kw)
    got = _local(score_customers(_spark_summary(spark, string_id_summary), model,
                                 n_partitions=3, **kw), local.index)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_names=False)
    assert (local["purchases_pred_hi"] > local["purchases_pred_lo"]).any()


@pytest.mark.parametrize("name", ["ModifiedBetaGeo", "ParetoNBD"])
def test_other_models_values_equal_local_evaluate(spark, cdnow_cal, other_models, name):
    cv = CustomerValue(other_models[name], GammaGamma().fit(cdnow_cal, method="map"),
                       margin=0.3, retention_cost=0.5, random_seed=5, horizon=6,
                       min_simulations=300)
    local = cv.evaluate(cdnow_cal, "realistic").customers
    got = _local(value_customers(_spark_summary(spark, cdnow_cal), cv, "realistic",
                                 n_partitions=4), local.index)
    floats = [c for c in local.columns if c not in ("cell", "most_likely_cell")]
    pd.testing.assert_frame_equal(got[floats], local[floats], check_exact=True,
                                  check_names=False)
    # the model's own P(alive): one-time buyers may have dropped out, not as in the BG/NBD
    assert (local.loc[cdnow_cal["frequency"] == 0, "p_alive_mean"] < 1).all()


def test_base_value_equals_local_evaluate(spark, cdnow_cal, cdnow_bg_mcmc, cdnow_gg_mcmc):
    # the partitions' per-draw totals add up to the local ones: the same base value, up
    # to the order of the additions
    cv = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, retention_cost=0.5,
                       max_draws=200, random_seed=5, horizon=6)
    local = cv.evaluate(cdnow_cal, "realistic").base
    got = value_base(_spark_summary(spark, cdnow_cal), cv, "realistic", n_partitions=4)
    pd.testing.assert_frame_equal(got, local, rtol=1e-12, check_names=False)
    assert (got.loc["growth", "mean"] != 0.0) and (got["pred_hi"] > got["pred_lo"]).all()
    # and a different seed moves the predictive interval, not the expectation
    other = value_base(_spark_summary(spark, cdnow_cal),
                       CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3,
                                     retention_cost=0.5, max_draws=200, random_seed=6,
                                     horizon=6), "realistic", n_partitions=3)
    assert other.loc["current", "mean"] == pytest.approx(local.loc["current", "mean"],
                                                         rel=1e-12)
    assert other.loc["current", "pred_hi"] != local.loc["current", "pred_hi"]


def test_values_of_a_model_with_covariates_equal_local_evaluate(spark, string_id_summary):
    """Customers ranked by attribute profile, each profile on whole blocks, as local
    scoring of a model with covariates ranks them: the same values bit for bit, and the
    same base up to the order of the additions. 300 customers of the first profile make
    a partial block (a gap in the ranks); 512 of the second, whole ones."""
    summary = string_id_summary.assign(web=0.0, tier=2)
    order = np.sort(summary.index)
    summary.loc[order[300:812], "web"] = 1.0
    summary.loc[order[1500:], "tier"] = 0
    model = BetaGeo(purchase_covariates=["web", "tier"], dropout_covariates=["web"]).fit(
        summary, method="map")
    cv = CustomerValue(model, GammaGamma().fit(summary, method="map"), margin=0.3,
                       retention_cost=0.5, random_seed=5, horizon=6, min_simulations=300)
    result = cv.evaluate(summary, "realistic")
    got = _local(value_customers(_spark_summary(spark, summary), cv, "realistic",
                                 n_partitions=3), result.customers.index)
    floats = [c for c in result.customers.columns if c not in ("cell", "most_likely_cell")]
    pd.testing.assert_frame_equal(got[floats], result.customers[floats], check_exact=True,
                                  check_names=False)
    base = value_base(_spark_summary(spark, summary), cv, "realistic", n_partitions=2)
    pd.testing.assert_frame_equal(base, result.base, rtol=1e-12, check_names=False)
    # the scores too: purchases and spend both follow the profiles' order
    kw = dict(t=39.0, ci=0.8, random_seed=11)
    local = customer_scores(summary, model, cv.spend_model, **kw)
    got = _local(score_customers(_spark_summary(spark, summary), model, cv.spend_model,
                                 n_partitions=3, **kw), local.index)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_names=False)
    # the last profile (web 1, tier 2) starts after the blocks of (0, 0) and (0, 2)
    web = summary.index[summary["web"] == 1.0]
    before = summary.groupby(["web", "tier"]).size().loc[[(0.0, 0), (0.0, 2)]]
    alone = customer_scores(summary.loc[web], model.for_profile({"web": 1.0, "tier": 2}),
                            cv.spend_model, rng_offset=int(sum(-(-before // 256) * 256)),
                            **kw)
    pd.testing.assert_frame_equal(local.loc[web], alone)


def test_fit_on_sufficient_statistics_equals_full_fit(spark, cdnow_cal):
    sdf = _spark_summary(spark, cdnow_cal)
    stats = sufficient_statistics(sdf)
    assert stats["n_customers"].sum() == len(cdnow_cal)
    assert len(stats) < len(cdnow_cal)
    full = BetaGeo().fit(cdnow_cal, method="map")
    compressed = BetaGeo().fit(stats, method="map")
    for k in BetaGeo.param_names:
        assert compressed.draws()[k] == pytest.approx(full.draws()[k], rel=1e-8)
    spend = sufficient_statistics(sdf, kind="spend")
    assert spend["n_customers"].sum() == int((cdnow_cal["frequency"] > 0).sum())
    gg_full = GammaGamma().fit(cdnow_cal, method="map")
    gg = GammaGamma().fit(spend, method="map")
    for k in GammaGamma.param_names:
        assert gg.draws()[k] == pytest.approx(gg_full.draws()[k], rel=1e-8)
    assert gg.spend_frequency_correlation_["spearman"] == pytest.approx(
        gg_full.spend_frequency_correlation_["spearman"], rel=1e-12)


def test_bad_input(spark, cdnow_cal, cdnow_bg_mcmc):
    with pytest.raises(v.InputError, match=r"^the summary must be a Spark DataFrame, not "
                       r"DataFrame; score a pandas summary locally$"):
        score_customers(cdnow_cal, cdnow_bg_mcmc, t=1.0)
    sdf = _spark_summary(spark, cdnow_cal)
    with pytest.raises(v.MissingColumnError, match=r"^missing column 'id'"):
        score_customers(sdf, cdnow_bg_mcmc, t=1.0, customer_id="id")
    with pytest.raises(v.InvalidOptionError, match=r"^kind 'x' is not one of"):
        sufficient_statistics(sdf, kind="x")
    with pytest.raises(v.InvalidOptionError, match=r"^rng_offset must be a whole multiple "
                       r"of 256 and not negative, got 100$"):
        cdnow_bg_mcmc.simulate_purchases(cdnow_cal, [1.0], rng_offset=100)


def test_ranks_follow_the_ids_in_whole_blocks(spark, string_id_summary):
    # ranks without the RDD API: each customer's position in id order, whatever the
    # number of ranges, with each random-number block in one partition
    from pyspark.sql import functions as F

    sdf = _spark_summary(spark, string_id_summary)
    expected = pd.Series(np.arange(len(string_id_summary)),
                         index=string_id_summary.index.sort_values())
    for n in (1, 3, 7):
        ranked = ranked_blocks(sdf, "customer_id", n).withColumn("part",
                                                                 F.spark_partition_id())
        got = ranked.select("customer_id", RANK, "part").toPandas().set_index("customer_id")
        assert got[RANK].sort_index().tolist() == expected.tolist()
        blocks = got.groupby(got[RANK] // 256)["part"].nunique()
        assert (blocks == 1).all() and got["part"].nunique() <= n
    with pytest.raises(v.InvalidOptionError, match=r"^kind 'yarn' is not one of 'classic', "
                       r"'connect'$"):
        local_session("yarn")
