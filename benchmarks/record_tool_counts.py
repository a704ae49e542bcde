"""Run the popular counters on the real PyTorch module trees and record what each prints, for the presets.

Not part of the test suite (the suite never imports a framework): run it by hand in a scratch environment,
outside the repository, with PyTorch, torchvision, timm and the four counters installed (an editable costmodel
is not needed: the script imports no costmodel code), e.g. on x86_64

    python3 -m venv /tmp/fw
    /tmp/fw/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/fw/bin/pip install timm thop ptflops torchinfo fvcore
    /tmp/fw/bin/python benchmarks/record_tool_counts.py --out data/tool_counts_recorded.csv

(Recorded with torch 2.14.1, torchvision 0.29.1, timm 1.0.31, thop 0.1.1.post2209072238, ptflops 0.7.5,
torchinfo 1.8.0 and fvcore 0.1.5.post20221221; every version is written into the CSV.)

For every network the presets cover (``costmodel/counting/presets.py``; the networks of
``tests/test_presets.py``) it builds the real module in eval mode with random weights (counts do not depend on
them) and runs, on a (1, 3, r, r) input:

=========  ====================================================================================================
fvcore     ``FlopCountAnalysis(model, x).total()`` (multiply-accumulates, called flops) and
           ``parameter_count(model)[""]``; the unsupported operators fvcore reports are kept in the note
thop       ``thop.profile(model, (x,), verbose=False)`` -> (MACs, params), on a fresh copy of the module
ptflops    ``get_model_complexity_info(model, (3, r, r), as_strings=False, backend="pytorch",
           print_per_layer_stat=False)`` -> (MACs, params)
torchinfo  ``summary(model, input_size=(1, 3, r, r), verbose=0)`` -> ``total_mult_adds``, ``total_params``
torch      ``FlopCounterMode(display=False)`` around ``model(x)``: ``get_total_flops()``, FLOPs = 2 x Mult-Adds
           for convolutions and matrix products; params ``sum(p.numel() for p in model.parameters())``
=========  ====================================================================================================

Each module is paired with the costmodel network that describes it (columns ``network``, ``flavour``,
``alpha``, ``resolution``): ``costmodel.network(network, resolution=r)`` for torchvision's models,
``costmodel.mobilenet_v1(alpha, r, flavour=...)`` for MobileNetV1. MobileNetV1 "built the torchvision way"
(the module of issue 5: ``nn.Conv2d`` + ``nn.BatchNorm2d`` + ``nn.ReLU`` per layer, ``nn.AdaptiveAvgPool2d(1)``,
``nn.Linear``) is defined below; timm's ``mobilenetv1_100`` is the ``timm`` flavour. The torchvision networks
that costmodel's zoo may not have yet (ResNet, DenseNet, ShuffleNetV2) are recorded too.
``tests/test_presets_recorded.py`` checks that each preset reproduces every row exactly.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import io
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

# (network, flavour, alpha, resolutions): torchvision builders by name; "mobilenet_v1" is built below
CASES: list[tuple[str, str, float, tuple[int, ...]]] = [
    ("mobilenet_v1", "paper", 1.0, (224, 193)),
    ("mobilenet_v1", "paper", 0.5, (160,)),
    ("mobilenet_v1", "timm", 1.0, (224, 193)),
    *[
        (name, "", 1.0, (224, 193))
        for name in (
            "vgg16",
            "googlenet",
            "alexnet",
            "squeezenet1_0",
            "squeezenet1_1",
            "mobilenet_v2",
            "mobilenet_v3_large",
            "mobilenet_v3_small",
            "mnasnet1_0",
            "efficientnet_b0",
            "resnet18",
            "resnet50",
            "densenet121",
            "shufflenet_v2_x1_0",
        )
    ],
]
TOOLS = ("fvcore", "thop", "ptflops", "torchinfo", "torch")


def mobilenet_v1_torchvision_way(alpha: float, num_classes: int = 1000):
    """MobileNetV1 (Howard et al. 2017, Table 1) as a torchvision user writes it: every convolution an
    ``nn.Conv2d`` (no bias) + ``nn.BatchNorm2d`` + ``nn.ReLU``; ``nn.AdaptiveAvgPool2d(1)``; ``nn.Linear``."""
    from torch import nn

    def block(i: int, o: int, k: int, s: int, groups: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(i, o, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    rows = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]
    ch = int(32 * alpha)
    layers = block(3, ch, 3, 2)
    for out, stride in rows:
        out = int(out * alpha)
        layers += block(ch, ch, 3, stride, groups=ch) + block(ch, out, 1, 1)
        ch = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, num_classes))


def build(network: str, flavour: str, alpha: float):
    """The real module and a description of how it was built."""
    import torchvision

    if network == "mobilenet_v1" and flavour == "timm":
        import timm

        assert alpha == 1.0
        return timm.create_model("mobilenetv1_100", pretrained=False), "timm.create_model('mobilenetv1_100')"
    if network == "mobilenet_v1":
        return mobilenet_v1_torchvision_way(alpha), f"MobileNetV1 {alpha} built the torchvision way (this script)"
    if network == "googlenet":  # torchvision documents GoogLeNet's count without its auxiliary heads
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True), (
            "torchvision.models.googlenet(aux_logits=False)"
        )
    return getattr(torchvision.models, network)(weights=None), f"torchvision.models.{network}()"


def run_tool(tool: str, model, resolution: int) -> tuple[int, int, str]:
    """(operations, parameters, note) as the tool reports them, on a fresh copy of ``model``."""
    import torch

    model = copy.deepcopy(model).eval()
    x = torch.randn(1, 3, resolution, resolution)
    note = ""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tool == "fvcore":
            from fvcore.nn import FlopCountAnalysis, parameter_count

            analysis = FlopCountAnalysis(model, x)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            ops = int(analysis.total())
            params = int(parameter_count(model)[""])
            unsupported = analysis.unsupported_ops()
            note = "unsupported (counted 0): " + " ".join(f"{k}x{v}" for k, v in sorted(unsupported.items()))
        elif tool == "thop":
            from thop import profile

            with contextlib.redirect_stdout(io.StringIO()):
                macs, n = profile(model, inputs=(x,), verbose=False)
            ops, params = int(macs), int(n)
        elif tool == "ptflops":
            from ptflops import get_model_complexity_info

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                macs, n = get_model_complexity_info(
                    model, (3, resolution, resolution), as_strings=False, backend="pytorch", print_per_layer_stat=False
                )
            ops, params = int(macs), int(n)
        elif tool == "torchinfo":
            from torchinfo import summary

            stats = summary(model, input_size=(1, 3, resolution, resolution), verbose=0)
            ops, params = int(stats.total_mult_adds), int(stats.total_params)
        elif tool == "torch":
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False) as counter:
                model(x)
            ops = int(counter.get_total_flops())
            params = sum(p.numel() for p in model.parameters())
        else:
            raise ValueError(tool)
    return ops, params, note


def versions() -> dict[str, str]:
    names = {"torch": "torch", "torchvision": "torchvision", "timm": "timm", "thop": "thop",
             "ptflops": "ptflops", "torchinfo": "torchinfo", "fvcore": "fvcore"}  # fmt: skip
    return {k: version(v) for k, v in names.items()}


COMMANDS = {
    "fvcore": ("FlopCountAnalysis(model, x).total()", 'parameter_count(model)[""]'),
    "thop": ("thop.profile(model, (x,))[0]", "thop.profile(model, (x,))[1]"),
    "ptflops": (
        "get_model_complexity_info(model, (3, r, r), as_strings=False, backend='pytorch')[0]",
        "get_model_complexity_info(model, (3, r, r), as_strings=False, backend='pytorch')[1]",
    ),
    "torchinfo": ("summary(model, (1, 3, r, r)).total_mult_adds", "summary(model, (1, 3, r, r)).total_params"),
    "torch": ("FlopCounterMode().get_total_flops()", "sum(p.numel() for p in model.parameters())"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the recorded counts here (CSV)")
    parser.add_argument("--only", nargs="*", help="networks to run (default: all)")
    args = parser.parse_args(argv)
    import torch

    torch.manual_seed(0)
    ver = versions()
    rows = []
    for network, flavour, alpha, resolutions in CASES:
        if args.only and network not in args.only:
            continue
        model, module = build(network, flavour, alpha)
        model.eval()
        for r in resolutions:
            for tool in TOOLS:
                ops, params, note = run_tool(tool, model, r)
                unit = "flops" if tool == "torch" else "mult_adds"
                cmd_ops, cmd_params = COMMANDS[tool]
                common = {"tool": tool, "version": ver[tool], "network": network, "flavour": flavour,
                          "alpha": alpha, "resolution": r, "module": module}  # fmt: skip
                rows.append({**common, "quantity": unit, "value": ops, "unit": unit, "command": cmd_ops, "note": note})
                rows.append({**common, "quantity": "params", "value": params, "unit": "params",
                             "command": cmd_params, "note": ""})  # fmt: skip
                print(f"{network:20} {flavour:6} {alpha:<4} {r:>4} {tool:10} {unit:9} {ops:>14,} params {params:>12,}"
                      + (f"  [{note}]" if note and "x" in note.split(":")[1] else ""), flush=True)  # fmt: skip
    if args.out:
        header = (
            "# What the counters print on the real PyTorch module trees (eval mode, a (1, 3, r, r) input),\n"
            "# recorded by benchmarks/record_tool_counts.py with "
            + ", ".join(f"{k} {v}" for k, v in ver.items())
            + ".\n# unit: mult_adds (multiply-accumulates, whatever the tool calls them), flops (= 2 x mult_adds) or"
            " params.\n# network/flavour/alpha/resolution name the costmodel network that describes `module`."
            " See README.md.\n"
        )
        buf = io.StringIO()
        fields = ["tool", "version", "network", "flavour", "alpha", "resolution", "quantity", "value", "unit",
                  "module", "command", "note"]  # fmt: skip
        writer = csv.DictWriter(buf, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        args.out.write_text(header + buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
