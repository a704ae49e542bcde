"""Counting conventions: what counts as a parameter and what counts as a Mult-Add.

A :class:`Convention` is data: a handful of named rules that the cost engine applies to every layer. The
default, ``"paper"``, is Howard et al.'s: Mult-Adds of convolution and fully connected layers only (one
Mult-Add = one multiply-accumulate), and parameters = convolution and FC weights, without biases or batch-norm
parameters (that is what makes Table 2's 24.33 % FC share come out).

Everything else is an explicit, named option (:data:`OPTIONS`), so that "why does tool X give another number"
has an answer written down. Operations that are not multiply-accumulates (a batch-norm scale-and-shift, a
ReLU, a pooled addition) are counted, when an option asks for them, as one Mult-Add each, the way the
trace-based counters do; the paper's convention counts none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from ..checks import non_negative_int, one_of
from ..errors import ConventionError
from ..spec.layers import ACTIVATIONS, POOL_PYTORCH

__all__ = ["Convention", "CONVENTIONS", "OPTIONS", "get_convention", "register_convention"]


def _int_or_none(value: object) -> int | None:
    """``value`` if it is an integer (not a bool), else None: for checks that compare it."""
    return None if isinstance(value, bool) or not isinstance(value, int) else value


@dataclass(frozen=True, slots=True)
class Convention:
    """Rules for counting, applied per layer by :func:`costmodel.counting.engine.count`."""

    name: str
    summary: str
    # --- parameters -------------------------------------------------------------------------------------------
    bias_params: bool = False  # count the biases of conv/FC layers that have one (the paper does not)
    bn_params: int = 0  # per batch-norm channel: 0, 2 (gamma, beta: trainable) or 4 (+ moving mean, variance);
    # one fewer where a layer's batch norm has no gamma (``bn_scale=False``: TF-slim's checkpoints)
    # --- operations beyond conv/FC multiply-accumulates, each counted as one Mult-Add ------------------------
    bias_ops: int = 0  # per output element of a layer with a bias
    bn_ops: int = 0  # per batch-norm output element (inference: one scale-and-shift)
    activation_ops: int = 0  # per activation output element (each activation, unless it has its own rule below)
    pool_ops: int = 0  # per pooling *input* element (each element is added or compared once)
    # --- finer rules, for the presets that model other tools (costmodel.counting.presets); all off for the paper ----
    adaptive_pool_ops: int = 0  # per input element of adaptive/global average pooling (not of fixed windows)
    avg_pool_out_ops: int = 0  # per output element of every average pooling (one division each)
    bn_channel_ops: int = 0  # per batch-norm channel, once per image (torchinfo: a layer's parameters)
    # per output element of one activation, overriding activation_ops: (("relu6", 1), ...) (ptflops' hooks differ)
    activation_ops_by_kind: tuple[tuple[str, int], ...] = ()
    elementwise_ops: int = 0  # per output element of a block's Add (residual) or Mul (squeeze-and-excite)
    # --- how a tool sees PyTorch's ways of writing a layer (Conv2d.pytorch, GlobalAvgPool.pytorch) -------------
    # per input element of a global average pooling written as a function ("function": F.adaptive_avg_pool2d)
    # or a tensor mean ("mean": x.mean([2, 3])), replacing the module's rules for it: (("mean", 0), ...)
    pool_ops_by_pytorch: tuple[tuple[str, int], ...] = ()
    # per output element of an activation called as a function in forward (F.relu), replacing
    # ops_per_activation for it: (("relu", 1), ...)
    functional_activation_ops_by_kind: tuple[tuple[str, int], ...] = ()
    bn_act_ops: bool = True  # count the ops of a batch norm fused with its activation (timm's BatchNormAct2d)
    bn_act_params: bool = True  # count its parameters (a tool that skips the module counts neither)
    # --- how the modelled tool reports ---------------------------------------------------------------------
    unit: str = "mult_adds"  # the tool's own operation unit: "mult_adds", or "flops" (= 2 x mult_adds)
    reports: tuple[str, ...] = ("mult_adds", "params")  # what the tool itself prints ("mult_adds"/"params")
    non_trainable_bn_params: int = 0  # of bn_params, how many per channel are not trainable (moving stats)
    tool: str = ""  # the tool (and version) whose numbers the preset reproduces, for reports

    def __post_init__(self) -> None:
        if _int_or_none(self.bn_params) not in (0, 2, 4):
            raise ConventionError(f"bn_params must be 0, 2 or 4, got {self.bn_params!r}")
        if not one_of(self.unit, ("mult_adds", "flops")):
            raise ConventionError(f"unit must be 'mult_adds' or 'flops', got {self.unit!r}")
        reports = self.reports
        if (
            isinstance(reports, (str, bytes))
            or not isinstance(reports, (tuple, list, set, frozenset))
            or not all(one_of(r, ("mult_adds", "params")) for r in reports)
        ):
            raise ConventionError(f"reports must name 'mult_adds' and/or 'params', got {self.reports!r}")
        n = _int_or_none(self.non_trainable_bn_params)
        if n is None or not 0 <= n <= self.bn_params:
            raise ConventionError(
                f"non_trainable_bn_params must be between 0 and bn_params={self.bn_params}, "
                f"got {self.non_trainable_bn_params!r}"
            )
        ops = ("bias_ops", "bn_ops", "activation_ops", "pool_ops", "adaptive_pool_ops", "avg_pool_out_ops")
        for f in (*ops, "bn_channel_ops", "elementwise_ops"):
            non_negative_int(getattr(self, f), f, ConventionError)
        for field in ("activation_ops_by_kind", "functional_activation_ops_by_kind", "pool_ops_by_pytorch"):
            rules = getattr(self, field)
            what = "pytorch form" if field == "pool_ops_by_pytorch" else "activation"
            choices = POOL_PYTORCH[1:] if field == "pool_ops_by_pytorch" else ACTIVATIONS[1:]
            if not isinstance(rules, tuple) or not all(isinstance(r, tuple) and len(r) == 2 for r in rules):
                raise ConventionError(f"{field} must be (({what}, ops), ...) pairs, got {rules!r}")
            for key, per_element in rules:
                if not one_of(key, choices):
                    raise ConventionError(f"{field}: {what} must be one of {choices}, got {key!r}")
                non_negative_int(per_element, f"{field}[{key!r}]", ConventionError)
        for flag in ("bn_act_ops", "bn_act_params"):
            if type(getattr(self, flag)) is not bool:
                raise ConventionError(f"{flag} must be True or False, got {getattr(self, flag)!r}")

    @property
    def weights_only(self) -> bool:
        """True when only conv/FC weights and multiply-accumulates count (the paper's rules)."""
        return not (
            self.bias_params or self.bn_params or self.bias_ops or self.bn_ops or self.activation_ops or self.pool_ops
        ) and not (
            self.adaptive_pool_ops
            or self.avg_pool_out_ops
            or self.bn_channel_ops
            or self.elementwise_ops
            or any(ops for _, ops in self.activation_ops_by_kind)
            or any(ops for _, ops in self.functional_activation_ops_by_kind)
            or any(ops for _, ops in self.pool_ops_by_pytorch)
        )

    def ops_per_activation(self, activation: str) -> int:
        """Ops per output element of ``activation``: its own rule, else :attr:`activation_ops`.

        >>> get_convention("ptflops").ops_per_activation("relu"), get_convention("ptflops").ops_per_activation("relu6")
        (2, 1)
        """
        for name, ops in self.activation_ops_by_kind:
            if name == activation:
                return ops
        return self.activation_ops

    def ops_per_functional_activation(self, activation: str) -> int:
        """Ops per output element of ``activation`` called as a function (``F.relu`` in ``forward``): its own
        rule, else :meth:`ops_per_activation` (a module and a function count alike).

        >>> ptflops = get_convention("ptflops")
        >>> ptflops.ops_per_functional_activation("relu"), ptflops.ops_per_activation("relu")
        (1, 2)
        """
        for name, ops in self.functional_activation_ops_by_kind:
            if name == activation:
                return ops
        return self.ops_per_activation(activation)

    def global_pool_ops(self, pytorch: str) -> int | None:
        """Ops per input element of a global average pooling written as ``pytorch`` (``"function"``,
        ``"mean"``), or None where the module's rules apply.

        >>> get_convention("ptflops").global_pool_ops("mean"), get_convention("ptflops").global_pool_ops("module")
        (0, None)
        """
        for form, ops in self.pool_ops_by_pytorch:
            if form == pytorch:
                return ops
        return None

    def with_options(self, *options: str) -> Convention:
        """This convention with named options (see :data:`OPTIONS`) switched on.

        Options compose as a set: the order does not matter, repeating one changes nothing, and adding one
        never lowers a count (each option raises its fields to at least its value, so ``keras+bn`` keeps
        Keras' four batch-norm weights per channel). The name lists the options once, in :data:`OPTIONS`
        order.

        >>> get_convention("paper").with_options("bn", "bias").name
        'paper+bias+bn'
        >>> get_convention("paper+bn-stats+bn") == get_convention("paper+bn+bn-stats")
        True
        """
        if not options:
            return self
        parts = self.name.split("+")
        while len(parts) > 1 and parts[-1] in OPTIONS:
            parts.pop()
        chosen = set(self.name.split("+")[len(parts) :])
        changes: dict[str, Any] = {}
        floor = pool_floor = 0
        for option in options:
            if option not in OPTIONS:
                raise ConventionError(f"unknown counting option {option!r}; choose from {', '.join(OPTIONS)}")
            chosen.add(option)
            for name, value in OPTIONS[option][0].items():
                changes[name] = max(changes.get(name, getattr(self, name)), value)
                if name == "activation_ops":  # every activation counts at least this; a higher rule stays
                    floor = max(floor, int(value))  # type: ignore[call-overload]
                if name == "pool_ops":  # every pooling, however PyTorch writes it, counts at least this
                    pool_floor = max(pool_floor, int(value))  # type: ignore[call-overload]
        if floor:
            for field in ("activation_ops_by_kind", "functional_activation_ops_by_kind"):
                changes[field] = tuple((a, max(ops, floor)) for a, ops in getattr(self, field))
        if pool_floor:
            changes["pool_ops_by_pytorch"] = tuple((f, max(o, pool_floor)) for f, o in self.pool_ops_by_pytorch)
        if "bn_ops" in changes:  # an option that counts batch norm counts it in every module
            changes["bn_act_ops"] = True
        if "bn_params" in changes:
            changes["bn_act_params"] = True
        name = "+".join((*parts, *(o for o in OPTIONS if o in chosen)))
        return replace(self, name=name, **changes)

    def describe(self) -> dict[str, object]:
        """The rules as a plain dictionary (for reports and JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Named options: the field changes they make and what they mean.
OPTIONS: dict[str, tuple[dict[str, object], str]] = {
    "bias": ({"bias_params": True}, "count the biases of conv/FC layers as parameters"),
    "bn": ({"bn_params": 2}, "count batch-norm gamma and beta as parameters"),
    "bn-stats": ({"bn_params": 4}, "count batch-norm gamma, beta, moving mean and variance as parameters"),
    "bias-ops": ({"bias_ops": 1}, "one Mult-Add per output element of a layer with a bias"),
    "bn-ops": ({"bn_ops": 1}, "one Mult-Add per batch-norm output element (scale and shift)"),
    "activation-ops": (
        {"activation_ops": 1},
        "at least one Mult-Add per activation output element, every activation (a preset's higher rule stays)",
    ),
    "pool-ops": ({"pool_ops": 1}, "one Mult-Add per pooling input element"),
    "elementwise-ops": (
        {"elementwise_ops": 1},
        "one Mult-Add per output element of a residual add or squeeze-and-excite multiply",
    ),
}

PAPER = Convention(
    "paper",
    "Howard et al. (2017): Mult-Adds of conv and FC layers; parameters = conv and FC weights, no biases, no batch norm",
)

#: The registered conventions, by name. Other modules add presets with :func:`register_convention`.
CONVENTIONS: dict[str, Convention] = {PAPER.name: PAPER}


def register_convention(convention: Convention) -> Convention:
    """Add a named preset (used by the modules that model other tools' conventions)."""
    CONVENTIONS[convention.name] = convention
    return convention


def get_convention(convention: str | Convention = "paper") -> Convention:
    """Look up a convention by name (or pass one through). ``"paper+bias+bn"`` adds options to a preset."""
    if isinstance(convention, Convention):
        return convention
    if not isinstance(convention, str):
        raise ConventionError(f"convention must be a name or a Convention, got {convention!r}")
    base, *options = convention.split("+")
    if base not in CONVENTIONS:
        raise ConventionError(f"unknown convention {base!r}; choose from {', '.join(sorted(CONVENTIONS))}")
    return CONVENTIONS[base].with_options(*options)
