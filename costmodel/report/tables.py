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
from ..checks import dump_json, non_negative_int, one_of
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
    from ..counting.dtypes import DtypeCost
    from ..counting.engine import Cost, LayerCost
    from ..counting.memory import LayerMemory, NetworkMemory

__all__ = ["FORMATS", "cost_table", "type_stride", "filter_shape", "map_shape", "render", "markdown"]
__all__ += [
    "memory_table",
    "flat_rows",
    "formula",
    "records",
    "text_table",
    "cost_tree_table",
    "population_table",
    "dtype_cost_table",
]

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


def _cost_row(cost: Cost, lc: LayerCost, rules: dict[type, tuple[Any, ...]], subtotal: bool = False) -> dict[str, Any]:
    """One row of a cost table; a block's row carries zero counts (its parts are rows too) unless ``subtotal``."""
    node = lc.node
    layer = node.layer
    cls = type(layer)
    if cls not in rules:  # each registry's rule, looked up once per layer type
        rules[cls] = tuple(r.dispatch(cls) for r in (type_stride, _filter_shape, _formula, weights_cost))
    stride_rule, shape_rule, formula_rule, weights_rule = rules[cls]
    zero = bool(lc.parts) and not subtotal
    return {
        "name": layer.name,
        "type": stride_rule(layer),
        "kind": lc.kind,
        "filter_shape": shape_rule(layer, node),
        "input": map_shape(node.in_size, node.in_ch),
        "output": map_shape(node.out_size, node.out_ch),
        "params": 0 if zero else lc.params,
        "mult_adds": 0 if zero else lc.mult_adds,
        "params_pct": 0.0 if zero else _share(lc.params, cost.params),
        "mult_adds_pct": 0.0 if zero else _share(lc.mult_adds, cost.mult_adds),
        # the formula's value is the multiply-accumulates every convention counts (weights_cost)
        "formula": (
            ("the block's join: 0" if zero else f"sum over the block's layers = {lc.mult_adds:,}")
            if lc.parts
            else formula_rule(layer, node, weights_rule(layer, node)[1])
        ),
    }


@register_table("costmodel.counting.engine.Cost")
def cost_table(cost: Cost) -> pd.DataFrame:
    """One row per layer: name, type/stride, filter shape, input and output maps, params and Mult-Adds with
    their shares (%) of the totals. The integer columns add up to ``cost.params`` and ``cost.mult_adds``.

    A multi-branch block shows one row per sub-layer (``block`` names the block it belongs to), then a
    ``Concat`` row with the block's input and output maps and zero counts (the block's total is its rows')."""
    import pandas as pd

    from ..counting.engine import Cost

    if not isinstance(cost, Cost):
        raise DataError(f"cost_table() needs a Cost (from costmodel.count), got {type(cost).__name__}")
    rules: dict[type, tuple[Any, ...]] = {}
    rows = []
    for lc, block in flat_rows(cost.layers):
        row = _cost_row(cost, lc, rules)
        rows.append({"name": row.pop("name"), "block": block, **row})
    if not any(r["block"] for r in rows):  # a network without blocks keeps the plain Table 1 columns
        for r in rows:
            del r["block"]
    return pd.DataFrame(rows)


def cost_tree_table(cost: Cost, depth: int | None = None) -> pd.DataFrame:
    """The nested view (torchinfo's, fvcore's module table): a block's row first, carrying its subtotal, then its
    layers one level deeper (``depth`` column, 1 at the top), down to ``depth`` levels (all by default).

    The rows of each level add up to the row above them, and the depth-1 rows to the totals. A network without
    blocks gives the rows of :func:`cost_table` (without a ``depth`` column).

    >>> import costmodel
    >>> cost = costmodel.count(costmodel.network("googlenet"))
    >>> df = cost_tree_table(cost)
    >>> top = df[df["depth"] == 1]
    >>> int(top["params"].sum()) == cost.params
    True
    >>> block = df[df["name"].str.startswith("inception3a")]
    >>> int(block["params"].iloc[0]) == int(block["params"].iloc[1:].sum())
    True
    """
    import pandas as pd

    rules: dict[type, tuple[Any, ...]] = {}
    rows: list[dict[str, Any]] = []

    def walk(layers: Sequence[LayerCost], level: int) -> None:
        for lc in layers:
            rows.append({"depth": level, **_cost_row(cost, lc, rules, subtotal=True)})
            if lc.parts and (depth is None or level < depth):
                walk(lc.parts, level + 1)

    walk(cost.layers, 1)
    if not any(lc.parts for lc in cost.layers):
        for r in rows:
            del r["depth"]
    return pd.DataFrame(rows)


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (a missing value of an integer column, which stays integer)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NAType"


def _cell(value: Any, float_digits: int) -> str:
    if _missing(value):
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
    if _missing(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain-Python dictionaries (NumPy scalars unwrapped, NaN as None)."""
    return [{k: _json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def render(df: pd.DataFrame, fmt: str = "table", *, title: str | None = None, float_digits: int = 2) -> str:
    """Render a DataFrame as ``table`` (aligned text), ``csv``, ``json`` (a list of records) or ``markdown``.

    ``title`` heads the text and Markdown forms; CSV and JSON stay machine-readable.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"render() needs a DataFrame, got {type(df).__name__}")
    if title is not None and not isinstance(title, str):
        raise DataError(f"title must be text or None, got {type(title).__name__}")
    digits = non_negative_int(float_digits, "float_digits", DataError)
    if digits > 17:  # float64 holds 17 significant digits; more would only print noise (or gigabytes)
        raise DataError(f"float_digits must be at most 17, got {digits}")
    if not one_of(fmt, FORMATS):
        raise DataError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
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

    from ..counting.memory import NetworkMemory, dtype_bytes

    if not isinstance(mem, NetworkMemory):
        raise DataError(f"memory_table() needs a NetworkMemory (from costmodel.counting.memory.memory), got "
                        f"{type(mem).__name__}")  # fmt: skip
    if isinstance(dtypes, (str, bytes)) or not isinstance(dtypes, Sequence):
        raise DataError(f"dtypes must be a sequence of element types such as ('float32', 'int8'), got {dtypes!r}")
    for dtype in dtypes:
        dtype_bytes(dtype)  # names an unknown one

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


@register_table("costmodel.counting.dtypes.DtypeCost")
def dtype_cost_table(cost: DtypeCost) -> pd.DataFrame:
    """One row per layer (blocks expanded) of a :class:`~costmodel.counting.dtypes.DtypeCost`: Mult-Adds, kernel
    and bias elements, weight, input and output bytes at the cost's data type, and BOPs."""
    import pandas as pd

    fields = ("name", "kind", "mult_adds", "kernel_elements", "bias_elements", "weight_bytes", "input_bytes",
              "output_bytes", "bops")  # fmt: skip
    return pd.DataFrame([{f: getattr(row, f) for f in fields} for row in cost.layers], columns=list(fields))


@register_table("costmodel.counting.closed_form.ClosedForm")
def closed_form_table(cf: ClosedForm) -> pd.DataFrame:
    """One row per layer kind and a total row; columns kind, P, Q, R, S, T."""
    import pandas as pd

    def coefficients(c: object) -> dict[str, int]:
        return {k: getattr(c, k) for k in ("P", "Q", "R", "S", "T")}

    rows = [{"kind": k, **coefficients(c)} for k, c in cf.by_kind.items()]
    rows.append({"kind": "total", **coefficients(cf.total)})
    return pd.DataFrame(rows)


@register_table("costmodel.search.population.PopulationCost")
def population_table(pop: Any, genes: Any = None, space: Any = None, rows: Any = None) -> pd.DataFrame:
    """One row per candidate of a :class:`~costmodel.search.population.PopulationCost` (or per candidate in
    ``rows``, an index array, e.g. a Pareto front): ``candidate`` (its row in the population), its cost columns,
    then, with ``genes`` and their ``space``, the value each gene stands for (missing where the candidate's stage
    depth leaves the block out; numeric genes stay numeric columns)."""
    import numpy as np
    import pandas as pd

    pick = np.arange(len(pop), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    data: dict[str, Any] = {"candidate": pick, **{k: v[pick] for k, v in pop.columns().items()}}
    if genes is not None:
        if space is None:
            raise DataError("population_table(): genes need their space, to name them and read their values")
        arr = space.check_genes(genes)
        if len(arr) != len(pop):
            raise DataError(f"population_table(): {len(arr)} rows of genes for {len(pop)} candidates")
        arr = arr[pick]
        active = space.active(arr)
        for i, gene in enumerate(space.genes):
            index, off = arr[:, i].astype(np.intp), ~active[:, i]
            kinds = {type(v) for v in gene.values}
            if kinds <= {int} or kinds <= {float}:  # numbers stay numbers (8 bytes a cell, not a Python object)
                values = np.asarray(gene.values, dtype=np.int64 if kinds <= {int} else np.float64)
                data[gene.name] = pd.array(values[index], dtype="Int64" if kinds <= {int} else "Float64")
                data[gene.name][off] = pd.NA
            else:
                table = np.empty(len(gene.values), dtype=object)
                table[:] = list(gene.values)
                column = table[index]
                column[off] = None
                data[gene.name] = column
    return pd.DataFrame(data)
