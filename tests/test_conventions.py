"""Counting options compose as a set: commutative, idempotent, and monotone (an option never lowers a count)."""

from __future__ import annotations

from functools import cache
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import count, mobilenet_v1, network
from costmodel.counting.conventions import OPTIONS, get_convention
from costmodel.counting.presets import preset_names
from costmodel.errors import ConventionError

BASES = preset_names()
NAMES = tuple(OPTIONS)
NETWORKS = {
    "mobilenet": mobilenet_v1(),
    "mobilenet-0.5-129": mobilenet_v1(0.5, 129),
    "googlenet": network("googlenet"),  # concat blocks, pools with windows, biases
    "squeezenet1_1": network("squeezenet1_1"),
}


@cache
def _counts(net: str, convention: str) -> tuple[int, int]:
    cost = count(NETWORKS[net], convention)
    return cost.mult_adds, cost.params


def _join(base: str, options: tuple[str, ...]) -> str:
    return "+".join((base, *options))


@pytest.mark.parametrize("base", BASES)
def test_every_pair_and_triple_of_options(base):
    """Exhaustive on MobileNet 1.0-224: every ordered pair and triple, repeats included."""
    for n in (2, 3):
        for options in product(NAMES, repeat=n):
            got = _counts("mobilenet", _join(base, options))
            as_set = tuple(o for o in NAMES if o in options)
            assert got == _counts("mobilenet", _join(base, as_set)), options  # order and repeats do not matter
            for drop in range(n):  # monotone: removing any one option never raises a count
                fewer = _counts("mobilenet", _join(base, options[:drop] + options[drop + 1 :]))
                assert fewer[0] <= got[0] and fewer[1] <= got[1], (options, drop)
            assert get_convention(_join(base, options)).name == _join(base, as_set)


@settings(max_examples=150, deadline=None)
@given(
    net=st.sampled_from(sorted(NETWORKS)),
    base=st.sampled_from(BASES),
    options=st.lists(st.sampled_from(NAMES), max_size=4),
    extra=st.sampled_from(NAMES),
    data=st.data(),
)
def test_options_form_a_monotone_set(net, base, options, extra, data):
    opts = tuple(options)
    shuffled = data.draw(st.permutations(opts))
    a = _counts(net, _join(base, opts))
    assert _counts(net, _join(base, tuple(shuffled))) == a  # commutative
    assert _counts(net, _join(base, opts + opts)) == a  # idempotent
    more = _counts(net, _join(base, (*opts, extra)))
    plain = _counts(net, base)
    assert more[0] >= a[0] >= plain[0] and more[1] >= a[1] >= plain[1]  # monotone


def test_the_issue_cases():
    net = mobilenet_v1()
    assert count(net, "keras+bn").params == count(net, "keras").params == 4253864  # Keras already has bn-stats
    a, b = count(net, "paper+bn-stats+bn"), count(net, "paper+bn+bn-stats")
    assert (a.mult_adds, a.params, a.convention) == (b.mult_adds, b.params, b.convention)
    # independent arithmetic: 4 batch-norm weights per normalised channel on top of the paper's weights
    bn_channels = sum(n.out_ch for n in net.leaves() if getattr(n.layer, "batch_norm", False))
    assert count(net, "paper+bn+bn-stats").params == 4209088 + 4 * bn_channels


@pytest.mark.parametrize("bad", ["paper+", "paper+bn+nope", "nope+bn"])
def test_unknown_options_are_errors(bad):
    with pytest.raises(ConventionError):
        get_convention(bad)
