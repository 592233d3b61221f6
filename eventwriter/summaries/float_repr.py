"""Python's float ``repr`` for whole numpy arrays, computed with numpy: the same text, ~20x faster.

torch writes each value of an embedding as ``str(float(v))``; one Python call per value costs
about 0.7 us, 6 s for 10,000 x 784. :func:`format_values` produces exactly the bytes of
``repr(float(v)) + separator`` for every value of a float64 array with vectorised numpy code (the
method is explained below), and :class:`LowCardinality` does it by table lookup when an array has
few distinct values (pixels / 255, one-hot vectors). The ``tensors.tsv`` layout around it (rows,
blocks, threads) is :mod:`eventwriter.summaries.tsv`.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Optional, Tuple

import numpy as np

# ---------------------------------------------------------------------------------------------
# Vectorised repr(float): the exact text of Python's float repr for every value of a float64
# array, computed with numpy (one Python call per value costs ~0.7 us, 6 s for 10,000 x 784).
#
# Python prints the shortest decimal that reads back as the same double (ties between two
# shortest candidates go to the even digit), in fixed notation when the decimal exponent
# ``decpt`` (value = 0.d1d2... * 10**decpt) is in [-3, 16], otherwise as ``d.ddde[+-]XX``.
# For |x| = a, with k chosen so that P = a * 10**k is in [1e16, 1e17):
#   * P is computed as int64 + float remainder with an exact two-product (Dekker) of a and the
#     double-double 10**k, accurate to ~1e-14 of the last digit;
#   * the 17-digit candidate always reads back; a candidate with j fewer digits is the multiple
#     of 10**j nearest to P, and it reads back iff its distance to P is below H, half an ulp of a
#     scaled by 10**k. The shortest candidate is the largest j that passes (the test is
#     monotonic in j): j = 1 and 2 are tested on every value, larger j on those still passing.
# Decisions closer than 1e-9 to a boundary, powers of two (asymmetric interval), zeros, NaN, inf
# and magnitudes outside [1e-250, 1e250] fall back to ``repr`` (once per distinct value).
# tests/projector/test_projector.py compares this with repr on millions of values, random bit patterns included.


def _pow10_tables() -> Tuple[np.ndarray, ...]:
    hi = np.zeros(_K_MAX - _K_MIN + 1)
    lo = np.zeros_like(hi)
    for k in range(_K_MIN, _K_MAX + 1):
        exact = Fraction(10) ** k
        hi[k - _K_MIN] = float(exact)
        lo[k - _K_MIN] = float(exact - Fraction(hi[k - _K_MIN]))
    split = _SPLIT * hi
    big = split - (split - hi)
    above = np.array([float(Fraction(10) ** (e + 1)) for e in range(_E_MIN, _E_MAX + 1)])
    return hi, lo, big, hi - big, above


_K_MIN, _K_MAX = -270, 290  # 10**k needed for |x| in [1e-250, 1e250]
_E_MIN, _E_MAX = -260, 260  # decimal exponents of those magnitudes
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp split of a double into two 26-bit halves
_TABLES: Tuple[np.ndarray, ...] = ()
_TOL = 1e-9
_MANTISSA = np.int64((1 << 52) - 1)
_P10 = np.array([10 ** i for i in range(19)], dtype=np.int64)
_DIGITS4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10000)), dtype=np.uint32)
_DIGITS3 = np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), dtype=np.uint8).reshape(1000, 3)
_COLUMN = np.arange(32, dtype=np.uint8)
_tables_lock = threading.Lock()


def _tables() -> Tuple[np.ndarray, ...]:
    global _TABLES
    if not _TABLES:
        with _tables_lock:
            if not _TABLES:
                pow2 = np.ldexp(1.0, np.arange(-1100, 971))  # 2**(i - 1100)
                _TABLES = _pow10_tables() + (pow2,)
    return _TABLES


def _round_up(q: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (high < low) | ((high == low) & ((q & 1) == 1))


def _shortest(a: np.ndarray, bits: np.ndarray, narrow: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shortest round-trip digits of positive doubles ``a`` (normal, not powers of two).

    ``narrow``: every value has at most 26 significant bits (it came from float32/float16).
    Returns ``(digits, ndigits, decpt, ok)``: the value is ``0.<digits> * 10**decpt`` with
    ``digits`` an int64 of ``ndigits`` digits; ``ok`` is False where the caller must use repr.
    """
    pow_hi, pow_lo, pow_split_hi, pow_split_lo, pow10_above, pow2 = _tables()
    exp2 = ((bits >> 52) & 0x7FF) - 1022  # a = m * 2**exp2, 0.5 <= m < 1
    est = ((exp2 - 1) * 78913) >> 18  # floor((exp2 - 1) * log10(2)), exact for |exp2| < 1650
    e10 = est + (a >= pow10_above[est - _E_MIN])  # floor(log10(a)) but within an ulp of 10**n
    ki = (16 - _K_MIN) - e10  # index of k = 16 - e10
    hi = pow_hi[ki]
    p1 = a * hi
    if narrow:  # a fits in 26 bits: it is its own high half
        rest = ((a * pow_split_hi[ki] - p1) + a * pow_split_lo[ki]) + a * pow_lo[ki]
    else:
        split = _SPLIT * a
        a_hi = split - (split - a)
        a_lo = a - a_hi
        b_hi = pow_split_hi[ki]
        b_lo = pow_split_lo[ki]
        rest = (((a_hi * b_hi - p1) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo) + a * pow_lo[ki]
    whole = np.rint(rest)
    top = p1.astype(np.int64) + whole.astype(np.int64)  # P = top + frac
    frac = rest - whole  # |frac| <= 0.5
    radius = hi * pow2[exp2 + (1100 - 54)]  # half an ulp of a, times 10**k
    ok = (p1 >= 1e16) & (p1 < 1e17) & (top < 10**17)  # misses only right at a power of ten
    # 16 and 15 digits: nearest multiples of 10 and 100
    q1 = top // 10
    q2 = q1 // 10
    r1 = (top - q1 * 10).astype(np.float64)
    r2 = (top - q2 * 100).astype(np.float64)
    # P - (multiple below) and (multiple above) - P; r + frac >= -0.5, so the second is positive
    y1 = r1 + frac
    low1 = np.abs(y1)
    high1 = 10.0 - y1
    y2 = r2 + frac
    low2 = np.abs(y2)
    high2 = 100.0 - y2
    dist1 = np.minimum(low1, high1)
    dist2 = np.minimum(low2, high2)
    in1 = dist1 < radius
    in2 = dist2 < radius
    # decisions within _TOL of the boundary go to repr (checked for both candidates at once)
    unsure = np.minimum(np.abs(dist1 - radius), np.abs(dist2 - radius)) <= _TOL
    # both neighbours at distance 5 (low1 + high1 = 10): an exact tie goes to the even one, a
    # near tie is unsure; it only matters when 5 is inside the radius
    unsure |= (np.abs(dist1 - 5.0) <= _TOL) & (low1 != high1) & (radius > 5.0 - _TOL)
    # the same for the 17-digit candidate (radius > 0.55 there, so it is always inside)
    abs_frac = np.abs(frac)
    tie17 = abs_frac == 0.5
    unsure |= ~in1 & (np.abs(abs_frac - 0.5) <= _TOL) & ~tie17
    ok &= ~unsure
    top17 = top
    odd_tie = tie17 & ((top & 1) == 1)
    if odd_tie.any():
        top17 = top + odd_tie * (2 * (frac > 0) - 1)
    up1 = high1 < low1
    tie1 = high1 == low1  # both at distance 5: Python picks the even one
    if tie1.any():
        up1 |= tie1 & ((q1 & 1) == 1)
    # at 100 a tie (distance 50) is never inside the interval, so only j = 1 needs the even rule.
    # (Selections are arithmetic: np.where is slow on unpredictable masks; in2 implies in1.)
    d16 = q1 + up1
    digits = top17 + in1 * (d16 - top17) + in2 * ((q2 + (high2 < low2)) - d16)
    ndigits = 17 - in1.astype(np.int64) - in2
    active = np.flatnonzero(in2 & ok)
    for j in range(3, 17):  # rare: 14 digits or fewer
        if active.size == 0:
            break
        p = int(_P10[j])
        t, f, r = top[active], frac[active], radius[active]
        qj = t // p
        rem = t - qj * p
        low = np.abs(rem.astype(np.float64) + f)
        high = np.abs((p - rem).astype(np.float64) - f)
        dist = np.minimum(low, high)
        inside = dist < r
        unsure = np.abs(dist - r) <= _TOL
        if unsure.any():
            ok[active[unsure]] = False
            inside &= ~unsure
        active = active[inside]
        digits[active] = qj[inside] + _round_up(qj[inside], low[inside], high[inside])
        ndigits[active] = 17 - j
    decpt = e10 + 1
    carry = digits == _P10[ndigits]  # 9.99...5 rounded up to a power of ten
    if carry.any():
        digits[carry] = 1
        ndigits[carry] = 1
        decpt[carry] += 1
    return digits, ndigits, decpt, ok


def _ascii20(high: np.ndarray, low: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` ASCII digits of ``high * 10**10 + low`` written with 20 digits."""
    m = high.size
    n4 = (width + 3) // 4
    out = np.empty((m, n4), dtype=np.uint32)
    h6 = high // 1000000
    out[:, 0] = _DIGITS4[h6]
    if n4 > 1:
        rest = high - h6 * 1000000
        h2 = rest // 100
        out[:, 1] = _DIGITS4[h2]
        if n4 > 2:
            l8 = low // 100000000
            out[:, 2] = _DIGITS4[(rest - h2 * 100) * 100 + l8]
            if n4 > 3:
                rest = low - l8 * 100000000
                l4 = rest // 10000
                out[:, 3] = _DIGITS4[l4]
                if n4 > 4:
                    out[:, 4] = _DIGITS4[rest - l4 * 10000]
    return out.view(np.uint8).reshape(m, 4 * n4)[:, :width]


def format_values(x: np.ndarray, seps: np.ndarray, narrow: bool = False) -> bytes:
    """``b"".join(repr(float(v)).encode() + sep)`` for float64 ``x`` and uint8 separators ``seps``.

    Args:
        x: 1-D float64 values (any: NaN, inf, zeros and subnormals use ``repr`` itself).
        seps: one separator byte per value (TAB, LF), written after it.
        narrow: every value came from float32 or float16 (a faster exact product).
    """
    n = x.size
    bits = x.view(np.int64)
    a = np.abs(x)
    with np.errstate(invalid="ignore"):  # NaN and inf are not whole numbers
        # a look at the first values spares other data the full test
        whole = (a[:16] < 1e16) & (a[:16] == np.floor(a[:16]))
        if whole.all():
            whole = (a < 1e16) & (a == np.floor(a))
    if whole.all():  # integer-valued (counts, labels, pixel values): the digits are the integer's
        return _whole_text(bits < 0, a.astype(np.int64), seps)
    fast = (a <= 1e250) & ((bits & _MANTISSA) != 0)  # NaN, inf, zeros and powers of two: repr
    if not narrow:  # float32 and float16 values are never that small
        fast &= a >= 1e-250
    zero = a == 0.0
    any_zero = bool(zero.any())
    if any_zero:  # common (ReLU features): "0.0" is d.0 with d = 0; compute a stand-in, then patch
        fast |= zero
        a = a + zero * _STAND_IN  # a is 0.0 there
    if fast.all():
        fast_idx = None
        digits, nd, decpt, ok = _shortest(a, a.view(np.int64), narrow)
        if any_zero:
            _patch_zeros(zero, digits, nd, decpt, ok)
        if not ok.all():
            fast = ok
            fast_idx = np.flatnonzero(ok)
    else:
        fast_idx = np.flatnonzero(fast)
        af = a[fast_idx]
        digits, nd, decpt, ok = _shortest(af, af.view(np.int64), narrow)
        if any_zero:
            _patch_zeros(zero[fast_idx], digits, nd, decpt, ok)
        if not ok.all():
            fast_idx = fast_idx[ok]
            fast = np.zeros(n, dtype=bool)
            fast[fast_idx] = True
    if not ok.all():
        digits, nd, decpt = digits[ok], nd[ok], decpt[ok]
    negative = (bits < 0) if fast_idx is None else (bits[fast_idx] < 0)
    return _text(negative, digits, nd, decpt, fast_idx, n, bits, seps)


def _text(negative, digits, nd, decpt, fast_idx, n, bits, seps) -> bytes:
    """The text of values ``±0.<digits> * 10**decpt`` (at ``fast_idx``; the others by ``repr``)."""
    # Each value becomes a row of the block's field widths, with NUL bytes in the unused places;
    # dropping the NULs leaves the text.
    sci = (decpt <= -4) | (decpt > 16)
    any_sci = bool(sci.any())
    minimum = 26 if fast_idx is not None else 0  # room for a repr() fallback
    if bool(((decpt <= 1) | sci).all()):
        rows = _rows_one_int_digit(negative, digits, nd, decpt, sci, any_sci, minimum)
    else:
        rows = _rows_general(negative, digits, nd, decpt, sci, any_sci, minimum)
    width = rows.shape[1]
    if fast_idx is not None:
        full = np.zeros((n, width), dtype=np.uint8)
        full[fast_idx] = rows
        fast = np.zeros(n, dtype=bool)
        fast[fast_idx] = True
        slow = np.flatnonzero(~fast)
        uniq, inverse = np.unique(bits[slow], return_inverse=True)
        full[slow] = _repr_table(uniq.view(np.float64), width)[inverse]
        rows = full
    rows[:, width - 1] = seps
    return rows.tobytes().translate(None, b"\0")


def _whole_text(negative: np.ndarray, v: np.ndarray, seps: np.ndarray) -> bytes:
    """The text of whole numbers ``v`` in [0, 1e16) (signs in ``negative``): ``[-]digits.0`` + separator.

    Below 2**53 every integer is a double and its own shortest representation, and up to 1e16
    (doubles 2 apart) no shorter decimal is within half a spacing, so repr writes the integer's
    digits; Python switches to exponent notation only from 1e16 on.
    """
    m = v.size
    nd = np.maximum(np.searchsorted(_P10, v, side="right"), 1)  # digits; 0 has one
    wi = int(nd.max()) if m else 1
    if wi <= 4:
        ascii_digits = _DIGITS4[v].view(np.uint8).reshape(m, 4)[:, 4 - wi:]
    else:
        high = v // 10**10
        ascii_digits = _ascii20(high, v - high * 10**10, 20)[:, 20 - wi:]
    rows = np.empty((m, wi + 4), dtype=np.uint8)  # [-][digits, right-aligned after NULs][.][0][sep]
    rows[:, 0] = negative * np.uint8(45)  # "-"
    rows[:, 1:1 + wi] = ascii_digits * (_COLUMN[:wi] >= (wi - nd).astype(np.uint8)[:, None])
    rows[:, 1 + wi] = 46  # "."
    rows[:, 2 + wi] = 48  # "0"
    rows[:, 3 + wi] = seps
    return rows.tobytes().translate(None, b"\0")


_STAND_IN = 1.2345678901234567  # needs all 17 digits: leaves _shortest's loop at once


def _patch_zeros(zero: np.ndarray, digits: np.ndarray, nd: np.ndarray, decpt: np.ndarray, ok: np.ndarray) -> None:
    # "0.0": the digit 0 before the point (arithmetic, not masked stores, for speed)
    digits -= zero * digits
    nd -= zero * (nd - 1)
    decpt -= zero * (decpt - 1)
    ok |= zero


def _exponent_field(rows: np.ndarray, column: int, sci: np.ndarray, decpt: np.ndarray) -> None:
    idx = np.flatnonzero(sci)
    e = decpt[idx] - 1
    block = np.empty((idx.size, 5), dtype=np.uint8)
    block[:, 0] = 101  # "e"
    block[:, 1] = np.where(e < 0, 45, 43)  # "-" / "+"
    mag = np.minimum(np.abs(e), 999)
    block[:, 2:] = _DIGITS3[mag]
    block[:, 2] *= mag >= 100  # two exponent digits unless it needs three
    rows[idx, column:column + 5] = block


_KEEP8 = np.array([[0xFF] * f + [0] * (8 - f) for f in range(9)], dtype=np.uint8).view("<u8").reshape(9).astype(np.uint64)


def _rows_one_int_digit(negative, digits, nd, decpt, sci, any_sci, minimum) -> np.ndarray:
    """Layout when every value is 0.[000]ddd, d.ddd or d.ddde+XX (|x| < 10, the usual case).

    Row: [-][d or 0][.][0 0 0][first digit of 0.ddd][the other digits][e+XXX][sep]; no value
    needs a shifted copy of its digits, so every step is a whole-column operation.
    """
    m = digits.size
    lead0 = decpt <= 0
    if any_sci:
        lead0 &= ~sci
    zeros = int(-(lead0 * decpt).min(initial=0))
    left = digits * _P10[17 - nd]  # 17 digits, zero-padded on the right
    first = left // 10**16
    rest = left - first * 10**16
    high = rest // 10**8
    low = rest - high * 10**8
    quads = np.empty((m, 4), dtype=np.uint32)
    hq = high // 10000
    quads[:, 0] = _DIGITS4[hq]
    quads[:, 1] = _DIGITS4[high - hq * 10000]
    lq = low // 10000
    quads[:, 2] = _DIGITS4[lq]
    quads[:, 3] = _DIGITS4[low - lq * 10000]
    after = nd - 1  # digits after the first one; "d.0" keeps one "0"
    after += (nd == 1) & ~lead0 & ~sci if any_sci else (nd == 1) & ~lead0
    halves = quads.view(np.uint64)  # bytes 0-7 and 8-15 of the 16 digits (little-endian)
    halves[:, 0] &= _KEEP8[np.minimum(after, 8)]
    halves[:, 1] &= _KEEP8[np.maximum(after - 8, 0)]
    width = max(minimum, 1 + 1 + 1 + zeros + 1 + 16 + (5 if any_sci else 0) + 1)
    rows = np.zeros((m, width), dtype=np.uint8)  # calloc: cheaper than clearing the tail columns
    rows[:, 0] = negative * np.uint8(45)  # "-"
    first8 = first.astype(np.uint8) + np.uint8(48)
    rows[:, 1] = first8 - lead0 * first.astype(np.uint8)  # "0" for 0.ddd
    rows[:, 2] = 46 if not any_sci else ~(sci & (nd == 1)) * np.uint8(46)
    for z in range(zeros):
        rows[:, 3 + z] = (lead0 & (decpt <= z - zeros)) * np.uint8(48)
    c = 3 + zeros
    rows[:, c] = lead0 * first8
    rows[:, c + 1:c + 17] = quads.view(np.uint8)
    c += 17
    if any_sci:
        _exponent_field(rows, c, sci, decpt)
    return rows


def _divmod_pow10(v: np.ndarray, s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``divmod(v, 10**s)`` for int64 ``v`` in [0, 2**62) and per-element ``s`` in [0, 18]."""
    q = np.floor(v.astype(np.float64) / _P10F[s]).astype(np.int64)  # off by at most one
    p = _P10[s]
    r = v - q * p
    below = r < 0
    q -= below
    r += p * below
    above = r >= p
    q += above
    r -= p * above
    return q, r


_P10F = _P10.astype(np.float64)


def _rows_general(negative, digits, nd, decpt, sci, any_sci, minimum) -> np.ndarray:
    """Layout for any value: [-][integer part, right-aligned][.][fraction, left-aligned][e+XXX][sep]."""
    m = digits.size
    after = nd - decpt  # digits after the decimal point (fixed notation)
    if any_sci:
        after = np.where(sci, nd - 1, after)
    lead0 = decpt <= 0  # 0.000ddd
    if any_sci:
        lead0 &= ~sci
    q, r = _divmod_pow10(digits, np.clip(after, 0, 16))
    int_part = np.where(lead0, 0, q)
    frac_part = np.where(lead0, digits, r)
    whole_number = after < 0
    if whole_number.any():  # written as ddd000.0
        int_part = np.where(whole_number, digits * _P10[np.clip(-after, 0, 18)], int_part)
    frac_len = np.maximum(after, 1)
    int_len = np.maximum(decpt, 1)
    if any_sci:
        frac_len = np.where(sci, after, frac_len)
        int_len = np.where(sci, 1, int_len)
    wi = int(int_len.max()) if m else 1
    wf = int(frac_len.max()) if m else 1
    # fraction digits left-aligned in 20 places: frac_part * 10**(20 - frac_len) = high * 1e10 + low
    t = np.clip(frac_len - 10, 0, 10)
    high, low = _divmod_pow10(frac_part, t)
    high *= _P10[np.clip(10 - frac_len, 0, 10)]
    low *= _P10[10 - t]
    width = max(minimum, wi + wf + (8 if any_sci else 3))
    rows = np.empty((m, width), dtype=np.uint8)
    rows[:, 0] = negative * np.uint8(45)  # "-"
    if wi <= 4:
        int_digits = _DIGITS4[int_part].view(np.uint8).reshape(m, 4)[:, 4 - wi:]
    else:
        ih = int_part // 10**10
        int_digits = _ascii20(ih, int_part - ih * 10**10, 20)[:, 20 - wi:]
    rows[:, 1:1 + wi] = int_digits * (_COLUMN[:wi] >= (wi - int_len.astype(np.uint8))[:, None])
    rows[:, 1 + wi] = (frac_len > 0) * np.uint8(46) if any_sci else 46  # "."
    rows[:, 2 + wi:2 + wi + wf] = _ascii20(high, low, wf) * (_COLUMN[:wf] < frac_len.astype(np.uint8)[:, None])
    c = 2 + wi + wf
    rows[:, c:] = 0
    if any_sci:
        _exponent_field(rows, c, sci, decpt)
    return rows


def _repr_table(values: np.ndarray, width: int) -> np.ndarray:
    table = np.zeros((values.size, width), dtype=np.uint8)
    for i, v in enumerate(values.tolist()):
        text = repr(v).encode("ascii")
        table[i, :len(text)] = np.frombuffer(text, dtype=np.uint8)
    return table


class LowCardinality:
    """Few distinct values (pixels / 255, one-hot, quantised): format each distinct value once.

    Values are looked up by a multiplicative hash of their bits, chosen collision-free for the
    distinct values of a sample; a block holding any other value is formatted the general way.
    """

    MAX_DISTINCT = 1024
    SAMPLE = 1 << 15

    def __init__(self, keys: np.ndarray, rows: np.ndarray, multiplier: np.uint64, shift: np.uint64, slots: np.ndarray) -> None:
        self.keys = keys
        self.rows = rows
        self.multiplier = multiplier
        self.shift = shift
        self.slots = slots

    @classmethod
    def build(cls, flat: np.ndarray) -> Optional["LowCardinality"]:
        """A table for ``flat`` if a sample of it has at most :attr:`MAX_DISTINCT` values, else None."""
        if flat.size < 4 * cls.SAMPLE:
            return None
        stride = flat.size // cls.SAMPLE
        sample = np.asarray(flat[::stride], dtype=np.float64)
        keys = np.unique(sample.view(np.int64))
        if keys.size > cls.MAX_DISTINCT:
            return None
        bits = max(12, 2 * int(keys.size).bit_length() + 1)  # ~2 n**2 slots: a random hash is injective w.p. ~0.6
        shift = np.uint64(64 - bits)
        rng = np.random.default_rng(0x5EED)
        for _ in range(32):
            multiplier = np.uint64(rng.integers(1, 2**63, dtype=np.int64)) * np.uint64(2) + np.uint64(1)
            hashed = (keys.view(np.uint64) * multiplier) >> shift
            if np.unique(hashed).size == keys.size:
                break
        else:
            return None
        slots = np.zeros(1 << bits, dtype=np.int16)
        slots[hashed.astype(np.intp)] = np.arange(keys.size, dtype=np.int16)
        values = keys.view(np.float64)
        width = max(len(repr(v)) for v in values.tolist()) + 1  # the text, then the separator
        return cls(keys, _repr_table(values, width), multiplier, shift, slots)

    def format(self, x: np.ndarray, seps: np.ndarray) -> Optional[bytes]:
        """What :func:`format_values` returns for ``x``, or None if ``x`` holds a value not in the table."""
        bits = x.view(np.uint64)
        idx = self.slots[((bits * self.multiplier) >> self.shift).astype(np.intp)]
        if not np.array_equal(self.keys[idx], x.view(np.int64)):
            return None  # a value outside the sampled set: format the block the general way
        rows = self.rows[idx]
        rows[:, -1] = seps
        return rows.tobytes().translate(None, b"\0")
