"""The random numbers of the simulations: per-block generators whose streams do not
depend on chunking, threads or Spark partitions, and the compiled samplers of the value
walk.

:class:`BlockRNG` gives every block of :data:`RNG_BLOCK` customers (in the scorer's
canonical order) its own ``numpy.random.default_rng([seed, block])``; the compiled walk
of :mod:`lifevalue.models.customer_posterior` and :mod:`lifevalue.value.scoring_kernel`
derives one xoshiro256** stream per customer from its block's seed words
(:func:`seed_stream`), so a customer's draws depend on its place in the population
only.

References
----------
Blackman, D. & Vigna, S. (2018), "Scrambled linear pseudorandom number generators".
Marsaglia, G. & Tsang, W. W. (2000), "The ziggurat method for generating random
variables", Journal of Statistical Software 5(8); and "A simple method for generating
gamma variables", ACM Transactions on Mathematical Software 26(3).
Doornik, J. A. (2005), "An improved ziggurat method to generate normal random samples".
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Customers per random-number block. Chunks are whole numbers of blocks.
RNG_BLOCK = 256


class BlockRNG:
    """Random draws for customers ``[start, stop)`` that do not depend on chunking.

    Every draw method takes arrays of shape ``(S, n, ...)``, whose axis 1 runs over the
    customers of the chunk; each block of :data:`RNG_BLOCK` customers uses its own generator, seeded
    by ``(seed, block index)``, in a fixed order of calls.
    """

    def __init__(self, seed: int, start: int, stop: int):
        if start % RNG_BLOCK:
            raise ValueError("chunks must start on a block boundary")
        self.start, self.stop = start, stop
        first, last = start // RNG_BLOCK, -(-stop // RNG_BLOCK)
        self._gens = [np.random.default_rng([int(seed), b]) for b in range(first, last)]

    def _apply(self, method: str, *arrays, shape):
        out = np.empty(shape)
        n = shape[1]
        for i, gen in enumerate(self._gens):
            sl = slice(i * RNG_BLOCK, min((i + 1) * RNG_BLOCK, n))
            block = (np.broadcast_to(a, shape)[:, sl] for a in arrays)
            out[:, sl] = getattr(gen, method)(*block, size=out[:, sl].shape)
        return out

    def stream_seeds(self) -> np.ndarray:
        """The xoshiro256** seed words of each block, ``(blocks, 4)`` (for compiled
        scorers that derive one stream per customer, see :func:`seed_stream`)."""
        return np.stack([_xoshiro_state(gen) for gen in self._gens])

    def per_block(self, n: int, draw) -> None:
        """Call ``draw(generator, block_slice)`` for each block of the chunk's ``n``
        customers, in order: for draws whose size depends on earlier ones."""
        for i, gen in enumerate(self._gens):
            draw(gen, slice(i * RNG_BLOCK, min((i + 1) * RNG_BLOCK, n)))

    def gamma_where(self, mask, shape_param, scale):
        """Gamma draws where ``mask`` (``(S, n, ...)``) is true, 0 elsewhere."""
        out = np.zeros(mask.shape)
        shape_param = np.broadcast_to(shape_param, mask.shape)
        scale = np.broadcast_to(scale, mask.shape)

        def draw(gen, sl):
            m = mask[:, sl]
            out[:, sl][m] = gen.gamma(shape_param[:, sl][m], scale[:, sl][m])

        self.per_block(mask.shape[1], draw)
        return out

    def uniform(self, shape):
        return self._apply("random", shape=shape)

    def gamma(self, shape_param, scale, shape):
        return self._apply("gamma", shape_param, scale, shape=shape)

    def beta(self, a, b, shape):
        return self._apply("beta", a, b, shape=shape)

    def poisson(self, lam, shape):
        return self._apply("poisson", lam, shape=shape)

    def geometric(self, p, shape):
        return self._apply("geometric", p, shape=shape)



# ------------------------------------------------ the simulation's own random numbers
#
# The compiled walk draws from xoshiro256** (Blackman & Vigna 2018), seeded per block by
# the block's NumPy generator, so its streams keep the block structure (and so do not
# depend on chunking, threads or Spark partitions); normals and exponentials by the
# ziggurat method (Marsaglia & Tsang 2000, in Doornik's 2005 form), Gamma variates by
# Marsaglia & Tsang (2000). All are exact samplers; inlined by LLVM into their callers,
# they cost a fraction of a call into a NumPy generator. They are not inlined at the
# level of numba's IR (``inline="always"``): that retypes them at every call site, and
# dropping it took 3 s off the first scoring's compilation with the same scoring time
# (measured on ``CustomerValue.evaluate``).


def _xoshiro_state(gen: np.random.Generator) -> np.ndarray:
    """Four 64-bit words from ``gen``: a xoshiro256** state (never all zero)."""
    state = gen.integers(0, 2**64, size=4, dtype=np.uint64, endpoint=False)
    if not state.any():
        state[0] = 1
    return state


@numba.njit(nogil=True, cache=True)
def seed_stream(words, index, state):
    """Write into ``state`` the xoshiro256** state of stream ``index`` of the four seed
    ``words``: four splitmix64 outputs (Vigna's recommended seeding) from a start that
    differs per stream, so that streams neither coincide nor depend on each other."""
    z = (words[0] ^ _rotl(words[1], 17) ^ _rotl(words[2], 31) ^ _rotl(words[3], 47)) \
        + np.uint64(index) * np.uint64(4) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(4):
        z += np.uint64(0x9E3779B97F4A7C15)
        y = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        y = (y ^ (y >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[j] = y ^ (y >> np.uint64(31))
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = np.uint64(1)


@numba.njit(nogil=True, cache=True)
def _rotl(v, k):
    return (v << np.uint64(k)) | (v >> np.uint64(64 - k))


# The samplers take the state as a value, ``st``, a tuple of the four words, and return
# the new one with their draw: inlined (by LLVM), the state then lives in registers. Kept in an
# array, it went through memory at every draw, since any store (of a count, of a value)
# might alias it: about 3 ns per uniform instead of 1.4 (measured). A caller that holds
# the state in an array loads it once (:func:`_load`) and stores it back at the end.


@numba.njit(nogil=True, cache=True)
def _load(state):
    """The random state held in a 4-word array, as a value."""
    return (state[0], state[1], state[2], state[3])


@numba.njit(nogil=True, cache=True)
def _store(state, st):
    """Write the random state ``st`` back into its array."""
    state[0], state[1], state[2], state[3] = st[0], st[1], st[2], st[3]


@numba.njit(nogil=True, cache=True)
def _next_s(st):
    """The next 64-bit output of xoshiro256** and the new state."""
    s0, s1, s2, s3 = st
    out = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return out, (s0, s1, s2, s3)


@numba.njit(nogil=True, cache=True)
def _uniform_s(st):
    """A uniform on [0, 1) from the top 53 bits of the next xoshiro256** output."""
    bits, st = _next_s(st)
    return float(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0), st


def _ziggurat_tables(density, inverse, r: float, v: float, layers: int = 256):
    """Layer edges ``x_0 > x_1 = r > ... > x_256 = 0`` of a ziggurat of equal areas ``v``
    under the decreasing ``density`` (layer 0 is the base strip with the tail), and
    ``x_{i+1} / x_i``."""
    x = np.empty(layers + 1)
    x[0] = v / density(r)
    x[1] = r
    for i in range(1, layers - 1):
        x[i + 1] = inverse(v / x[i] + density(x[i]))
    x[layers] = 0.0
    return x, x[1:] / x[:-1]


# Marsaglia & Tsang (2000): 256 layers for the normal's half (r = 3.654...) and the
# exponential (r = 7.697...)
_ZIG_X, _ZIG_RATIO = _ziggurat_tables(lambda t: math.exp(-0.5 * t * t),
                                      lambda y: math.sqrt(-2.0 * math.log(y)),
                                      3.6541528853610088, 0.00492867323399)
_ZIG_R = float(_ZIG_X[1])
_EXP_X, _EXP_RATIO = _ziggurat_tables(lambda t: math.exp(-t), lambda y: -math.log(y),
                                      7.69711747013104972, 0.0039496598225815571993)
_EXP_R = float(_EXP_X[1])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _exponential_s(st):
    """A standard exponential by the ziggurat: the low 8 bits of one output pick the
    layer, its top 53 bits the uniform; inside the next layer's width (about 99% of
    the time) that is the draw. The tail beyond r is r plus an exponential."""
    while True:
        bits, st = _next_s(st)
        i = np.int64(bits & np.uint64(255))
        u = float(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0)
        if u < _EXP_RATIO[i]:
            return u * _EXP_X[i], st
        z, st = _exponential_edge(st, i, u)
        if z == z:
            return z, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _exponential_edge(st, i, u):
    """The exponential ziggurat's rare cases (see :func:`_normal_edge`)."""
    v, st = _uniform_s(st)
    if i == 0:
        return _EXP_R - math.log(1.0 - v), st
    z = u * _EXP_X[i]
    f0 = math.exp(-_EXP_X[i])
    f1 = math.exp(-_EXP_X[i + 1])
    if f1 + v * (f0 - f1) < math.exp(-z):
        return z, st
    return np.nan, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _normal_edge(st, i, u):
    """The ziggurat's rare cases for layer ``i`` and signed uniform ``u``: the tail beyond
    r (Marsaglia 1964) for the base layer, else the wedge test; NaN means reject."""
    if i == 0:
        while True:
            v, st = _uniform_s(st)
            x = math.log(1.0 - v) / _ZIG_R
            v, st = _uniform_s(st)
            y = math.log(1.0 - v)
            if -2.0 * y >= x * x:
                return (x - _ZIG_R if u < 0.0 else _ZIG_R - x), st
    z = u * _ZIG_X[i]
    f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - z * z))
    f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - z * z))
    v, st = _uniform_s(st)
    if f1 + v * (f0 - f1) < 1.0:
        return z, st
    return np.nan, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _normal_s(st):
    """A standard normal by the ziggurat (Doornik 2005): the low 8 bits of one output
    pick the layer, its top 53 bits the signed uniform; inside the next layer's width
    (about 99% of the time) that is the draw."""
    while True:
        bits, st = _next_s(st)
        i = np.int64(bits & np.uint64(255))
        u = float(np.int64(bits >> np.uint64(11))) * (2.0 / 9007199254740992.0) - 1.0
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i], st
        z, st = _normal_edge(st, i, u)
        if z == z:
            return z, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _gamma_s(st, shape):
    """A Gamma(shape, 1) variate (Marsaglia & Tsang 2000; below shape 1 via
    ``Gamma(shape + 1) * U^(1/shape)``)."""
    boost = 1.0
    if shape < 1.0:
        v, st = _uniform_s(st)
        boost = v ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    g, st = _gamma_dc_s(st, d, 1.0 / math.sqrt(9.0 * d))
    return g * boost, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _gamma_dc_s(st, d, c):
    """Marsaglia & Tsang's Gamma(d + 1/3) sampler, given ``d`` and ``c = 1/sqrt(9 d)``."""
    while True:
        z, st = _normal_s(st)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u, st = _uniform_s(st)
        zz = z * z
        if u < 1.0 - 0.0331 * zz * zz:
            return d * v, st
        if math.log(u) < 0.5 * zz + d * (1.0 - v + math.log(v)):
            return d * v, st
