"""int8 deployment: post-training static quantisation of an exported network, checked and sized.

``archspace export --format onnx-int8`` writes ``model.int8.onnx``: the float ONNX graph of
:mod:`archspace.export` quantised by ONNX Runtime's ``quantize_static`` after its
``quant_pre_process`` (shape inference and graph optimisation). The scheme is the one integer-only
inference engines run (Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018; Krishnamoorthi, "Quantizing deep convolutional
networks for efficient inference: A whitepaper", 2018), and TinyEngine's (Lin et al., MCUNet,
NeurIPS 2020):

* weights int8, symmetric, one scale per output channel (``per_channel=True``); biases int32 at
  the scale ``input_scale * weight_scale``; batch norm folded into the preceding convolution
  (by the exporter); a batch norm that follows no convolution stays in float;
* activations int8 with one scale and zero point per tensor, from the min/max over calibration
  images (``CalibrationMethod.MinMax``);
* QDQ format (``QuantizeLinear``/``DequantizeLinear`` pairs around float ops, which ONNX Runtime
  fuses into integer kernels). Its QOperator format with int8 activations lost half the accuracy
  of a small NAS-Bench-201 cell on ONNX Runtime 1.32's x86 kernels, where QDQ lost none.

Calibration images are a class-balanced subset of the training split of the study's dataset,
prepared exactly as the estimator trained on it (resolution, channels, standardisation);
``calibration_images`` of them (default :data:`DEFAULT_CALIBRATION`, fixed seed).

The check re-loads the written file in ``onnx.checker`` and ONNX Runtime, runs it on the check
input (the output shape must be the network's, its values finite) and on the validation split,
reporting its top-1 accuracy beside the float ONNX graph's and the share of images where the two
agree. The int8 accuracy is that of the QDQ graph as written (graph optimisation off: every op
dequantises its int8 inputs, computes and quantises its output), the arithmetic of an integer
engine with exact 32-bit accumulation. ONNX Runtime's own fused int8 kernels are run too
(``int8_fused_kernels``): on x86 CPUs without VNNI they add pairs of uint8 x int8 products in
16 bits, which saturates with full-range per-channel weights and can cost points the model
itself does not lose (onnxruntime's documentation recommends ``reduce_range``, 7-bit weights,
there; TinyEngine and CMSIS-NN accumulate in 32 bits).

:func:`initializer_bytes` sizes the file's initializers by role; the ``weights`` it counts
(int8 weights, int32 biases, one scale per output channel) is what TinyEngine's flash model
counts (:mod:`archspace.cost.tinyengine`: int8 weights plus an int32 bias and scale per output
channel), so the two are compared; :func:`flash_gap` says where they differ.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from torch import Tensor

    from archspace.datasets import Dataset

__all__ = ["CALIBRATION_BATCH", "DEFAULT_CALIBRATION", "INT8_FILE", "Int8Bytes", "Int8Result",
           "calibration_images", "flash_gap", "initializer_bytes", "quantize_int8"]

INT8_FILE = "model.int8.onnx"
#: Calibration images by default: a few hundred, as ONNX Runtime's examples and the TFLite
#: converter's representative datasets use.
DEFAULT_CALIBRATION = 256
CALIBRATION_BATCH = 32
EVAL_BATCH = 256
#: An int8 model more than this many accuracy points below the float one is warned about.
DROP_WARNING = 5.0
_ONNX_DTYPES = {1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2, 11: 8, 12: 4, 13: 8}  # bytes per element
_WEIGHT_OPS = frozenset({"Conv", "Gemm", "MatMul", "ConvTranspose"})


@dataclass(frozen=True)
class Int8Bytes:
    """The initializer bytes of a quantised ONNX model, by role (as stored in the file)."""

    #: int8 weight tensors (convolutions, linear layers)
    int8_weights: int
    #: int32 biases
    int32_bias: int
    #: the float32 scales of the int8 weights (one per output channel)
    weight_scales: int
    #: the int8 zero points of the weights (all zero: symmetric; an engine needs none)
    weight_zero_points: int
    #: the scales and zero points of the int32 biases (QDQ stores them; they are
    #: input_scale * weight_scale and 0, which QOperator and TinyEngine derive)
    bias_qparams: int
    #: per-tensor scales and zero points of the activations
    activation_qparams: int
    #: float parameters left unquantised (a batch norm that follows no convolution)
    float_params: int
    #: anything else (shape constants)
    other: int
    #: output channels of quantised weights that have no bias (TinyEngine stores one anyway)
    unbiased_channels: int

    @property
    def weights(self) -> int:
        """What an int8 engine keeps in flash: int8 weights, int32 biases, per-channel scales."""
        return self.int8_weights + self.int32_bias + self.weight_scales

    @property
    def stored(self) -> int:
        """Every initializer byte of the file."""
        return (self.weights + self.weight_zero_points + self.bias_qparams +
                self.activation_qparams + self.float_params + self.other)

    def as_json(self) -> dict[str, int]:
        """The fields with ``weights`` and ``stored``."""
        return {**asdict(self), "weights": self.weights, "stored": self.stored}


@dataclass(frozen=True)
class Int8Result:
    """What :func:`quantize_int8` wrote and measured."""

    check: str
    info: dict[str, Any]
    notes: tuple[str, ...]


def calibration_images(data: Dataset, count: int) -> np.ndarray:
    """``count`` training images of ``data`` (all if fewer), class-balanced, fixed seed
    (:func:`archspace.estimators.subset.balanced_subset`), as a float32 array."""
    from archspace.estimators.subset import balanced_subset

    n = min(count, int(data.y_train.shape[0]))
    idx = balanced_subset(data.y_train.cpu(), n)
    return data.x_train.cpu().index_select(0, idx).numpy()


@contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice through the root logger and warns; silence both."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _reader(images: np.ndarray, input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        """The calibration images in batches of :data:`CALIBRATION_BATCH`."""

        def __init__(self) -> None:
            self.at = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.at >= len(images):
                return None
            batch = images[self.at:self.at + CALIBRATION_BATCH]
            self.at += CALIBRATION_BATCH
            return {input_name: batch}

        def rewind(self) -> None:
            self.at = 0

    return Reader()


def _quantize(float_path: Path, out_path: Path, images: np.ndarray) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.registry import QDQRegistry
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = onnx.load(os.fspath(float_path), load_external_data=False).graph.input[0].name
    ops = sorted(set(QDQRegistry) - {"BatchNormalization"})  # a standalone BN stays float
    with tempfile.TemporaryDirectory(prefix="archspace-int8-") as tmp, _quiet():
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(os.fspath(float_path), os.fspath(pre))
        quantize_static(os.fspath(pre), os.fspath(out_path), _reader(images, name),
                        quant_format=QuantFormat.QDQ, op_types_to_quantize=ops,
                        per_channel=True, reduce_range=False,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


def initializer_bytes(model: onnx.ModelProto) -> Int8Bytes:
    """The initializer bytes of a QDQ-quantised ``model`` by role (:class:`Int8Bytes`)."""
    from onnx import TensorProto

    init = {t.name: t for t in model.graph.initializer}

    def size(name: str) -> int:
        t = init[name]
        n = 1
        for d in t.dims:
            n *= d
        return n * _ONNX_DTYPES.get(t.data_type, 4)

    role: dict[str, str] = {}
    nodes = list(model.graph.node)
    for node in nodes:
        if node.op_type not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        x, qparams = node.input[0], [i for i in node.input[1:] if i in init]
        if node.op_type == "DequantizeLinear" and x in init:
            kind = init[x].data_type
            role[x] = "int8_weights" if kind == TensorProto.INT8 else "int32_bias"
            for i, q in enumerate(qparams):
                role.setdefault(q, ("weight_scales" if i == 0 else "weight_zero_points")
                                if kind == TensorProto.INT8 else "bias_qparams")
        else:
            for q in qparams:
                role.setdefault(q, "activation_qparams")
    totals = dict.fromkeys(("int8_weights", "int32_bias", "weight_scales", "weight_zero_points",
                            "bias_qparams", "activation_qparams", "float_params", "other"), 0)
    for name, t in init.items():
        r = role.get(name) or ("float_params" if t.data_type == TensorProto.FLOAT else "other")
        totals[r] += size(name)
    produced = {o: n for n in nodes for o in n.output}
    unbiased = 0
    for node in nodes:
        if node.op_type not in _WEIGHT_OPS or len(node.input) < 2:
            continue
        dq = produced.get(node.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in init:
            continue
        has_bias = len(node.input) > 2 and node.input[2] != ""
        if not has_bias:
            dims = list(init[dq.input[0]].dims)
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            out_axis = 1 if node.op_type == "MatMul" or (node.op_type == "Gemm" and not trans_b) \
                else 0
            unbiased += dims[out_axis] if dims else 0
    return Int8Bytes(**totals, unbiased_channels=unbiased)


def flash_gap(nbytes: Int8Bytes, flash: int) -> str:
    """Where the int8 weights of the file differ from a TinyEngine ``flash`` estimate."""
    diff = nbytes.weights - flash
    parts = []
    if nbytes.unbiased_channels:
        parts.append(f"{nbytes.unbiased_channels} output channels of layers without a bias store "
                     f"no int32 bias ({4 * nbytes.unbiased_channels} B TinyEngine counts anyway)")
    if nbytes.float_params:
        parts.append(f"{nbytes.float_params} B of float parameters stay unquantised (a batch "
                     "norm that follows no convolution, which TinyEngine's model counts as 0)")
    rest = diff + 4 * nbytes.unbiased_channels
    if rest:
        parts.append(f"{rest:+d} B otherwise")
    head = f"weights {nbytes.weights} B vs flash {flash} B ({diff:+d} B)"
    return head + (": " + "; ".join(parts) if parts else ": the same bytes")


def _session(path: Path, fused: bool = True) -> ort.InferenceSession:
    """An ONNX Runtime session on ``path``; ``fused=False`` runs the QDQ graph as written
    (no graph optimisation: each op dequantises, computes in float and quantises again)."""
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    if not fused:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(os.fspath(path), opts, providers=["CPUExecutionProvider"])


def _predict(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    import numpy as np

    name = session.get_inputs()[0].name
    out = [session.run(None, {name: x[i:i + EVAL_BATCH]})[0] for i in range(0, len(x), EVAL_BATCH)]
    return np.concatenate(out).argmax(axis=1)


def quantize_int8(float_path: Path, out_path: Path, data: Dataset, calibration: int,
                  x_check: Tensor, want: Tensor, flash: Mapping[str, float]) -> Int8Result:
    """Quantise the float ONNX model ``float_path`` to ``out_path`` (module doc), calibrated on
    ``calibration`` training images of ``data`` (the prepared dataset the network was trained
    on), and check it: reloaded, run on ``x_check`` (the network's outputs there: ``want``) and
    on the validation split. ``flash`` holds the cost model's estimates (``tinyengine``, and
    ``mcunet``) to size the weights against. :class:`~archspace.export.ExportCheckError` if the
    written model does not load or run to outputs of the network's shape."""
    import numpy as np
    import onnx

    from archspace.export import ExportCheckError

    images = calibration_images(data, calibration)
    try:
        _quantize(float_path, out_path, images)
    except Exception as e:  # the quantiser's errors are many and long
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportCheckError(f"onnxruntime quantize_static failed: {first}") from e
    try:
        onnx.checker.check_model(os.fspath(out_path), full_check=True)
        session = _session(out_path)
        got = session.run(None, {session.get_inputs()[0].name: x_check.numpy()})[0]
    except Exception as e:
        raise ExportCheckError(f"{out_path.name} does not reload: {e}") from e
    if tuple(got.shape) != tuple(want.shape) or not np.isfinite(got).all():
        raise ExportCheckError(f"{out_path.name} gives output shape {tuple(got.shape)} "
                               f"(finite: {bool(np.isfinite(got).all())}), the network "
                               f"{tuple(want.shape)}")
    x_val, y_val = data.x_val.cpu().numpy(), data.y_val.cpu().numpy()
    p_float = _predict(_session(float_path), x_val)
    p_int8 = _predict(_session(out_path, fused=False), x_val)
    p_kernels = _predict(session, x_val)
    n = len(y_val)

    def share(a: np.ndarray, b: np.ndarray) -> float:
        return 100.0 * float((a == b).mean()) if n else float("nan")

    acc_f, acc_q, acc_k = share(p_float, y_val), share(p_int8, y_val), share(p_kernels, y_val)
    agree = share(p_float, p_int8)
    nbytes = initializer_bytes(onnx.load(os.fspath(out_path)))
    te = int(flash["tinyengine"])
    ratio = nbytes.weights / te if te else float("nan")
    info: dict[str, Any] = {
        "file": out_path.name,
        "method": "onnxruntime quantize_static: QDQ, int8 weights symmetric per output "
                  "channel, int32 bias, int8 activations per tensor (MinMax calibration); a "
                  "batch norm that follows no convolution stays float",
        "onnxruntime": _version("onnxruntime"),
        "calibration": {"dataset": data.name, "split": "train", "images": len(images),
                        "selection": "class-balanced, fixed seed"},
        "accuracy": {"float": acc_f, "int8": acc_q, "agreement": agree, "images": n,
                     "split": "validation (the estimator's)",
                     "int8_fused_kernels": acc_k,
                     "agreement_fused_kernels": share(p_float, p_kernels)},
        "bytes": nbytes.as_json(),
        "flash_estimate": {k: int(v) for k, v in flash.items()},
        "weights_vs_flash": ratio,
        "flash_gap": flash_gap(nbytes, te),
    }
    notes = []
    if n and acc_q < acc_f - DROP_WARNING:
        notes.append(f"int8 accuracy {acc_q:.2f}% is {acc_f - acc_q:.2f} points below the float "
                     f"model's {acc_f:.2f}% (calibrated on {len(images)} images; more with "
                     "--calibration-images?)")
    if n and acc_k < acc_q - DROP_WARNING:
        notes.append(f"onnxruntime's fused int8 kernels on this CPU reach {acc_k:.2f}%, "
                     f"{acc_q - acc_k:.2f} points below the int8 model's {acc_q:.2f}%: on x86 "
                     "without VNNI they sum pairs of uint8 x int8 products in 16 bits, which "
                     "saturates with full-range per-channel weights (onnxruntime's reduce_range "
                     "avoids it; integer engines such as TinyEngine do not saturate)")
    kernels = "" if abs(acc_k - acc_q) < 0.05 else f", fused kernels here {acc_k:.2f}%"
    check = (f"{out_path.name} (onnxruntime) reloaded: int8 top-1 {acc_q:.2f}% vs float "
             f"{acc_f:.2f}% on {n} validation images ({agree:.1f}% agree{kernels}); weights "
             f"{nbytes.weights} B = {ratio:.3f} x tinyengine flash {te} B")
    return Int8Result(check, info, tuple(notes))


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None
