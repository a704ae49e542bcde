"""torchvision's documented parameter counts and GFLOPS against the spec, in the style of Tables 8-9.

Published numbers are data: ``data/torchvision_params.csv`` (the weights' ``num_params``) and
``data/torchvision_ops.csv`` (the weights' ``_ops`` and the "GFLOPS" column of torchvision's model
documentation), with provenance in data/README.md. Computed numbers come from :func:`costmodel.network` under
the ``torch`` convention: parameters = every ``parameters()`` tensor; operations = multiply-accumulates of
convolutions and matrix products, no bias, batch norm, activation or pooling (what torchvision's script
counted).

torchvision rounds twice: its script stored ``round(gmacs, 3)`` as ``_ops``, and the documentation prints
``f"{_ops:.2f}"``. Both are reproduced here, from the exact count. The column is called GFLOPS, but the numbers
are Mult-Adds (10^9 multiply-accumulates): each row's note gives what FLOPs (2 x Mult-Adds) would print.

>>> rows = {(c.network, c.quantity): c for c in compare_torchvision()}
>>> c = rows["efficientnet_b0", "gflops_column"]
>>> c.published, c.computed, c.status
('0.39', '0.39', 'match')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..counting.engine import count
from ..spec.zoo import network
from .published import read_csv

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TITLE", "ZooComparison", "compare_torchvision", "torchvision_table"]

TITLE = "torchvision's documented parameters and GFLOPS (in fact Mult-Adds) against the spec"

MATCH, DISCREPANCY = "match", "discrepancy"


@dataclass(frozen=True, slots=True)
class ZooComparison:
    """One number torchvision documents beside what the engine computes for it."""

    network: str
    quantity: str  # "params", "ops" (the weights' _ops: 10^9 Mult-Adds, 3 decimals) or "gflops_column" (2)
    unit: str  # "" for parameters, "G" for the operation counts
    published: str  # as torchvision prints it
    computed: str  # rounded the way torchvision rounds
    count: int  # the exact integer behind it (parameters or Mult-Adds)
    status: str  # "match" or "discrepancy"
    note: str


def _gmacs(mult_adds: int) -> float:
    return round(mult_adds / 1e9, 3)  # torchvision's script: round(flops, 3), flops in units of 10^9


def compare_torchvision() -> list[ZooComparison]:
    """Every parameter count of ``torchvision_params.csv`` and every operation count of ``torchvision_ops.csv``
    beside the spec's, each rounded as torchvision rounds it."""
    out: list[ZooComparison] = []
    ops = {r["network"]: r for r in read_csv("torchvision_ops.csv")}
    for row in read_csv("torchvision_params.csv"):
        name = row["network"]
        cost = count(network(name), "torch")
        ok = str(cost.params) == row["params"]
        out.append(
            ZooComparison(
                name,
                "params",
                "",
                row["params"],
                str(cost.params),
                cost.params,
                MATCH if ok else DISCREPANCY,
                "" if ok else "parameters differ",
            )  # fmt: skip
        )
        if name not in ops:
            continue
        published = ops[name]
        gmacs = _gmacs(cost.mult_adds)
        as_flops = _gmacs(2 * cost.mult_adds)
        note = f"Mult-Adds; as FLOPs (2 x) torchvision's rounding would give {as_flops:.3f} ({as_flops:.2f})"
        # _ops is a float literal in torchvision's source (15.47, not 15.470): compared as a number
        ops_ok = gmacs == float(published["ops"])
        for quantity, computed, ok in (
            ("ops", f"{gmacs:.3f}", ops_ok),
            ("gflops_column", f"{gmacs:.2f}", f"{gmacs:.2f}" == published["gflops_column"]),
        ):
            out.append(
                ZooComparison(
                    name,
                    quantity,
                    "G",
                    published[quantity],
                    computed,
                    cost.mult_adds,
                    MATCH if ok else DISCREPANCY,
                    note,
                )  # fmt: skip
            )
    return out


def torchvision_table() -> pd.DataFrame:
    """:func:`compare_torchvision` as a DataFrame, one row per published number."""
    import pandas as pd

    return pd.DataFrame([asdict(c) for c in compare_torchvision()])
