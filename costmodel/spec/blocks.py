"""Builders of composite blocks from the spec's layer types: squeeze-and-excite and the inverted residual.

They return finished layer objects (:class:`~costmodel.spec.layers.Scale`, :class:`~costmodel.spec.layers.Residual`,
:class:`~costmodel.spec.layers.Conv2d`); nothing here has a cost rule of its own, so every counting, memory,
executor and export rule stays one per layer type.

>>> from costmodel.spec.network import Network
>>> block = inverted_residual("b1", 16, 16, expand_ch=64, kernel=5, se_ch=16, activation="hardswish")
>>> [type(layer).__name__ for layer in block], [layer.name for layer in block[0].body]
(['Residual'], ['b1.expand', 'b1.dw', 'b1.se', 'b1.project'])
>>> Network(block, input_size=14, in_ch=16)["b1.se.mul"].out_size
14
"""

from __future__ import annotations

from typing import Any

from ..checks import one_of, positive_int
from ..errors import SpecError
from .layers import ACTIVATIONS, Conv2d, GlobalAvgPool, Layer, Padding, Residual, Scale

__all__ = ["squeeze_excite", "inverted_residual", "use_residual", "GATES"]

#: The gates a squeeze-and-excite block may end with (MobileNetV3: hard sigmoid; EfficientNet: sigmoid).
GATES = ("hardsigmoid", "sigmoid")


def squeeze_excite(
    name: str, channels: int, squeeze_ch: int, *, activation: str | None = "relu", gate: str = "hardsigmoid"
) -> Scale:
    """Squeeze-and-excite as torchvision's ``ops.SqueezeExcitation``: global average pooling, a 1x1
    convolution ``channels -> squeeze_ch`` with bias, ``activation``, a 1x1 convolution back with bias,
    ``gate``, and the product with the block's input (no batch norm anywhere).

    Sub-layers: ``<name>.pool``, ``<name>.reduce``, ``<name>.expand``, then the product ``<name>.mul``.
    """
    if not one_of(gate, GATES):
        raise SpecError(f"{name}: gate must be one of {GATES}, got {gate!r}")
    if not one_of(activation, ACTIVATIONS):
        raise SpecError(f"{name}: activation must be one of {ACTIVATIONS}, got {activation!r}")
    se: dict[str, Any] = {"bias": True, "batch_norm": False}
    return Scale(
        name,
        (
            GlobalAvgPool(f"{name}.pool"),
            Conv2d(f"{name}.reduce", channels, squeeze_ch, 1, **se, activation=activation),
            Conv2d(f"{name}.expand", squeeze_ch, channels, 1, **se, activation=gate),
        ),
    )


def use_residual(in_ch: int, out_ch: int, stride: int) -> bool:
    """MobileNetV2's rule (kept by MNASNet, MobileNetV3, EfficientNet): add the input when the block keeps the
    shape, stride 1 and as many channels out as in."""
    return stride == 1 and in_ch == out_ch


def inverted_residual(
    name: str,
    in_ch: int,
    out_ch: int,
    *,
    expand_ch: int,
    kernel: int = 3,
    stride: int = 1,
    activation: str | None = "relu6",
    se_ch: int | None = None,
    se_activation: str | None = "relu",
    se_gate: str = "hardsigmoid",
    padding: Padding | None = None,
) -> tuple[Layer, ...]:
    """An inverted residual (MBConv) block: 1x1 expansion to ``expand_ch`` (left out when it equals ``in_ch``,
    as torchvision does), ``kernel`` x ``kernel`` depthwise convolution at ``stride``, optional
    squeeze-and-excite on the expanded channels (``se_ch`` squeeze channels), linear 1x1 projection to
    ``out_ch``; every convolution with batch norm and no bias, ``activation`` after all but the projection.

    Returns ``(Residual(name, body),)`` when :func:`use_residual` holds, else the body's layers, so that
    ``layers += inverted_residual(...)`` reads like the architecture tables. Names: ``<name>.expand``,
    ``<name>.dw``, ``<name>.se`` (:func:`squeeze_excite`), ``<name>.project``, ``<name>.add``.

    ``padding`` defaults to PyTorch's ``kernel // 2`` on every side (torchvision's), an integer; ``"same"``
    gives TF's SAME. Output sizes agree for odd kernels; the executed windows differ at stride 2 on even maps.
    """
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise SpecError(f"{name}: kernel must be an odd positive integer, got {kernel!r}")
    pad = kernel // 2 if padding is None else padding
    in_ch = positive_int(in_ch, f"{name}: in_ch")
    expand_ch = positive_int(expand_ch, f"{name}: expand_ch")
    bn: dict[str, Any] = {"bias": False, "batch_norm": True}
    body: list[Layer] = []
    if expand_ch != in_ch:
        body.append(Conv2d(f"{name}.expand", in_ch, expand_ch, 1, **bn, activation=activation))
    body.append(
        Conv2d(
            f"{name}.dw",
            expand_ch,
            expand_ch,
            kernel,
            stride,
            groups=expand_ch,
            padding=pad,
            **bn,
            activation=activation,
        )  # fmt: skip
    )
    if se_ch is not None:
        body.append(squeeze_excite(f"{name}.se", expand_ch, se_ch, activation=se_activation, gate=se_gate))
    body.append(Conv2d(f"{name}.project", expand_ch, out_ch, 1, **bn, activation=None))
    return (Residual(name, tuple(body)),) if use_residual(in_ch, out_ch, stride) else tuple(body)
