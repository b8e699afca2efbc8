"""Analytic profiling speed: ``space.profile(arch)`` against building the torch module and
counting with fvcore.

For each configuration (a space with parameters) the script samples ``--n`` archs and times, on
one core:

* ``profile()`` alone over the sampled archs, after one warm-up pass (the per-block cache of the
  chain fast path filled); the cold first pass is reported too;
* ``sample()`` + ``profile()`` together (fresh archs, warm cache);
* for context, the path without the per-block cache: lower the whole arch to the IR and
  ``profile_graph`` it (on ``--n / 20`` archs);
* the reference: lower the arch, build the torch module and count its MACs with fvcore's
  ``FlopCountAnalysis`` (plus a parameter count), on ``--torch-n`` archs.

Times are CPU seconds of this process (``time.process_time``, torch limited to one thread), so
other load on a shared machine does not inflate them; timed passes are repeated and the fastest
kept. The reference archs are also checked to agree with ``profile()`` (params and MACs).

    python benchmarks/profile_speed.py                          # the default configurations
    python benchmarks/profile_speed.py --all --n 2000 --torch-n 3   # every catalog space

"warm" is a pass over archs profiled before: ``Space.profile`` answers them from its bounded
per-space LRU cache of profiles. "cold" is the first pass over fresh archs (block caches of the
chain spaces warm up during it, the per-arch cache does not help).
    python benchmarks/profile_speed.py --space mcunet --param width=0.5 --param resolution=144
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable

import torch
from fvcore.nn import FlopCountAnalysis

from archspace.cost import profile_graph
from archspace.nn import build_module
from archspace.space import Arch, Space
from archspace.spaces import get_space, parse_params
from archspace.spaces._registry import list_spaces

DEFAULTS = (("mcunet", ("width=0.3", "resolution=96")),
            ("mcunet", ("width=0.5", "resolution=144")),
            ("mcunet", ("width=1.0", "resolution=224")))


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The fastest of ``repeats`` timed calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def fvcore_count(space: Space, arch: Arch) -> tuple[int, int]:
    """(params, MACs) of ``arch`` by building its module and tracing it with fvcore."""
    graph = space.lower(arch)
    model = build_module(graph).eval()
    fca = FlopCountAnalysis(model, torch.zeros(1, *graph.inputs[0].shape))
    fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    macs = sum(v for k, v in fca.by_operator().items() if k in ("conv", "linear", "addmm", "matmul"))
    return sum(p.numel() for p in model.parameters()), macs


def run(name: str, params: tuple[str, ...], n: int, torch_n: int, repeats: int) -> dict[str, object]:
    """One row of the table."""
    space = get_space(name, **parse_params(name, list(params)))
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(n)]
    t = time.process_time()
    for a in archs:
        space.profile(a)
    cold = time.process_time() - t
    warm = best_of(repeats, lambda: [space.profile(a) for a in archs])
    both = best_of(repeats, lambda: [space.profile(space.sample(rng)) for _ in range(n)])
    few = archs[: max(1, n // 20)]
    graph = best_of(repeats, lambda: [profile_graph(space.lower(a)) for a in few])
    ref_archs = archs[:torch_n]
    agree = all(fvcore_count(space, a) == (p.params, p.macs)
                for a, p in ((a, space.profile(a)) for a in ref_archs))
    ref = best_of(max(1, repeats // 2), lambda: [fvcore_count(space, a) for a in ref_archs]) / torch_n
    label = f"{name}({','.join(params)})" if params else space.label
    return {"space": label, "cold": n / cold, "warm": n / warm, "both": n / both,
            "graph": len(few) / graph,
            "ref_ms": 1e3 * ref, "speedup": ref / (warm / n), "agree": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", help="one space instead of the default configurations")
    ap.add_argument("--all", action="store_true", help="every catalog space at its defaults")
    ap.add_argument("--param", action="append", default=[], metavar="K=V", help="space parameter")
    ap.add_argument("--n", type=int, default=20_000, help="archs per profiling pass")
    ap.add_argument("--torch-n", type=int, default=20, help="archs built and counted with fvcore")
    ap.add_argument("--repeats", type=int, default=5, help="timed passes (the fastest is kept)")
    ap.add_argument("--core", type=int, default=0, help="CPU core to pin to (-1: do not pin)")
    args = ap.parse_args()
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    torch.set_num_threads(1)
    configs = (tuple((name, ()) for name in list_spaces()) if args.all
               else ((args.space, tuple(args.param)),) if args.space else DEFAULTS)
    print(f"one core, {args.n} sampled archs per pass, fvcore reference on {args.torch_n} archs\n")
    print("| space | profile() archs/s (warm) | first pass (cold cache) | sample()+profile() archs/s "
          "| full-graph profile archs/s | build + fvcore, ms/arch | speed-up vs fvcore | agree |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, params in configs:
        r = run(name, params, args.n, args.torch_n, args.repeats)
        print(f"| `{r['space']}` | {r['warm']:,.0f} | {r['cold']:,.0f} | {r['both']:,.0f} | "
              f"{r['graph']:,.0f} | {r['ref_ms']:.1f} | {r['speedup']:,.0f}x | "
              f"{'yes' if r['agree'] else 'NO'} |")


if __name__ == "__main__":
    main()
