"""The search-space base class: decisions, exact size, sampling, validation, moves, lowering.

Two views of a space, one mapping. A space's author writes its structure (cells, stages,
blocks) once, as an ordered tuple of :class:`~archspace.space.Decision` objects plus a
``lower`` method turning an :class:`~archspace.space.Arch` into the network IR. Search
algorithms see only the flat decision list (names, choices, which are active); :meth:`Space.lower`
maps any point of it back to a network. Nothing here imports torch.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import itertools
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.cost.chain import ChainProfiler
from archspace.cost.profile import Profile, profile_graph
from archspace.cost.segments import profile_segments
from archspace.cost.tinyengine import check_memory_model
from archspace.errors import ArchError, SpaceError
from archspace.inputs import load_json
from archspace.ir.blocks import Block
from archspace.ir.graph import Graph, IRError
from archspace.ir.segments import SegmentGraph
from archspace.limits import MAX_RESOLUTION
from archspace.space.arch import Arch
from archspace.space.decision import Decision, Value
from archspace.space.diagram import Diagram, DiagramEdge, DiagramNode
from archspace.space.params import CLASSES, RESOLUTION, Limit, check_params, limits

#: Profiles each space remembers (least recently used dropped first); about 1 kB each.
PROFILE_CACHE_SIZE = 100_000

if TYPE_CHECKING:
    from torch import nn

    from archspace.supernet import Supernet

__all__ = ["ChainSpace", "Space", "as_rng"]

Rng = random.Random | int | None


def as_rng(seed_or_rng: Rng) -> random.Random:
    """A ``random.Random`` from a seed, an existing generator, or None (fresh entropy)."""
    if isinstance(seed_or_rng, random.Random):
        return seed_or_rng
    if seed_or_rng is None or isinstance(seed_or_rng, int):
        return random.Random(seed_or_rng)
    raise TypeError(f"expected an int seed or random.Random, got {type(seed_or_rng).__name__}")


class Space:
    """Base class of every search space.

    Subclasses set :attr:`name`, :attr:`kind`, :attr:`paper`, call :meth:`_set_decisions` in
    ``__init__`` and implement :meth:`_lower`. Spaces with cross-decision constraints override
    :meth:`_violation` and :meth:`size`.
    """

    name: ClassVar[str] = "space"
    kind: ClassVar[str] = "custom"
    paper: ClassVar[str] = ""
    default_resolution: int = 32
    #: Profile by lowering into a SegmentGraph (ops marked ``@segment`` lowered once each).
    segment_profile: ClassVar[bool] = False
    in_channels: int = 3
    num_classes: int = 10
    min_resolution: int = 8
    resolution_step: int = 1
    #: Parameters the user set (those differing from their defaults, plus any named to
    #: :func:`~archspace.spaces.get_space` even at their default value).
    explicit_params: frozenset[str] = frozenset()
    #: Allowed values of numeric constructor parameters (see :mod:`archspace.space.params`);
    #: a subclass extends it as ``limits(Space.param_limits, B=count_up_to(100))``.
    param_limits: ClassVar[Mapping[str, Limit]] = limits({}, resolution=RESOLUTION,
                                                         num_classes=CLASSES)
    #: Glob patterns of the decisions that pick the op of a cell edge (:meth:`edges`; few-shot
    #: NAS splits a supernet on one of them); empty for a space without cell edges.
    edge_patterns: ClassVar[tuple[str, ...]] = ()

    decisions: tuple[Decision, ...]
    params: dict[str, Any]

    # -- construction ----------------------------------------------------------------------
    def _record_params(self, **given: Any) -> None:
        """Check the constructor arguments (see :mod:`archspace.space.params`) and remember
        those that differ from their defaults (for labels and JSON)."""
        sig = inspect.signature(type(self).__init__)
        defaults = {k: p.default for k, p in sig.parameters.items()
                    if p.default is not inspect.Parameter.empty}
        check_params(self.name, given, defaults, self.param_limits)
        self.params = {k: v for k, v in given.items() if sig.parameters[k].default != v}
        self.explicit_params = frozenset(self.params)

    def _set_decisions(self, decisions: Iterable[Decision]) -> None:
        ds = tuple(decisions)
        names = tuple(d.name for d in ds)
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise SpaceError(f"space {self.name!r} repeats decision names {dup}")
        pos = {n: i for i, n in enumerate(names)}
        parents: list[int] = []
        for i, d in enumerate(ds):
            if d.when is None:
                parents.append(-1)
                continue
            p = pos.get(d.when[0], -1)
            if p < 0 or p >= i:
                raise SpaceError(f"decision {d.name!r} depends on {d.when[0]!r}, "
                                 "which must be an earlier decision")
            parents.append(p)
        self.decisions = ds
        self.names = names
        self._pos = pos
        self._parents = tuple(parents)
        kinds: list[dict[Any, type]] = []  # per decision, each choice's type (the first of equals)
        for d in ds:
            kind: dict[Any, type] = {}
            for c in d.choices:
                kind.setdefault(c, type(c))
            kinds.append(kind)
        self._choice_types = tuple(kinds)
        if not hasattr(self, "params"):
            self.params = {}

    @property
    def label(self) -> str:
        """The space's name with its non-default parameters, e.g. ``nasnet(B=3)``."""
        inner = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({inner})" if inner else self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}: {len(self.decisions)} decisions>"

    # -- structure -------------------------------------------------------------------------
    def edges(self) -> list[str]:
        """Names of the decisions that pick the op of a cell edge (those matching
        :attr:`edge_patterns`), in decision order; empty for a space without cell edges."""
        return [n for n in self.names
                if any(fnmatch.fnmatchcase(n, p) for p in self.edge_patterns)]

    def decision(self, name: str) -> Decision:
        """The decision called ``name``."""
        try:
            return self.decisions[self._pos[name]]
        except KeyError:
            raise ArchError(f"space {self.label} has no decision {name!r}; it has "
                            f"{_preview(self.names)}") from None

    def _active(self, i: int, values: Sequence[Value | None]) -> bool:
        p = self._parents[i]
        if p < 0:
            return True
        cond = self.decisions[i].when
        assert cond is not None
        return values[p] is not None and values[p] in cond[1]

    def active(self, arch: Arch) -> list[str]:
        """Names of the decisions active in ``arch``."""
        return [n for n, v in arch.items() if v is not None]

    # -- size ------------------------------------------------------------------------------
    def size(self) -> int:
        """Exact number of architectures (conditional decisions counted exactly)."""
        children: dict[int, list[int]] = {}
        for i, p in enumerate(self._parents):
            children.setdefault(p, []).append(i)

        def count(i: int) -> int:
            total = 0
            d = self.decisions[i]
            for v in d.choices:
                n = 1
                for c in children.get(i, ()):
                    cond = self.decisions[c].when
                    assert cond is not None
                    if v in cond[1]:
                        n *= count(c)
                total += n
            return total

        n = 1
        for root in children.get(-1, ()):
            n *= count(root)
        return n

    # -- sampling and moves ----------------------------------------------------------------
    def _fill(self, values: list[Value | None], rng: random.Random, start: int = 0,
              keep: bool = False) -> None:
        """Sample every active decision from ``start`` on (keep existing values if asked)."""
        for i in range(start, len(values)):
            if not self._active(i, values):
                values[i] = None
            elif not (keep and values[i] is not None):
                values[i] = rng.choice(self.decisions[i].choices)

    def sample(self, seed_or_rng: Rng = None) -> Arch:
        """An architecture drawn uniformly over each active decision."""
        rng = as_rng(seed_or_rng)
        for _ in range(10_000):
            values: list[Value | None] = [None] * len(self.decisions)
            self._fill(values, rng)
            if self._violation(values) is None:
                return Arch(self.names, tuple(values))
        raise SpaceError(f"space {self.label}: could not sample an architecture satisfying "
                         "its constraints in 10000 tries")

    def mutate(self, arch: Arch, seed_or_rng: Rng = None) -> Arch:
        """Change one active decision to another of its choices (newly active decisions are
        sampled, deactivated ones cleared)."""
        rng = as_rng(seed_or_rng)
        self.validate(arch)
        movable = [i for i, v in enumerate(arch.values)
                   if v is not None and len(self.decisions[i].choices) > 1]
        if not movable:
            return arch
        for _ in range(1000):
            i = rng.choice(movable)
            values = list(arch.values)
            values[i] = rng.choice([c for c in self.decisions[i].choices if c != values[i]])
            self._fill(values, rng, i + 1, keep=True)
            if self._violation(values) is None:
                return Arch(self.names, tuple(values))
        return arch

    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every architecture one decision away (newly active decisions take their first
        choice), in decision order."""
        self.validate(arch)
        out = []
        for i, v in enumerate(arch.values):
            if v is None:
                continue
            for c in self.decisions[i].choices:
                if c == v:
                    continue
                values = list(arch.values)
                values[i] = c
                for j in range(i + 1, len(values)):
                    if not self._active(j, values):
                        values[j] = None
                    elif values[j] is None:
                        values[j] = self.decisions[j].choices[0]
                if self._violation(values) is None:
                    out.append(Arch(self.names, tuple(values)))
        return out

    def enumerate(self, limit: int = 10_000_000) -> Iterator[Arch]:
        """Every architecture, in lexicographic order of choice indices."""
        if self.size() > limit:
            raise SpaceError(f"space {self.label} has {self.size()} architectures; "
                             f"enumerate() allows at most {limit}")
        n = len(self.decisions)

        def rec(i: int, values: list[Value | None]) -> Iterator[Arch]:
            if i == n:
                if self._violation(values) is None:
                    yield Arch(self.names, tuple(values))
                return
            if not self._active(i, values):
                values[i] = None
                yield from rec(i + 1, values)
                return
            for c in self.decisions[i].choices:
                values[i] = c
                yield from rec(i + 1, values)
            values[i] = None

        yield from rec(0, [None] * n)

    # -- validation ------------------------------------------------------------------------
    def _violation(self, values: Sequence[Value | None]) -> str | None:
        """A message if ``values`` break a cross-decision constraint (none by default)."""
        return None

    def _valid_values(self, values: Sequence[Value | None]) -> bool:
        """Whether ``values`` pass :meth:`validate`'s per-decision checks (a dictionary lookup
        per decision; the loop in :meth:`validate` then finds what is wrong)."""
        parents, kinds = self._parents, self.__dict__.get("_choice_types")
        if kinds is None:  # decisions not set through _set_decisions
            return False
        try:
            for i, v in enumerate(values):
                if parents[i] < 0 or self._active(i, values):
                    if v is None or type(v) is not kinds[i].get(v):
                        return False
                elif v is not None:
                    return False
        except TypeError:  # an unhashable value
            return False
        return True

    def validate(self, arch: Arch) -> Arch:
        """Return ``arch`` if it belongs to this space, else raise :class:`ArchError` naming
        the decision, the bad value and the allowed values."""
        if arch.names != self.names:
            if set(arch.names) != set(self.names):
                extra = sorted(set(arch.names) - set(self.names))
                missing = sorted(set(self.names) - set(arch.names))
                raise ArchError(f"arch does not match space {self.label}: unknown decisions "
                                f"{_preview(extra)}, missing {_preview(missing)}")
            arch = Arch(self.names, tuple(arch[n] for n in self.names))
        if self._valid_values(arch.values):
            msg = self._violation(arch.values)
            if msg:
                raise ArchError(f"arch violates a constraint of {self.label}: {msg}")
            return arch
        for i, (d, v) in enumerate(zip(self.decisions, arch.values, strict=True)):
            if self._active(i, arch.values):
                if v is None:
                    raise ArchError(f"decision {d.name!r} is missing; allowed: {d.describe()}")
                if v not in d.choices or type(v) is not type(d.choices[d.choices.index(v)]):
                    raise ArchError(f"decision {d.name!r} has value {v!r}; allowed: {d.describe()}")
            elif v is not None:
                raise ArchError(f"decision {d.name!r} is inactive here (it needs {d.when[0]!r} "  # type: ignore[index]
                                f"in {sorted(map(str, d.when[1]))}) but has value {v!r}")  # type: ignore[index]
        msg = self._violation(arch.values)
        if msg:
            raise ArchError(f"arch violates a constraint of {self.label}: {msg}")
        return arch

    def make(self, values: Mapping[str, Any]) -> Arch:
        """A validated arch from a mapping of (active) decision names to values.

        Values may be given as strings (as on a command line) and are matched to the choices'
        string forms.
        """
        unknown = [k for k in values if k not in self._pos]
        if unknown:
            raise ArchError(f"unknown decision {unknown[0]!r} in space {self.label}; decisions: "
                            f"{_preview(self.names)}")
        out: list[Value | None] = []
        for i, d in enumerate(self.decisions):
            if d.name in values and self._active(i, out):
                out.append(_coerce(d, values[d.name]))
            elif d.name in values and values[d.name] is not None:
                raise ArchError(f"decision {d.name!r} is inactive here but was given "
                                f"{values[d.name]!r}")
            else:
                out.append(None)
        return self.validate(Arch(self.names, tuple(out)))

    # -- string and JSON forms -------------------------------------------------------------
    def format_arch(self, arch: Arch) -> str:
        """Canonical one-line string: ``name=value`` for active decisions, comma separated."""
        return ",".join(f"{n}={v}" for n, v in arch.items() if v is not None)

    def parse_arch(self, text: str) -> Arch:
        """Inverse of :meth:`format_arch` (raises :class:`ArchError` on malformed input)."""
        text = text.strip()
        if not text:
            raise ArchError(f"empty arch string; expected {self.arch_format_hint()}")
        values: dict[str, str] = {}
        for tok in text.split(","):
            name, eq, value = tok.partition("=")
            if not eq or not name or not value:
                raise ArchError(f"malformed arch token {tok!r}; expected {self.arch_format_hint()}")
            if name in values:
                raise ArchError(f"decision {name!r} given twice in arch string")
            values[name] = value
        return self.make(values)

    def arch_format_hint(self) -> str:
        """How an arch string of this space looks, for error messages."""
        first = self.decisions[0]
        return f"comma-separated name=value pairs, e.g. {first.name}={first.choices[0]}"

    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        """JSON form: ``{"space": name, "params": {...}, "arch": string, "decisions": {...}}``."""
        return {"space": self.name, "params": dict(self.params),
                "arch": self.format_arch(arch), "decisions": arch.to_dict()}

    def arch_from_json(self, obj: str | Mapping[str, Any]) -> Arch:
        """Inverse of :meth:`arch_to_json`; also takes a bare ``{decision: value}`` mapping."""
        if isinstance(obj, str):
            obj = load_json(obj, "arch JSON", ArchError)
        if not isinstance(obj, Mapping):
            raise ArchError("arch JSON must be an object")
        if "decisions" in obj:
            if obj.get("space", self.name) != self.name:
                raise ArchError(f"arch JSON is for space {obj.get('space')!r}, not {self.name!r}")
            decisions = obj["decisions"]
            if not isinstance(decisions, Mapping):
                raise ArchError("arch JSON 'decisions' must be an object")
            return self.make(decisions)
        return self.make(obj)

    def to_indices(self, arch: Arch) -> tuple[int, ...]:
        """Choice index of each decision (-1 when inactive): the vector strategies use."""
        return tuple(-1 if v is None else d.choices.index(v)
                     for d, v in zip(self.decisions, arch.values, strict=True))

    def from_indices(self, indices: Sequence[int]) -> Arch:
        """Inverse of :meth:`to_indices` (validated)."""
        if len(indices) != len(self.decisions):
            raise ArchError(f"expected {len(self.decisions)} indices, got {len(indices)}")
        values: list[Value | None] = []
        for d, k in zip(self.decisions, indices, strict=True):
            if k < 0:
                values.append(None)
            elif k >= len(d.choices):
                raise ArchError(f"index {k} out of range for decision {d.name!r} "
                                f"({len(d.choices)} choices)")
            else:
                values.append(d.choices[k])
        return self.validate(Arch(self.names, tuple(values)))

    # -- named architectures ---------------------------------------------------------------
    def named_archs(self) -> dict[str, Arch]:
        """Reference architectures of the paper that are points of this space."""
        return {}

    def named(self, name: str) -> Arch:
        """The named reference architecture ``name``."""
        archs = self.named_archs()
        if name not in archs:
            allowed = ", ".join(archs) or "none"
            raise ArchError(f"space {self.label} has no named arch {name!r}; named archs: {allowed}")
        return archs[name]

    def named_params(self, name: str) -> dict[str, Any]:
        """The space parameters under which the named arch ``name`` is the paper's network
        (e.g. a width and resolution of a family); none by default."""
        self.named(name)
        return {}

    def named_space(self, name: str) -> Space:
        """This space with :meth:`named_params` of ``name`` applied (parameters the user set
        explicitly win), so that ``named_space(n).profile(named(n))`` is the paper's network."""
        wanted = self.named_params(name)
        if not wanted:
            return self
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        user = {k: self.params.get(k, defaults.get(k)) for k in self.explicit_params}
        params = {**defaults, **self.params, **wanted, **user}
        space = type(self)(**{k: v for k, v in params.items() if k in defaults})
        space.explicit_params = frozenset(self.explicit_params | set(wanted))
        return space

    # -- restriction -----------------------------------------------------------------------
    def restrict(self, allowed: Mapping[str, Iterable[Any]] | None = None,
                 exclude: Mapping[str, Iterable[Any]] | None = None) -> Space:
        """A sub-space keeping fewer choices for some decisions.

        Keys are decision names or glob patterns (``"*"``, ``"normal.*.op*"``); values are the
        choices to keep (``allowed``) or drop (``exclude``), compared by their string forms.
        """
        decisions = list(self.decisions)
        for mapping, keep in ((allowed or {}, True), (exclude or {}, False)):
            for pattern, values in mapping.items():
                wanted = {str(v) for v in values}
                hits = [i for i, d in enumerate(decisions) if fnmatch.fnmatchcase(d.name, pattern)]
                if not hits:
                    raise SpaceError(f"restriction {pattern!r} matches no decision of "
                                     f"{self.label}; decisions: {_preview(self.names)}")
                known = {str(c) for i in hits for c in decisions[i].choices}
                if wanted - known:
                    raise SpaceError(f"restriction {pattern!r}: unknown choices "
                                     f"{sorted(wanted - known)}; allowed: {sorted(known)}")
                for i in hits:
                    d = decisions[i]
                    kept = [c for c in d.choices if (str(c) in wanted) == keep]
                    if not kept:
                        raise SpaceError(f"restriction {pattern!r} leaves decision {d.name!r} "
                                         f"with no choices; it has {d.describe()}")
                    decisions[i] = d.with_choices(kept)
        sub = copy.copy(self)
        for cached in ("_profile_cache", "_latency_cache"):  # the parent's hits would skip the
            sub.__dict__.pop(cached, None)                 # sub-space's checks
        sub._set_decisions(decisions)
        return sub

    # -- drawing ---------------------------------------------------------------------------
    def diagram(self, arch: Arch) -> Diagram:
        """A picture of ``arch`` for :mod:`archspace.plots.draw` (default: its decisions)."""
        arch = self.validate(arch)
        nodes = tuple(DiagramNode(n, f"{n}\n{v}") for n, v in arch.items() if v is not None)
        return Diagram("strip", f"{self.label}", nodes)

    # -- equivalence -----------------------------------------------------------------------
    def canonical(self, arch: Arch) -> Arch:
        """The representative of the archs that compute the same function as ``arch``.

        Spaces whose encoding has redundancy (a cell edge whose output is never used, two
        interchangeable nodes) override this; searching one representative per class saves the
        evaluations that would train the same network twice. By default every arch is its own
        class. Equivalent archs compute the same function but need not cost the same: a dead
        edge may still hold parameters, and the order of computation sets peak memory.
        """
        return arch

    def has_equivalences(self) -> bool:
        """Whether :meth:`canonical` merges archs in this space."""
        return type(self).canonical is not Space.canonical

    def distinct_size(self) -> int:
        """Number of functionally distinct architectures: classes of :meth:`canonical` (the
        space is enumerated when it has equivalences)."""
        if not self.has_equivalences():
            return self.size()
        return len({self.canonical(a) for a in self.enumerate()})

    def size_formulas(self) -> dict[str, int]:
        """Alternative, published size formulas (e.g. a lecture's simplified count)."""
        return {}

    # -- lowering, building, cost ----------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the input at the space's default resolution."""
        r = self.default_resolution
        return (self.in_channels, r, r)

    def check_resolution(self, resolution: int | None) -> int:
        """The resolution to use; raises :class:`SpaceError` for one the space can't take."""
        if resolution is None:
            return self.default_resolution
        if (isinstance(resolution, bool) or not isinstance(resolution, int)
                or not self.min_resolution <= resolution <= MAX_RESOLUTION
                or resolution % self.resolution_step):
            step = f" in steps of {self.resolution_step}" if self.resolution_step > 1 else ""
            shown = resolution if isinstance(resolution, int) and abs(resolution) < 10**20 \
                else "(too large)" if isinstance(resolution, int) else repr(resolution)
            raise SpaceError(f"space {self.label} cannot take resolution {shown}; allowed: "
                             f"integers in {self.min_resolution}..{MAX_RESOLUTION}{step}")
        return resolution

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        """Append the network for ``arch`` at ``resolution`` to the empty graph ``g``."""
        raise NotImplementedError(f"space {self.name} does not define its network")

    def lower(self, arch: Arch, resolution: int | None = None) -> Graph:
        """The network IR of ``arch`` (validated) at ``resolution``."""
        arch = self.validate(arch)
        r = self.check_resolution(resolution)
        g = Graph()
        try:
            self._lower(arch, g, r)
        except IRError as e:
            raise SpaceError(f"space {self.label} cannot build this arch at resolution {r}: "
                             f"{e}") from None
        return g

    def build(self, arch: Arch, resolution: int | None = None) -> nn.Module:
        """A runnable PyTorch module for ``arch`` (imports torch)."""
        from archspace.nn import build_module

        return build_module(self.lower(arch, resolution))

    def supernet(self, resolution: int | None = None, **options: Any) -> Supernet:
        """The weight-sharing supernet of this space (imports torch; see
        :func:`archspace.supernet.build_supernet`, which takes the ``options``)."""
        from archspace.supernet import build_supernet

        return build_supernet(self, resolution, **options)

    def profile(self, arch: Arch, resolution: int | None = None, detail: bool = False,
                act_bytes: int = 1, memory_model: str = "mcunet") -> Profile:
        """Analytic cost of ``arch``: params, MACs, peak SRAM and flash bytes; ``memory_model``
        ``tinyengine`` counts SRAM and flash as TinyEngine does (see docs/cost-model.md).

        Profiles under the default model without ``detail`` are remembered per space in a
        bounded LRU cache (:data:`PROFILE_CACHE_SIZE` entries), so an arch seen before costs
        one lookup; the cached value is the one computed the first time, so the numbers never
        change. TinyEngine places tensors over the whole network, so it profiles the whole
        graph.
        """
        if detail or check_memory_model(memory_model) != "mcunet":
            return profile_graph(self.lower(arch, resolution), act_bytes, detail, memory_model)
        cache: OrderedDict[tuple[Arch, int | None, int], Profile] = \
            self.__dict__.setdefault("_profile_cache", OrderedDict())
        key = (arch, resolution, act_bytes)
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        prof = self._profile(arch, resolution, act_bytes)
        cache[key] = prof
        if len(cache) > PROFILE_CACHE_SIZE:
            cache.popitem(last=False)
        return prof

    def _profile(self, arch: Arch, resolution: int | None, act_bytes: int) -> Profile:
        """The profile without the per-arch cache (spaces with a faster path override it).

        With :attr:`segment_profile` the arch is lowered into a
        :class:`~archspace.ir.segments.SegmentGraph`, whose segments (ops built by functions
        marked :func:`~archspace.ir.segments.segment`) are lowered once per signature.
        """
        if not self.segment_profile:
            return profile_graph(self.lower(arch, resolution), act_bytes)
        arch = self.validate(arch)
        r = self.check_resolution(resolution)
        g = SegmentGraph(self.__dict__.setdefault("_segment_cache", {}))
        try:
            self._lower(arch, g, r)
        except IRError as e:
            raise SpaceError(f"space {self.label} cannot build this arch at resolution {r}: "
                             f"{e}") from None
        return profile_segments(g, act_bytes)


class ChainSpace(Space):
    """A space whose networks are chains of hashable blocks; profiling reuses block costs.

    Subclasses implement :meth:`blocks` instead of ``_lower``.
    """

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        """The chain of blocks for ``arch`` (stem to classifier)."""
        raise NotImplementedError(f"space {self.name} does not define its blocks")

    def diagram(self, arch: Arch) -> Diagram:
        """The chain as a strip of blocks, labelled by their settings."""
        arch = self.validate(arch)
        nodes = tuple(DiagramNode(f"b{k}", _block_label(b))
                      for k, b in enumerate(self.blocks(arch, self.default_resolution)))
        edges = tuple(DiagramEdge(a.id, b.id) for a, b in itertools.pairwise(nodes))
        return Diagram("strip", self.label, nodes, edges)

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        """The chain as (scope name, block) pairs; the names become the IR nodes' prefixes.

        By default block ``k`` is ``b<k>``. A space whose depth is searched names its blocks by
        position (``s1.b0``: stage 1, block 0), so a block keeps its name whatever the depths of
        earlier stages, which is what a weight-sharing supernet keys its weights by (see
        :mod:`archspace.supernet`).
        """
        return [(f"b{k}", b) for k, b in enumerate(self.blocks(arch, resolution))]

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        for scope, block in self.named_blocks(arch, resolution):
            with g.scope(scope):
                x = block.lower(g, x)

    def _profile(self, arch: Arch, resolution: int | None, act_bytes: int) -> Profile:
        arch = self.validate(arch)
        r = self.check_resolution(resolution)
        profilers: dict[int, ChainProfiler] = self.__dict__.setdefault("_profilers", {})
        prof = profilers.get(act_bytes) or profilers.setdefault(act_bytes, ChainProfiler(act_bytes))
        try:
            return prof.profile((self.in_channels, r, r), self.blocks(arch, r))
        except IRError as e:
            raise SpaceError(f"space {self.label} cannot build this arch at resolution {r}: "
                             f"{e}") from None


#: Block fields that mean something only with another setting: an SE gate needs an SE
#: (``se_ratio``), a residual ``skip`` a stride of 1.
_APPLIES: dict[str, Callable[[Block], bool]] = {
    "se_gate": lambda b: bool(getattr(b, "se_ratio", 0)),
    "skip": lambda b: getattr(b, "stride", 1) == 1,
}


def _always(block: Block) -> bool:
    return True


def _block_label(block: Block) -> str:
    """The block's type and its fields that are set and apply (see :data:`_APPLIES`)."""
    fields = getattr(block, "__dataclass_fields__", {})
    parts = [f"{k}={getattr(block, k)}" for k in fields
             if getattr(block, k) not in (None, False, 0.0) and _APPLIES.get(k, _always)(block)]
    return type(block).__name__ + "\n" + "\n".join(parts)


def _coerce(d: Decision, value: Any) -> Value:
    if value in d.choices and any(type(value) is type(c) and value == c for c in d.choices):
        return value  # type: ignore[no-any-return]
    text = str(value)
    for c in d.choices:
        if str(c) == text:
            return c
    raise ArchError(f"decision {d.name!r} has value {value!r}; allowed: {d.describe()}")


def _preview(names: Sequence[str], n: int = 8) -> str:
    names = list(names)
    head = ", ".join(names[:n])
    return head + (f", ... ({len(names)} in all)" if len(names) > n else "")
