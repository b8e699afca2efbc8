"""int8 deployment: ONNX Runtime static quantisation of trained networks, accuracy and bytes.

For each case a one-trial study trains a fixed network with the ``train`` estimator, and
``export_study(..., ["onnx-int8"])`` (what ``archspace export --format onnx-int8`` runs)
quantises the kept trained weights (:mod:`archspace.export_int8`). Reported per case: the float
ONNX graph's and the int8 graph's top-1 accuracy on the estimator's validation split, the share
of images where they agree, the int8 file's weight bytes (int8 weights + int32 biases +
per-channel scales, as stored) beside the cost model's flash estimate (``tinyengine`` memory
model: int8 weights + an int32 bias and scale per output channel), and the export's CPU time
(``time.process_time``, one thread: ONNX export, pre-processing, calibration, two accuracy
passes).

Each case's result is kept in ``--out`` (default ``benchmarks/results/int8_deploy/``, one JSON
file per case), its study and export in ``--work`` (default ``/tmp/archspace-int8-deploy``), so a
rerun skips what is done (``--force`` redoes it).

    OMP_NUM_THREADS=1 python benchmarks/int8_deploy.py                 # every case
    OMP_NUM_THREADS=1 python benchmarks/int8_deploy.py --cases nb201-c16n2-digits
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import archspace  # noqa: E402
from archspace.export import export_study  # noqa: E402
from archspace.space import Arch, Space  # noqa: E402
from archspace.spaces import get_space  # noqa: E402
from archspace.strategies.base import Strategy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CIFAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
NB201_BEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
              "nor_conv_3x3~2|")  # NAS-Bench-201's best CIFAR-10 cell
MCUNET_IN0 = "k5e4-k3e3-k3e4/k7e5-k5e4-k5e5/k7e5-k5e4/k3e5-k5e4-k3e5/k3e6-k5e4/k3e6"
#: name -> space, its parameters, the arch (None: the space's seeded sample), estimator, options
CASES: dict[str, dict[str, Any]] = {
    "mcunet-w0.35-r32-digits": {
        "space": "mcunet", "params": {"width": 0.35, "resolution": 32}, "arch": None,
        "estimator": "train", "options": {"dataset": "digits", "epochs": 5}},
    "mcunet-in0-digits": {
        "space": "mcunet", "params": {"width": 0.6, "resolution": 48, "mix_layer": False},
        "arch": MCUNET_IN0, "estimator": "train", "options": {"dataset": "digits", "epochs": 5}},
    "nb201-c16n2-digits": {
        "space": "nb201", "params": {"C": 16, "N": 2}, "arch": NB201_BEST,
        "estimator": "train", "options": {"dataset": "digits", "epochs": 5}},
    "mcunet-w0.35-r32-cifar10": {
        "space": "mcunet", "params": {"width": 0.35, "resolution": 32}, "arch": None,
        "estimator": "train", "options": {"dataset": f"imagefolder:{CIFAR}", "epochs": 2,
                                          "train_samples": 5000}},
    "mcunet-in3-digits-brief": {  # bytes above all: 0.1 epoch at 176x176 trains little
        "space": "mcunet", "params": {"width": 0.5, "resolution": 176, "mix_layer": False},
        "arch": "named:mcunet-in3", "estimator": "train",
        "options": {"dataset": "digits", "epochs": 0.1, "batch_size": 32}},
}


class Fixed(Strategy):
    """Proposes one arch, again and again (a one-trial study of a chosen network)."""

    name = "fixed"

    def __init__(self, space: Space, arch: Arch) -> None:
        super().__init__(space, 0)
        self.arch = arch

    def ask(self) -> Arch:
        return self.arch

    def tell(self, arch: Arch, score: float | None, objectives: Any = ()) -> None:
        pass


def run_case(name: str, out: Path, work: Path, calibration: int, force: bool) -> dict[str, Any]:
    case = CASES[name]
    result_file = out / f"{name}.json"
    if result_file.is_file() and not force:
        return dict(json.loads(result_file.read_text()))
    study = work / f"{name}.db"
    if force:
        for p in (study, Path(f"{study}.ckpt"), work / name):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    space = get_space(case["space"], **case["params"])
    text = case["arch"]
    if text is None:
        arch = space.sample(0)
    elif text.startswith("named:"):
        arch = space.named(text.partition(":")[2])
    else:
        arch = space.parse_arch(text)
    t0 = time.process_time()
    if not study.is_file():
        archspace.search(space=case["space"], space_params=case["params"],
                         estimator=case["estimator"], estimator_options=case["options"],
                         strategy=Fixed(space, arch), budget=1, seed=0, study=study, threads=1)
    train_cpu = time.process_time() - t0
    t0 = time.process_time()
    res = export_study(study, work / name, ["onnx-int8"], calibration_images=calibration)
    export_cpu = time.process_time() - t0
    q = res.info["int8"]
    row = {"case": name, "space": case["space"], "params": case["params"],
           "arch": res.info["arch"], "estimator": case["estimator"],
           "options": case["options"], "weights": res.weights,
           "params_count": res.info["network"]["cost"]["params"],
           "resolution": res.info["network"]["resolution"],
           "float": q["accuracy"]["float"], "int8": q["accuracy"]["int8"],
           "agreement": q["accuracy"]["agreement"],
           "int8_fused_kernels": q["accuracy"]["int8_fused_kernels"], "val_images": q["accuracy"]["images"],
           "calibration_images": q["calibration"]["images"],
           "weights_bytes": q["bytes"]["weights"], "stored_bytes": q["bytes"]["stored"],
           "flash_tinyengine": q["flash_estimate"]["tinyengine"],
           "flash_mcunet": q["flash_estimate"]["mcunet"],
           "ratio": q["weights_vs_flash"], "gap": q["flash_gap"], "bytes": q["bytes"],
           "train_cpu_s": train_cpu, "export_cpu_s": export_cpu,
           "onnxruntime": q["onnxruntime"], "warnings": list(res.warnings)}
    result_file.write_text(json.dumps(row, indent=2) + "\n")
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| case | val images | float top-1 | int8 top-1 | agree | ORT fused kernels "
            "| int8 weights (B) | tinyengine flash (B) | ratio | export CPU s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['case']} | {r['val_images']} | {r['float']:.2f} | "
                     f"{r['int8']:.2f} | {r['agreement']:.1f} | {r['int8_fused_kernels']:.2f} | "
                     f"{r['weights_bytes']:,} | "
                     f"{r['flash_tinyengine']:,} | {r['ratio']:.4f} | {r['export_cpu_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_deploy")
    ap.add_argument("--work", type=Path, default=Path("/tmp/archspace-int8-deploy"))
    ap.add_argument("--calibration-images", type=int, default=256)
    ap.add_argument("--force", action="store_true", help="redo cases already done")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.cases.split(","):
        if "cifar10" in name and not CIFAR.is_file():
            print(f"skipped {name}: {CIFAR} is absent")
            continue
        row = run_case(name, args.out, args.work, args.calibration_images, args.force)
        print(f"{name}: float {row['float']:.2f} int8 {row['int8']:.2f} agree "
              f"{row['agreement']:.1f}; weights {row['weights_bytes']} B / flash "
              f"{row['flash_tinyengine']} B = {row['ratio']:.4f}; {row['gap']}", flush=True)
        rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
