"""Kernel-path rules: which kernel path a runtime runs each latency kind on, learned from profiled runs.

ONNX Runtime runs a convolution on its blocked NCHWc kernels or on its plain ones depending on the channel
counts; nothing here knows its rules. :func:`learn_paths` finds, per kind, the simplest rule that explains
every observation of a profiled calibration run (:class:`~costmodel.latency.runtimes.Measurement` ``path_of``),
and the channel block of each path from the weight shapes the runtime reports. The rules go into the
profile's ``paths`` and ``channel_block`` (:class:`~costmodel.latency.profiles.DeviceProfile`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import ProfileError
from .profiles import INPUT_PATH
from .runtimes import Measurement

__all__ = ["FROM_PLAIN", "learn_paths"]

#: Suffix of a blocked path whose layer reads an unblocked input: ORT's NCHWc convolution of an input with fewer
#: channels than a block (the RGB image, a 1x1 convolution of 9-15 channels) runs another, slower kernel.
FROM_PLAIN = "-from-plain"


def learn_paths(measurements: Sequence[Measurement]) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The kernel path rule of every kind, and the channel block of every path, from profiled runs.

    For each kind, the observations are (input channels, the path the layer ran on, the previous layer's
    path). The rule is the simplest that explains all of them: one path always; else "the path of the layer
    before"; else the first path when the input channels are a multiple of ``m`` or fewer than ``t`` (the
    smallest ``m`` in 1, 2, 4, ... 64 and the smallest power of two ``t`` that fit), the other path otherwise;
    with three paths, the third holds the channel counts below ``t`` (``"below"``). A blocked layer whose
    weights show an unpadded input (fewer channels than a block) is on its own path, ``<path>-from-plain``.
    A kind no rule explains is a ProfileError naming it. The channel block of a path is the greatest common
    divisor of the output channels its nodes' weights have (ORT pads them to whole blocks), when padding was
    seen at all.
    """
    from .kinds import latency_kind

    seen: list[tuple[str, int, int, int, str, tuple[int, ...]]] = []  # (kind, in, out, groups, path, weights)
    obs: dict[str, list[tuple[int, str, str]]] = {}
    outs: dict[str, list[tuple[int, int]]] = {}  # path -> [(spec out channels, runtime's out channels)]
    for m in measurements:
        if not m.path_of:
            continue
        weights = {ln.layer: ln.nodes[0].input_shapes for ln in m.nodes if ln.nodes}
        for node in m.network.nodes:
            for leaf in node.leaves():
                path = m.path_of.get(leaf.name)
                if path is None:
                    continue
                shapes = weights.get(leaf.name, ())
                shape: tuple[int, ...] = (
                    shapes[1] if len(shapes) > 1 and len(shapes[1]) == 4 else ()
                )  # (out, in/g, k, k)
                if shape:
                    outs.setdefault(path, []).append((leaf.out_ch, shape[0]))
                groups = getattr(leaf.layer, "groups", 1)
                seen.append((latency_kind(leaf.layer), leaf.in_ch, leaf.out_ch, groups, path, shape))
            seen.append(("", 0, 0, 0, "", ()))  # a network boundary
    blocks = {}
    for path, pairs in outs.items():
        if any(spec != got for spec, got in pairs):
            blocks[path] = math.gcd(*[got for _, got in pairs])
    previous = INPUT_PATH
    for kind, in_ch, _, groups, path, shape in seen:
        if not kind:
            previous = INPUT_PATH
            continue
        block = blocks.get(path)
        if block and groups == 1 and shape and shape[1] == in_ch and in_ch % block:
            path = f"{path}{FROM_PLAIN}"  # the blocked kernel reading an unblocked input (fewer channels than a block)
            blocks.setdefault(path, block)
        obs.setdefault(kind, []).append((in_ch, path, previous))
        previous = path
    rules: dict[str, dict[str, Any]] = {}
    for kind, rows in obs.items():
        rule = _path_rule(rows)
        if rule is None:
            shown = sorted({(c, p) for c, p, _ in rows})[:8]
            raise ProfileError(f"cannot learn the kernel path rule of {kind!r} from the runtime's profile: {shown}")
        rules[kind] = rule
    return rules, blocks


def _path_rule(rows: Sequence[tuple[int, str, str]]) -> dict[str, Any] | None:
    """The simplest rule over (channels, path, previous path) observations; see :func:`learn_paths`."""
    paths = sorted({p for _, p, _ in rows})
    if len(paths) == 1:
        return {"path": paths[0]}
    if all(p == previous for _, p, previous in rows):
        return {"same_as_input": True}
    for below in [None, *paths] if len(paths) == 3 else [None]:
        rest = [p for p in paths if p != below]
        t0 = 0
        if below is not None:  # the "below" path holds exactly the channel counts under a power of two
            t0 = 1 << max(c for c, p, _ in rows if p == below).bit_length()
            if any(c < t0 for c, p, _ in rows if p != below):
                continue
        if len(rest) != 2:
            continue
        for first, other in (rest, rest[::-1]):
            for m in (1, 2, 4, 8, 16, 32, 64):
                odd = [c for c, p, _ in rows if p == first and c % m]
                t = t0 if not odd else max(t0, 1 << max(odd).bit_length())
                if below is not None and t != t0:
                    continue
                if all(c % m and c >= t for c, p, _ in rows if p == other):
                    rule: dict[str, Any] = {"path": first, "channels_multiple_of": m, "channels_below": t}
                    if below is not None:
                        rule["below"] = below
                    rule["otherwise"] = other
                    return rule
    return None
