"""A user's search space declared as the module docstring of :mod:`costmodel.search.space` shows: module-level
builders, fixed arguments bound with functools.partial, so that it pickles and a spawn-based process pool can
cost it (tests/test_search_space.py). Helpers here are imported by the workers, so they live in a module."""

from __future__ import annotations

from functools import partial

import numpy as np

import costmodel
from costmodel.search import Block, SearchSpace, Stage
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear


def stem(in_ch: int, width: int) -> tuple[Conv2d, ...]:
    return (Conv2d("stem", in_ch, width, 3, 2),)


def separable(name: str, stride: int, out: int, in_ch: int, kernel: int) -> tuple[Conv2d, ...]:
    return (
        Conv2d(f"{name}.dw", in_ch, in_ch, kernel, stride, groups=in_ch),
        Conv2d(f"{name}.pw", in_ch, out, 1),
    )


def head(in_ch: int) -> tuple[GlobalAvgPool | Linear, ...]:
    return (GlobalAvgPool("pool"), Linear("fc", in_ch, 10))


def sep(name: str, stride: int, out: int) -> Block:
    return Block(name, partial(separable, name, stride, out), {"kernel": (3, 5, 7)})


def user_space() -> SearchSpace:
    return SearchSpace(
        "user",
        [
            Block("stem", stem, {"width": (16, 24, 32)}),
            Stage("stage1", [sep("s1b1", 2, 32), sep("s1b2", 1, 32), sep("s1b3", 1, 32)], depths=(1, 2, 3)),
            Stage("stage2", [sep("s2b1", 2, 64), sep("s2b2", 1, 64)], depths=(1, 2)),
            Block("head", head),
        ],
    )


def cost_chunk(job: tuple[SearchSpace, np.ndarray, int]) -> dict[str, list]:
    """What a worker does: cost its chunk of the population (the space arrives pickled)."""
    space, genes, resolution = job
    return costmodel.cost_population(space, genes, resolution=resolution).to_dict()["columns"]
