"""Measured latency at batch 1 on this machine's CPU: PyTorch eager and ONNX Runtime.

Latency is wall time, so it is timed with :func:`time.perf_counter`; everything else that makes
it repeatable is pinned down: the thread count (one by default, ``torch.set_num_threads``, ONNX
Runtime's intra- and inter-op threads), ``torch.inference_mode``, a warm-up, many repeats
summarised by their median and inter-quartile range (IQR), and a *noise floor*: the relative
difference of two independent measurements of the same network, taken one after the other. On a
loaded machine that floor, not the predictor, bounds how well any latency can be known.

torch and onnxruntime are imported inside the functions, so the analytic cost layer stays
torch-free.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from archspace.cost.latency_table import LatencyError
from archspace.ir.graph import Graph, Node

__all__ = ["CLOCKS", "Timing", "check_clock", "have_onnxruntime", "layer_graph",
           "machine_fingerprint", "machine_info", "measure_graph", "measure_layer", "noise_floor",
           "pinned_threads", "time_call"]


@dataclass(frozen=True)
class Timing:
    """A latency measurement (ms): median, quartiles and the samples' count."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    repeats: int

    @property
    def iqr_ms(self) -> float:
        """Inter-quartile range (ms)."""
        return self.q3_ms - self.q1_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the IQR."""
        return {**asdict(self), "iqr_ms": self.iqr_ms}


def machine_info() -> dict[str, Any]:
    """What the latency of a CPU depends on and can be read cheaply: processor, architecture,
    logical CPUs, system."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "arch": platform.machine(), "cpus": os.cpu_count() or 0,
            "system": platform.system()}


def machine_fingerprint(info: dict[str, Any] | None = None) -> str:
    """A short hash of :func:`machine_info`: the same on the same machine, different on
    another processor."""
    info = machine_info() if info is None else info
    text = "|".join(str(info.get(k, "")) for k in ("cpu", "arch", "cpus", "system"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def have_onnxruntime() -> bool:
    """Whether ONNX Runtime and the ONNX exporter's packages are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` for the block, restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: The clocks a measurement can read: ``wall`` (:func:`time.perf_counter`, the latency a user
#: sees) and ``thread`` (:func:`time.thread_time`, the CPU time of the calling thread: with one
#: thread pinned the network runs in it, and time the scheduler gives other processes does not
#: count, so on a loaded machine it estimates the latency of an idle one).
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "thread": time.thread_time}


def check_clock(clock: str) -> str:
    """``clock`` if it is one of :data:`CLOCKS`, else a :class:`LatencyError`."""
    if clock not in CLOCKS:
        raise LatencyError(f"unknown clock {clock!r}; allowed: {', '.join(CLOCKS)}")
    return clock


def time_call(fn: Callable[[], Any], warmup: int = 5, repeats: int = 30,
              min_block_s: float = 2e-4, clock: str = "wall") -> Timing:
    """Time ``fn()``: ``warmup`` calls, then ``repeats`` blocks of calls, a block repeating a
    fast call until it lasts about ``min_block_s`` (so the timer's resolution does not count);
    each sample is a block's time per call on ``clock`` (see :data:`CLOCKS`)."""
    now = CLOCKS[check_clock(clock)]
    for _ in range(max(warmup, 1)):
        fn()
    t0 = now()
    fn()
    once = now() - t0
    inner = max(1, min(1000, int(min_block_s / max(once, 1e-9))))
    samples: list[float] = []
    for _ in range(max(repeats, 1)):
        t0 = now()
        for _ in range(inner):
            fn()
        samples.append((now() - t0) / inner * 1e3)
    return _summary(samples)


def _summary(samples: Sequence[float]) -> Timing:
    s = sorted(samples)
    if len(s) == 1:
        return Timing(s[0], s[0], s[0], 1)
    q1, med, q3 = statistics.quantiles(s, n=4, method="inclusive")
    return Timing(med, q1, q3, len(s))


def noise_floor(a: Timing, b: Timing) -> float:
    """Relative difference of two measurements of the same network: ``|a - b| / mean``."""
    mean = (a.median_ms + b.median_ms) / 2
    return abs(a.median_ms - b.median_ms) / mean if mean > 0 else 0.0


def _torch_runner(graph: Graph, seed: int = 0) -> Callable[[], Any]:
    import torch

    from archspace.nn import build_module

    torch.manual_seed(seed)
    module = build_module(graph).eval()
    xs = [torch.randn(1, *n.shape) for n in graph.inputs]

    def run() -> Any:
        with torch.inference_mode():
            return module(*xs)

    return run


def _onnx_runner(graph: Graph, threads: int, seed: int = 0) -> Callable[[], Any]:
    import onnxruntime as ort
    import torch

    from archspace.nn import build_module

    torch.manual_seed(seed)
    module = build_module(graph).eval()
    xs = tuple(torch.randn(1, *n.shape) for n in graph.inputs)
    names = [f"input{k}" for k in range(len(xs))]
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="archspace-latency-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, xs, path, dynamo=True, external_data=False,
                                  input_names=names, verbose=False)
        finally:
            quiet.setLevel(level)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), xs, strict=True)}

    def run() -> Any:
        return session.run(None, feed)

    return run


def measure_graph(graph: Graph, threads: int = 1, warmup: int = 10, repeats: int = 50,
                  onnx: bool | None = None, clock: str = "wall") -> dict[str, Any]:
    """Latency of ``graph`` built as a network at batch 1: PyTorch eager (inference mode) and,
    when installed (or ``onnx=True``), ONNX Runtime (``{"error": ...}`` if the network does not
    export), each measured twice independently. Returns
    JSON-ready ``{"torch": {...}, "onnxruntime": {...} | None, "threads": ...}``, each with the
    first measurement's median/IQR and ``noise_floor`` (see :func:`noise_floor`); ``clock``
    is one of :data:`CLOCKS`."""
    import torch

    check_clock(clock)
    out: dict[str, Any] = {"threads": threads, "clock": clock, "torch_version": torch.__version__}
    with pinned_threads(threads):
        run = _torch_runner(graph)
        a = time_call(run, warmup, repeats, clock=clock)
        b = time_call(run, warmup, repeats, clock=clock)
        out["torch"] = {**a.to_dict(), "noise_floor": noise_floor(a, b)}
        use_onnx = have_onnxruntime() if onnx is None else onnx
        out["onnxruntime"] = None
        if use_onnx:
            try:
                ort_run = _onnx_runner(graph, threads)
            except Exception as e:  # the exporter's errors are many and long: say which, go on
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                out["onnxruntime"] = {"error": f"ONNX export or load failed: {first}"}
            else:
                a = time_call(ort_run, warmup, repeats, clock=clock)
                b = time_call(ort_run, warmup, repeats, clock=clock)
                out["onnxruntime"] = {**a.to_dict(), "noise_floor": noise_floor(a, b)}
    return out


def layer_graph(node: Node, nodes: Sequence[Node]) -> Graph:
    """A graph of one layer alone: an input per distinct input tensor of ``node`` (a repeated
    input stays one tensor), then a copy of ``node``."""
    g = Graph()
    mapping: dict[int, Node] = {}
    for i in node.inputs:
        if i not in mapping:
            mapping[i] = g.input(nodes[i].shape, name=f"in{len(mapping)}")
    g._add(node.op, [mapping[i] for i in node.inputs], node.shape, node.op, **node.attrs)
    return g


def measure_layer(node: Node, nodes: Sequence[Node], warmup: int = 3, repeats: int = 15,
                  clock: str = "wall") -> float:
    """Median latency (ms) of one layer run alone through the PyTorch builder (threads as
    set by the caller)."""
    return time_call(_torch_runner(layer_graph(node, nodes)), warmup, repeats,
                     clock=clock).median_ms
