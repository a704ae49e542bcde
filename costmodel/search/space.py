"""Search spaces for architecture search: per-block choices, encoded as integer genes.

A space is declared as a sequence of :class:`Block` and :class:`Stage` items, in network order:

- a :class:`Block` is one position of the network: a builder that turns the chosen values (and the input
  channels) into finished layers of :mod:`costmodel.spec.layers`, and the choices it reads (a gene each);
- a :class:`Stage` is a run of blocks of which only the first ``depth`` are built; its depth is a gene too.

A candidate is a row of integer genes, one per choice, each the *index* of a value in that choice's list. The
genes of a block beyond its stage's depth are inactive: they change nothing, so :meth:`SearchSpace.canonical`
sets them to 0 and two candidates with the same canonical genes are the same network.

Declaring your own space (timm's block strings ``ir_r2_k5_s2_e6_c40`` in typed form). Builders are plain
module-level functions, their fixed arguments bound with :func:`functools.partial`, so that the space pickles and
a process pool (``multiprocessing``'s spawn context included) can cost it in its workers; a lambda or a function
defined inside another cannot be pickled, and pickling a space built with one is a :class:`SpecError` naming it::

    from functools import partial

    from costmodel.search import Block, SearchSpace, Stage
    from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear

    def stem(in_ch, width):
        return (Conv2d("stem", in_ch, width, 3, 2),)

    def separable(name, stride, out, in_ch, kernel):
        return (Conv2d(f"{name}.dw", in_ch, in_ch, kernel, stride, groups=in_ch),
                Conv2d(f"{name}.pw", in_ch, out, 1))

    def head(in_ch):
        return (GlobalAvgPool("pool"), Linear("fc", in_ch, 10))

    def sep(name, stride, out):
        return Block(name, partial(separable, name, stride, out), {"kernel": (3, 5)})

    space = SearchSpace("tiny", [
        Block("stem", stem, {"width": (16, 24)}),
        Stage("stage1", [sep("s1b1", 2, 32), sep("s1b2", 1, 32)], depths=(1, 2)),
        Block("head", head),
    ])
    space.num_genes, space.size()      # (4, 12): widths 2 x (depth 1: 2 kernels + depth 2: 2 x 2)

Each builder is called once per distinct (choice, input channels) when the space is compiled (at its first
use), so the sizes and costs of a whole population come from the real builders (:mod:`costmodel.search.population`).
Choices must build different layers: two values of a choice that build the same block are a :class:`SpecError`,
so that distinct canonical genes are distinct networks and :meth:`SearchSpace.size` counts architectures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Union

from .._limits import check_memory
from .._random import Seed, rng
from ..checks import positive_int
from ..errors import SpecError
from ..spec.layers import Layer, output_shape
from ..spec.network import Network

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Block", "Stage", "Gene", "SearchSpace", "Blocks", "choice_values", "odd_kernel", "MAX_BLOCK_OPTIONS"]

#: Most options (settings of its choices together) one block may have: each is built, for every input channel
#: count it can receive, when the space is compiled, and has a row in each population table. OFA's blocks have 9,
#: NAS-Bench-201's cell 15,625 (5 operations on each of 6 edges); a block of ten 10-way choices (10^10) is refused.
MAX_BLOCK_OPTIONS = 65_536


@dataclass(frozen=True)
class Block:
    """One position of a network: ``build(in_ch, **values) -> layers`` and the choices it takes.

    Parameters
    ----------
    name : str
        A label for the block (genes are called ``"<name>.<choice>"``).
    build : callable
        ``build(in_ch, **values)`` returns the block's layers (a tuple of layers of :mod:`costmodel.spec.layers`,
        names unique network-wide and the same whatever the values). It must depend only on its arguments.
    choices : mapping of str to sequence
        For each keyword of ``build`` the values a candidate may take, in gene order; empty for a fixed block
        (a stem or a head).
    """

    name: str
    build: Callable[..., Sequence[Layer]]
    choices: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    # A repeat of the earlier block of this name (NAS-Bench-201's cells: one cell, many positions): it reads that
    # block's genes (its own ``choices`` stay empty) and builds the same layers up to their names, so on the same
    # input its costs are that block's, computed once.
    same_as: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"a block needs a non-empty name, got {self.name!r}")
        if self.same_as is not None and (not isinstance(self.same_as, str) or self.choices):
            raise SpecError(f"block {self.name!r}: same_as names an earlier block and takes its choices")
        if not callable(self.build):
            raise SpecError(f"block {self.name!r}: build must be callable, got {self.build!r}")
        fixed = {}
        if not isinstance(self.choices, Mapping):
            raise SpecError(f"block {self.name!r}: choices must be a mapping of name -> values, got {self.choices!r}")
        for key, values in dict(self.choices).items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise SpecError(f"block {self.name!r}: choice {key!r} needs a non-empty sequence, got {values!r}")
            fixed[str(key)] = tuple(values)
        options = math.prod(len(v) for v in fixed.values())
        if options > MAX_BLOCK_OPTIONS:  # counted before anything is built
            sizes = " x ".join(str(len(v)) for v in fixed.values())
            raise SpecError(
                f"block {self.name!r}: its choices give {options:,} options ({sizes}); the limit is "
                f"{MAX_BLOCK_OPTIONS:,} per block (split the block, or make a choice a stage)"
            )
        object.__setattr__(self, "choices", fixed)

    @property
    def num_options(self) -> int:
        """Distinct settings of the block's choices (their product)."""
        return math.prod(len(v) for v in self.choices.values())


@dataclass(frozen=True)
class Stage:
    """A run of blocks of which the first ``depth`` are built; ``depth`` is one of ``depths`` (a gene)."""

    name: str
    blocks: tuple[Block, ...]
    depths: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.blocks, (str, bytes)) or not isinstance(self.blocks, (Sequence, tuple)):
            raise SpecError(f"stage {self.name!r}: blocks must be a non-empty sequence of Block")
        if isinstance(self.depths, (str, bytes)) or not isinstance(self.depths, Sequence):
            raise SpecError(f"stage {self.name!r}: depths must be a sequence of integers, got {self.depths!r}")
        blocks = tuple(self.blocks)
        if not blocks or not all(isinstance(b, Block) for b in blocks):
            raise SpecError(f"stage {self.name!r}: blocks must be a non-empty sequence of Block")
        depths = tuple(positive_int(d, f"stage {self.name!r}: depth") for d in self.depths)
        if not depths or max(depths) > len(blocks) or len(set(depths)) != len(depths):
            raise SpecError(
                f"stage {self.name!r}: depths must be distinct integers in 1..{len(blocks)}, got {self.depths!r}"
            )
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "depths", depths)


@dataclass(frozen=True)
class Gene:
    """One gene: its name (``"stage2.depth"``, ``"blocks.3.kernel"``) and the values its indices stand for."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class _Slot:
    """A block placed in the space: where its genes are, and which stage gene (if any) switches it off."""

    block: Block
    genes: tuple[int, ...]  # gene columns of its choices, in the order of block.choices
    radix: tuple[int, ...]  # option index = sum(gene * radix)
    depth_gene: int  # -1 when always built
    position: int  # 0-based position in its stage: built when depth > position
    depths: tuple[int, ...]  # the stage's depth values, by gene index
    cost_slot: int = -1  # the slot whose costs this one shares (Block.same_as); its own index otherwise


Item = Union[Block, Stage]


class Blocks:
    """A space's blocks, each built once per option and input channel count (on first use), and a place for
    their costs (filled by :mod:`costmodel.search.population`)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.slots = space._slots
        self.options = [s.block.num_options for s in self.slots]
        # skippable: the stage's depth may leave the block out (its table rows then also read the depth gene)
        self.skippable = [s.depth_gene >= 0 and min(s.depths) <= s.position for s in self.slots]
        self._layers: dict[tuple[int, int], tuple[tuple[Layer, ...], ...]] = {}
        self._out: dict[tuple[int, int, int, int], tuple[int, int]] = {}  # (j, ch, size, option) -> out shape
        self.block_costs: dict[Any, dict[Any, Any]] = {}  # per convention or profile: block costs by state

    def layers(self, j: int, ch: int, option: int) -> tuple[Layer, ...]:
        """Block ``j``'s layers for ``option`` on ``ch`` input channels, from the block's own builder.

        All options of a block are built together the first time a channel count reaches it, and must differ.
        """
        built = self._layers.get((j, ch))
        if built is None:
            slot, space = self.slots[j], self.space
            seen: dict[tuple[Layer, ...], int] = {}
            for opt in range(self.options[j]):
                layers = space._block_layers(slot, opt, ch)
                if layers in seen:
                    a, b = space._values(slot, seen[layers]), space._values(slot, opt)
                    raise SpecError(
                        f"space {space.name!r}: block {slot.block.name!r} builds the same layers for {a} and "
                        f"{b} (on {ch} channels); remove one of the values"
                    )
                seen[layers] = opt
            built = self._layers[j, ch] = tuple(seen)
        return built[option]

    def walk(self, resolution: int) -> None:
        """Build every block for every (channels, size) it can receive at ``resolution`` (checks them all)."""
        states = {(self.space.in_ch, resolution)}
        for j in range(len(self.slots)):
            nxt = set(states) if self.skippable[j] else set()
            for ch, size in states:
                for option in range(self.options[j]):
                    out = (ch, size)
                    for layer in self.layers(j, ch, option):
                        out = output_shape(layer, *out)
                    nxt.add(out)
            states = nxt

    def row_terms(self, j: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """How block ``j``'s table row is read off the genes: ``state * rows + sum(genes[cols] * mults)``.

        Returns (cols, mults, rows). A block that a stage may leave out also reads the stage's depth gene:
        its rows are (depth, option) pairs, those with depth <= the block's position being "not built".
        """
        slot = self.slots[j]
        cols, mults = list(slot.genes), list(slot.radix)
        rows = self.options[j]
        if self.skippable[j]:
            cols.insert(0, slot.depth_gene)
            mults.insert(0, rows)
            rows *= len(slot.depths)
        return tuple(cols), tuple(mults), rows


class SearchSpace:
    """A space of networks, each a row of integer genes (see the module docstring for declaring one).

    Resolutions are integers (``int`` or NumPy integers), as everywhere in costmodel
    (:func:`costmodel.checks.positive_int`): ``224.0`` and ``np.float64(224.0)`` are refused, not rounded.

    Parameters
    ----------
    name : str
        The space's name (``costmodel.search_space(name)`` for a built-in one).
    items : sequence of Block or Stage
        The network, in order: a fixed stem and head are blocks without choices.
    in_ch : int
        Image channels.
    label : str
        Prefix of the built networks' names.
    min_resolution : int
        The smallest input resolution of a candidate (the built-in spaces: 32, where their five stride-2 layers
        take the map to 1x1; below it a stride-2 layer would have nothing to reduce).
    """

    def __init__(
        self, name: str, items: Sequence[Item], *, in_ch: int = 3, label: str | None = None, min_resolution: int = 1
    ) -> None:
        if not isinstance(name, str) or not name:
            raise SpecError(f"a search space needs a non-empty name, got {name!r}")
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise SpecError(f"space {name!r}: items must be a non-empty sequence of Block and Stage, got {items!r}")
        items = tuple(items)
        if not items or not all(isinstance(i, (Block, Stage)) for i in items):
            raise SpecError(f"space {name!r}: items must be a non-empty sequence of Block and Stage")
        if label is not None and not isinstance(label, str):
            raise SpecError(f"space {name!r}: label must be a string, got {label!r}")
        self.name = name
        self.label = label or name
        self.in_ch = positive_int(in_ch, "in_ch")
        self.min_resolution = positive_int(min_resolution, "min_resolution")
        self.items = items
        genes: list[Gene] = []
        slots: list[_Slot] = []

        def add_block(block: Block, depth_gene: int, position: int, depths: tuple[int, ...]) -> None:
            if block.same_as is not None:
                source = next((k for k, s in enumerate(slots) if s.block.name == block.same_as), None)
                if source is None or depth_gene >= 0 or slots[source].depth_gene >= 0:
                    raise SpecError(
                        f"space {name!r}: block {block.name!r} is the same as {block.same_as!r}, which must be an "
                        "earlier block outside a stage"
                    )
                src = slots[source]
                repeat = replace(block, choices=src.block.choices, same_as=None)
                slots.append(_Slot(repeat, src.genes, src.radix, -1, 0, (), src.cost_slot))
                return
            cols, sizes = [], []
            for key, values in block.choices.items():
                cols.append(len(genes))
                sizes.append(len(values))
                genes.append(Gene(f"{block.name}.{key}", tuple(values)))
            radix = tuple(math.prod(sizes[i + 1 :]) for i in range(len(sizes)))
            slots.append(_Slot(block, tuple(cols), radix, depth_gene, position, depths, len(slots)))

        for item in items:
            if isinstance(item, Block):
                add_block(item, -1, 0, ())
            else:
                depth_gene = len(genes)
                genes.append(Gene(f"{item.name}.depth", item.depths))
                for position, block in enumerate(item.blocks):
                    add_block(block, depth_gene, position, item.depths)
        self.genes: tuple[Gene, ...] = tuple(genes)
        self._slots: tuple[_Slot, ...] = tuple(slots)
        self.blocks = Blocks(self)  # each block built once per option and input channels, on first use

    # ---------------------------------------------------------------- genes
    @property
    def num_genes(self) -> int:
        return len(self.genes)

    @property
    def gene_dtype(self) -> str:
        """The smallest integer dtype that holds every gene index ("int8" unless a choice has > 127 values)."""
        top = max(self.gene_sizes, default=1) - 1
        return next(d for d, limit in (("int8", 127), ("int16", 32767), ("int32", 2**31 - 1)) if top <= limit)

    @property
    def gene_sizes(self) -> tuple[int, ...]:
        """Number of values of each gene (gene ``i`` takes the indices ``0 .. gene_sizes[i] - 1``)."""
        return tuple(len(g.values) for g in self.genes)

    def check_genes(self, genes: object) -> np.ndarray:
        """``genes`` as an integer array of shape (n, num_genes) (its own integer dtype), every index in range;
        else a :class:`SpecError` naming the first bad gene.

        A single candidate (shape ``(num_genes,)``) becomes shape ``(1, num_genes)``.
        """
        import numpy as np

        try:
            arr = np.asarray(genes)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"space {self.name!r}: genes must be an integer array: {exc}") from None
        shape = arr.shape
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.num_genes:
            raise SpecError(f"space {self.name!r}: genes must have shape (n, {self.num_genes}), got {shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise SpecError(f"space {self.name!r}: genes must be integers, got dtype {arr.dtype}")
        if arr.size:
            sizes = np.asarray(self.gene_sizes)
            if arr.min(axis=0).min() < 0 or (arr.max(axis=0) >= sizes).any():
                bad = (arr < 0) | (arr >= sizes)
                row, col = map(int, np.argwhere(bad)[0])
                raise SpecError(
                    f"space {self.name!r}: gene {col} ({self.genes[col].name}) of candidate {row} is "
                    f"{int(arr[row, col])}, must be in 0..{self.gene_sizes[col] - 1}"
                )
        return arr

    def check_resolution(self, resolution: object) -> int:
        """``resolution`` as an ``int`` if it is an integer from :attr:`min_resolution` to
        :data:`~costmodel.checks.MAX_SIZE`, else a :class:`SpecError` naming it."""
        r = positive_int(resolution, "resolution")
        if r < self.min_resolution:
            raise SpecError(f"space {self.name!r}: resolution must be >= {self.min_resolution}, got {r}")
        return r

    def _check_draw(self, n: int, bytes_per_gene: int, what: str) -> None:
        """Refuse a draw of ``n`` candidates whose arrays would not fit the memory limit, before drawing."""
        check_memory(n * self.num_genes * bytes_per_gene, what, hint="draw fewer candidates per call")

    def sample(self, n: int, seed: Seed = 0) -> np.ndarray:
        """``n`` candidates drawn uniformly, gene by gene: an array of shape (n, num_genes) and
        :attr:`gene_dtype` (int8 for the built-in spaces: 10^6 OFA candidates take 45 MB).

        ``seed``: an integer >= 0 (the same candidates every time), ``None`` (fresh entropy) or a
        :class:`numpy.random.Generator` (drawn from). A draw whose arrays would not fit the memory limit
        (:func:`costmodel.reference.limits.memory_limit`) is refused before it starts.

        Examples
        --------
        >>> import costmodel
        >>> costmodel.search_space("mobilenet_v1").sample(2, seed=1).shape
        (2, 27)
        """
        import numpy as np

        n = 0 if type(n) is int and n == 0 else positive_int(n, "n")
        generator = rng(seed)
        itemsize = np.dtype(self.gene_dtype).itemsize
        self._check_draw(n, 2 * itemsize, f"sampling {n:,} candidates of {self.num_genes} genes")
        out: np.ndarray = generator.integers(
            0, np.asarray(self.gene_sizes), size=(n, self.num_genes), dtype=self.gene_dtype
        )
        return out

    def active(self, genes: object) -> np.ndarray:
        """Boolean array, shape (n, num_genes): which genes the candidate's network depends on."""
        import numpy as np

        arr = self.check_genes(genes)
        mask = np.ones(arr.shape, dtype=bool)
        for slot in self._slots:
            if slot.depth_gene >= 0 and slot.genes:
                depth = np.asarray(slot.depths)[arr[:, slot.depth_gene]]
                mask[:, list(slot.genes)] = (depth > slot.position)[:, None]
        return mask

    def canonical(self, genes: object) -> np.ndarray:
        """The genes with every inactive gene set to 0: equal rows are the same network.

        >>> import numpy as np, costmodel
        >>> s = costmodel.search_space("ofa_mobilenet_v3")
        >>> g = s.sample(1000, seed=0)
        >>> len(np.unique(s.canonical(g), axis=0)) <= len(np.unique(g, axis=0))
        True
        """
        arr = self.check_genes(genes)
        canonical: np.ndarray = arr * self.active(arr)
        return canonical

    def key(self, genes: object) -> tuple[int, ...]:
        """The canonical key of one candidate: a hashable tuple of ints (inactive genes 0)."""
        arr = self.canonical(genes)
        if arr.shape[0] != 1:
            raise SpecError(f"space {self.name!r}: key() takes one candidate, got {arr.shape[0]}")
        return tuple(int(v) for v in arr[0])

    def decode(self, genes: object) -> dict[str, Any]:
        """The values one candidate's active genes stand for, by gene name (inactive genes left out)."""
        arr = self.check_genes(genes)
        if arr.shape[0] != 1:
            raise SpecError(f"space {self.name!r}: decode() takes one candidate, got {arr.shape[0]}")
        act = self.active(arr)[0]
        return {g.name: g.values[int(i)] for g, i, a in zip(self.genes, arr[0], act, strict=True) if a}

    # ---------------------------------------------------------------- networks
    def _option(self, slot: _Slot, row: Sequence[int]) -> int | None:
        """The block's option index for one candidate's genes, or None when the block is not built."""
        if slot.depth_gene >= 0 and slot.depths[row[slot.depth_gene]] <= slot.position:
            return None
        return sum(int(row[g]) * r for g, r in zip(slot.genes, slot.radix, strict=True))

    def _values(self, slot: _Slot, option: int) -> dict[str, Any]:
        out = {}
        for (key, values), r in zip(slot.block.choices.items(), slot.radix, strict=True):
            out[key] = values[(option // r) % len(values)]
        return out

    def _block_layers(self, slot: _Slot, option: int, in_ch: int) -> tuple[Layer, ...]:
        layers = slot.block.build(in_ch, **self._values(slot, option))
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
            raise SpecError(f"block {slot.block.name!r}: build must return a non-empty sequence of layers")
        return tuple(layers)

    def build(self, genes: object, resolution: int = 224) -> Network:
        """The network of one candidate at ``resolution`` x ``resolution``.

        Examples
        --------
        >>> import costmodel
        >>> s = costmodel.search_space("mobilenet_v1")
        >>> net = s.build(s.sample(1)[0], resolution=161)
        >>> net.input_size, net.nodes[-1].out_ch
        (161, 1000)
        """
        resolution = self.check_resolution(resolution)
        arr = self.check_genes(genes)
        if arr.shape[0] != 1:
            raise SpecError(f"space {self.name!r}: build() takes one candidate, got {arr.shape[0]}")
        blocks = self.blocks
        row = arr[0].tolist()
        layers: list[Layer] = []
        ch, size = self.in_ch, resolution
        for j, slot in enumerate(self._slots):
            option = self._option(slot, row)
            if option is None:
                continue
            built = blocks.layers(j, ch, option)
            layers += built
            key = (j, ch, size, option)
            out = blocks._out.get(key)
            if out is None:
                out = (ch, size)
                for layer in built:
                    out = output_shape(layer, *out)
                blocks._out[key] = out
            ch, size = out  # the block after this one is built on ``ch``
        return Network(
            layers,
            input_size=resolution,
            in_ch=self.in_ch,
            name=f"{self.label} candidate",
            config={"space": self.name, "genes": row, "resolution": resolution},
        )

    # ---------------------------------------------------------------- counting architectures
    def size(self) -> int:
        """The number of distinct architectures (an exact integer; inactive genes do not count).

        Examples
        --------
        >>> import costmodel
        >>> costmodel.search_space("ofa_mobilenet_v3").size() == (9**2 + 9**3 + 9**4) ** 5
        True
        """
        self.blocks.walk(224)  # builds every block once: each choice must build a different block
        total = 1
        for item in self.items:
            if isinstance(item, Block):
                total *= item.num_options
            else:
                total *= sum(math.prod(b.num_options for b in item.blocks[:d]) for d in item.depths)
        return total

    # ---------------------------------------------------------------- evolution
    def mutate(self, genes: object, rate: float = 0.1, seed: Seed = None) -> np.ndarray:
        """A copy of ``genes`` in which each gene is redrawn uniformly with probability ``rate``.

        A redrawn gene may come back unchanged; inactive genes are redrawn too (they stay harmless).

        ``seed``: ``None`` (the default: fresh entropy, a different mask on every call, as an evolutionary loop
        needs), an integer >= 0 (the same mask every time) or a :class:`numpy.random.Generator` (drawn from:
        pass one generator to every call for a loop that is random yet reproducible).
        """
        import numpy as np

        arr = self.check_genes(genes)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise SpecError(f"rate must be a number in [0, 1], got {rate!r}")
        generator = rng(seed)
        self._check_draw(len(arr), 16, f"mutating {len(arr):,} candidates")  # redrawn genes, uniforms, mask, copy
        fresh = generator.integers(0, np.asarray(self.gene_sizes), size=arr.shape, dtype=self.gene_dtype)
        return np.where(generator.random(arr.shape) < rate, fresh, arr).astype(self.gene_dtype, copy=False)

    def crossover(self, a: object, b: object, seed: Seed = None) -> np.ndarray:
        """Uniform crossover: each gene of each child from ``a`` or ``b`` (same shape) with probability 1/2.

        ``seed`` as in :meth:`mutate` (default ``None``: fresh entropy).
        """
        import numpy as np

        a, b = self.check_genes(a), self.check_genes(b)
        if a.shape != b.shape:
            raise SpecError(f"crossover needs parents of the same shape, got {a.shape} and {b.shape}")
        generator = rng(seed)
        self._check_draw(len(a), 16, f"crossing {len(a):,} pairs of candidates")  # uniforms, mask, child
        return np.where(generator.random(a.shape) < 0.5, a, b).astype(self.gene_dtype, copy=False)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, {self.num_genes} genes)"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the compiled blocks and their costs (a worker compiles its own, on first use); a
        builder that cannot be pickled (a lambda, a local function) is a :class:`SpecError` naming its block."""
        for slot in self._slots:
            build = slot.block.build
            func = getattr(build, "func", build)  # functools.partial: the function it binds
            qualname = getattr(func, "__qualname__", "")
            if "<lambda>" in qualname or "<locals>" in qualname:
                raise SpecError(
                    f"space {self.name!r}, block {slot.block.name!r}: its builder {qualname} is a lambda or a local "
                    "function, which cannot be pickled (a process pool sends the space to its workers); declare it "
                    "at module level and bind its fixed arguments with functools.partial"
                )
        state = dict(self.__dict__)
        del state["blocks"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.blocks = Blocks(self)


def choice_values(values: object, what: str, check: Callable[[Any], Any]) -> tuple[Any, ...]:
    """``values`` as a tuple, each passed through ``check``; a :class:`SpecError` unless non-empty and distinct."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise SpecError(f"{what} must be a non-empty sequence, got {values!r}")
    out = tuple(check(v) for v in values)
    if len(set(out)) != len(out):
        raise SpecError(f"{what} must be distinct, got {values!r}")
    return out


def odd_kernel(value: object) -> int:
    """An odd positive kernel size (a depthwise kernel choice)."""
    k = positive_int(value, "kernel")
    if k % 2 == 0:
        raise SpecError(f"kernel must be odd, got {value!r}")
    return k
