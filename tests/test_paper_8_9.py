"""Tables 8-9: every number quoted in the explanations of the flagged rows is recomputed from the spec here,
so an explanation cannot go stale or be typed in to fit."""

from __future__ import annotations

import pytest

from costmodel import Conv2d, count, mobilenet_v1, network
from costmodel.paper.published import read_csv
from costmodel.paper.tables import compare


def _notes() -> dict[tuple[str, str, str], str]:
    return {(r["table"], r["row"], r["quantity"]): r["explanation"] for r in read_csv("paper_notes.csv")}


def _m(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def _conv_only(net) -> int:
    return sum(lc.mult_adds for lc in count(net).leaves() if isinstance(lc.node.layer, Conv2d))


g3, g5 = network("googlenet"), network("googlenet", branch3_kernel=5)
sq224, sq227 = network("squeezenet1_0"), network("squeezenet1_0", resolution=227)
alex, alex2 = network("alexnet"), network("alexnet", resolution=227, towers=2)

QUOTED = [
    ("8", "GoogleNet", "mult_adds", _m(count(g3).mult_adds)),
    ("8", "GoogleNet", "mult_adds", _m(count(g5).mult_adds)),
    ("8", "GoogleNet", "params", _m(count(g3).params)),
    ("8", "GoogleNet", "params", f"{count(g3, 'torch').params:,}"),
    ("8", "GoogleNet", "params", _m(count(g5).params)[:4] + " M"),  # 6.99 M
    ("8", "GoogleNet", "params", f"{count(g5).params:,}"),
    ("8", "GoogleNet", "params", f"{count(g5).params // 1024:,} K"),
    ("8", "VGG 16", "mult_adds", _m(count(network("vgg16")).mult_adds)),
    ("8", "VGG 16", "mult_adds", _m(_conv_only(network("vgg16")))),
    ("9", "0.50 MobileNet-160", "mult_adds", _m(count(mobilenet_v1(0.5, 160)).mult_adds)),
    ("9", "Squeezenet", "mult_adds", _m(count(sq224).mult_adds)),
    ("9", "Squeezenet", "mult_adds", _m(count(sq227).mult_adds)),
    ("9", "Squeezenet", "mult_adds", _m(count(sq227).flops)),
    ("9", "Squeezenet", "mult_adds", _m(count(sq224).flops)),
    ("9", "Squeezenet", "params", f"{count(sq224, 'torch').params:,}"),
    ("9", "Squeezenet", "params", f"{count(sq224).params:,}"),
    ("9", "AlexNet", "mult_adds", _m(count(alex).mult_adds)),
    ("9", "AlexNet", "mult_adds", _m(count(alex2).mult_adds)),
    ("9", "AlexNet", "params", _m(count(alex).params)),
    ("9", "AlexNet", "params", f"{count(alex, 'torch').params:,}"),
    ("9", "AlexNet", "params", _m(count(alex2).params)),
]


@pytest.mark.parametrize("table,row,quantity,text", QUOTED)
def test_numbers_in_explanations_are_the_engines(table, row, quantity, text):
    assert text in _notes()[(table, row, quantity)]


def test_explanations_hold_at_the_printed_precision():
    """The arithmetic each note offers instead does give the printed number, rounded as stated."""
    assert round(_conv_only(network("vgg16")) / 1e6, -2) == 15300  # VGG16 without its FC layers
    assert round(count(sq227).flops / 1e6, -2) == 1700  # SqueezeNet FLOPs at 227
    assert round(count(alex2).mult_adds / 1e6, -1) == 720  # two-tower AlexNet at 227
    assert round(count(sq224, "torch").params / 1e6, 2) == 1.25  # SqueezeNet with biases
    assert int(count(mobilenet_v1(0.5, 160)).mult_adds / 1e6) == 76  # truncated


def test_two_tower_alexnet_by_hand():
    convs = (11 * 11 * 3 * 96 * 55 * 55, 5 * 5 * 48 * 256 * 27 * 27, 3 * 3 * 256 * 384 * 13 * 13,
             3 * 3 * 192 * 384 * 13 * 13, 3 * 3 * 192 * 256 * 13 * 13)  # fmt: skip
    fcs = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    assert count(alex2).mult_adds == sum(convs) + fcs


def test_tables_8_and_9_comparisons():
    rows = {(c.table, c.row, c.quantity): c for c in compare([8, 9])}
    assert rows[(8, "VGG 16", "params")].status == "match"
    assert rows[(9, "0.50 MobileNet-160", "params")].status == "match"
    assert rows[(8, "GoogleNet", "top1_pct")].status == "published"
    assert rows[(9, "Squeezenet", "mult_adds")].count == count(sq224).mult_adds
