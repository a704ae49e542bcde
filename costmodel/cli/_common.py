"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._files import atomic_write
from ..checks import MAX_SIZE, parse_count
from ..errors import CostModelError, SpecError
from ..spec.network import Network

FORMATS = ("table", "csv", "json", "markdown")


def add_flavour_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None, weights: bool = False
) -> None:
    """--flavour: which framework's MobileNetV1 (costmodel.spec.flavours); ``weights``: the command has --weights."""
    from ..spec.flavours import FLAVOURS

    parser.add_argument(
        "--flavour",
        choices=list(FLAVOURS),
        default=default,
        help="which framework's MobileNetV1: padding, activation, batch norm, classifier "
        "(default paper" + ("; with --weights, the file's" if weights else "") + ")",
    )


# --- networks: --network NAME[@RES], --spec FILE and the options of the builders ---------------------------------

#: How a builder's keyword reads on the command line when its plain spelling (``--name-with-dashes``) will not
#: do: ``separable=False`` is ``--full-conv``.
_SPELLING = {"separable": ("--full-conv", "full_conv")}

#: Help for the builders' keywords; a keyword missing here still becomes an option (typed from its default).
_PARAM_HELP = {
    "alpha": "width multiplier α > 0 (default 1.0)",
    "resolution": "input resolution (default 224; also NAME@RES)",
    "rho": "resolution multiplier ρ in (0, 1]: round(ρ·resolution)",
    "shallow": "Shallow MobileNet: drop the five 14x14x512 blocks",
    "separable": "Conv MobileNet: full 3x3 convs, not separable",
    "num_classes": "classifier outputs (default the network's: 1000; MobileNetV1 the flavour's, tfslim 1001)",
    "activation": "after each conv (default the flavour's: paper relu, keras/tfslim/timm relu6); costs do not "
    "depend on it",
    "towers": "AlexNet: 1 (torchvision) or 2 (the original two-GPU network)",
    "branch3_kernel": "GoogLeNet: kernel of the third Inception branch (torchvision 3; the paper 5)",
}


def builder_parameters() -> dict[str, list[str]]:
    """Every keyword of the built-in networks' builders (their signatures), with the networks that take it."""
    import inspect

    from ..spec.zoo import NETWORKS

    out: dict[str, list[str]] = {}
    for name, builder in NETWORKS.items():
        for param in inspect.signature(builder).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                out.setdefault(param.name, []).append(name)
    return out


def _param_type(param: str) -> type:
    """The type of a builder keyword, from the builders' annotations (``float | None`` is float)."""
    import inspect

    from ..spec.zoo import NETWORKS

    for builder in NETWORKS.values():
        p = inspect.signature(builder).parameters.get(param)
        if p is None:
            continue
        note = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        for kind in (bool, float, int, str):
            if kind.__name__ in note.replace("|", " ").split():
                return kind
        if p.default is not None and p.default is not inspect.Parameter.empty:
            return type(p.default)
    return str


def param_option(param: str) -> tuple[str, str]:
    """The option (``--num-classes``) and argparse destination (``num_classes``) of a builder keyword."""
    return _SPELLING.get(param, ("--" + param.replace("_", "-"), param))


def network_help(multiple: bool = False) -> str:
    from ..spec.zoo import NETWORKS

    return (
        "a built-in network, optionally at a resolution (mobilenet_v2@160): "
        + ", ".join(NETWORKS)
        + ("; repeatable" if multiple else " (default mobilenet_v1)")
    )


def add_network_arguments(parser: argparse.ArgumentParser, weights: bool = False) -> None:
    """--network NAME[@RES] or --spec FILE, and one option per keyword of the built-in networks' builders
    (:func:`costmodel.network`'s keywords, read from the builders' signatures): the options of one network."""
    from ..spec.layers import ACTIVATIONS
    from ..spec.zoo import NETWORKS

    source = parser.add_argument_group("network").add_mutually_exclusive_group()
    source.add_argument("--network", metavar="NAME[@RES]", help=network_help())
    source.add_argument("--spec", metavar="FILE", help="a network document in JSON (schema: costmodel.spec.serialize)")
    g = parser.add_argument_group("network options (each for the networks named after it)")
    everyone = set(NETWORKS)
    for param, takers in builder_parameters().items():
        flag, dest = param_option(param)
        text = _PARAM_HELP.get(param, f"the builder's {param}")
        if set(takers) != everyone:
            text += f" [{', '.join(takers)}]"
        if param == "flavour":
            add_flavour_argument(g, None, weights)
            continue
        kind = _param_type(param)
        if param == "activation":
            g.add_argument(flag, dest=dest, choices=[a for a in ACTIVATIONS if a], default=None, help=text)
        elif kind is bool:
            g.add_argument(flag, dest=dest, action="store_true", help=text)
        else:
            g.add_argument(flag, dest=dest, type=kind, default=None, help=text)


def split_network(value: str, option: str = "--network") -> tuple[str, int | None]:
    """``NAME`` or ``NAME@RES``: the name and the resolution (None without one)."""
    name, at, resolution = value.partition("@")
    if not at:
        return name, None
    if not (resolution.isascii() and resolution.isdigit()) or len(resolution) > 10:
        raise SpecError(f"{option} {value!r}: the resolution after '@' must be an integer, got {resolution!r}")
    return name, int(resolution)


def network_from_value(value: str, option: str = "--network") -> Network:
    """A network from one ``NAME[@RES]`` value, or from a JSON spec file if the value ends in ``.json``."""
    if value.lower().endswith(".json"):
        return Network.load(value)
    from ..spec.zoo import network

    name, resolution = split_network(value, option)
    return network(name) if resolution is None else network(name, resolution=resolution)


def given_network_options(args: argparse.Namespace) -> dict[str, object]:
    """{builder keyword: value} of the network options given on the command line (``--full-conv`` is
    ``separable=False``), with the resolution of ``--network NAME@RES``."""
    out: dict[str, object] = {}
    for param in builder_parameters():
        flag, dest = param_option(param)
        value = getattr(args, dest, None)
        if param == "separable":
            if value:
                out[param] = False
        elif value is not None and value is not False:
            out[param] = value
    name = getattr(args, "network", None)
    if name is not None:
        _, resolution = split_network(name)
        if resolution is not None:
            if "resolution" in out and out["resolution"] != resolution:
                raise SpecError(f"--network {name} and --resolution {out['resolution']} disagree; give one of them")
            out["resolution"] = resolution
    return out


def network_name(args: argparse.Namespace) -> str:
    """The built-in network's name without its ``@RES`` (``mobilenet_v1`` when --network is not given)."""
    name = getattr(args, "network", None)
    return "mobilenet_v1" if name is None else split_network(name)[0]


def network_from_args(args: argparse.Namespace) -> Network:
    """The network of a command's arguments: ``--spec FILE``, or ``--network NAME[@RES]`` (default MobileNetV1)
    with the network options given, each checked against the builder's signature."""
    from ..spec.zoo import NETWORKS, network

    given = given_network_options(args)
    spec = getattr(args, "spec", None)
    if spec is not None:
        if given:
            flags = ", ".join(param_option(p)[0] for p in given)
            raise SpecError(f"{flags} cannot be combined with --spec {spec}: the document fixes the network")
        return Network.load(spec)
    name = network_name(args)
    if name not in NETWORKS:
        raise SpecError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    takes = {p for p, takers in builder_parameters().items() if name in takers}
    refused = [param_option(p)[0] for p in given if p not in takes]
    if refused:
        accepted = ", ".join(param_option(p)[0] for p in builder_parameters() if p in takes)
        raise SpecError(f"{', '.join(refused)} cannot be combined with --network {name} (it takes {accepted})")
    return network(name, **given)


def add_variant_arguments(parser: argparse.ArgumentParser, num_classes: bool = True) -> None:
    """--shallow, --full-conv (and --num-classes): the variant, for commands over many α and resolutions."""
    parser.add_argument("--shallow", action="store_true", help=_PARAM_HELP["shallow"])
    parser.add_argument("--full-conv", action="store_true", help=_PARAM_HELP["separable"])
    if num_classes:
        parser.add_argument(
            "--num-classes",
            type=int,
            default=None,
            help="classifier outputs (default the flavour's: 1000, tfslim 1001)",
        )
    add_flavour_argument(parser, "paper")


def convention_help() -> str:
    """--convention's help, from the registries (the presets and the options an error would list)."""
    from ..counting.conventions import CONVENTIONS, OPTIONS

    return (
        f"counting convention (default 'paper'): {', '.join(sorted(CONVENTIONS))}; add options with '+', e.g. "
        f"'paper+bias+bn' (options: {', '.join(OPTIONS)})"
    )


# --- output: --format, --out, the narrow view of wide tables -------------------------------------------------------


def add_format_argument(parser: argparse.ArgumentParser, default: str = "table") -> None:
    parser.add_argument("--format", choices=FORMATS, default=default, help=f"output format (default {default})")


def add_output_arguments(
    parser: argparse.ArgumentParser, default: str = "table", columns: bool = False, formats: tuple[str, ...] = FORMATS
) -> None:
    """--format and --out, the same for every command that prints a result; ``columns``: the command prints a wide
    table, shown narrow by default (its key columns) in the text and Markdown forms, with --wide and --columns."""
    what = default or "from --out's suffix (.csv, .json, .md, .parquet), else table"
    parser.add_argument("--format", choices=formats, default=default, help=f"output format (default {what})")
    parser.add_argument("--out", metavar="FILE", help="write to this file (atomically) instead of standard output")
    if columns:
        parser.add_argument(
            "--wide", action="store_true", help="every column in the table and markdown forms (default: the key ones)"
        )
        parser.add_argument(
            "--columns",
            metavar="A,B,...",
            help="only these columns, comma-separated, in every format ('all': every column)",
        )


#: Tables wider than this many characters (240-400 in practice: the conventions, the model card, the memory
#: view) show their key columns by default in the text and Markdown forms; --wide or --columns all shows all.
WIDE = 200


def select_columns(df: Any, args: argparse.Namespace, key: Sequence[str] | None = None) -> Any:
    """The columns of ``df`` to print: --columns, else every column with --wide, in CSV and JSON, or when the
    command names no key columns (``key`` None: its table is narrow anyway), else the key columns ``key`` (those
    ``df`` has). An unknown column is an error naming the choices."""
    names = column_names(args, list(df.columns))
    if names is not None:
        return df if names == ["all"] else df[names]
    if key is None or getattr(args, "wide", False) or getattr(args, "format", "table") not in ("table", "markdown"):
        return df
    return df[[c for c in df.columns if c in key]]


def column_names(args: argparse.Namespace, columns: Sequence[str]) -> list[str] | None:
    """The columns --columns names (each once; ``["all"]`` for every column), None without --columns; an
    unknown column is an error naming the choices (a command that computes for long checks before it does)."""
    from ..errors import InputError

    wanted = getattr(args, "columns", None)
    if wanted is None:
        return None
    names = [c.strip() for c in wanted.split(",")]
    if names == ["all"]:
        return names
    unknown = [printable_name(c) for c in names if c not in columns]
    if unknown:
        raise InputError(f"--columns: no column {', '.join(unknown)}; choose from 'all', " + ", ".join(columns))
    return list(dict.fromkeys(names))


def printable_name(text: str) -> str:
    return repr(text) if not text.isprintable() or not text else text


def emit(text: str, out: str | None = None) -> None:
    """Print ``text``, or write it to ``out`` atomically (a temporary file renamed into place)."""
    if out is None:
        sys.stdout.write(text.rstrip("\n") + "\n")
        return
    atomic_write(out, lambda f: f.write((text.rstrip("\n") + "\n").encode("utf-8")))


#: Most threads a --threads option takes (far more than any machine this runs on has cores).
MAX_THREADS = 1024

#: Environment variables that set the BLAS / OpenMP thread count; read once, when NumPy loads its BLAS.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def int_at_least(minimum: int, maximum: int = MAX_SIZE) -> Callable[[str], int]:
    """An argparse type: an integer from ``minimum`` to ``maximum`` (a bad value is a one-line usage error,
    exit 2). Every integer option has an upper bound, so that no value makes a loop endless or a count overflow.
    """

    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 30 else None
        except ValueError:  # a count with a suffix or an exponent (10K, 1e6), exact, else refused
            try:
                value = parse_count(text, maximum=10**30)
            except CostModelError:
                value = None
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected at most {maximum:,}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in "invalid int value" messages
    return parse


positive_int = int_at_least(1)


def count_argument(text: str) -> int:
    """An argparse type for a count (a budget, a population size): ``300M``, ``3e8``, ``300000000``; exact, and a
    value that is not a whole number (``1e6.5``, ``0.5``) is refused with a one-line usage error."""
    try:
        value = parse_count(text.removeprefix("-"), "a count")
    except CostModelError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(repr(text.removeprefix("-")[:40]), repr(text[:40]))) from None
    if value < 1 or text.startswith("-"):
        raise argparse.ArgumentTypeError(f"a count must be positive, got {text!r}")
    return value


count_argument.__name__ = "count"


#: Every command that runs NumPy measures or computes on this many BLAS threads unless --threads says otherwise:
#: on a shared machine a multi-threaded matrix product stalls whenever another process takes a core.
DEFAULT_THREADS = 1


def add_threads_argument(parser: argparse.ArgumentParser, default: int = DEFAULT_THREADS, why: str = "") -> None:
    """``--threads N``: BLAS threads for this run; one rule for every command: default
    :data:`DEFAULT_THREADS`, 0 keeps the environment's setting."""
    parser.add_argument(
        "--threads",
        type=int_at_least(0, MAX_THREADS),
        default=default,
        help=f"threads for the matrix products (sets OPENBLAS_NUM_THREADS before NumPy loads); 0 keeps the "
        f"environment's setting (default {default}){why}",
    )


def apply_threads(threads: int) -> None:
    """Set the BLAS thread count before NumPy is imported (OpenBLAS reads it once, when NumPy loads).

    Once NumPy is loaded (``main()`` called from a Python session that already imported it) the setting can no
    longer change, and the run keeps the session's BLAS threads.
    """
    if threads == 0 or "numpy" in sys.modules:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
