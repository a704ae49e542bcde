"""The Once-for-All MobileNetV3 search space (Cai et al., ICLR 2020, arXiv:1908.09791).

Read off ``mit-han-lab/once-for-all`` (``ofa/imagenet_classification/elastic_nn/networks/ofa_mbv3.py``,
``OFAMobileNetV3``; the static ``networks/mobilenet_v3.py``; ``utils/layers.py``, ``MBConvLayer``):

- stem ``first_conv``: 3x3 convolution, stride 2, 16 channels, batch norm, h-swish;
- ``blocks.0``: an MBConv with expansion 1 (no 1x1 expansion), 3x3 depthwise, ReLU, 16 -> 16, with the
  identity shortcut;
- five stages of up to 4 blocks, ``blocks.1`` .. ``blocks.20`` (the supernet's numbering, kept when a stage is
  shallower, so names stay weight keys): widths 24, 40, 80, 112, 160; first-block strides 2, 2, 2, 1, 2;
  activations ReLU, ReLU, h-swish, h-swish, h-swish; squeeze-and-excite in stages 2, 4 and 5. Each block: 1x1
  expansion to ``make_divisible(round(in_ch * e), 8)`` channels, k x k depthwise (padding k // 2), SE (reduce
  to ``make_divisible(mid // 4, 8)``, ReLU, expand, h-sigmoid, multiply), linear 1x1 projection, the shortcut
  when the stride is 1 and the channels stay;
- ``final_expand_layer``: 1x1 to 960, batch norm, h-swish; global average pooling; ``feature_mix_layer``: 1x1
  to 1280 without bias or batch norm, h-swish; ``classifier``: FC with bias.

Genes: per stage its depth {2, 3, 4}, then per block its kernel {3, 5, 7} and expansion {3, 4, 6} (45 genes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from ..checks import positive_int
from ..errors import SpecError
from ..spec.blocks import inverted_residual
from ..spec.layers import Conv2d, GlobalAvgPool, Layer, Linear
from ..spec.zoo import make_divisible  # OFA's make_divisible is torchvision's (utils/common_tools.py)
from .space import Block, SearchSpace, Stage, choice_values, odd_kernel

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ofa_mobilenet_v3_space", "ofa_config", "ofa_genes", "BASE_STAGE_WIDTH"]

#: OFAMobileNetV3's ``base_stage_width``: stem, first block, five stages, final expand, feature mix.
BASE_STAGE_WIDTH = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
STRIDES = (1, 2, 2, 2, 1, 2)  # stride_stages: the first block, then each stage's first block
ACTIVATIONS = ("relu", "relu", "relu", "hardswish", "hardswish", "hardswish")  # act_stages: h_swish
SE = (False, False, True, False, True, True)  # se_stages


def _mbconv(
    name: str, in_ch: int, out_ch: int, kernel: int, stride: int, mid_ch: int, activation: str, se: bool
) -> tuple[Layer, ...]:
    """OFA's MBConvLayer (+ its ResidualBlock's identity shortcut) on the spec's inverted residual builder."""
    return inverted_residual(
        name,
        in_ch,
        out_ch,
        expand_ch=mid_ch,  # the builder leaves the 1x1 expansion out when mid_ch == in_ch (OFA: expand ratio 1)
        kernel=kernel,
        stride=stride,
        activation=activation,
        se_ch=make_divisible(mid_ch // 4) if se else None,  # SEModule: REDUCTION 4, then make_divisible(., 8)
        se_activation="relu",
        se_gate="hardsigmoid",
    )


def _stem(width: int, in_ch: int) -> tuple[Layer, ...]:
    return (Conv2d("first_conv", in_ch, width, 3, 2, padding=1, activation="hardswish"),)


def _first_block(out_ch: int, in_ch: int) -> tuple[Layer, ...]:
    return _mbconv("blocks.0", in_ch, out_ch, 3, STRIDES[0], in_ch, ACTIVATIONS[0], SE[0])  # expand ratio 1


def _block(
    name: str, out_ch: int, stride: int, activation: str, se: bool, in_ch: int, kernel: int, expand: int
) -> tuple[Layer, ...]:
    return _mbconv(name, in_ch, out_ch, kernel, stride, make_divisible(round(in_ch * expand)), activation, se)


def _head(expand_ch: int, mix_ch: int, num_classes: int, in_ch: int) -> tuple[Layer, ...]:
    return (
        Conv2d("final_expand_layer", in_ch, expand_ch, 1, activation="hardswish"),
        GlobalAvgPool("global_avg_pool"),
        Conv2d("feature_mix_layer", expand_ch, mix_ch, 1, batch_norm=False, activation="hardswish"),
        Linear("classifier", mix_ch, num_classes),
    )


def ofa_mobilenet_v3_space(
    depths: Sequence[int] = (2, 3, 4),
    kernels: Sequence[int] = (3, 5, 7),
    expands: Sequence[int] = (3, 4, 6),
    *,
    width_mult: float = 1.0,
    num_classes: int = 1000,
) -> SearchSpace:
    """The Once-for-All MobileNetV3 space (module docstring); ``width_mult`` 1.0 or 1.2 as OFA's two supernets."""
    depths = choice_values(depths, "depths", lambda d: positive_int(d, "depth"))
    kernels = choice_values(kernels, "kernels", odd_kernel)
    expands = choice_values(expands, "expands", lambda e: positive_int(e, "expand ratio"))
    if max(depths) > 4 or min(depths) < 1:
        raise SpecError(f"depths must lie in 1..4, got {depths!r}")
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not 0 < width_mult < math.inf:
        raise SpecError(f"width_mult must be a finite number > 0, got {width_mult!r}")
    widths = [make_divisible(w * width_mult) for w in BASE_STAGE_WIDTH]  # OFA's width_list, with make_divisible
    items: list[Block | Stage] = [
        Block("first_conv", partial(_stem, widths[0])),
        Block("blocks.0", partial(_first_block, widths[1])),
    ]
    index = 1
    for s in range(1, 6):
        blocks = []
        for i in range(max(depths)):
            name = f"blocks.{index}"
            stride = STRIDES[s] if i == 0 else 1
            build = partial(_block, name, widths[s + 1], stride, ACTIVATIONS[s], SE[s])
            blocks.append(Block(name, build, {"kernel": kernels, "expand": expands}))
            index += 1
        items.append(Stage(f"stage{s}", tuple(blocks), depths))
    items.append(Block("head", partial(_head, widths[7], widths[8], positive_int(num_classes, "num_classes"))))
    # the stem's stride 2 and the stages' (STRIDES) take a 32x32 input to 1x1: the smallest resolution
    min_resolution = 2 * math.prod(STRIDES)
    return SearchSpace("ofa_mobilenet_v3", items, label="OFA MobileNetV3", min_resolution=min_resolution)


def _ofa_genes(space: SearchSpace) -> tuple[list[int], list[int], list[int]]:
    """The gene columns of the depths (5), kernels (20) and expansions (20) of an OFA space, in OFA's order."""
    if not isinstance(space, SearchSpace) or space.name != "ofa_mobilenet_v3":
        raise SpecError(f"an OFA config needs the ofa_mobilenet_v3 space, got {space!r}")
    columns: dict[str, list[int]] = {"depth": [], "kernel": [], "expand": []}
    for i, gene in enumerate(space.genes):
        columns[gene.name.rsplit(".", 1)[1]].append(i)
    return columns["depth"], columns["kernel"], columns["expand"]


def ofa_config(space: SearchSpace, genes: object) -> dict[str, list[int]]:
    """One candidate's genes as OFA's subnet config, ``{"ks": [20], "e": [20], "d": [5]}``.

    That is what ``OFAMobileNetV3.sample_active_subnet()`` returns and ``set_active_subnet(ks=, e=, d=)``
    takes: a kernel and an expansion ratio for each of the 20 blocks (blocks a stage's depth leaves out keep
    theirs), and each stage's depth.

    >>> import costmodel
    >>> s = costmodel.search_space("ofa_mobilenet_v3")
    >>> config = ofa_config(s, s.sample(1, seed=0))
    >>> len(config["ks"]), len(config["e"]), len(config["d"])
    (20, 20, 5)
    >>> bool((ofa_genes(s, config) == s.sample(1, seed=0)).all())
    True
    """
    depth, kernel, expand = _ofa_genes(space)
    row = space.check_genes(genes)
    if row.shape[0] != 1:
        raise SpecError(f"ofa_config takes one candidate, got {row.shape[0]}")
    values = [space.genes[i].values[int(row[0, i])] for i in range(space.num_genes)]
    return {"ks": [values[i] for i in kernel], "e": [values[i] for i in expand], "d": [values[i] for i in depth]}


def ofa_genes(space: SearchSpace, config: object) -> np.ndarray:
    """OFA's subnet config (``{"ks": [...], "e": [...], "d": [...]}``, extra keys such as ``"r"`` or
    ``"image_size"`` ignored) as one row of genes, shape (1, 45); a value the space does not offer is an error
    naming it."""
    import numpy as np

    columns = dict(zip(("d", "ks", "e"), _ofa_genes(space), strict=True))
    if not isinstance(config, dict):
        raise SpecError(f"an OFA config must be a dict with keys 'ks', 'e' and 'd', got {type(config).__name__}")
    row = np.zeros((1, space.num_genes), dtype=space.gene_dtype)
    for key, cols in columns.items():
        values = config.get(key)
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or len(values) != len(cols):
            raise SpecError(f"OFA config {key!r} must be a list of {len(cols)} values, got {values!r}")
        for i, (col, value) in enumerate(zip(cols, values, strict=True)):
            choices = space.genes[col].values
            if isinstance(value, bool) or value not in choices:
                raise SpecError(f"OFA config {key}[{i}] = {value!r} is not one of {choices}")
            row[0, col] = choices.index(value)
    return row
