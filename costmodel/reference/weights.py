"""Weights of a network: names and shapes from the spec, seeded initialisation, validated save and load.

Weights are a flat ``dict[str, ndarray]`` keyed ``"<keras group>/<keras variable>"``, one key per array of a
Keras MobileNet weight file, so the mapping to ``mobilenet_<alpha>_<size>_tf.h5`` is 1:1:

- ``conv1/kernel`` (K, K, M, N): a standard ``Conv2d``;
- ``conv_dw_1/depthwise_kernel`` (K, K, C, 1): a depthwise ``Conv2d``;
- ``<conv>/bias`` (N,): a convolution with ``bias=True``;
- ``conv1_bn/gamma``, ``conv1_bn/beta``, ``conv1_bn/moving_mean``, ``conv1_bn/moving_variance`` (N,): the
  batch norm after a convolution with ``batch_norm=True`` (Keras' separate ``<conv>_bn`` layer);
- ``fc/kernel`` (M, N) and ``fc/bias`` (N,): the ``Linear`` classifier (Keras' ``conv_preds``, a 1x1
  convolution stored as (1, 1, M, N)).

Every array is float32. Every load is validated against the network (:func:`validate_weights`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from functools import singledispatch
from pathlib import Path

import numpy as np

from .._files import atomic_write, check_input
from ..errors import SpecError, WeightsError
from ..spec.layers import (
    AdaptiveAvgPool,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Linear,
    Pool2d,
    Residual,
    Softmax,
    conv_weight_shape,
    linear_weight_shape,
)
from ..spec.network import Network
from .limits import check_declared, check_npz

__all__ = [
    "BN_EPSILON",
    "KERAS_NAMES",
    "expected_weights",
    "weight_arrays",
    "init_weights",
    "validate_weights",
    "save_weights",
    "load_weights",
    "load_keras_h5",
]

#: Keras' MobileNet batch-norm epsilon (``BatchNormalization(epsilon=1e-3)``); TF-slim uses 1e-3 as well.
BN_EPSILON = 1e-3

#: A batch norm's variables, as Keras names them.
BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")

#: Our layer names that Keras spells differently.
KERAS_NAMES = {"fc": "conv_preds"}

_NPZ_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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
    if layer.batch_norm:
        for var in BN_VARIABLES:
            shapes[f"{layer.name}_bn/{var}"] = (layer.out_ch,)
    return shapes


@weight_arrays.register
def _(layer: Linear) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {f"{layer.name}/kernel": linear_weight_shape(layer)}
    if layer.bias:
        shapes[f"{layer.name}/bias"] = (layer.out_features,)
    return shapes


@weight_arrays.register(GlobalAvgPool)
@weight_arrays.register(Softmax)
def _(layer: object) -> dict[str, tuple[int, ...]]:
    return {}


@weight_arrays.register(Pool2d)
@weight_arrays.register(AdaptiveAvgPool)
@weight_arrays.register(Concat)
@weight_arrays.register(Residual)
def _(layer: object) -> dict[str, tuple[int, ...]]:
    # An explicit refusal, not a missing rule: the reference runs MobileNetV1's layer types.
    name = getattr(layer, "name", layer)
    raise SpecError(f"{name}: the reference executor has no kernel for {type(layer).__name__}")


def expected_weights(network: Network) -> dict[str, tuple[int, ...]]:
    """Every weight key of ``network`` and its shape, in network order.

    >>> from costmodel import mobilenet_v1
    >>> w = expected_weights(mobilenet_v1(0.25, 128))
    >>> w["conv1/kernel"], w["conv_dw_1/depthwise_kernel"], w["conv_pw_1_bn/gamma"], w["fc/kernel"]
    ((3, 3, 3, 8), (3, 3, 8, 1), (16,), (256, 1000))
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for node in network.nodes:
        shapes.update(weight_arrays(node.layer))
    return shapes


def init_weights(network: Network, seed: int = 0) -> dict[str, np.ndarray]:
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
    rng = np.random.default_rng(seed)
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


def save_weights(network: Network, weights: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Validate ``weights`` and write them to ``path`` as ``.npz`` (atomically: a temporary file renamed).

    Returns the path written. Nothing is left on disk if validation or writing fails.
    """
    validate_weights(network, weights)
    arrays = {k: weights[k] for k in expected_weights(network)}
    return atomic_write(path, lambda f: np.savez(f, **arrays), WeightsError)


def _read_magic(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise WeightsError(f"weights file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {str(path)!r}: {exc.strerror}") from None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"{str(path)!r} is not a readable .npz weights file (truncated?): {exc}") from None


def load_keras_h5(
    path: str | os.PathLike[str], expected: Mapping[str, tuple[int, ...]] | None = None
) -> dict[str, np.ndarray]:
    """Read a Keras MobileNet weight file (``mobilenet_<alpha>_<size>_tf.h5``) into our keys, unvalidated.

    Keras (2.x, h5 format) stores one group per layer (``conv1``, ``conv1_bn``, ``conv_dw_1``, ...,
    ``conv_preds``) holding datasets such as ``conv1/kernel:0``; a whole-model file nests them under
    ``model_weights``. ``conv_preds`` (a 1x1 convolution, (1, 1, M, N)) becomes our ``fc`` (M, N).
    Needs the optional ``h5py`` package (``pip install 'costmodel[h5]'``). With ``expected`` (key -> shape,
    see :func:`expected_weights`) every dataset's name, shape and dtype are checked before its data is read.
    """
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise WeightsError("reading Keras .h5 weights needs h5py: pip install 'costmodel[h5]'") from None
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    from_keras = {v: k for k, v in KERAS_NAMES.items()}
    try:
        with h5py.File(path, "r") as f:
            root = f.get("model_weights", f)
            if not isinstance(root, h5py.Group):
                raise WeightsError(f"{str(path)!r}: 'model_weights' is a dataset, not a group of layers")

            def visit(name: str, obj: object) -> None:
                if not isinstance(obj, h5py.Dataset):
                    return
                group = name.split("/", 1)[0]
                var = name.rsplit("/", 1)[-1].split(":", 1)[0]
                group = from_keras.get(group, group)
                shape = tuple(obj.shape or ())
                fc = group in KERAS_NAMES and var == "kernel" and len(shape) == 4 and shape[:2] == (1, 1)
                key = f"{group}/{var}"
                if expected is not None:  # refuse by the declared name, shape and dtype, before reading
                    check_declared(repr(str(path)), key, shape[2:] if fc else shape, obj.dtype, expected)
                value = np.asarray(obj[()])
                if fc:
                    value = value.reshape(value.shape[2:])  # conv_preds (1, 1, M, N) -> fc (M, N)
                if key in out:
                    raise WeightsError(f"{str(path)!r}: two datasets map to weight {key!r}")
                out[key] = value

            root.visititems(visit)
    except WeightsError:
        raise
    except (OSError, TypeError, ValueError, KeyError, RuntimeError) as exc:  # h5py's errors on odd structures
        raise WeightsError(f"{str(path)!r} is not a readable HDF5 weights file (truncated?): {exc}") from None
    return out


def load_weights(network: Network, path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load and validate weights for ``network`` from an ``.npz`` file or a Keras ``.h5`` file.

    The format is recognised from the file's first bytes, not its name. ``.npz`` files are read with
    ``allow_pickle=False``. Raises :class:`WeightsError` for a missing, truncated or unknown file and for any
    name, shape, dtype or value that does not fit ``network`` (see :func:`validate_weights`).
    """
    path = check_input(path, "weights file", WeightsError)  # None, a folder or a FIFO: refused before opening
    magic = _read_magic(path)
    expected = expected_weights(network)
    if magic.startswith(_NPZ_MAGIC):
        check_npz(path, expected)  # names, shapes, dtypes and sizes from the headers, before any data
        weights = _load_npz(path)
    elif magic.startswith(_HDF5_MAGIC):
        weights = load_keras_h5(path, expected)
    else:
        raise WeightsError(f"{str(path)!r} is neither an .npz nor an HDF5 (.h5) weights file")
    try:
        validate_weights(network, weights)
    except WeightsError as exc:
        raise WeightsError(f"{str(path)!r}: {exc}") from None
    return weights
