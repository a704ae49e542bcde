"""Flavours: each framework's MobileNetV1 as one bundle, written into every layer of the spec; the costs, the
sweeps and the closed form follow each flavour's padding (the size rule lives in spec.layers alone)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import costmodel
from costmodel.counting.closed_form import closed_form
from costmodel.counting.sweeps import sweep_arrays
from costmodel.errors import SpecError
from costmodel.spec.flavours import FLAVOURS, flavour_differences, get_flavour
from costmodel.spec.layers import Conv2d, Linear

#: What each framework's source says (see data/README.md): activation, epsilon, gamma, classes, classifier.
SOURCES = {
    "paper": ("relu", 1e-3, True, 1000, Linear),
    "keras": ("relu6", 1e-3, True, 1000, Conv2d),  # keras/src/applications/mobilenet.py: conv_preds 1x1 Conv2D
    "tfslim": ("relu6", 1e-3, False, 1001, Conv2d),  # mobilenet_v1.py: Logits/Conv2d_1c_1x1
    "timm": ("relu6", 1e-5, True, 1000, Linear),  # efficientnet.py _gen_mobilenet_v1: nn.BatchNorm2d, Linear
}


@pytest.mark.parametrize("name", SOURCES)
def test_each_flavour_writes_its_bundle_into_every_layer(name):
    activation, eps, gamma, classes, classifier = SOURCES[name]
    net = costmodel.mobilenet_v1(0.5, 160, flavour=name)
    convs = [n.layer for n in net if isinstance(n.layer, Conv2d) and n.name != "fc"]
    assert {c.activation for c in convs} == {activation}
    assert {c.bn_epsilon for c in convs} == {eps} and {c.bn_scale for c in convs} == {gamma}
    assert type(net["fc"].layer) is classifier and net.out_ch == classes and net["fc"].layer.bias
    assert net.config["flavour"] == name


PADDINGS = {  # (conv1, stride-1 depthwise, stride-2 depthwise, pointwise), from each source
    "paper": ("tf_same", "tf_same", "tf_same", "tf_same"),
    "keras": ("tf_same", "tf_same", (0, 1), "tf_same"),  # ZeroPadding2D(((0, 1), (0, 1))) + valid
    "tfslim": ("tf_same", "tf_same", "tf_same", "tf_same"),
    "timm": (1, 1, 1, 0),  # get_padding(k, s) = ((s - 1) + (k - 1)) // 2
}


@pytest.mark.parametrize("name", PADDINGS)
def test_padding_is_a_property_of_each_layer(name):
    net = costmodel.mobilenet_v1(1.0, 224, flavour=name)
    got = (net["conv1"].layer.padding, net["conv_dw_1"].layer.padding, net["conv_dw_2"].layer.padding,
           net["conv_pw_1"].layer.padding)  # fmt: skip
    assert got == PADDINGS[name]


@pytest.mark.parametrize(
    ("resolution", "paper", "keras"),
    [(200, (13, 7), (12, 6)), (224, (14, 7), (14, 7)), (225, (15, 8), (14, 7)), (193, (13, 7), (12, 6))],
)
def test_keras_maps_follow_floor_at_odd_sizes(resolution, paper, keras):
    # by hand: conv1 SAME gives ceil(n/2); Keras' depthwise stride-2 layers give floor(n/2), SAME ceil(n/2)
    n = -(-resolution // 2)
    sizes = {"paper": [], "keras": []}
    for flavour, rule in (("paper", lambda m: -(-m // 2)), ("keras", lambda m: m // 2)):
        m = n
        for _ in (2, 4, 6):
            m = rule(m)
        sizes[flavour].append(m)
        sizes[flavour].append(rule(m))
    assert tuple(sizes["paper"]) == paper and tuple(sizes["keras"]) == keras
    for flavour, want in (("paper", paper), ("keras", keras)):
        net = costmodel.mobilenet_v1(0.5, resolution, flavour=flavour)
        assert (net["conv_dw_6"].out_size, net["conv_dw_12"].out_size) == want


def test_flavours_cost_the_same_at_multiples_of_32_but_not_at_odd_sizes():
    paper, keras = costmodel.mobilenet_v1(0.5, 224), costmodel.mobilenet_v1(0.5, 224, flavour="keras")
    assert costmodel.count(paper).mult_adds == costmodel.count(keras).mult_adds
    odd_paper, odd_keras = costmodel.mobilenet_v1(0.5, 200), costmodel.mobilenet_v1(0.5, 200, flavour="keras")
    assert costmodel.count(odd_keras).mult_adds < costmodel.count(odd_paper).mult_adds


@pytest.mark.parametrize("name", SOURCES)
def test_sweeps_are_exact_under_each_flavours_size_rule(name):
    rng = np.random.default_rng(5)
    alpha = rng.uniform(0.2, 1.2, 40)
    resolution = rng.integers(32, 300, 40)
    out = sweep_arrays(alpha, resolution, grid=False, flavour=name)
    want = [
        costmodel.count(costmodel.mobilenet_v1(a, int(r), flavour=name)) for a, r in zip(alpha, resolution, strict=True)
    ]
    assert out.mult_adds.tolist() == [c.mult_adds for c in want]
    assert out.params.tolist() == [c.params for c in want]


def test_closed_form_follows_the_flavour():
    cf = closed_form(flavour="tfslim")
    net = costmodel.mobilenet_v1(0.75, 160, flavour="tfslim")
    assert cf.mult_adds(0.75, 160) == costmodel.count(net).mult_adds  # 1001 classes
    assert (
        closed_form(flavour="keras").mult_adds(0.5, 192)
        == costmodel.count(costmodel.mobilenet_v1(0.5, 192, flavour="keras")).mult_adds
    )


def test_overrides_unknown_flavours_and_custom_bundles():
    net = costmodel.mobilenet_v1(0.25, 64, flavour="keras", activation="relu", num_classes=10)
    assert net["conv1"].layer.activation == "relu" and net.out_ch == 10
    with pytest.raises(SpecError, match="unknown flavour 'pytorch'"):
        costmodel.mobilenet_v1(flavour="pytorch")
    custom = replace(FLAVOURS["paper"], name="paper-eps", bn_epsilon=1e-5)
    assert costmodel.mobilenet_v1(0.25, 64, flavour=custom)["conv1"].layer.bn_epsilon == 1e-5
    with pytest.raises(SpecError, match="padding rule"):
        replace(FLAVOURS["paper"], padding="reflect")
    assert get_flavour("timm") is FLAVOURS["timm"]
    assert flavour_differences("keras", "keras") == []
    assert flavour_differences("paper", "tfslim") == ["activation: 'relu' -> 'relu6'", "bn_scale: True -> False"]


def test_layers_and_documents_carry_the_padding():
    net = costmodel.mobilenet_v1(0.25, 65, flavour="keras")
    doc = net.to_dict()
    assert doc["layers"][3]["padding"] == [0, 1]  # conv_dw_2, JSON has no tuples
    back = costmodel.Network.from_dict(doc)
    assert back.nodes == net.nodes
    legacy = Conv2d("c", 3, 4, 3, stride=2, padding="same")  # the word before flavours, read as TF SAME
    assert legacy.padding == "tf_same"
    for bad in ("valid", (1,), (-1, 0), 1.5):
        with pytest.raises(SpecError, match="padding"):
            Conv2d("c", 3, 4, 3, padding=bad)
    with pytest.raises(SpecError, match="bn_epsilon"):
        Conv2d("c", 3, 4, 3, bn_epsilon=0)


def test_cli_flavour_on_the_commands_that_build_mobilenet(capsys):
    import json

    from costmodel.cli import main

    assert main(["count", "--alpha", "0.5", "--resolution", "200", "--flavour", "keras", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    want = costmodel.count(costmodel.mobilenet_v1(0.5, 200, flavour="keras"))
    assert doc["mult_adds"] == want.mult_adds == 113_485_888  # 12x12 and 6x6 maps: less than SAME's 128,015,552
    assert main(["count", "--flavour", "tfslim", "--convention", "tfslim", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 4_243_945
    assert main(["sweep", "--alpha", "0.5", "--resolution", "200", "--flavour", "keras", "--format", "csv"]) == 0
    assert "113485888" in capsys.readouterr().out
    assert main(["formula", "--flavour", "tfslim", "--format", "json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_code:
        main(["count", "--network", "vgg16", "--flavour", "keras"])
    assert exit_code.value.code == 2
    assert "--flavour cannot be combined with --network vgg16" in capsys.readouterr().err


def test_cli_run_detects_a_keras_file(tmp_path, capsys):
    from costmodel.cli import main
    from costmodel.reference import init_weights, save_weights

    net = costmodel.mobilenet_v1(0.25, 65, num_classes=10, flavour="keras")
    path = save_weights(net, init_weights(net), tmp_path / "mobilenet_2_5_65_tf.h5", format="keras")
    assert main(["run", "--weights", str(path), "--repeats", "1"]) == 0
    out, err = capsys.readouterr()
    assert "MobileNetV1 0.25-65 [keras]" in out and err == ""
