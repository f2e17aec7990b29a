"""Every transaction model satisfies the transaction-model interface, in members and in
the signatures of its methods, fitted or not, and answers its calls in one shape."""

import inspect

import pytest

from lifevalue.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from lifevalue.models.interface import TransactionModelProtocol

MODELS = (BetaGeo, ModifiedBetaGeo, ParetoNBD)

#: Members of the protocol that are methods.
METHODS = sorted(name for name, member in vars(TransactionModelProtocol).items()
                 if inspect.isfunction(member) and not name.startswith("_"))


def test_protocol_lists_what_downstream_code_needs():
    assert {"p_alive", "expected_purchases", "expected_purchases_new_customer",
            "prob_no_purchase", "simulate_purchases", "loglik", "default_priors",
            "draws", "fit"} <= set(METHODS)


@pytest.mark.parametrize("cls", MODELS)
def test_isinstance(cls):
    assert isinstance(cls(), TransactionModelProtocol)
    assert len(cls.param_names) == 4 and cls.summary_names == ("frequency", "recency", "T")


def test_a_spend_model_is_not_a_transaction_model():
    assert not isinstance(GammaGamma(), TransactionModelProtocol)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("name", METHODS)
def test_signatures_conform(cls, name):
    """Each method takes the protocol's parameters, by the same names, kinds and
    defaults (a model may add optional ones)."""
    want = inspect.signature(getattr(TransactionModelProtocol, name)).parameters
    have = inspect.signature(getattr(cls, name)).parameters
    for pname, param in want.items():
        if param.kind is param.VAR_KEYWORD:
            continue
        assert pname in have, f"{cls.__name__}.{name} lacks {pname!r}"
        assert have[pname].kind == param.kind, f"{cls.__name__}.{name}({pname})"
        assert have[pname].default == param.default, f"{cls.__name__}.{name}({pname})"


@pytest.mark.parametrize("cls", MODELS)
def test_fitted_models_answer_alike(cls, cdnow_cal):
    model = cls(priors=cls.flat_priors()).fit(cdnow_cal, method="map")
    assert isinstance(model, TransactionModelProtocol)
    sub = cdnow_cal.iloc[:300]
    alive = model.p_alive(sub)
    assert list(alive.columns) == ["p_alive_mean", "p_alive_param_lo", "p_alive_param_hi"]
    assert ((alive["p_alive_mean"] > 0) & (alive["p_alive_mean"] <= 1)).all()
    exp = model.expected_purchases(sub, 39.0, random_seed=1)
    quiet = model.prob_no_purchase(sub, 39.0)["p_no_purchase_mean"]
    # a count's mean is at least the probability that it is not 0 (E[Y] >= P(Y >= 1)),
    # with equality only where no one buys twice
    assert (exp["purchases_mean"] >= 1 - quiet - 1e-12).all()
    assert (exp["purchases_mean"] > 1 - quiet).mean() > 0.9
    new = model.expected_purchases_new_customer([13.0, 39.0])["purchases_mean"]
    assert 0 < new.iloc[0] < new.iloc[1]
    sims = model.simulate_purchases(sub, [39.0], random_seed=1)
    assert list(sims.columns) == ["purchases_sim_mean", "purchases_pred_lo",
                                  "purchases_pred_hi", "active_end_mean"]
    assert sims["purchases_sim_mean"].sum() == pytest.approx(exp["purchases_mean"].sum(),
                                                             rel=0.05)
    assert model.loglik(cdnow_cal) < 0 and set(model.default_priors(
        model._prepare(cdnow_cal))) == set(cls.param_names)
