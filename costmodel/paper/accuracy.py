"""Published ImageNet accuracies of MobileNetV1, their costs from the spec, and the log-linear trade-off.

- :func:`model_card`: the 16 checkpoints of the TF-slim model card (α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈
  {224, 192, 160, 128}), verbatim, read from ``data/tfslim_model_card.csv``.
- :func:`paper_accuracy`: the top-1 accuracies of the paper's Tables 6 and 7.
- :func:`models`: the card joined with the Mult-Adds and parameters the engine counts (paper's convention).
- :func:`card_comparison`: every MACs and params number on the card beside the spec's count under several
  conventions, with which convention explains it (or a flag when none does).
- :func:`loglinear_fit`: top-1 = a + b·log10(cost), the trade-off the paper describes (Section 4.2: "accuracy
  drops off smoothly"; Figure 4: "log linear dependence between accuracy and computation"). It is an
  **empirical fit** to 16 published points, not a model of the network: every prediction from it says so.

Accuracies are published data, never computed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pandas as pd

from ..counting.budget import pareto_frontier
from ..counting.engine import count
from ..errors import DataError, SpecError
from ..spec.mobilenet import mobilenet_v1

__all__ = [
    "frontier",
    "model_card",
    "paper_accuracy",
    "models",
    "with_costs",
    "card_comparison",
    "card_summary",
    "PARAM_CONVENTIONS",
    "loglinear_fit",
    "LogLinearFit",
    "EMPIRICAL_FIT",
]

EMPIRICAL_FIT = "empirical fit"  # the label every prediction of the log-linear fit carries

CARD_COLUMNS = (
    "model",
    "million_macs",
    "million_params",
    "top1",
    "top5",
    "top1_2017_06_14",
    "top5_2017_06_14",
)


def _read(name: str) -> pd.DataFrame:
    from .published import data_text

    try:
        return pd.read_csv(io.StringIO(data_text(name)), comment="#", dtype={"model": str})
    except ValueError as exc:
        raise DataError(f"cannot read published data {name!r}: {exc}") from None


@lru_cache(maxsize=1)
def _model_card() -> pd.DataFrame:
    df = _read("tfslim_model_card.csv")
    if tuple(df.columns) != CARD_COLUMNS or len(df) != 16:
        raise DataError(f"tfslim_model_card.csv: expected 16 rows with columns {CARD_COLUMNS}")
    parts = df["model"].str.split("_", expand=True)
    df.insert(1, "alpha", parts[0].astype(float))
    df.insert(2, "resolution", parts[1].astype(int))
    return df


def model_card() -> pd.DataFrame:
    """The TF-slim model card's 16 rows, verbatim, with ``alpha`` and ``resolution`` parsed from the names.

    Returns
    -------
    DataFrame, 16 rows
        ``model`` ("1.0_224"), ``alpha``, ``resolution``, ``million_macs``, ``million_params``, ``top1``,
        ``top5`` (2018 checkpoints) and ``top1_2017_06_14``, ``top5_2017_06_14`` (accuracies in %).
    """
    return _model_card().copy()


def paper_accuracy() -> pd.DataFrame:
    """Top-1 (%) of the paper's Tables 6 and 7, from the paper's published numbers (``paper_tables.csv``).

    Returns
    -------
    DataFrame, 8 rows
        ``table``, ``row`` (as printed), ``alpha``, ``resolution``, ``top1_pct``.
    """
    df = _read("paper_tables.csv")
    df = df[df["table"].isin([6, 7]) & (df["quantity"] == "top1_pct")]
    df = df.rename(columns={"published": "top1_pct"})[["table", "row", "alpha", "resolution", "top1_pct"]]
    return df.astype({"resolution": int}).reset_index(drop=True)


def with_costs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (columns ``alpha``, ``resolution``) with the engine's ``mult_adds`` and ``params`` (paper's
    convention: 1000 classes, weights only) of each row's MobileNetV1 added."""
    costs = [count(mobilenet_v1(a, r)) for a, r in zip(df["alpha"], df["resolution"], strict=True)]
    return df.assign(mult_adds=[c.mult_adds for c in costs], params=[c.params for c in costs])


def models() -> pd.DataFrame:
    """The card's 16 models with their costs from the spec: :func:`model_card` + :func:`with_costs`."""
    return with_costs(model_card())


#: Candidate conventions for the card's params column: name -> (description, params(alpha, resolution)).
PARAM_CONVENTIONS = {
    "paper": (
        "weights only, 1000 classes (the paper's convention)",
        lambda a, r: count(mobilenet_v1(a, r)).params,
    ),
    "keras_trainable": (
        "weights + classifier bias + batch-norm gamma, beta; 1001 classes",
        lambda a, r: count(mobilenet_v1(a, r, num_classes=1001), "paper+bias+bn").params,
    ),
    "slim_checkpoint": (
        "weights + classifier bias + batch-norm beta, moving mean, moving variance; 1001 classes "
        "(the tfslim convention on the tfslim flavour)",
        lambda a, r: count(mobilenet_v1(a, r, flavour="tfslim"), "tfslim").params,
    ),
    "all_bn_variables": (
        "weights + classifier bias + batch-norm gamma, beta, moving mean, moving variance; 1001 classes",
        lambda a, r: count(mobilenet_v1(a, r, num_classes=1001), "paper+bias+bn-stats").params,
    ),
}

#: Candidate conventions for the card's MACs column.
MAC_CONVENTIONS = {
    "paper": (
        "conv and FC multiply-accumulates, 1000 classes",
        lambda a, r: count(mobilenet_v1(a, r)).mult_adds,
    ),
    "paper_1001": (
        "conv and FC multiply-accumulates, 1001 classes",
        lambda a, r: count(mobilenet_v1(a, r, num_classes=1001)).mult_adds,
    ),
}


def _matches(published: float, computed: int, decimals: int) -> bool:
    # the card prints millions rounded to `decimals` places; round the exact count the same way (half up)
    printed = Fraction(str(published)) * 10**decimals
    return math.floor(Fraction(computed, 10**6) * 10**decimals + Fraction(1, 2)) == printed


def card_comparison() -> pd.DataFrame:
    """The card's MACs and params beside the spec's counts, with the convention that explains each number.

    Returns
    -------
    DataFrame, 32 rows (16 models x quantity ``mult_adds`` / ``params``)
        ``model``, ``quantity``, ``published`` (millions, as printed), ``computed`` (millions, the paper's
        convention), one column per candidate convention (millions), ``explained_by`` (the candidates that
        match at the printed precision, ``;``-separated, empty if none), ``status`` ("match", "rounding": off
        by less than one printed unit, "discrepancy") and ``note``.
    """
    rows = []
    card = model_card()
    for quantity, column, decimals, candidates in (
        ("mult_adds", "million_macs", 0, MAC_CONVENTIONS),
        ("params", "million_params", 2, PARAM_CONVENTIONS),
    ):
        for rec in card.itertuples(index=False):
            published = float(getattr(rec, column))
            values = {name: fn(rec.alpha, rec.resolution) for name, (_, fn) in candidates.items()}
            explained = [name for name, v in values.items() if _matches(published, v, decimals)]
            paper = values["paper"]
            gap = abs(published - paper / 1e6) * 10**decimals
            if explained:
                status = "match"
                note = "; ".join(candidates[n][0] for n in explained)
            elif gap < 1:
                status = "rounding"
                note = f"within one printed unit of {paper / 1e6:,.3f} M, but not its rounding"
            else:
                status = "discrepancy"
                note = (
                    f"does not follow from the architecture: no convention gives {published:g} M "
                    f"(paper's convention: {paper / 1e6:,.2f} M)"
                )
            rows.append(
                {
                    "model": rec.model,
                    "quantity": quantity,
                    "published": published,
                    "computed": paper / 1e6,
                    **{name: v / 1e6 for name, v in values.items() if name != "paper"},
                    "explained_by": ";".join(explained),
                    "status": status,
                    "note": note,
                }
            )
    names = [n for n in (*MAC_CONVENTIONS, *PARAM_CONVENTIONS) if n != "paper"]
    columns = ["model", "quantity", "published", "computed", *names, "explained_by", "status", "note"]
    return pd.DataFrame(rows).reindex(columns=columns)


def card_summary(comparison: pd.DataFrame | None = None) -> dict[str, str]:
    """Which convention explains each of the card's columns: {quantity: sentence}, computed from
    :func:`card_comparison` (the conventions matching every row, and the rows no convention explains)."""
    df = card_comparison() if comparison is None else comparison
    out = {}
    for quantity, candidates in (("mult_adds", MAC_CONVENTIONS), ("params", PARAM_CONVENTIONS)):
        part = df[df["quantity"] == quantity]
        sets = [set(filter(None, e.split(";"))) for e in part["explained_by"]]
        matched = [s for s in sets if s]
        common = set.intersection(*matched) if matched else set()
        flagged = part[part["status"] != "match"]
        text = f"{len(matched)} of {len(part)} rows match"
        if common:
            text += " under " + " / ".join(f"{n} ({candidates[n][0]})" for n in sorted(common))
        if len(flagged):
            text += "; flagged: " + ", ".join(
                f"{m} ({s})" for m, s in zip(flagged["model"], flagged["status"], strict=True)
            )
        out[quantity] = text
    return out


@dataclass(frozen=True)
class LogLinearFit:
    """top-1 = intercept + slope · log10(x): an empirical least-squares fit to published accuracies."""

    x: str  # the cost it is fitted against: "mult_adds" or "params"
    y: str  # the accuracy column: "top1" or "top5"
    slope: float  # accuracy points per decade of cost
    intercept: float
    r_squared: float
    residuals: pd.DataFrame  # model, x, published, fitted, residual (published - fitted)

    label = EMPIRICAL_FIT

    def predict(self, x: object) -> pd.Series:
        """Accuracy the fit gives at cost ``x`` (a a count); shape (n,), named ``<y>_empirical_fit``.

        An extrapolation of 16 published points, not a measurement or a property of the network.
        """
        values = np.atleast_1d(np.asarray(x, dtype=np.float64))
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise DataError(f"the fit needs positive finite costs, got {x!r}")
        return pd.Series(self.intercept + self.slope * np.log10(values), name=f"{self.y}_empirical_fit")

    def describe(self) -> str:
        return (
            f"{self.y} = {self.intercept:.2f} + {self.slope:.2f} * log10({self.x})  "
            f"(R^2 = {self.r_squared:.3f}, max |residual| = {self.residuals['residual'].abs().max():.2f} "
            f"points; {EMPIRICAL_FIT} to {len(self.residuals)} published models)"
        )


def loglinear_fit(x: str = "mult_adds", y: str = "top1", data: pd.DataFrame | None = None) -> LogLinearFit:
    """Least-squares fit of published accuracy against log10 of the computed cost.

    Parameters
    ----------
    x : {"mult_adds", "params"}
        The cost, counted by the engine in the paper's convention.
    y : {"top1", "top5", "top1_2017_06_14", "top5_2017_06_14"}
        The card's accuracy column.
    data : DataFrame, optional
        Rows with columns ``model``, ``x`` and ``y``; default :func:`models` (the 16 card models).
    """
    if x not in ("mult_adds", "params"):
        raise DataError(f"fit against 'mult_adds' or 'params', got {x!r}")
    df = models() if data is None else data
    if y not in df.columns or y not in CARD_COLUMNS[3:]:
        raise DataError(f"unknown accuracy column {y!r}; choose from {', '.join(CARD_COLUMNS[3:])}")
    log_x = np.log10(df[x].to_numpy(dtype=np.float64))
    acc = df[y].to_numpy(dtype=np.float64)
    if np.unique(log_x).size < 2:
        raise DataError(f"cannot fit {y} against {x}: fewer than two distinct costs")
    slope, intercept = np.polyfit(log_x, acc, 1)
    fitted = intercept + slope * log_x
    ss_res = float(np.sum((acc - fitted) ** 2))
    ss_tot = float(np.sum((acc - acc.mean()) ** 2))
    residuals = pd.DataFrame({"model": df["model"].to_numpy(), x: df[x].to_numpy(), "published": acc, "fitted": fitted})
    residuals["residual"] = residuals["published"] - residuals["fitted"]
    return LogLinearFit(x, y, float(slope), float(intercept), 1 - ss_res / ss_tot, residuals)


def frontier(cost: str = "mult_adds", accuracy: str = "top1") -> pd.DataFrame:
    """Pareto frontier of published top-1 against computed Mult-Adds (or params) over the 16 card models."""
    if cost not in ("mult_adds", "params"):
        raise SpecError(f"frontier cost must be 'mult_adds' or 'params', got {cost!r}")
    return pareto_frontier(models(), cost, accuracy)
