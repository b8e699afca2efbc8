"""Exporting a study's architecture: its description, its PyTorch weights and an ONNX graph.

:func:`export_study` writes into a folder:

* ``arch.json`` (always): the study's space and parameters, the arch (string and JSON), the
  trial with its metrics and cost, the estimator and its options, and the exported network: the
  space it is built from, the input it expects and whether its weights are trained.
* ``pt``: ``model.pt`` (the state dict) and ``load.py``, a script rebuilding the network with
  archspace (:func:`load_model`).
* ``onnx``: ``model.onnx`` (input ``input``, output ``output``, a dynamic batch dimension),
  written by the ``torch.export``-based exporter (the ``archspace[onnx]`` extra).
* ``onnx-int8``: ``model.int8.onnx``, that graph quantised to int8 by ONNX Runtime, calibrated
  on training images of the study's dataset; its accuracy beside the float graph's and its
  weight bytes beside the cost model's flash go into ``arch.json`` (``int8``), see
  :mod:`archspace.export_int8`.

Weights. When the study's estimator trains (``train``), the arch is trained again with the
study's options and seed, which reproduces the recorded run (the estimator is deterministic on
the CPU); a re-trained metric that differs from the recorded one is warned about, not fatal.
The network is then the one the estimator trained: the space fitted to the dataset's classes, at
the training resolution. A study of the ``oneshot`` estimator exports the weights the arch
inherits from its supernet (optionally fine-tuned, ``finetune_epochs``). Estimators that keep no
weights (the NAS-Bench-201 table, zero-cost proxies) give the network as the seed initialises
it; ``arch.json`` says which.

Writing. Everything is written to a temporary folder first and moved into ``out_dir`` only
when all of it is written and checked (:mod:`archspace._atomic`): a failure leaves no partial
output, other files in an existing ``out_dir`` are left alone, and no write follows a symbolic
link planted there.

Trust. The study's space is rebuilt from the file; a user space (``module:Class``) it names is
imported only with ``trust`` (see :func:`archspace.spaces.check_trusted`), and so is the space
:func:`load_model` reads from an export's ``arch.json``.

Every written model is checked by loading it back: ``model.pt`` through :func:`load_model`,
``model.onnx`` through ``onnx.checker`` and ONNX Runtime, each compared with the in-memory
network on a fixed input. A mismatch raises :class:`ExportCheckError`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspace import __version__
from archspace._atomic import check_output, staged_output
from archspace.errors import ArchspaceError
from archspace.export_int8 import DEFAULT_CALIBRATION, INT8_FILE
from archspace.space import Arch, Space
from archspace.spaces import Trust, check_trusted, space_target

if TYPE_CHECKING:
    from torch import Tensor, nn

    from archspace.estimators.base import Estimator
    from archspace.estimators.train import TrainEstimator
    from archspace.study.components import Factories
    from archspace.study.storage import TrialRecord

__all__ = ["FORMATS", "ExportCheckError", "ExportError", "ExportResult", "export_study",
           "load_model", "parse_formats"]

#: The formats :func:`export_study` writes (``json`` is always written).
FORMATS = ("json", "pt", "onnx", "onnx-int8")
DEFAULT_FORMATS = ("json", "pt")
ARCH_FILE, WEIGHTS_FILE, LOADER_FILE, ONNX_FILE = "arch.json", "model.pt", "load.py", "model.onnx"
#: Tolerances of the reload checks: the same kernels for ``model.pt``, ONNX Runtime's for ONNX.
PT_TOL = {"rtol": 1e-5, "atol": 1e-6}
ONNX_TOL = {"rtol": 1e-3, "atol": 1e-4}
CHECK_SEED, CHECK_BATCH = 0, 2
#: Every file an export writes, in the order they are moved into the folder (arch.json last).
OWNED = (WEIGHTS_FILE, LOADER_FILE, ONNX_FILE, INT8_FILE, ARCH_FILE)

LOADER = '''"""Rebuild the exported network: `python load.py` runs it on a zero input.

Needs archspace (pip install archspace); in Python: `from archspace.export import load_model`.
"""

from pathlib import Path

import torch

from archspace.export import load_model

HERE = Path(__file__).resolve().parent


def load() -> torch.nn.Module:
    """The network of this folder, weights loaded, in eval mode."""
    return load_model(HERE, trust=True)  # running this script trusts this folder


if __name__ == "__main__":
    import json

    info = json.loads((HERE / "arch.json").read_text())
    model = load()
    shape = info["network"]["input_shape"]
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    n = sum(p.numel() for p in model.parameters())
    print(f"{info['network']['space']} {info['arch']}: {n} parameters, "
          f"input (N, {', '.join(map(str, shape))}) -> output {tuple(out.shape)}, "
          f"weights {info['network']['weights']}")
'''


class ExportError(ArchspaceError):
    """A study, trial or format that cannot be exported (bad input)."""


class ExportCheckError(RuntimeError):
    """A written model did not reproduce the in-memory network when loaded back."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_study` wrote and checked."""

    out_dir: Path
    files: tuple[str, ...]
    trial: int
    weights: str | None
    info: Mapping[str, Any]
    checks: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def parse_formats(values: Iterable[str] | None) -> tuple[str, ...]:
    """Formats from ``--format`` values (repeatable, comma-separated), in :data:`FORMATS`
    order; ``json`` is always included; none given means :data:`DEFAULT_FORMATS`."""
    wanted = {v.strip().lower() for value in values or () for v in value.split(",") if v.strip()}
    bad = sorted(wanted - set(FORMATS))
    if bad:
        raise ExportError(f"unknown export format {bad[0]!r}; allowed: {', '.join(FORMATS)} "
                          "(repeat --format or separate with commas)")
    if not wanted:
        return DEFAULT_FORMATS
    return tuple(f for f in FORMATS if f in wanted or f == "json")


def _require_onnx(fmt: str) -> None:
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"format {fmt} needs {', '.join(missing)}: pip install \"archspace[onnx]\"")


# -- the study --------------------------------------------------------------------------------
def _pick_trial(trials: Sequence[TrialRecord], best: TrialRecord | None, path: Path,
                number: int | None) -> TrialRecord:
    if number is None:
        if best is None:
            raise ExportError(f"study {path} has no complete trial to export; run or resume it "
                              "until one completes")
        return best
    rec = next((t for t in trials if t.number == number), None)
    if rec is None:
        known = f"0 to {max(t.number for t in trials)}" if trials else "none recorded"
        raise ExportError(f"study {path} has no trial {number}; trials: {known}")
    if rec.status != "complete":
        why = f" ({rec.error})" if rec.error else ""
        hint = f"; the best is trial {best.number}" if best is not None else ""
        raise ExportError(f"trial {number} of {path} is {rec.status}{why}; allowed: a complete "
                          f"trial{hint}")
    return rec


def _trainer(estimator: Estimator) -> TrainEstimator | None:
    """The estimator if its score is that of a network it trains (:meth:`TrainEstimator.fit`;
    the zero-cost proxies share its set-up but train nothing)."""
    from archspace.estimators.train import TrainEstimator

    if isinstance(estimator, TrainEstimator) and \
            type(estimator).evaluate is TrainEstimator.evaluate:
        return estimator
    return None


def _network_space(space: Space, estimator: Estimator) -> tuple[Space, int, str | None]:
    """The space the exported network is built from, its input resolution and the dataset it
    is fitted to: the estimator's adapted space for estimators that fit the network to a
    dataset, else the study's space (and no dataset)."""
    from archspace.estimators.train import TrainEstimator

    if isinstance(estimator, TrainEstimator):
        return (*estimator.adapted(space), str(estimator.config["dataset"]))
    return space, space.default_resolution, None


def _kept_weights(study: Path, number: int, estimator: Estimator, space: Space, net_space: Space,
                  arch: Arch, resolution: int, seed: int, notes: list[str]
                  ) -> tuple[nn.Module, dict[str, float], str] | None:
    """The trained network of trial ``number`` from the checkpoint the study kept
    (:mod:`archspace.study.checkpoints`), its metrics and the file; None when there is none or
    it does not fit the trial, e.g. a stale file of an earlier study at this path (then why is
    added to ``notes`` and the caller re-trains). A file that is not data (tampered, corrupt)
    is refused: :class:`ExportError`, nothing trained or written."""
    from archspace.estimators.checkpoint import load_checkpoint
    from archspace.study.checkpoints import trial_checkpoint

    trainer = _trainer(estimator)
    path = trial_checkpoint(study, number)
    if trainer is None or not path.is_file():
        return None
    try:
        loaded = load_checkpoint(path)
    except ArchspaceError as e:
        raise ExportError(f"the kept {e}; nothing was exported (remove the file to re-train "
                          f"trial {number} instead)") from None
    try:
        ckpt = trainer.check_checkpoint(space, arch, seed, loaded)
        model = net_space.build(arch, resolution)
        model.load_state_dict(ckpt["model"])
    except (ArchspaceError, RuntimeError, KeyError, TypeError) as e:
        notes.append(f"the kept checkpoint {path} was not used ({e}); re-trained instead")
        return None
    metrics = ckpt.get("metrics")
    return model.eval(), dict(metrics) if isinstance(metrics, dict) else {}, str(path)


def _initialised(space: Space, arch: Arch, resolution: int, seed: int) -> nn.Module:
    import torch

    from archspace.nn import build_module

    torch.manual_seed(seed)  # as the estimators seed the networks they score
    return build_module(space.lower(arch, resolution)).eval()


def _json_ready(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


# -- checks -----------------------------------------------------------------------------------
def _check_input(shape: Sequence[int]) -> Tensor:
    import torch

    gen = torch.Generator().manual_seed(CHECK_SEED)
    return torch.randn((CHECK_BATCH, *shape), generator=gen)


def _compare(what: str, got: Any, want: Tensor, tol: Mapping[str, float]) -> str:
    import torch

    got = torch.as_tensor(got)
    if tuple(got.shape) != tuple(want.shape):
        raise ExportCheckError(f"{what} gives output shape {tuple(got.shape)}, the network "
                               f"{tuple(want.shape)}")
    diff = float((got.double() - want.double()).abs().max())
    if not torch.allclose(got.float(), want.float(), rtol=tol["rtol"], atol=tol["atol"]):
        raise ExportCheckError(f"{what} does not reproduce the network: max |difference| "
                               f"{diff:.3g} on the check input (rtol={tol['rtol']}, "
                               f"atol={tol['atol']})")
    return f"{what} reloaded: outputs match (max |difference| {diff:.2g})"


def _save_pt(model: nn.Module, out: Path, x: Tensor, want: Tensor, space: Space | None) -> str:
    import torch

    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    (out / LOADER_FILE).write_text(LOADER)
    with torch.no_grad():  # the space's module is imported already (with consent)
        got = load_model(out, space, trust=True)(x)
    return _compare(WEIGHTS_FILE, got, want, PT_TOL)


def _save_onnx(model: nn.Module, out: Path, x: Tensor, want: Tensor) -> str:
    import onnx
    import onnxruntime as ort
    import torch

    path = out / ONNX_FILE
    batch = torch.export.Dim("batch")
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # e.g. "torchvision is not installed" notes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), os.fspath(path), dynamo=True, external_data=False,
                              input_names=["input"], output_names=["output"],
                              dynamic_shapes=(({0: batch},),), verbose=False)
    except Exception as e:  # the exporter's errors are many and long
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportCheckError(f"torch.onnx.export failed: {first}") from e
    finally:
        quiet.setLevel(level)
    try:
        onnx.checker.check_model(os.fspath(path), full_check=True)
    except Exception as e:
        raise ExportCheckError(f"{ONNX_FILE} fails onnx.checker: {e}") from e
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    return _compare(f"{ONNX_FILE} (onnxruntime)", got, want, ONNX_TOL)


def _save_int8(model: nn.Module, out: Path, x: Tensor, want: Tensor, have_onnx: bool,
               estimator: Estimator, space: Space, arch: Arch, net_space: Space,
               resolution: int, calibration: int, info: dict[str, Any],
               notes: list[str]) -> str:
    """``model.int8.onnx`` from the float graph (``out``'s ``model.onnx`` if written, else a
    temporary one), its results in ``info["int8"]`` (:func:`archspace.export_int8.quantize_int8`)."""
    import tempfile

    from archspace.datasets import prepared
    from archspace.estimators.train import TrainEstimator
    from archspace.export_int8 import quantize_int8

    if not isinstance(estimator, TrainEstimator):  # checked before: the study has a dataset
        raise ExportError("format onnx-int8 needs a study whose estimator reads a dataset")
    data = prepared(estimator.native_dataset(), resolution, net_space.in_channels, "cpu")
    flash = {"tinyengine": float(estimator.cost(space, arch, "tinyengine").flash_bytes),
             "mcunet": float(info["network"]["cost"]["flash_bytes"])}
    with tempfile.TemporaryDirectory(prefix="archspace-onnx-") as tmp:
        where = out if have_onnx else Path(tmp)
        if not have_onnx:
            _save_onnx(model, where, x, want)
        result = quantize_int8(where / ONNX_FILE, out / INT8_FILE, data, calibration, x, want,
                               flash)
    info["int8"] = result.info
    notes.extend(result.notes)
    return result.check


# -- export and load --------------------------------------------------------------------------
def export_study(path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                 formats: Iterable[str] | None = None, trial: int | None = None,
                 train: bool = True, factories: Factories | None = None,
                 log: Callable[[str], None] | None = None, trust: Trust = False,
                 calibration_images: int = DEFAULT_CALIBRATION,
                 finetune_epochs: float = 0.0) -> ExportResult:
    """Export trial ``trial`` (default: the best complete one) of the study in ``path`` to
    ``out_dir`` in ``formats`` (see the module doc). ``train=False`` skips re-training and
    exports the initialised network. ``log`` receives progress lines (e.g. before training).
    Files an earlier export left in ``out_dir`` (``model.pt``, ``load.py``, ``model.onnx``) are
    replaced or removed, so the folder never pairs ``arch.json`` with another trial's weights;
    nothing is written unless the whole export succeeds. A user space the study names is
    imported only with ``trust`` (``True``, or its ``module:Class`` named again).
    ``calibration_images`` is the number of training images ``onnx-int8`` calibrates on. A study
    scored with weights inherited from a supernet (the ``oneshot`` estimator) exports them,
    fine-tuned for ``finetune_epochs`` when that is above 0.

    Raises :class:`ExportError` on bad input and :class:`ExportCheckError` when a written
    model does not load back to the same network."""
    from archspace.study.components import Factories, build_evaluation
    from archspace.study.storage import StudyStorage

    fmts = parse_formats(formats)
    for fmt in ("onnx", "onnx-int8"):
        if fmt in fmts:
            _require_onnx(fmt)
    if "onnx-int8" in fmts and calibration_images < 1:
        raise ExportError(f"calibration_images={calibration_images}; allowed: an integer >= 1")
    if finetune_epochs < 0:
        raise ExportError(f"finetune_epochs={finetune_epochs:g}; allowed: a number >= 0")
    out = Path(out_dir)
    check_output(out, OWNED, "export folder")
    study = Path(path)
    with StudyStorage.open(study) as store:
        config = store.load_config()
        best = store.best_trial()
        rec = _pick_trial(store.trials(), best, study, trial)
    space, estimator = build_evaluation(factories or Factories(), config.space,
                                        config.space_params, config.estimator,
                                        config.estimator_options, trust=trust,
                                        source=f"study {os.fspath(path)}")
    arch = space.arch_from_json(rec.arch_json)
    net_space, resolution, dataset = _network_space(space, estimator)
    if "onnx-int8" in fmts and dataset is None:
        raise ExportError(f"format onnx-int8 calibrates on training images of the study's "
                          f"dataset; study {os.fspath(study)} (estimator {config.estimator}) "
                          "has none; allowed: a study whose estimator reads a dataset (train, "
                          "the zero-cost proxies)")
    shape = (net_space.in_channels, resolution, resolution)
    info: dict[str, Any] = {
        "archspace_version": __version__,
        "study": os.fspath(study), "trial": rec.number,
        "best": best is not None and rec.number == best.number,
        "space": config.space, "space_params": dict(config.space_params),
        "arch": rec.arch, "arch_json": dict(rec.arch_json),
        "score": rec.score, "metrics": rec.metrics, "cost": rec.cost,
        "estimator": config.estimator,  # an estimator object of the user's may have no config
        "estimator_options": dict(getattr(estimator, "config", None) or config.estimator_options),
        "seed": config.seed, "constraints": list(config.constraints),
        "objectives": list(config.objectives),
    }
    prof = net_space.profile(arch, resolution)
    out_shape = list(net_space.lower(arch, resolution).output.shape)
    network: dict[str, Any] = {
        "space": space_target(net_space), "params": dict(net_space.params),
        "resolution": resolution,
        "input_shape": list(shape), "output_shape": out_shape,
        "cost": {k: float(getattr(prof, k)) for k in ("params", "macs", "peak_sram_bytes",
                                                       "flash_bytes")},
        "weights": None, "metrics": None,
    }
    network["input"] = f"float32 batches (N, {', '.join(map(str, shape))}) -> output " \
        f"(N, {', '.join(map(str, out_shape))})"
    note = getattr(estimator, "input_note", None)
    if dataset is not None and callable(note):  # a task whose input is not a standardised image
        network["input"] += "; " + note(resolution)
    elif dataset is not None:
        network["input"] += (f"; images of dataset {dataset!r} as archspace "
                             "prepares them: standardised per channel with the training split's "
                             f"statistics, resized to {resolution}x{resolution}, grayscale "
                             f"repeated to {net_space.in_channels} channels")
    native = getattr(estimator, "native_dataset", None)
    if dataset is not None and callable(native) and not callable(note):
        base = native()
        network["preprocessing"] = {
            "pixels": "scaled to [0, 1]", "resize": [resolution, resolution],
            "mean": list(base.mean) * (net_space.in_channels // max(len(base.mean), 1)),
            "std": list(base.std) * (net_space.in_channels // max(len(base.std), 1)),
            "formula": "(x - mean) / std per channel (the training split's statistics)"}
    info["network"] = network
    notes: list[str] = []
    checks: list[str] = []
    model = None
    if {"pt", "onnx", "onnx-int8"} & set(fmts):
        import torch

        kept = _kept_weights(study, rec.number, estimator, space, net_space, arch, resolution,
                             config.seed, notes) if train else None
        trainer = _trainer(estimator) if train and kept is None else None
        if kept is not None:
            model, network["metrics"], where = kept
            network["weights"] = "trained"
            network["weights_note"] = f"from the kept checkpoint {where} (not re-trained)"
            if log is not None:
                log(f"using the kept checkpoint {where} of trial {rec.number} (no re-training)")
        elif trainer is not None:
            if log is not None:
                log(f"re-training trial {rec.number} ({config.estimator} on "
                    f"{estimator.config['dataset']}, seed {config.seed})")
            threads = int((rec.metrics or {}).get("threads") or torch.get_num_threads())
            was = torch.get_num_threads()
            torch.set_num_threads(threads)  # CPU training depends on it: as the trial ran
            try:
                fitted, metrics = trainer.fit(space, arch, config.seed)
            finally:
                torch.set_num_threads(was)
            model = fitted.cpu().eval()
            network["weights"], network["metrics"] = "trained", metrics
            key = estimator.metric
            recorded = (rec.metrics or {}).get(key)
            if recorded != metrics.get(key):
                notes.append(f"re-trained {key} {metrics.get(key)} differs from the recorded "
                             f"{recorded} (training did not reproduce: a time budget, a GPU or "
                             "another torch version?); the exported weights are the re-trained ones")
        elif train and callable(getattr(estimator, "inherited", None)):
            if log is not None:
                log(f"extracting trial {rec.number} from the supernet"
                    + (f", fine-tuning {finetune_epochs:g} epochs" if finetune_epochs else ""))
            model, network["metrics"], network["weights_note"] = \
                estimator.inherited(space, arch, config.seed, finetune_epochs)  # type: ignore[attr-defined]
            network["weights"] = "fine-tuned" if finetune_epochs else "inherited"
        else:
            model = _initialised(net_space, arch, resolution, config.seed)
            network["weights"] = "initialised"
            why = ("re-training was skipped (--no-train)" if _trainer(estimator) else
                   "inheriting from the supernet was skipped (--no-train)"
                   if callable(getattr(estimator, "inherited", None)) else
                   f"estimator {config.estimator} keeps no weights")
            network["weights_note"] = f"initialised with seed {config.seed}, not trained: {why}"
        x = _check_input(shape)
        with torch.no_grad():
            want = model(x)
        if not bool(torch.isfinite(want).all()):
            raise ExportCheckError("the network outputs non-finite values on the check input")
    files = [ARCH_FILE]
    with staged_output(out, OWNED, "export folder") as stage:  # an earlier export's stale files go
        (stage / ARCH_FILE).write_text(json.dumps(_json_ready(info), indent=2) + "\n")
        if model is not None and "pt" in fmts:
            custom = net_space if factories is not None else None  # else through the catalog
            checks.append(_save_pt(model, stage, x, want, custom))
            files += [WEIGHTS_FILE, LOADER_FILE]
        if model is not None and "onnx" in fmts:
            checks.append(_save_onnx(model, stage, x, want))
            files.append(ONNX_FILE)
        if model is not None and "onnx-int8" in fmts:
            checks.append(_save_int8(model, stage, x, want, "onnx" in fmts, estimator, space,
                                     arch, net_space, resolution, calibration_images, info,
                                     notes))
            files.append(INT8_FILE)  # arch.json again, with the int8 results
            (stage / ARCH_FILE).write_text(json.dumps(_json_ready(info), indent=2) + "\n")
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    return ExportResult(out, tuple(files), rec.number, network["weights"], info, tuple(checks),
                        tuple(notes))


def load_model(directory: str | os.PathLike[str], space: Space | None = None,
               trust: Trust = False) -> nn.Module:
    """The network exported to ``directory`` (``arch.json`` and ``model.pt``), in eval mode.
    Its space (``network`` in ``arch.json``) is rebuilt from the catalog unless ``space`` (a
    custom space, already fitted to the data) is given. A user space (``module:Class``) named
    in ``arch.json`` is code: it is imported only with ``trust=True`` (or ``trust`` equal to
    it), else :class:`~archspace.spaces.UntrustedSpaceError` before anything is imported."""
    import torch

    from archspace.spaces import get_space

    d = Path(directory)
    try:
        info = json.loads((d / ARCH_FILE).read_text())
        net = info["network"]
    except (OSError, ValueError, KeyError) as e:
        raise ExportError(f"{d} holds no readable archspace export ({ARCH_FILE}: {e})") from None
    if not (d / WEIGHTS_FILE).is_file():
        raise ExportError(f"{d} has no {WEIGHTS_FILE}; export with --format pt")
    if space is None:
        check_trusted(str(net["space"]), trust, f"export folder {d}",
                      hint="pass trust=True to load_model (or its space) to allow it")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in net["params"].items()}
        space = get_space(net["space"], **params)
    model = space.build(space.arch_from_json(info["arch_json"]), net["resolution"])
    state = torch.load(d / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
