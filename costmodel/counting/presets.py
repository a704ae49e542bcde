"""Counting-convention presets: the rules by which popular tools count, applied to our spec.

Each preset is a :class:`~costmodel.counting.conventions.Convention` registered under the tool's name, so that
``costmodel.count(net, convention="fvcore")`` gives what fvcore reports for the same network built in PyTorch
the torchvision way (``nn.Conv2d`` + ``nn.BatchNorm2d`` + ``nn.ReLU`` modules, ``nn.AdaptiveAvgPool2d``,
``nn.Linear``; no softmax module). No preset holds a total: every difference from the paper is a per-layer
rule, so a preset is right at any α, resolution or network. The rules were read from each tool's source:

==========  ==========================================================================================
fvcore      ``fvcore/nn/flop_count.py`` (_DEFAULT_SUPPORTED_OPS) and ``jit_handles.py``: conv and linear
            count multiply-accumulates without bias; ``batchnorm_flop_jit`` in eval mode counts 2 per element
            (affine); ``adaptive_avg_pool2d`` counts 1 per input element; ReLU, max/avg pooling with a fixed
            window and ``cat`` are not counted. Parameters: ``parameter_count`` = all ``parameters()``.
thop        ``thop/profile.py`` (register_hooks) and ``thop/vision/basic_hooks.py``, ``calc_func.py``:
            ``count_normalization`` = 2 per element, doubled when affine (4); ReLU and max pooling
            ``zero_ops``; ``count_avgpool`` 1 per output element; ``count_adap_avgpool`` (window + 1) per
            output element, i.e. 1 per input plus 1 per output element; conv and linear without bias.
            Parameters: the ``parameters()`` of every counted module.
ptflops     ``ptflops/pytorch_ops.py`` and ``pytorch_engine.py`` (the ``pytorch`` backend): module hooks count
            BN 2 per input element when affine, ReLU 1 per element, every pooling 1 per input element, conv
            and linear biases 1 per output element; *and* the functional patches (``F.relu``,
            ``F.*pool*``) count again when ``nn.ReLU``/``nn.*Pool2d`` call them, so activations and pooling
            count twice (2 per element). Parameters: ``parameters()`` with ``requires_grad``.
torchinfo   ``torchinfo/layer_info.py`` (``calculate_macs``): a conv counts (weights + bias) x output
            positions, so its bias is 1 per output element; every other layer counts its parameters once
            per image: batch norm 2 per channel, a linear layer weights + bias. Parameters: ``parameters()``.
torch       ``torch/utils/flop_counter.py``: only ``mm``/``addmm``/``convolution`` (and attention) have
            formulas, 2 FLOPs per multiply-accumulate, bias ignored; it reports FLOPs (= 2 x Mult-Adds).
            Parameters (not printed by the counter): ``sum(p.numel() for p in model.parameters())``.
keras       ``Model.count_params()``: every weight, trainable or not: conv/dense kernels and biases,
            batch-norm gamma, beta, moving mean and moving variance (4 per channel, 2 non-trainable).
            Keras has no operation counter; Mult-Adds follow the paper's rule. Count the ``keras`` flavour
            (``mobilenet_v1(..., flavour="keras")``): its feature maps follow Keras' padding at odd sizes.
tfslim      the variables a TF-slim checkpoint stores (``research/slim/nets/mobilenet_v1.py``): weights, the
            classifier's biases and every batch-norm variable the layer has; with the ``tfslim`` flavour
            (no gamma, 1001 classes) that is beta, moving mean and moving variance, 3 per channel, and the
            model card's parameter counts (4,243,945 at 1.0-224). Mult-Adds follow the paper's rule.
==========  ==========================================================================================

The layers of MobileNetV3, MNASNet and EfficientNet (torchvision builds them from ``nn.Hardswish``,
``nn.Hardsigmoid``, ``nn.SiLU``, ``nn.Sigmoid`` modules, ``ops.SqueezeExcitation`` = ``nn.AdaptiveAvgPool2d(1)``
+ two ``nn.Conv2d`` *with bias* + activations + ``scale * input``, and residuals ``result += input``):

==========  ==========================================================================================
fvcore      ``aten::hardswish``, ``hardsigmoid``, ``silu``, ``sigmoid``, ``mul`` and ``add`` are neither in
            ``_DEFAULT_SUPPORTED_OPS`` nor in ``_IGNORED_OPS`` (``jit_analysis.py``): reported as unsupported
            and counted 0, like ReLU. The SE pooling (``aten::adaptive_avg_pool2d``) counts 1 per input
            element; the SE convolutions count their multiply-accumulates, no bias.
thop        ``nn.Hardswish``, ``nn.Hardsigmoid``, ``nn.SiLU`` and ``nn.Sigmoid`` are not in ``register_hooks``:
            no hook, 0 ops. ``*`` and ``+=`` are tensor ops, not modules: 0. The SE pooling is an
            ``nn.AdaptiveAvgPool2d`` module: ``count_adap_avgpool`` (1 per input + 1 per output element).
            SE convolution biases are parameters, not ops.
ptflops     No module hook for Hardswish, Hardsigmoid, SiLU or Sigmoid; of the functionals they call only
            ``F.silu`` is patched: SiLU 1 per element, the other three 0. ``nn.ReLU6`` is an ``nn.Hardtanh``
            whose ``forward`` calls ``F.hardtanh`` (not patched): ReLU6 1 per element (the module hook only),
            ReLU 2. ``torch.mul``/``Tensor.mul``/``torch.add``/``Tensor.add`` are patched, but ``scale * input``
            and ``result += input`` call ``Tensor.__mul__``/``__iadd__``: 0. The SE pooling counts 2 per input
            element (module + ``F.adaptive_avg_pool2d``), SE conv biases 1 per output element.
torchinfo   Activations, pooling and tensor ops have no parameters: 0. An SE convolution counts (weights +
            bias) x output positions (a 1x1 map: weights + bias).
torch       Only convolutions and matrix products: activations, the multiply, the add and pooling are 0.
keras       Parameters only (SE convolution biases included).
tfslim      Parameters only, by the same rule (SE convolution biases included); TF-slim's MobileNetV1 has
            none of these layers, so the rule is the checkpoint format's, not a published count's.
==========  ==========================================================================================

So every tool counts the residual add and the SE multiply as 0 (the ``elementwise_ops`` rule, off in every
preset); only ptflops counts an activation other than ReLU (its per-activation rules are in
``activation_ops_by_kind``). The graph networks' own nodes follow the same module rules: a standalone
``BatchNorm2d`` and ``nn.ReLU`` (DenseNet's BN-ReLU, :class:`~costmodel.spec.layers.BatchNormAct`) count as the
batch norm and activation of a convolution do, and their ``pytorch`` form says when PyTorch calls the activation
as a function (DenseNet's last ``F.relu``); a multi-input sum is the residual add (0); concatenation, channel
split and shuffle are tensor ops no tool counts (0).

How PyTorch writes a layer matters to the tools that hook modules. The spec says it where it is not the plain
module (``Conv2d.pytorch``, ``GlobalAvgPool.pytorch``; :data:`~costmodel.spec.layers.CONV_PYTORCH`,
:data:`~costmodel.spec.layers.POOL_PYTORCH`), and each preset has a rule for each form:

====================  ==============================================================================================
``"function"``        global pooling as ``F.adaptive_avg_pool2d`` (torchvision's MobileNetV2): fvcore 1 per input
                      element (``aten::adaptive_avg_pool2d``), ptflops 1 (its patched function alone), thop 0 (no
                      module to hook)
``"mean"``            global pooling as ``x.mean([2, 3])`` (torchvision's MNASNet): 0 for every tool (``aten::mean``
                      has no fvcore handle; ptflops patches no ``Tensor.mean``)
``"functional_act"``  the activation called as ``F.relu`` in ``forward`` (torchvision's GoogLeNet,
                      ``BasicConv2d``): ptflops counts its patched ``F.relu``/``F.relu6``/``F.silu`` once (a
                      module twice), the others count no activation anyway
``"bn_act"``          batch norm and activation as one module (timm's ``BatchNormAct2d``, the ``timm`` flavour):
                      it has children, so thop skips it whole (no ops, no parameters) and torchinfo sums no
                      Mult-Adds for it; ptflops has no hook for its type (no ops, parameters counted); fvcore
                      traces its ``aten::batch_norm`` as usual. Its ReLU6 is a child module, counted as any.
====================  ==============================================================================================

Every preset reproduces what its tool prints on the real module trees (torchvision's models, timm's
``mobilenetv1_100`` and MobileNetV1 built the torchvision way): ``data/tool_counts_recorded.csv``, recorded by
``benchmarks/record_tool_counts.py`` and checked by ``tests/test_presets_recorded.py``. The numbers quoted for
MobileNetV1 1.0-224 in issue 5 are in ``data/tool_counts.csv`` (see data/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .conventions import CONVENTIONS, Convention, get_convention, register_convention

if TYPE_CHECKING:
    from ..spec.network import Network
    from .engine import Cost

__all__ = ["PRESETS", "preset_names", "tool_value", "trainable_params", "bn_channels"]

_ALL_PARAMS = {"bias_params": True, "bn_params": 2}  # PyTorch's parameters(): weights, biases, BN gamma/beta

#: The presets, in the order ``costmodel conventions`` prints them.
PRESETS: tuple[Convention, ...] = (
    Convention(
        "fvcore",
        "BN 2 ops/element (eval, affine); adaptive avg pool 1 op/input element; no biases, ReLU or max pool; "
        "params add biases and BN gamma/beta",
        **_ALL_PARAMS,
        bn_ops=2,
        adaptive_pool_ops=1,
        pool_ops_by_pytorch=(("function", 1), ("mean", 0)),  # aten::adaptive_avg_pool2d; aten::mean unsupported
        tool="fvcore FlopCountAnalysis (counts Mult-Adds, calls them flops)",
    ),
    Convention(
        "thop",
        "BN 4 ops/element (2, doubled for affine); avg pool 1 op/output element, adaptive +1 op/input "
        "element; ReLU, max pool and biases free; params add biases and BN gamma/beta",
        **_ALL_PARAMS,
        bn_ops=4,
        adaptive_pool_ops=1,
        avg_pool_out_ops=1,
        pool_ops_by_pytorch=(("function", 0), ("mean", 0)),  # no module, no hook
        bn_act_ops=False,  # BatchNormAct2d has children: not a leaf, so neither hooked nor its params counted
        bn_act_params=False,
        tool="thop profile (Mult-Adds, 'MACs')",
    ),
    Convention(
        "ptflops",
        "BN 2 ops/element; ReLU and every pooling counted twice (module hook + patched functional), "
        "2 ops/element; ReLU6 and SiLU 1 (one hook each), h-swish, h-sigmoid, sigmoid 0; conv/FC bias 1 "
        "op/output element; params add biases and BN gamma/beta",
        **_ALL_PARAMS,
        bias_ops=1,
        bn_ops=2,
        activation_ops=2,
        activation_ops_by_kind=(("relu6", 1), ("silu", 1), ("hardswish", 0), ("hardsigmoid", 0), ("sigmoid", 0)),
        pool_ops=2,
        # the patched functions alone: F.relu, F.relu6, F.silu, F.adaptive_avg_pool2d count 1; Tensor.mean 0
        functional_activation_ops_by_kind=(
            ("relu", 1),
            ("relu6", 1),
            ("silu", 1),
            ("hardswish", 0),
            ("hardsigmoid", 0),
            ("sigmoid", 0),
        ),  # fmt: skip
        pool_ops_by_pytorch=(("function", 1), ("mean", 0)),
        bn_act_ops=False,  # BatchNormAct2d is not in MODULES_MAPPING (type() lookup): no hook
        tool="ptflops 0.7.5 get_model_complexity_info, pytorch backend (Mult-Adds, 'MACs')",
    ),
    Convention(
        "torchinfo",
        "conv bias 1 op/output element; BN counts its 2 parameters/channel as ops, FC its bias once; "
        "params add biases and BN gamma/beta",
        **_ALL_PARAMS,
        bias_ops=1,
        bn_channel_ops=2,
        bn_act_ops=False,  # only leaf modules' Mult-Adds are summed; BatchNormAct2d has children
        tool="torchinfo summary (Mult-Adds)",
    ),
    Convention(
        "torch",
        "conv and matmul only, bias ignored, reported as FLOPs = 2 x Mult-Adds; params = all parameters() "
        "(biases, BN gamma/beta)",
        **_ALL_PARAMS,
        unit="flops",
        tool="torch.utils.flop_counter.FlopCounterMode (FLOPs); params: sum of parameters().numel()",
    ),
    Convention(
        "keras",
        "params add biases and all 4 BN weights per channel (gamma, beta, moving mean, moving variance; "
        "2 non-trainable); no op counter (Mult-Adds as the paper)",
        bias_params=True,
        bn_params=4,
        non_trainable_bn_params=2,
        reports=("params",),
        tool="Keras Model.count_params()",
    ),
    Convention(
        "tfslim",
        "params = every variable a TF-slim checkpoint stores: weights, classifier biases, each batch norm's "
        "variables (3 per channel with the tfslim flavour: no gamma); Mult-Adds as the paper",
        bias_params=True,
        bn_params=4,
        non_trainable_bn_params=2,
        tool="TF-slim mobilenet_v1 checkpoints (model card 'Million Parameters')",
    ),
)


def _register() -> None:
    for preset in PRESETS:
        if preset.name not in CONVENTIONS:
            register_convention(preset)


_register()


def preset_names() -> tuple[str, ...]:
    """``("paper", "fvcore", "thop", "ptflops", "torchinfo", "torch", "keras", "tfslim")``."""
    return ("paper", *(p.name for p in PRESETS))


def tool_value(mult_adds: int, convention: str | Convention) -> int:
    """An operation count in the tool's own unit: Mult-Adds, or FLOPs (= 2 x Mult-Adds) for ``torch``.

    >>> tool_value(568740352, "torch")
    1137480704
    """
    conv = get_convention(convention)
    return 2 * mult_adds if conv.unit == "flops" else mult_adds


def bn_channels(network: Network) -> int:
    """Channels normalised by batch norm, summed over every layer (sub-layers of blocks included)."""
    return sum(leaf.out_ch for leaf in network.leaves() if getattr(leaf.layer, "batch_norm", False))


def trainable_params(cost: Cost) -> int:
    """A count's parameters minus the non-trainable batch-norm statistics (Keras' "Trainable params").

    >>> from costmodel import count, mobilenet_v1
    >>> c = count(mobilenet_v1(), "keras")
    >>> c.params, trainable_params(c)
    (4253864, 4231976)
    """
    return cost.params - cost.convention.non_trainable_bn_params * bn_channels(cost.network)
