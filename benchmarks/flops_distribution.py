"""Time TinyNAS's space selection: the FLOPs distribution of a grid of spaces under constraints.

The target: MCUNet's default grid (9 widths x 12 resolutions = 108 spaces) x 1000 samples each,
under 320 kB SRAM and 1 MB flash, in under 5 s on one core. Run::

    python benchmarks/flops_distribution.py [--space mcunet] [--samples 1000] [--repeats 3]

It prints the CPU seconds of each repeat (``time.process_time`` of this process, pinned to one
core with ``--core``, so other load on a shared machine does not inflate them; wall seconds
beside), with fresh caches each time, the path each space took (factorised or generic), and, for
scale, the time the generic path (``space.sample`` + ``space.profile`` per model) takes on a
few spaces.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from archspace.analysis.flops import flops_distribution, space_grid
from archspace.analysis.sampling import SegmentCache, sample_costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="mcunet")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sram", default="320kB")
    ap.add_argument("--flash", default="1MB")
    ap.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                    help="fixed space parameter, e.g. mix_layer=false")
    ap.add_argument("--core", type=int, default=0, help="pin to this core (-1: don't)")
    args = ap.parse_args()
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    constraints = [f"peak_sram<={args.sram}", f"flash<={args.flash}"]

    t0 = time.perf_counter()
    from archspace.spaces import parse_params

    spaces = space_grid(args.space, {}, parse_params(args.space, args.param))
    print(f"{len(spaces)} spaces of {args.space} built in {time.perf_counter() - t0:.2f} s")

    times = []
    for r in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        study = flops_distribution(spaces, constraints, args.samples, seed=r)
        times.append(time.process_time() - c0)
        print(f"repeat {r}: {times[-1]:.2f} CPU s ({time.perf_counter() - t0:.2f} wall s), "
              f"pick {study.pick}")
    print(f"flops_distribution: median {statistics.median(times):.2f} CPU s, best "
          f"{min(times):.2f} for {len(spaces)} spaces x {args.samples} samples")

    cache = SegmentCache()
    every = list(spaces.values())[:: max(1, len(spaces) // 8)]
    paths = {sample_costs(s, 50, 0, cache).path for s in every}
    print(f"paths taken: {sorted(paths)}")

    few = list(spaces.values())[:: max(1, len(spaces) // 3)][:3]
    c0 = time.process_time()
    for s in few:
        rng = random.Random(0)
        for _ in range(args.samples):
            s.profile(s.sample(rng))
    per_space = (time.process_time() - c0) / len(few)
    print(f"generic path for comparison: {per_space:.3f} CPU s per space, about "
          f"{per_space * len(spaces):.1f} s for the grid")


if __name__ == "__main__":
    main()
