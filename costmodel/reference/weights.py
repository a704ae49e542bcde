"""Weights of a network: names and shapes from the spec, seeded initialisation, validated save and load.

Weights are a flat ``dict[str, ndarray]`` keyed ``"<keras group>/<keras variable>"``, one key per array of a
Keras MobileNet weight file, so the mapping to ``mobilenet_<alpha>_<size>_tf.h5`` is 1:1:

- ``conv1/kernel`` (K, K, M, N): a standard ``Conv2d``;
- ``conv_dw_1/depthwise_kernel`` (K, K, C, 1): a depthwise ``Conv2d``;
- ``<conv>/bias`` (N,): a convolution with ``bias=True``;
- ``conv1_bn/gamma``, ``conv1_bn/beta``, ``conv1_bn/moving_mean``, ``conv1_bn/moving_variance`` (N,): the
  batch norm after a convolution with ``batch_norm=True`` (Keras' separate ``<conv>_bn`` layer; no ``gamma``
  where the layer says ``bn_scale=False``, as in TF-slim's checkpoints);
- ``fc/kernel`` (M, N) and ``fc/bias`` (N,): a ``Linear`` classifier; the ``keras`` and ``tfslim`` flavours'
  classifier is a 1x1 convolution, ``fc/kernel`` (1, 1, M, N) (Keras' ``conv_preds``).

Every array is float32. Every load is validated against the network (:func:`validate_weights`). Files in
Keras' and timm's layouts are read and written by :mod:`costmodel.reference.layouts`; :func:`load_network`
builds the network a file was made for, its flavour told by its layout.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from functools import singledispatch
from pathlib import Path

import numpy as np

from .._random import Seed
from .._random import rng as random_generator
from ..checks import positive_int
from ..errors import SpecError, WeightsError
from ..spec.flavours import flavour_differences, get_flavour
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
    conv_weight_shape,
    linear_weight_shape,
)
from ..spec.network import Network
from . import layouts

__all__ = [
    "BN_EPSILON",
    "KERAS_NAMES",
    "expected_weights",
    "weight_arrays",
    "init_weights",
    "validate_weights",
    "save_weights",
    "load_weights",
    "load_network",
    "convert_weights",
    "CONVERSIONS",
    "load_keras_h5",
    "FlavourWarning",
]

#: Keras' and TF-slim's batch-norm epsilon, the default of ``Conv2d.bn_epsilon`` (each layer carries its own).
BN_EPSILON = 1e-3

#: A batch norm's variables, as Keras names them.
BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")

#: Our layer names that Keras spells differently.
KERAS_NAMES = {"fc": "conv_preds"}


class FlavourWarning(UserWarning):
    """Weights run under another flavour (padding, epsilon, activation) than the one their file was made for."""


@singledispatch
def weight_arrays(layer: object) -> dict[str, tuple[int, ...]]:
    """The executor's weight arrays of one layer, ``{key: shape}`` in the Keras layout (one rule per type)."""
    raise SpecError(f"{getattr(layer, 'name', layer)}: no weight rule for layer type {type(layer).__name__}")


@weight_arrays.register
def _(layer: Conv2d) -> dict[str, tuple[int, ...]]:
    k_h, k_w, m, n = conv_weight_shape(layer)
    shapes: dict[str, tuple[int, ...]] = {}
    if layer.depthwise:
        shapes[f"{layer.name}/depthwise_kernel"] = (k_h, k_w, n, m)  # Keras: (K, K, C, depth multiplier 1)
    elif layer.groups == 1:
        shapes[f"{layer.name}/kernel"] = (k_h, k_w, m, n)
    else:
        raise SpecError(f"{layer.name}: the reference executor has no kernel for grouped convolutions")
    if layer.bias:
        shapes[f"{layer.name}/bias"] = (layer.out_ch,)
    if layer.batch_norm:  # no gamma where the batch norm has no scale (TF-slim's checkpoints)
        for var in BN_VARIABLES if layer.bn_scale else BN_VARIABLES[1:]:
            shapes[f"{layer.name}_bn/{var}"] = (layer.out_ch,)
    return shapes


@weight_arrays.register
def _(layer: Linear) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {f"{layer.name}/kernel": linear_weight_shape(layer)}
    if layer.bias:
        shapes[f"{layer.name}/bias"] = (layer.out_features,)
    return shapes


@weight_arrays.register(GlobalAvgPool)
@weight_arrays.register(AdaptiveAvgPool)
@weight_arrays.register(Pool2d)
@weight_arrays.register(Softmax)
@weight_arrays.register(Add)
@weight_arrays.register(Mul)
@weight_arrays.register(Sum)
@weight_arrays.register(Cat)
@weight_arrays.register(ChannelSlice)
@weight_arrays.register(ChannelShuffle)
@weight_arrays.register(Zero)
def _(layer: object) -> dict[str, tuple[int, ...]]:
    return {}


@weight_arrays.register
def _(layer: BatchNormAct) -> dict[str, tuple[int, ...]]:
    if not layer.batch_norm:
        return {}  # an activation alone
    return {f"{layer.name}/{var}": (layer.channels,) for var in (BN_VARIABLES if layer.bn_scale else BN_VARIABLES[1:])}


@weight_arrays.register
def _(layer: Graph) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}  # every node's arrays
    for sub in layer.nodes:
        shapes.update(weight_arrays(sub))
    return shapes


@weight_arrays.register(Residual)
@weight_arrays.register(Scale)
def _(layer: Residual | Scale) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}  # the body's layers' arrays; the add or multiply has none
    for sub in layer.body:
        shapes.update(weight_arrays(sub))
    return shapes


@weight_arrays.register
def _(layer: Concat) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}  # every branch's layers' arrays; the concatenation has none
    for branch in layer.branches:
        for sub in branch:
            shapes.update(weight_arrays(sub))
    return shapes


def expected_weights(network: Network) -> dict[str, tuple[int, ...]]:
    """Every weight key of ``network`` and its shape, in network order.

    >>> from costmodel import mobilenet_v1
    >>> w = expected_weights(mobilenet_v1(0.25, 128))
    >>> w["conv1/kernel"], w["conv_dw_1/depthwise_kernel"], w["conv_pw_1_bn/gamma"], w["fc/kernel"]
    ((3, 3, 3, 8), (3, 3, 8, 1), (16,), (256, 1000))
    """
    if not isinstance(network, Network):
        raise WeightsError(f"expected_weights() needs a Network, got {type(network).__name__}")
    shapes: dict[str, tuple[int, ...]] = {}
    for node in network.nodes:
        shapes.update(weight_arrays(node.layer))
    return shapes


def init_weights(network: Network, seed: Seed = 0) -> dict[str, np.ndarray]:
    """Deterministic weights and batch-norm statistics for ``network`` from ``seed`` (no download needed).

    Convolution kernels are He-normal (std sqrt(2 / fan_in), fan_in = K·K·M/groups), the FC kernel has std
    sqrt(1 / M); biases and BN betas and means are small normals, BN gammas and variances uniform around 1,
    so activations keep their scale through the whole network.

    Returns
    -------
    dict
        ``{key: float32 array}`` with the keys and shapes of :func:`expected_weights`.

    >>> from costmodel import mobilenet_v1
    >>> w = init_weights(mobilenet_v1(0.25, 128), seed=1)
    >>> len(w), w["conv1/kernel"].dtype
    (137, dtype('float32'))
    """
    if not isinstance(network, Network):
        raise WeightsError(f"init_weights() needs a Network, got {type(network).__name__}")
    rng = random_generator(seed, "seed", WeightsError)  # an integer >= 0, None (fresh entropy) or a Generator
    out: dict[str, np.ndarray] = {}
    for key, shape in expected_weights(network).items():
        var = key.rsplit("/", 1)[1]
        if var in ("kernel", "depthwise_kernel"):
            fan_in = int(np.prod(shape[:-1])) if var == "kernel" else shape[0] * shape[1]
            gain = 1.0 if len(shape) == 2 else 2.0  # the FC layer feeds a softmax, not a ReLU
            value = rng.standard_normal(shape) * np.sqrt(gain / fan_in)
        elif var in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # bias, beta, moving_mean
            value = rng.normal(0.0, 0.1, shape)
        out[key] = value.astype(np.float32)
    return out


def validate_weights(network: Network, weights: Mapping[str, object]) -> None:
    """Check ``weights`` against ``network``: names, shapes, dtype float32, finite values, variances >= 0.

    Raises :class:`WeightsError` naming the key, what was expected and what was found.
    """
    if not isinstance(weights, Mapping):
        raise WeightsError(f"weights must be a mapping of name -> array, got {type(weights).__name__}")
    expected = expected_weights(network)
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing:
        shown = ", ".join(f"{k} (expected shape {expected[k]})" for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise WeightsError(f"{network.name}: missing weights: {shown}{more}")
    if unexpected:
        shown = ", ".join(map(str, unexpected[:5]))
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        raise WeightsError(f"{network.name}: unexpected weights: {shown}{more}")
    for key, shape in expected.items():
        value = weights[key]
        if not isinstance(value, np.ndarray):
            raise WeightsError(f"{key}: expected a float32 ndarray of shape {shape}, found {type(value).__name__}")
        if value.shape != shape:
            raise WeightsError(f"{key}: expected shape {shape}, found {value.shape}")
        if value.dtype != np.float32:
            raise WeightsError(f"{key}: expected dtype float32, found {value.dtype}")
        if not np.isfinite(value).all():
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise WeightsError(f"{key}: expected finite values, found {bad} NaN or infinite")
        if key.endswith("/moving_variance") and value.min() < 0:
            raise WeightsError(f"{key}: expected variances >= 0, found {float(value.min())!r}")


def save_weights(
    network: Network, weights: Mapping[str, np.ndarray], path: str | os.PathLike[str], format: str = "npz"
) -> Path:
    """Validate ``weights`` and write them to ``path`` (atomically: a temporary file renamed).

    ``format``: ``"npz"`` (ours; also records the flavour, α and resolution), ``"keras"`` (Keras 2 HDF5, as
    ``mobilenet_1_0_224_tf.h5``; Keras 3 reads it too), ``"keras3"`` (Keras 3 ``.weights.h5``) or
    ``"safetensors"`` (timm's ``mobilenetv1_100`` keys). What the layout cannot hold is named in a
    :class:`UserWarning` (e.g. a batch norm without gamma written with gamma = 1). Returns the path written;
    nothing is left on disk if validation or writing fails.
    """
    validate_weights(network, weights)
    arrays = {k: weights[k] for k in expected_weights(network)}
    notes = layouts.write_weights(network, arrays, path, format)
    for note in notes:
        warnings.warn(f"{str(path)!r}: {note}", UserWarning, stacklevel=2)
    return Path(path)


def load_keras_h5(path: str | os.PathLike[str], *, memory_limit: int | str | None = None) -> dict[str, np.ndarray]:
    """Read a Keras MobileNet weight file (Keras 2 ``.h5``, Keras 3 ``.weights.h5`` or Keras 3 legacy ``.h5``)
    into our keys, unvalidated. Needs the optional ``h5py`` package (``pip install 'costmodel[h5]'``)."""
    wf = layouts.read_weight_file(path, memory_limit=memory_limit)
    if not wf.format.startswith("keras"):
        raise WeightsError(f"{str(path)!r} is not a Keras weights file (its layout is {wf.format!r})")
    return wf.arrays


@singledispatch
def _as_network_kernel(layer: object, value: np.ndarray) -> np.ndarray:
    """A file's kernel as the network's layer holds it; the classifier is the one that differs between layouts."""
    return value


@_as_network_kernel.register
def _(layer: Linear, value: np.ndarray) -> np.ndarray:
    return value.reshape(value.shape[2:]) if value.ndim == 4 and value.shape[:2] == (1, 1) else value  # conv_preds


@_as_network_kernel.register
def _(layer: Conv2d, value: np.ndarray) -> np.ndarray:
    return value.reshape(1, 1, *value.shape) if layer.kernel == 1 and value.ndim == 2 else value  # a dense one


def _fit(network: Network, wf: layouts.WeightFile) -> dict[str, np.ndarray]:
    """The file's arrays shaped for ``network``: the classifier as the network has it (a (1, 1, M, N) conv
    kernel or an (M, N) dense one: the same numbers), and gamma dropped where the network has none, if it
    is exactly 1 (anything else would change the numbers: an error naming the layer)."""
    out = dict(wf.arrays)
    for node in network.nodes:
        layer = node.layer
        key = f"{layer.name}/kernel"
        if key in out:
            out[key] = _as_network_kernel(layer, out[key])
        if getattr(layer, "batch_norm", False) and not getattr(layer, "bn_scale", True):
            gamma = out.get(f"{layer.name}_bn/gamma")
            if gamma is not None:
                if not np.all(gamma == 1):
                    raise WeightsError(
                        f"{layer.name}_bn/gamma: {network.name} has no batch-norm gamma, but the file's is not 1 "
                        "(dropping it would change the numbers)"
                    )
                del out[f"{layer.name}_bn/gamma"]
    return out


def load_weights(
    network: Network, path: str | os.PathLike[str], *, memory_limit: int | str | None = None
) -> dict[str, np.ndarray]:
    """Load and validate weights for ``network`` from any supported file (:mod:`costmodel.reference.layouts`):
    ``.npz``, Keras 2 ``.h5``, Keras 3 ``.weights.h5`` or legacy ``.h5``, timm ``.safetensors``.

    The layout is recognised from the file's bytes, not its name. ``.npz`` files are read with
    ``allow_pickle=False``. A file made for another flavour than ``network``'s gets a :class:`FlavourWarning`
    saying what will differ. Raises :class:`WeightsError` for a missing, truncated or unknown file and for any
    name, shape, dtype or value that does not fit ``network`` (see :func:`validate_weights`).

    A weight file is read only from itself (HDF5 external storage, external links and virtual datasets are
    refused); the arrays it declares must fit ``memory_limit`` (bytes or a size such as ``"16G"``; default
    ``$COSTMODEL_MEMORY_LIMIT``, else 4 GiB) before any is read.
    """
    if not isinstance(network, Network):
        raise WeightsError(f"load_weights() needs a Network, got {type(network).__name__}")
    wf = layouts.read_weight_file(path, memory_limit=memory_limit)
    net_flavour = (network.config or {}).get("flavour")
    if wf.flavour and net_flavour and wf.flavour != net_flavour:
        _warn_flavour(path, wf.flavour, net_flavour)
    try:
        weights = _fit(network, wf)
        validate_weights(network, weights)
    except WeightsError as exc:
        raise WeightsError(f"{str(path)!r}: {exc}") from None
    return weights


def _warn_flavour(path: object, made_for: str, runs_as: str, activation: str | None = None) -> None:
    lines = flavour_differences(made_for, runs_as)
    if activation is not None and activation != get_flavour(made_for).activation:
        lines.append(f"activation: {get_flavour(made_for).activation!r} -> {activation!r}")
    if lines:
        warnings.warn(
            f"{str(path)!r} holds {made_for} weights, run as {runs_as}: "
            + "; ".join(lines)
            + " (the logits will differ)",
            FlavourWarning,
            stacklevel=3,
        )


def load_network(
    path: str | os.PathLike[str],
    *,
    alpha: float | None = None,
    resolution: int | None = None,
    flavour: str | None = None,
    activation: str | None = None,
    shallow: bool | None = None,
    separable: bool | None = None,
    num_classes: int | None = None,
    memory_limit: int | str | None = None,
) -> tuple[Network, dict[str, np.ndarray]]:
    """The MobileNetV1 a weight file was made for, and its validated weights.

    The flavour (activation, padding, epsilon, classifier) is the one the file's layout implies (Keras files:
    ``keras``; timm's safetensors: ``timm``; our ``.npz`` records its own), unless ``flavour`` or
    ``activation`` override it: an override that contradicts the file gets a :class:`FlavourWarning` saying
    what will differ. α is read from the file's shapes (and names), the resolution from Keras' file name
    (``mobilenet_<a>_<r>_tf.h5``) or model name, the number of classes from the classifier. Given values
    (``alpha``, ``resolution``, ``num_classes``) that contradict the file are an error. ``shallow`` and
    ``separable`` (Tables 4 and 5's variants) are read from the layer names unless given. ``memory_limit`` as in
    :func:`load_weights`.
    """
    from ..checks import one_of
    from ..spec.layers import ACTIVATIONS
    from ..spec.mobilenet import BASE_RESOLUTION, mobilenet_v1

    if resolution is not None:
        resolution = positive_int(resolution, "resolution")
    if flavour is not None:
        flavour = get_flavour(flavour).name  # names an unknown one
    if activation is not None and not one_of(activation, ACTIVATIONS):
        raise SpecError(f"activation must be one of {', '.join(a for a in ACTIVATIONS if a)}, got {activation!r}")
    wf = layouts.read_weight_file(path, memory_limit=memory_limit)
    found_alpha = layouts.infer_alpha(wf.arrays)
    if wf.alpha is not None and abs(wf.alpha - found_alpha) > 1e-9:
        raise WeightsError(f"{str(path)!r}: its name says alpha {wf.alpha:g}, its shapes alpha {found_alpha:g}")
    if alpha is not None and not _same_width(alpha, found_alpha):
        raise WeightsError(f"{str(path)!r} holds alpha {found_alpha:g} weights, not alpha {alpha!r}")
    if resolution is not None and wf.resolution is not None and resolution != wf.resolution:
        raise WeightsError(f"{str(path)!r} was made for resolution {wf.resolution}, not {resolution!r}")
    made_for = wf.flavour or "paper"
    chosen = get_flavour(flavour or made_for).name
    if wf.flavour and (chosen != wf.flavour or activation is not None):
        _warn_flavour(path, wf.flavour, chosen, activation)
    found_classes = _num_classes(path, wf)
    if num_classes is not None and positive_int(num_classes, "num_classes", WeightsError) != found_classes:
        held = "no classifier" if found_classes is None else f"a {found_classes}-class classifier"
        raise WeightsError(f"{str(path)!r} holds {held}, not one of {num_classes} classes")
    size = resolution if resolution is not None else wf.resolution if wf.resolution is not None else BASE_RESOLUTION
    variant = layouts.infer_variant(wf.arrays)
    variant.update({k: v for k, v in (("shallow", shallow), ("separable", separable)) if v is not None})
    network = mobilenet_v1(
        alpha if alpha is not None else found_alpha, size, flavour=chosen, activation=activation,
        num_classes=found_classes, **variant,
    )  # fmt: skip
    try:
        weights = _fit(network, wf)
        validate_weights(network, weights)
    except WeightsError as exc:
        raise WeightsError(f"{str(path)!r}: {exc}") from None
    return network, weights


def _num_classes(path: object, wf: layouts.WeightFile) -> int | None:
    """The class count the file's classifier kernel gives ((M, N) dense or (1, 1, M, N) conv), None without one."""
    fc = wf.arrays.get("fc/kernel")
    if fc is None:
        return None
    if fc.ndim not in (2, 4):
        raise WeightsError(
            f"{str(path)!r}: fc/kernel has shape {fc.shape}; a classifier kernel is (M, N) or (1, 1, M, N)"
        )
    return int(fc.shape[-1])


def _same_width(a: float, b: float) -> bool:
    """Two α give the same network (int(c·α) equal for every layer of MobileNetV1)."""
    from ..spec.mobilenet import BLOCKS, FIRST_CONV, scale_channels

    try:
        return all(scale_channels(c, a) == scale_channels(c, b) for c in {FIRST_CONV, *(out for _, out in BLOCKS)})
    except SpecError:
        return False


#: ``convert_weights`` targets: the flavour each layout implies and the format that writes it.
CONVERSIONS = {"keras": ("keras", "keras"), "keras3": ("keras", "keras3"), "timm": ("timm", "safetensors"),
               "npz": (None, "npz")}  # fmt: skip


def convert_weights(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    to: str,
    *,
    resolution: int | None = None,
    memory_limit: int | str | None = None,
) -> tuple[Network, list[str]]:
    """Rewrite a weight file in another framework's layout: ``to`` is ``"keras"`` (Keras 2 ``.h5``, which Keras
    3 also reads), ``"keras3"`` (``.weights.h5``), ``"timm"`` (``.safetensors``) or ``"npz"`` (ours, keeping the
    source's flavour).

    Every array is carried over exactly (transposed between HWIO and OIHW, the classifier reshaped between a
    1x1 convolution and a dense layer). Returns the network written for (the target layout's flavour) and
    what the user should know, one line each: what the target layout cannot hold (e.g. a batch norm without
    gamma, written with gamma = 1), and what the target framework computes differently from the source's
    flavour (padding at odd sizes, epsilon, activation), which no weight file can carry.

    The memory the conversion holds at once (the arrays read, and the target layout's copies of them) must fit
    ``memory_limit`` (as in :func:`load_weights`): checked from the sizes the file declares, before any array
    is read. The target's writer is checked before the source is read (``"keras"`` needs h5py).
    """
    from ..spec.mobilenet import BASE_RESOLUTION, mobilenet_v1

    if not isinstance(to, str) or to not in CONVERSIONS:
        raise WeightsError(f"convert to one of {', '.join(CONVERSIONS)}, got {to!r}")
    layouts.check_writer(CONVERSIONS[to][1])
    wf = layouts.read_weight_file(source, memory_limit=memory_limit, copies=layouts.CONVERT_COPIES)
    made_for = wf.flavour or "paper"
    flavour, fmt = CONVERSIONS[to]
    flavour = flavour or made_for
    variant = layouts.infer_variant(wf.arrays)
    size = resolution if resolution is not None else wf.resolution if wf.resolution is not None else BASE_RESOLUTION
    network = mobilenet_v1(
        layouts.infer_alpha(wf.arrays), size, flavour=flavour, num_classes=_num_classes(source, wf),
        shallow=variant["shallow"], separable=variant["separable"],
    )  # fmt: skip
    notes = list(wf.notes)
    gammas = [k for k in wf.arrays if k.endswith("_bn/gamma")]
    if not get_flavour(flavour).bn_scale and gammas:
        raise WeightsError(
            f"{str(source)!r}: the {flavour} layout has no batch-norm gamma; {gammas[0]!r} would be lost"
        )
    try:
        weights = _fit(network, wf)
        validate_weights(network, weights)
    except WeightsError as exc:
        raise WeightsError(f"{str(source)!r}: {exc}") from None
    notes += layouts.write_weights(network, weights, target, fmt)
    differences = flavour_differences(made_for, flavour)
    if differences:
        notes.append(
            f"{made_for} weights now in the {flavour} layout: {flavour} computes them with "
            + "; ".join(differences)
            + " (the logits will differ from the source's; load with flavour="
            + repr(made_for)
            + " to get them back)"
        )
    return network, notes
