"""Where the time goes: per-layer and per-layer-type shares of Mult-Adds, parameters and measured time.

The counts come from the cost engine (paper convention) and the times from
:func:`~costmodel.reference.time_layers`; this module only divides and groups them (pandas).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..counting.engine import Cost

__all__ = ["profile_table", "kind_table", "ONE_BY_ONE"]

#: The Table 2 row of the pointwise convolutions.
ONE_BY_ONE = "Conv 1x1"


def _pct(part: float, total: float) -> float:
    return 100.0 * part / total if total else 0.0


def profile_table(cost: Cost, seconds: Mapping[str, float], batch: int) -> pd.DataFrame:
    """One row per layer: kind, params, Mult-Adds (per image), their shares, measured ms and GFLOP/s.

    Parameters
    ----------
    cost : Cost
        ``costmodel.count(network)`` (the paper's convention).
    seconds : mapping
        ``{layer name: seconds}`` for the whole batch, from :func:`~costmodel.reference.time_layers`.
    batch : int
        Images per timed forward pass (GFLOP/s = 2 · Mult-Adds · batch / seconds).
    """
    total_seconds = sum(seconds[lc.name] for lc in cost.layers)
    rows = []
    for lc in cost.layers:
        s = seconds[lc.name]
        rows.append(
            {
                "name": lc.name,
                "kind": lc.kind,
                "params": lc.params,
                "mult_adds": lc.mult_adds,
                "params_pct": _pct(lc.params, cost.params),
                "mult_adds_pct": _pct(lc.mult_adds, cost.mult_adds),
                "ms": 1e3 * s,
                "time_pct": _pct(s, total_seconds),
                "gflops_per_s": 2 * lc.mult_adds * batch / s / 1e9 if s > 0 and lc.mult_adds else 0.0,
            }
        )
    return pd.DataFrame(rows)


def kind_table(layers: pd.DataFrame, batch: int) -> pd.DataFrame:
    """The per-layer table summed by layer type (the rows of the paper's Table 2), in first-seen order."""
    grouped = layers.groupby("kind", sort=False)[["params", "mult_adds", "ms"]].sum().reset_index()
    grouped["params_pct"] = [_pct(p, layers["params"].sum()) for p in grouped["params"]]
    grouped["mult_adds_pct"] = [_pct(m, layers["mult_adds"].sum()) for m in grouped["mult_adds"]]
    grouped["time_pct"] = [_pct(t, layers["ms"].sum()) for t in grouped["ms"]]
    grouped["gflops_per_s"] = [
        2 * m * batch / (t / 1e3) / 1e9 if t > 0 and m else 0.0
        for m, t in zip(grouped["mult_adds"], grouped["ms"], strict=True)
    ]
    grouped["layers"] = layers.groupby("kind", sort=False).size().to_numpy()
    cols = [
        "kind",
        "layers",
        "params",
        "mult_adds",
        "params_pct",
        "mult_adds_pct",
        "ms",
        "time_pct",
        "gflops_per_s",
    ]
    return grouped[cols]
