"""MobileNetV1's costs as polynomials in α and ρ, with coefficients computed from the layer spec.

When every channel count ``int(c·α)`` equals ``c·α`` and every feature map is exactly ρ times its size at 224
(ρ = resolution / 224), each layer's cost is a monomial in α and ρ, and the network's totals are

    mult_adds = ρ²·(P·α² + Q·α) + R·α          params = S·α² + T·α

- P: layers with both channel counts scaled (pointwise 1x1 convs; in Conv MobileNet the full 3x3 convs),
  Σ D_K²·M·N·D_F² at α = ρ = 1;
- Q: layers with one scaled channel count and a map (the first conv: 3 image channels in; depthwise convs:
  one filter per channel);
- R: the classifier (its input channels scale with α; it sees a 1x1 map, so no ρ);
- S and T: the same layers' weights, by degree in α.

The coefficients come from :func:`costmodel.counting.sweeps.structure` (read off the built network), never typed in.

Where it stops applying (:func:`applies` tests a configuration): the real-valued polynomial meets the integer
counts only when ``c·α`` is an integer for every base channel count c, that is when α is a multiple of
1/gcd(c) = 1/32 (``int(c·α)`` truncates otherwise: α = 0.3 gives int(32·0.3) = 9, not 9.6), and when every
stride-2 stage halves exactly, that is when the resolution is a multiple of the product of the strides,
32 (``ceil(n/2)`` rounds up otherwise: 225 gives 113, not 112.5). Elsewhere it is an approximation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, reduce
from typing import TYPE_CHECKING

import numpy as np

from .._hooks import table as _table
from ..errors import SpecError
from ..spec.mobilenet import BASE_RESOLUTION, scale_channels
from .sweeps import GLOBAL, Structure, stage_sizes, structure

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Coefficients", "ClosedForm", "closed_form", "applies"]

Number = int | float | Fraction


@dataclass(frozen=True, slots=True)
class Coefficients:
    """P, Q, R (Mult-Adds) and S, T (params) of ``ρ²(Pα² + Qα) + Rα`` and ``Sα² + Tα``."""

    P: int
    Q: int
    R: int
    S: int
    T: int

    def mult_adds(self, alpha: Number, rho: Number) -> Fraction:
        """``ρ²(Pα² + Qα) + Rα``, exactly (floats are taken at their exact binary value)."""
        a, r = Fraction(alpha), Fraction(rho)
        return r * r * (self.P * a * a + self.Q * a) + self.R * a

    def params(self, alpha: Number) -> Fraction:
        """``Sα² + Tα``, exactly."""
        a = Fraction(alpha)
        return self.S * a * a + self.T * a


@dataclass(frozen=True, slots=True)
class ClosedForm:
    """The closed form of one MobileNetV1 variant: totals, and a split by the paper's Table 2 layer kinds."""

    total: Coefficients
    by_kind: dict[str, Coefficients]  # "Conv 3x3", "Conv DW 3x3", "Conv 1x1", "FC"
    alpha_step: Fraction  # the formula is exact for α a multiple of this (1/32 for MobileNetV1) ...
    resolution_step: int  # ... and resolutions a multiple of this (32)

    def mult_adds(self, alpha: Number, resolution: int) -> Fraction:
        """Mult-Adds by the formula at α and ``resolution`` (ρ = resolution / 224)."""
        return self.total.mult_adds(alpha, Fraction(resolution, BASE_RESOLUTION))

    def params(self, alpha: Number) -> Fraction:
        return self.total.params(alpha)

    def table(self) -> pd.DataFrame:
        """One row per layer kind and a total row; columns kind, P, Q, R, S, T (costmodel.report.tables)."""
        return _table(self)


def _fields(c: Coefficients) -> dict[str, int]:
    return {"P": c.P, "Q": c.Q, "R": c.R, "S": c.S, "T": c.T}


def _coefficients(s: Structure, terms) -> Coefficients:
    acc = {"P": 0, "Q": 0, "R": 0, "S": 0, "T": 0}
    for t in terms:
        weights = t.coeff * t.fixed * math.prod(t.channels)
        size = s.stage_sizes_224[t.stage]
        degree = len(t.channels)
        has_map = s.stages[t.stage] != GLOBAL
        if degree == 2 and has_map:
            acc["P"] += weights * size * size
        elif degree == 1 and has_map:
            acc["Q"] += weights * size * size
        elif degree == 1 and not has_map:
            acc["R"] += weights
        else:  # a monomial the formula has no place for (e.g. a layer with no scaled channel)
            raise SpecError(f"{t.name}: cost of degree {degree} in alpha does not fit the closed form")
        acc["S" if degree == 2 else "T"] += weights
    return Coefficients(**acc)


@lru_cache(maxsize=16)
def closed_form(
    shallow: bool = False, separable: bool = True, num_classes: int | None = None, flavour: str = "paper"
) -> ClosedForm:
    """P, Q, R, S, T of one MobileNetV1 variant (of one flavour), computed from its layer spec.

    Examples
    --------
    >>> cf = closed_form()
    >>> cf.total.P + cf.total.Q + cf.total.R, cf.total.S + cf.total.T  # α = ρ = 1
    (568740352, 4209088)
    >>> cf.alpha_step, cf.resolution_step
    (Fraction(1, 32), 32)
    """
    s = structure(bool(shallow), bool(separable), num_classes, flavour)
    kinds: dict[str, list] = {}
    for t in s.terms:
        kinds.setdefault(t.kind, []).append(t)
    by_kind = {k: _coefficients(s, ts) for k, ts in kinds.items()}
    # exact channels for every c iff α is a multiple of 1/gcd(c); exact halvings iff the resolution is a
    # multiple of every stage's total stride 224 / size_224
    step = Fraction(1, reduce(math.gcd, s.base_channels))
    strides = [
        BASE_RESOLUTION // size for size, chain in zip(s.stage_sizes_224, s.stages, strict=True) if chain != GLOBAL
    ]
    return ClosedForm(_coefficients(s, s.terms), by_kind, step, reduce(math.lcm, strides, 1))


def applies(
    alpha: float, resolution: int, *, shallow: bool = False, separable: bool = True, flavour: str = "paper"
) -> bool:
    """Whether the closed form is exact here: ``int(c·α) == c·α`` for every base channel count c, and every
    feature map exactly (resolution / 224) times its size at 224. Checked directly with the spec's own rules
    (:func:`~costmodel.spec.mobilenet.scale_channels`, :func:`~costmodel.spec.layers.window_out_size`).

    >>> applies(0.75, 160), applies(0.3, 160), applies(0.75, 225)
    (True, False, False)
    """
    s = structure(bool(shallow), bool(separable), None, flavour)
    a = Fraction(alpha)
    if any(scale_channels(c, alpha) != c * a for c in s.base_channels):
        return False
    sizes = stage_sizes(s, np.array([resolution], dtype=np.int64))[0]
    rho = Fraction(int(resolution), BASE_RESOLUTION)
    return all(
        int(got) == rho * base
        for got, base, chain in zip(sizes, s.stage_sizes_224, s.stages, strict=True)
        if chain != GLOBAL
    )
