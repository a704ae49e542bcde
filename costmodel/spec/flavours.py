"""Framework flavours of MobileNetV1: the exact network each framework builds, one named bundle each.

The paper describes one network; every framework that ships MobileNetV1 weights builds a slightly different
one. A :class:`Flavour` says, once, everything that differs: the padding rule at every layer, the activation,
the batch-norm epsilon and which batch-norm variables exist, the classifier (classes, bias, a 1x1 convolution
or a dense layer), and the input preprocessing. :func:`costmodel.mobilenet_v1` takes ``flavour=`` and writes
the padding, epsilon and batch-norm variables into each layer of the spec, so that the cost engine, the memory
model, the sweeps, the closed form and the reference executor all follow it.

Read from each framework's source (the file and function named in :attr:`Flavour.source`):

========  ==========================================================================================
paper     Howard et al. (2017): ReLU, TF SAME padding, an FC classifier of 1000 classes.
keras     ``keras/src/applications/mobilenet.py`` (Keras 3; ``keras/applications/mobilenet.py`` in Keras
          2.x is the same network), ``MobileNet``, ``_conv_block``, ``_depthwise_conv_block``: ReLU6;
          ``conv1`` SAME; a stride-2 depthwise layer is ``ZeroPadding2D(((0, 1), (0, 1)))`` then a ``valid``
          convolution, so an odd map n gives floor(n / 2) where SAME gives ceil(n / 2); batch norm with
          Keras' default epsilon 1e-3 and all four variables; the classifier ``conv_preds`` is a 1x1
          ``Conv2D`` with bias on the pooled 1x1 map, 1000 classes; ``preprocess_input`` mode "tf":
          ``x / 127.5 - 1``.
tfslim    ``research/slim/nets/mobilenet_v1.py`` (tensorflow/models), ``mobilenet_v1_base``, ``mobilenet_v1``,
          ``mobilenet_v1_arg_scope``: SAME padding (``use_explicit_padding=False``), ``tf.nn.relu6``,
          batch-norm epsilon 0.001; the released checkpoints hold no batch-norm gamma (beta, moving mean,
          moving variance only: their model card's parameter counts, and loaders' "BatchNorm/gamma not found
          in checkpoint"); the classifier ``Logits/Conv2d_1c_1x1`` is a 1x1 convolution with biases,
          1001 classes (class 0 is "background"); inception preprocessing, ``(x / 255 - 0.5) * 2``.
timm      ``timm/models/efficientnet.py`` (``_gen_mobilenet_v1``, ``mobilenetv1_100``; built by
          ``_efficientnet_builder.py`` and ``_efficientnet_blocks.DepthwiseSeparableConv``): ReLU6;
          PyTorch padding ``get_padding(k, s) = ((s - 1) + (k - 1)) // 2`` on every side (1 for every 3x3
          layer, 0 for 1x1: ``timm/layers/padding.py``); ``nn.BatchNorm2d`` with epsilon 1e-5; a dense
          ``classifier`` with bias, 1000 classes; pretrained config ``mean = std = (0.5, 0.5, 0.5)``
          (IMAGENET_INCEPTION_MEAN/STD), bicubic, crop 0.875 (test 256 at 0.95). Batch norm and ReLU6 are
          one module, ``timm/layers/norm_act.py`` ``BatchNormAct2d`` (``Conv2d.pytorch = "bn_act"``).
========  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import SpecError
from .layers import Padding

__all__ = ["Flavour", "Preprocessing", "FLAVOURS", "get_flavour", "flavour_differences"]


@dataclass(frozen=True, slots=True)
class Preprocessing:
    """How a flavour's weights expect their input: pixels 0..255, per channel ``(x - mean) / std``."""

    mean: tuple[float, float, float]  # on the 0..255 scale
    std: tuple[float, float, float]
    resize: str  # interpolation of the framework's evaluation pipeline
    crop_pct: float  # centre crop kept before resizing to the resolution (1.0: none)

    def describe(self) -> str:
        m, s = self.mean, self.std
        if len(set(m)) == 1 and len(set(s)) == 1:
            return f"(x - {m[0]:g}) / {s[0]:g}, {self.resize}, crop {self.crop_pct:g}"
        return f"(x - {m}) / {s}, {self.resize}, crop {self.crop_pct:g}"


_TO_UNIT = Preprocessing((127.5,) * 3, (127.5,) * 3, "bilinear", 1.0)  # x / 127.5 - 1: pixels to -1..1


@dataclass(frozen=True, slots=True)
class Flavour:
    """Everything in which one framework's MobileNetV1 differs from another's. Costs depend only on
    ``padding`` (feature-map sizes), ``num_classes``, ``classifier_bias`` and ``bn_scale`` (parameters)."""

    name: str
    summary: str
    source: str  # the file and function the network was read from
    padding: str  # the rule: "tf_same", "keras" (asymmetric (0, 1) before stride-2 depthwise) or "torch"
    activation: str  # after every convolution
    bn_epsilon: float
    bn_scale: bool  # batch norm has gamma (TF-slim's released checkpoints have none)
    num_classes: int
    classifier: str  # "dense" (a Linear layer) or "conv" (a 1x1 convolution on the pooled 1x1 map)
    classifier_bias: bool
    preprocessing: Preprocessing
    weights_layout: str | None = None  # the layout of the framework's own weight files ("keras", "timm")
    # how PyTorch writes each convolution's batch norm and activation (CONV_PYTORCH): timm's BatchNormAct2d is
    # one module, which the hook-based counting tools do not see as a batch norm (costmodel.counting.presets)
    pytorch: str = "modules"

    def __post_init__(self) -> None:
        if self.padding not in PADDING_RULES:
            raise SpecError(f"flavour {self.name!r}: padding rule must be one of {PADDING_RULES}, got {self.padding!r}")
        if self.classifier not in ("dense", "conv"):
            raise SpecError(f"flavour {self.name!r}: classifier must be 'dense' or 'conv', got {self.classifier!r}")

    def conv_padding(self, kernel: int, stride: int, in_block: bool) -> Padding:
        """The padding of one convolution of this flavour's MobileNetV1 (see :data:`PADDING_RULES`);
        ``in_block``: the spatial convolution of a block (depthwise, or Conv MobileNet's full 3x3), not the stem.

        >>> FLAVOURS["keras"].conv_padding(3, 2, True), FLAVOURS["keras"].conv_padding(3, 2, False)
        ((0, 1), 'tf_same')
        >>> FLAVOURS["timm"].conv_padding(3, 2, True), FLAVOURS["timm"].conv_padding(1, 1, False)
        (1, 0)
        """
        if self.padding == "torch":  # timm/layers/padding.py get_padding, symmetric
            return ((stride - 1) + (kernel - 1)) // 2
        if self.padding == "keras" and in_block and stride > 1:  # ZeroPadding2D(((0, 1), (0, 1))) + valid
            return (0, 1)
        return "tf_same"

    def describe(self) -> dict[str, object]:
        """The bundle as plain values (for reports and JSON)."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["preprocessing"] = self.preprocessing.describe()
        return out


#: Padding rules a flavour may name. "tf_same": TF SAME everywhere; "keras": TF SAME, except Keras' stride-2
#: depthwise layers, padded (0, 1) then valid; "torch": PyTorch's symmetric ``((s - 1) + (k - 1)) // 2``.
PADDING_RULES = ("tf_same", "keras", "torch")

FLAVOURS: dict[str, Flavour] = {
    f.name: f
    for f in (
        Flavour(
            "paper",
            "Howard et al. (2017): ReLU, TF SAME, FC classifier, 1000 classes",
            "arXiv:1704.04861, Table 1",
            padding="tf_same",
            activation="relu",
            bn_epsilon=1e-3,
            bn_scale=True,
            num_classes=1000,
            classifier="dense",
            classifier_bias=True,
            preprocessing=_TO_UNIT,
        ),
        Flavour(
            "keras",
            "keras.applications.MobileNet: ReLU6, stride-2 depthwise padded (0, 1) + valid, eps 1e-3, "
            "1x1-conv classifier with bias",
            "keras/src/applications/mobilenet.py: MobileNet, _conv_block, _depthwise_conv_block",
            padding="keras",
            activation="relu6",
            bn_epsilon=1e-3,
            bn_scale=True,
            num_classes=1000,
            classifier="conv",
            classifier_bias=True,
            preprocessing=_TO_UNIT,
            weights_layout="keras",
        ),
        Flavour(
            "tfslim",
            "TF-slim mobilenet_v1 checkpoints: ReLU6, TF SAME, eps 1e-3, batch norm without gamma, "
            "1x1-conv classifier with bias, 1001 classes",
            "research/slim/nets/mobilenet_v1.py (tensorflow/models): mobilenet_v1, mobilenet_v1_arg_scope",
            padding="tf_same",
            activation="relu6",
            bn_epsilon=1e-3,
            bn_scale=False,
            num_classes=1001,
            classifier="conv",
            classifier_bias=True,
            preprocessing=Preprocessing((127.5,) * 3, (127.5,) * 3, "bilinear", 0.875),
        ),
        Flavour(
            "timm",
            "timm mobilenetv1_100: ReLU6, PyTorch symmetric padding, eps 1e-5, dense classifier with bias",
            "timm/models/efficientnet.py: _gen_mobilenet_v1, mobilenetv1_100",
            padding="torch",
            activation="relu6",
            bn_epsilon=1e-5,
            bn_scale=True,
            num_classes=1000,
            classifier="dense",
            classifier_bias=True,
            preprocessing=Preprocessing((127.5,) * 3, (127.5,) * 3, "bicubic", 0.875),
            weights_layout="timm",
            pytorch="bn_act",  # timm/layers/norm_act.py BatchNormAct2d: nn.BatchNorm2d with act (ReLU6) inside
        ),
    )
}


def get_flavour(flavour: str | Flavour = "paper") -> Flavour:
    """A flavour by name (or pass one through)."""
    if isinstance(flavour, Flavour):
        return flavour
    if not isinstance(flavour, str) or flavour not in FLAVOURS:
        raise SpecError(f"unknown flavour {flavour!r}; choose from {', '.join(FLAVOURS)}")
    return FLAVOURS[flavour]


_NUMERIC = ("padding", "activation", "bn_epsilon", "bn_scale")  # the classifier's form changes no number


def flavour_differences(a: str | Flavour, b: str | Flavour) -> list[str]:
    """What changes in the numbers when weights made for flavour ``a`` run as flavour ``b``, one line each.

    >>> flavour_differences("keras", "timm")[:2]
    ["padding: 'keras' -> 'torch'", 'bn_epsilon: 0.001 -> 1e-05']
    """
    fa, fb = get_flavour(a), get_flavour(b)
    return [f"{k}: {getattr(fa, k)!r} -> {getattr(fb, k)!r}" for k in _NUMERIC if getattr(fa, k) != getattr(fb, k)]
