"""The paper's Tables 1-9, published against computed.

Tables 8-9 compare MobileNet with GoogLeNet, VGG16, SqueezeNet (1.0) and AlexNet; those are computed from the
torchvision definitions in :mod:`costmodel.spec.zoo`, under the paper's convention (conv and FC weights and
Mult-Adds), and the explanations of the published numbers that do not follow name the arithmetic that does.

Published numbers are data (``data/paper_table1.csv``, ``data/paper_tables.csv``, with provenance); computed
numbers come from the spec through the cost engine. A published number *matches* when it equals the computed
one at the precision the paper prints (within half a unit of its last printed digit, compared exactly with
fractions); otherwise it is flagged as a *discrepancy* and shown with the explanation from
``data/paper_notes.csv`` (or "unexplained"). Accuracies are published data only: shown, never computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING

from ..checks import boolean
from ..counting.engine import Cost, count
from ..errors import DataError
from ..spec.layers import Conv2d
from ..spec.mobilenet import mobilenet_v1, scale_channels
from ..spec.network import Network
from ..spec.zoo import NETWORKS, network
from .published import read_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TITLES",
    "TABLES",
    "Comparison",
    "compare",
    "paper_table",
    "all_tables",
    "separable_savings",
    "table3_network",
]

TITLES: dict[int, str] = {
    1: "Table 1. MobileNet Body Architecture",
    2: "Table 2. Resource Per Layer Type (MobileNet 1.0-224)",
    3: "Table 3. Resource usage for modifications to standard convolution (D_K = 3, M = N = 512, D_F = 14)",
    4: "Table 4. Depthwise Separable vs Full Convolution MobileNet",
    5: "Table 5. Narrow vs Shallow MobileNet",
    6: "Table 6. MobileNet Width Multiplier",
    7: "Table 7. MobileNet Resolution",
    8: "Table 8. MobileNet Comparison to Popular Models",
    9: "Table 9. Smaller MobileNet Comparison to Popular Models",
}
TABLES = tuple(TITLES)

MATCH, DISCREPANCY, PUBLISHED = "match", "discrepancy", "published"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One published number beside what the engine computes for it."""

    table: int
    row: str
    quantity: (
        str  # mult_adds | params | mult_adds_pct | params_pct | top1_pct | type_stride | filter_shape | input_size
    )
    unit: str  # "million", "%" or "" (Table 1's strings)
    published: str  # as printed
    computed: str | None  # the computed value at two more digits than printed (None for accuracies)
    count: int | None  # the exact integer behind it (Mult-Adds or parameters), where there is one
    difference: float | None  # computed - published, in the unit
    status: str  # "match", "discrepancy" or "published" (accuracy: data, not computed)
    note: str


# --- computations ------------------------------------------------------------------------------------------


def table3_network(alpha: float = 1.0, size: int = 14, separable: bool = True) -> Network:
    """Table 3's single layer: D_K = 3, M = N = int(512 alpha), on a size x size map, standard or separable."""
    ch = scale_channels(512, alpha)
    if boolean(separable, "separable"):
        layers = [Conv2d("conv_dw", ch, ch, 3, groups=ch), Conv2d("conv_pw", ch, ch, 1)]
    else:
        layers = [Conv2d("conv", ch, ch, 3)]
    return Network(layers, input_size=size, in_ch=ch, name=f"Table 3 layer {alpha:g}-{size}")


@cache
def _cost(alpha: float, resolution: int, variant: str) -> Cost:
    if variant in NETWORKS and variant != "mobilenet_v1":  # Tables 8-9: a comparison network, as torchvision's
        return count(network(variant, resolution=resolution))
    if variant not in ("standard", "shallow", "full-conv"):
        raise DataError(f"unknown variant {variant!r} in paper_tables.csv")
    return count(mobilenet_v1(alpha, resolution, shallow=variant == "shallow", separable=variant != "full-conv"))


def _row_cost(row: dict[str, str]) -> Cost:
    alpha, size = float(row["alpha"]), int(row["resolution"])
    if row["rho"]:
        size = round(float(row["rho"]) * size)
    if row["variant"] == "layer":
        return count(table3_network(alpha, size, separable=row["subject"] == "separable"))
    return _cost(alpha, size, row["variant"])


def _computed(row: dict[str, str]) -> tuple[Fraction, int]:
    """(value in the row's unit, exact integer count) for one numeric row."""
    cost = _row_cost(row)
    quantity = row["quantity"]
    if quantity in ("mult_adds", "params"):
        n = getattr(cost, quantity)
        return Fraction(n, 10**6), n
    if quantity in ("mult_adds_pct", "params_pct"):
        params, mult_adds = cost.by_kind().get(row["subject"], (0, 0))
        part, total = (mult_adds, cost.mult_adds) if quantity == "mult_adds_pct" else (params, cost.params)
        return Fraction(100 * part, total), part
    raise DataError(f"unknown quantity {quantity!r} in paper_tables.csv")


@cache
def _notes() -> dict[tuple[int, str, str], str]:
    return {(int(r["table"]), r["row"], r["quantity"]): r["explanation"] for r in read_csv("paper_notes.csv")}


def _flag(table: int, row: str, quantity: str) -> str:
    return _notes().get((table, row, quantity), "unexplained discrepancy")


def _table1() -> list[Comparison]:
    from ..report.tables import filter_shape, map_shape, type_stride

    nodes = {node.name: node for node in mobilenet_v1()}
    out = []
    for r in read_csv("paper_table1.csv"):
        node = nodes.get(r["layer"])
        if node is None:
            raise DataError(f"paper_table1.csv row {r['row']}: no layer {r['layer']!r} in the spec")
        ours = {
            "type_stride": type_stride(node.layer),
            "filter_shape": filter_shape(node),
            "input_size": map_shape(node.in_size, node.in_ch),
        }
        for quantity, computed in ours.items():
            ok = computed == r[quantity]
            note = "" if ok else _flag(1, r["row"], quantity)
            out.append(
                Comparison(
                    1,
                    r["row"],
                    quantity,
                    "",
                    r[quantity],
                    computed,
                    None,
                    None,
                    MATCH if ok else DISCREPANCY,
                    note,
                )
            )
    return out


def _numeric(table: int) -> list[Comparison]:
    out = []
    for r in read_csv("paper_tables.csv"):
        if int(r["table"]) != table:
            continue
        row = (table, r["row"], r["quantity"], r["unit"], r["published"])
        if r["quantity"] == "top1_pct":
            out.append(Comparison(*row, None, None, None, PUBLISHED, "ImageNet accuracy: published data, not computed"))
            continue
        decimals = int(r["decimals"])
        value, exact = _computed(r)
        difference = value - Fraction(Decimal(r["published"]))
        ok = abs(difference) <= Fraction(1, 2 * 10**decimals)
        note = "" if ok else _flag(table, r["row"], r["quantity"])
        computed = f"{float(value):.{decimals + 2}f}"
        out.append(Comparison(*row, computed, exact, float(difference), MATCH if ok else DISCREPANCY, note))
    return out


def compare(tables: Iterable[int] = TABLES) -> list[Comparison]:
    """Every published number of the given tables beside its computed value (no pandas needed)."""
    out: list[Comparison] = []
    if isinstance(tables, (str, bytes)) or not hasattr(tables, "__iter__"):
        raise DataError(f"tables must be table numbers such as (1, 2, 3), got {tables!r}")
    for t in tables:
        if isinstance(t, bool) or not isinstance(t, int) or t not in TITLES:
            raise DataError(f"no table {t!r}; the paper's tables reproduced here are {', '.join(map(str, TABLES))}")
        out += _table1() if t == 1 else _numeric(t)
    return out


def paper_table(n: int) -> pd.DataFrame:
    """Table ``n`` (1-9) as a DataFrame: table, row, quantity, unit, published, computed, count, difference,
    status, note; one row per published number."""
    return all_tables([n])


def all_tables(tables: Iterable[int] = TABLES) -> pd.DataFrame:
    """Tables 1-9 (or the given ones) in one long DataFrame, as :func:`paper_table`."""
    import pandas as pd

    frame = pd.DataFrame([asdict(c) for c in compare(tables)], columns=[f.name for f in fields(Comparison)])
    frame["count"] = frame["count"].astype("Int64")
    return frame


def separable_savings() -> dict[str, object]:
    """The paper's claim (Section 3.1): 3x3 depthwise separable convolutions use "between 8 to 9 times less
    computation than standard convolutions", from the engine.

    Returns the ratio standard / separable Mult-Adds for each of MobileNet 1.0-224's 13 separable blocks
    (full 3x3 convolution of Conv MobileNet against its depthwise + pointwise pair), their range, and the
    whole-network ratio Conv MobileNet / MobileNet.
    """
    sep, full = _cost(1.0, 224, "standard"), _cost(1.0, 224, "full-conv")
    sep_ma = {lc.name: lc.mult_adds for lc in sep.layers}
    per_block = {}
    for lc in full.layers:
        if lc.name.startswith("conv_full_"):
            i = lc.name.removeprefix("conv_full_")
            per_block[int(i)] = Fraction(lc.mult_adds, sep_ma[f"conv_dw_{i}"] + sep_ma[f"conv_pw_{i}"])
    return {
        "per_block": per_block,
        "min": min(per_block.values()),
        "max": max(per_block.values()),
        "network": Fraction(full.mult_adds, sep.mult_adds),
    }
