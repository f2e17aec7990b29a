import numpy as np

from lifevalue.models import predictions as pr
from lifevalue.value.kernels import p_alive_draws


def test_p_alive_draws_equals_the_closed_form():
    # random draws and customers, with x = 0, x = 500, t_x = T, t_x = 0 with x > 0 and
    # T = 10,000 days (odds far beyond exp's range)
    rng = np.random.default_rng(3)
    S, n = 30, 400
    r, alpha = rng.uniform(0.05, 3, S), rng.uniform(0.5, 50, S)
    a, b = rng.uniform(0.2, 3.5, S), rng.uniform(0.3, 6, S)
    x = np.r_[rng.integers(0, 40, n - 4), 0, 500, 3, 2].astype(float)
    T = np.r_[rng.uniform(0.1, 80, n - 4), 50.0, 10_000 / 7, 10_000 / 7, 40.0]
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    t_x[-1], t_x[-3] = T[-1], 0.0
    got = p_alive_draws(r, alpha, a, b, x, t_x, T)
    want = pr.p_alive(r[:, None], alpha[:, None], a[:, None], b[:, None], x, t_x, T)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    assert (got[:, x == 0] == 1.0).all()
    assert (got[:, -3] < 1e-100).all()  # 500 purchases at once, then 27 silent years
