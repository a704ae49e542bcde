"""Reports: turn engine results into DataFrames and text (table, CSV, JSON, Markdown). Reports never count.

Each column that depends on the layer type (Table 1's type/stride and filter shape, the formula) is one rule per
type. The result objects' ``.table()`` reach the builders here through :func:`costmodel._hooks.table`. pandas is
imported inside the functions that build DataFrames, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import singledispatch
from typing import TYPE_CHECKING, Any, TypeVar

from .._hooks import register_table
from ..checks import dump_json
from ..counting.engine import weights_cost
from ..errors import DataError
from ..spec.layers import (
    AdaptiveAvgPool,
    Add,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
)
from ..spec.network import Node

if TYPE_CHECKING:
    import pandas as pd

    from ..counting.closed_form import ClosedForm
    from ..counting.engine import Cost, LayerCost
    from ..counting.memory import LayerMemory, NetworkMemory

__all__ = ["FORMATS", "cost_table", "type_stride", "filter_shape", "map_shape", "render", "markdown"]
__all__ += ["memory_table", "flat_rows", "formula", "records", "text_table"]

FORMATS = ("table", "csv", "json", "markdown")


@singledispatch
def type_stride(layer: object) -> str:
    """Table 1's "Type / Stride" column: ``Conv / s2``, ``Conv dw / s1``, ``Avg Pool / s1``, ``FC / s1``."""
    raise DataError(f"no Table 1 rule for layer type {type(layer).__name__}")


@type_stride.register
def _(layer: Conv2d) -> str:
    return f"Conv{' dw' if layer.depthwise else ''} / s{layer.stride}"


@type_stride.register
def _(layer: Pool2d) -> str:
    return f"{'Avg' if layer.mode == 'avg' else 'Max'} Pool / s{layer.stride}"


@type_stride.register
def _(layer: GlobalAvgPool) -> str:
    return "Avg Pool / s1"


@type_stride.register
def _(layer: AdaptiveAvgPool) -> str:
    return "Adaptive Avg Pool"


@type_stride.register
def _(layer: Concat) -> str:
    return "Concat"


@type_stride.register
def _(layer: Residual) -> str:
    return "Residual add"


@type_stride.register
def _(layer: Scale) -> str:
    return "Scale (SE)"


@type_stride.register
def _(layer: Add) -> str:
    return "Add"


@type_stride.register
def _(layer: Mul) -> str:
    return "Mul"


@type_stride.register
def _(layer: Linear) -> str:
    return "FC / s1"


@type_stride.register
def _(layer: Softmax) -> str:
    return "Softmax / s1"


@singledispatch
def _filter_shape(layer: object, node: Node) -> str:
    raise DataError(f"no Table 1 rule for layer type {type(layer).__name__}")


def filter_shape(node: Node) -> str:
    """Table 1's "Filter Shape" column: ``3x3x3x32``, ``3x3x32 dw``, ``Pool 7x7``, ``1024x1000``."""
    return _filter_shape(node.layer, node)


@_filter_shape.register
def _(layer: Conv2d, node: Node) -> str:
    k = layer.kernel
    return f"{k}x{k}x{layer.in_ch} dw" if layer.depthwise else f"{k}x{k}x{layer.in_ch // layer.groups}x{layer.out_ch}"


@_filter_shape.register
def _(layer: Pool2d, node: Node) -> str:
    return f"Pool {layer.kernel}x{layer.kernel}"


@_filter_shape.register
def _(layer: GlobalAvgPool, node: Node) -> str:
    return f"Pool {node.in_size}x{node.in_size}"


@_filter_shape.register
def _(layer: AdaptiveAvgPool, node: Node) -> str:
    return f"Pool to {layer.output_size}x{layer.output_size}"


@_filter_shape.register
def _(layer: Concat, node: Node) -> str:
    return f"{len(layer.branches)} branches"


@_filter_shape.register
def _(layer: Residual, node: Node) -> str:
    return "body + input"


@_filter_shape.register
def _(layer: Scale, node: Node) -> str:
    return f"input x body ({node.out_ch} factors)"


@_filter_shape.register
def _(layer: Add, node: Node) -> str:
    return "body + input"


@_filter_shape.register
def _(layer: Mul, node: Node) -> str:
    return f"input x {node.out_ch} factors"


@_filter_shape.register
def _(layer: Linear, node: Node) -> str:
    return f"{layer.in_features}x{layer.out_features}"


@_filter_shape.register
def _(layer: Softmax, node: Node) -> str:
    return "Classifier"


@singledispatch
def _formula(layer: object, node: Node, mult_adds: int) -> str:
    raise DataError(f"no formula rule for layer type {type(layer).__name__}")


def formula(node: Node) -> str:
    """A layer's Mult-Adds in the paper's notation with its values substituted (the multiply-accumulates that
    every convention counts).

    D_F is the *output* feature-map size (the paper's formulas assume stride 1, where input and output agree).

    >>> from costmodel import mobilenet_v1
    >>> formula(mobilenet_v1()["conv_dw_1"])
    'D_K·D_K·M·D_F·D_F = 3·3·32·112·112 = 3,612,672'
    """
    from ..spec.network import Node as _Node

    if not isinstance(node, _Node):
        raise DataError(f"formula() needs a placed layer (a network's node, e.g. net['conv_dw_1']), got {node!r}")
    _, mult_adds = weights_cost(node.layer, node)
    return _formula(node.layer, node, mult_adds)


@_formula.register
def _(layer: Conv2d, node: Node, mult_adds: int) -> str:
    k, d = layer.kernel, node.out_size
    values: tuple[int, ...]
    if layer.depthwise:
        symbols, values = "D_K·D_K·M·D_F·D_F", (k, k, layer.in_ch, d, d)
    elif layer.groups > 1:
        symbols, values = "D_K·D_K·(M/g)·N·D_F·D_F", (k, k, layer.in_ch // layer.groups, layer.out_ch, d, d)
    elif k == 1:
        symbols, values = "M·N·D_F·D_F", (layer.in_ch, layer.out_ch, d, d)
    else:
        symbols, values = "D_K·D_K·M·N·D_F·D_F", (k, k, layer.in_ch, layer.out_ch, d, d)
    return f"{symbols} = {'·'.join(map(str, values))} = {mult_adds:,}"


@_formula.register
def _(layer: Linear, node: Node, mult_adds: int) -> str:
    return f"M·N = {layer.in_features}·{layer.out_features} = {mult_adds:,}"


@_formula.register(Concat)
@_formula.register(Residual)
@_formula.register(Scale)
@_formula.register(Graph)
def _(layer: object, node: Node, mult_adds: int) -> str:
    return f"sum over the block's layers = {mult_adds:,}"


@_formula.register(Pool2d)
@_formula.register(GlobalAvgPool)
@_formula.register(AdaptiveAvgPool)
@_formula.register(Softmax)
@_formula.register(Add)
@_formula.register(Mul)
@_formula.register(Sum)
@_formula.register(Cat)
@_formula.register(ChannelSlice)
@_formula.register(ChannelShuffle)
@_formula.register(BatchNormAct)
@_formula.register(Zero)
def _(layer: object, node: Node, mult_adds: int) -> str:
    return "0 (no multiply-accumulates)"


_GRAPH_TYPES = {
    Graph: "Graph",
    Sum: "Sum",
    Cat: "Concat",
    ChannelSlice: "Channel slice",
    ChannelShuffle: "Channel shuffle",
    BatchNormAct: "BN/Act",
    Zero: "Zero",
}


@type_stride.register(Graph)
@type_stride.register(Sum)
@type_stride.register(Cat)
@type_stride.register(ChannelSlice)
@type_stride.register(ChannelShuffle)
@type_stride.register(BatchNormAct)
@type_stride.register(Zero)
def _(layer: object) -> str:
    return _GRAPH_TYPES[type(layer)]


@_filter_shape.register
def _(layer: Graph, node: Node) -> str:
    return f"{len(layer.nodes)} nodes"


@_filter_shape.register(Sum)
@_filter_shape.register(Cat)
def _(layer: object, node: Node) -> str:
    return f"{len(node.sources)} inputs"


@_filter_shape.register
def _(layer: ChannelSlice, node: Node) -> str:
    return f"channels {layer.start}:{layer.stop}"


@_filter_shape.register
def _(layer: ChannelShuffle, node: Node) -> str:
    return f"{layer.groups} groups"


@_filter_shape.register
def _(layer: BatchNormAct, node: Node) -> str:
    return f"{'BN ' if layer.batch_norm else ''}{layer.activation or ''}".strip()


@_filter_shape.register
def _(layer: Zero, node: Node) -> str:
    return "zeros"


def map_shape(size: int, ch: int) -> str:
    """A feature map as Table 1 prints it: ``224x224x3``."""
    return f"{size}x{size}x{ch}"


def _share(part: int, total: int) -> float:
    return 100.0 * part / total if total else 0.0


_Row = TypeVar("_Row", bound="LayerCost | LayerMemory")


def flat_rows(rows: Sequence[_Row], block: str = "") -> list[tuple[_Row, str]]:
    """Per-layer rows (costs or memory) with blocks expanded: each branch's layers, tagged with the block's
    name, then the block's own row. For costs, leaves and the blocks' zero-cost joins add up to the totals."""
    out: list[tuple[_Row, str]] = []
    for row in rows:
        if row.parts:
            out.extend(flat_rows(row.parts, row.name))  # type: ignore[arg-type]
        out.append((row, block))
    return out


@register_table("costmodel.counting.engine.Cost")
def cost_table(cost: Cost) -> pd.DataFrame:
    """One row per layer: name, type/stride, filter shape, input and output maps, params and Mult-Adds with
    their shares (%) of the totals. The integer columns add up to ``cost.params`` and ``cost.mult_adds``.

    A multi-branch block shows one row per sub-layer (``block`` names the block it belongs to), then a
    ``Concat`` row with the block's input and output maps and zero counts (the block's total is its rows')."""
    import pandas as pd

    rules: dict[type, tuple[Any, ...]] = {}  # each registry's rule, looked up once per layer type

    def make_row(lc: LayerCost, block: str) -> dict[str, Any]:
        node = lc.node
        layer = node.layer
        cls = type(layer)
        if cls not in rules:
            rules[cls] = tuple(r.dispatch(cls) for r in (type_stride, _filter_shape, _formula, weights_cost))
        stride_rule, shape_rule, formula_rule, weights_rule = rules[cls]
        return {
            "name": layer.name,
            "block": block,
            "type": stride_rule(layer),
            "kind": lc.kind,
            "filter_shape": shape_rule(layer, node),
            "input": map_shape(node.in_size, node.in_ch),
            "output": map_shape(node.out_size, node.out_ch),
            "params": 0 if lc.parts else lc.params,
            "mult_adds": 0 if lc.parts else lc.mult_adds,
            "params_pct": 0.0 if lc.parts else _share(lc.params, cost.params),
            "mult_adds_pct": 0.0 if lc.parts else _share(lc.mult_adds, cost.mult_adds),
            # the formula's value is the multiply-accumulates every convention counts (weights_cost)
            "formula": "the block's join: 0" if lc.parts else formula_rule(layer, node, weights_rule(layer, node)[1]),
        }

    rows = [make_row(lc, block) for lc, block in flat_rows(cost.layers)]
    if not any(r["block"] for r in rows):  # a network without blocks keeps the plain Table 1 columns
        for r in rows:
            del r["block"]
    return pd.DataFrame(rows)


def _cell(value: Any, float_digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{float_digits}f}"
    return str(value)


def printable(text: str) -> str:
    """``text`` with control characters and line breaks escaped (``\\n``, ``\\x1b``), so a name from a spec
    can never break a table's lines or drive the terminal; other characters (α, ρ) stay as they are.

    >>> printable("conv\\n\\x1b[31mα")
    'conv\\\\n\\\\x1b[31mα'
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _text_cells(df: pd.DataFrame, float_digits: int) -> tuple[list[str], list[list[str]]]:
    header = [printable(str(c)) for c in df.columns]
    body = [[printable(_cell(v, float_digits)) for v in row] for row in df.astype(object).itertuples(index=False)]
    return header, body


def _is_numeric(df: pd.DataFrame, col: str) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])


def markdown(df: pd.DataFrame, float_digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned), with no extra dependency."""
    header, body = _text_cells(df, float_digits)
    align = ["---:" if _is_numeric(df, c) else ":---" for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines)


def text_table(df: pd.DataFrame, float_digits: int = 2) -> str:
    """An aligned plain-text table: numbers right-aligned with thousands separators."""
    header, body = _text_cells(df, float_digits)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    right = [_is_numeric(df, c) for c in df.columns]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in body)])


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain-Python dictionaries (NumPy scalars unwrapped, NaN as None)."""
    return [{k: _json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def render(df: pd.DataFrame, fmt: str = "table", *, title: str | None = None, float_digits: int = 2) -> str:
    """Render a DataFrame as ``table`` (aligned text), ``csv``, ``json`` (a list of records) or ``markdown``.

    ``title`` heads the text and Markdown forms; CSV and JSON stay machine-readable.
    """
    if fmt == "csv":
        return df.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return dump_json(records(df), indent=2)
    if fmt == "markdown":
        body = markdown(df, float_digits)
        return f"**{printable(title)}**\n\n{body}" if title else body
    if fmt == "table":
        body = text_table(df, float_digits)
        return "\n".join(printable(t) for t in title.split("\n")) + f"\n{body}" if title else body
    raise DataError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


@register_table("costmodel.counting.memory.NetworkMemory")
def memory_table(mem: NetworkMemory, dtypes: Sequence[str] = ("float32", "float16", "int8")) -> pd.DataFrame:
    """One row per layer of a :class:`~costmodel.counting.memory.NetworkMemory`: input, output and weight elements,
    the peak live activation elements while the layer runs, and each of them in bytes at every dtype.

    Sub-layers of a block come first (``block`` names it), then the block's own row, whose weights and live
    figures cover the whole block; the ``weight_elements`` of the top-level rows add up to the network's."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for row, block in flat_rows(mem.layers):
        record: dict[str, Any] = {
            "name": row.name,
            "block": block,
            "input_elements": row.input_elements,
            "output_elements": row.output_elements,
            "weight_elements": row.weight_elements,
            "live_elements": row.live_elements,
        }
        for dtype in dtypes:
            in_b, out_b, w_b = row.bytes(dtype)
            record[f"input_bytes_{dtype}"] = in_b
            record[f"output_bytes_{dtype}"] = out_b
            record[f"weight_bytes_{dtype}"] = w_b
        rows.append(record)
    if not any(r["block"] for r in rows):
        for r in rows:
            del r["block"]
    return pd.DataFrame(rows)


@register_table("costmodel.counting.closed_form.ClosedForm")
def closed_form_table(cf: ClosedForm) -> pd.DataFrame:
    """One row per layer kind and a total row; columns kind, P, Q, R, S, T."""
    import pandas as pd

    def coefficients(c: object) -> dict[str, int]:
        return {k: getattr(c, k) for k in ("P", "Q", "R", "S", "T")}

    rows = [{"kind": k, **coefficients(c)} for k, c in cf.by_kind.items()]
    rows.append({"kind": "total", **coefficients(cf.total)})
    return pd.DataFrame(rows)
