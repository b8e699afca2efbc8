"""The estimator registry and options, and the ``train`` estimator on tiny budgets."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from archspace import Arch, ArchspaceError, ChainSpace, Decision, get_space
from archspace.estimators import (
    ESTIMATORS,
    EstimatorError,
    TrainingDiverged,
    get_estimator,
    list_estimators,
    parse_option_pairs,
)
from archspace.estimators.loop import evaluate_model, fit, make_optimizer
from archspace.estimators.train import choose_resolution
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct


class TinySpace(ChainSpace):
    """Two conv layers with a searchable kernel and width, then a classifier (fast to train)."""

    name = "tiny"
    min_resolution = 8

    def __init__(self, num_classes: int = 10, head: bool = True) -> None:
        self._record_params(num_classes=num_classes, head=head)
        self.num_classes = num_classes
        self.head = head
        self._set_decisions([Decision.of("k", (1, 3)), Decision.of("w", (8, 16))])

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        k, w = int(arch["k"]), int(arch["w"])  # type: ignore[arg-type]
        out: list[Block] = [ConvBNAct(w, k, 1, "relu"), ConvBNAct(w, 3, 2, "relu")]
        return out + ([ClassifierHead(self.num_classes)] if self.head else [])


class FixedClasses(TinySpace):
    """A space that cannot change its number of classes."""

    def __init__(self) -> None:
        self.num_classes, self.head = 5, True
        self._set_decisions([Decision.of("k", (1, 3)), Decision.of("w", (8, 16))])


# -- registry and options -----------------------------------------------------------------
def test_list_estimators_is_json_with_defaults() -> None:
    items = list_estimators()
    assert [e["name"] for e in items] == list(ESTIMATORS)
    json.dumps(items)
    train = next(e for e in items if e["name"] == "train")
    opts = {o["name"]: o for o in train["options"]}
    assert opts["dataset"]["default"] == "digits" and opts["epochs"]["default"] == 5.0
    assert opts["optimizer"]["allowed"] == "one of sgd, adam"
    assert all(e["summary"] for e in items)


def test_unknown_estimator_and_option_list_what_is_allowed() -> None:
    with pytest.raises(EstimatorError, match="available: nasbench201, train"):
        get_estimator("nope")
    with pytest.raises(EstimatorError, match=r"no option 'epoch'; allowed: dataset, .*epochs"):
        get_estimator("train", epoch=3)
    assert issubclass(EstimatorError, ArchspaceError)


@pytest.mark.parametrize(("key", "value", "needs"), [
    ("epochs", -1, "a number > 0"), ("epochs", "abc", "a number > 0"),
    ("optimizer", "rmsprop", "one of sgd, adam"), ("batch_size", 2.5, "an integer > 0"),
    ("download", "maybe", "true or false"), ("val_fraction", 1.0, r"a number in \(0, 1\)"),
    ("dataset", None, "digits, mnist"), ("device", "tpu", "auto, cpu, cuda, cuda:N or mps"),
    ("dataset", "svhn", "digits, mnist, fashion-mnist, cifar10, cifar100 or imagefolder:PATH"),
    ("val_split", "all", "one of auto, test, train"), ("image_size", 0, "an integer > 0"),
])
def test_bad_option_values_are_rejected(key: str, value: object, needs: str) -> None:
    with pytest.raises(EstimatorError, match=f"option {key}=.* must be {needs}"):
        get_estimator("train", **{key: value})


def test_options_convert_command_line_strings() -> None:
    pairs = parse_option_pairs(["epochs=0.5", "download=yes", "max_seconds=none", "batch_size=8"])
    est = get_estimator("train", **pairs)
    assert est.config["epochs"] == 0.5 and est.config["download"] is True
    assert est.config["max_seconds"] is None and est.config["batch_size"] == 8
    assert est.config["lr"] is None and est.config["dataset"] == "digits"
    timed = get_estimator("train", epochs="none", max_seconds="2.5").config
    assert timed["epochs"] is None and timed["max_seconds"] == 2.5
    with pytest.raises(EstimatorError, match="needs a budget"):
        get_estimator("train", epochs=None)
    with pytest.raises(EstimatorError, match="expected NAME=VALUE"):
        parse_option_pairs(["epochs"])
    with pytest.raises(EstimatorError, match="given twice"):
        parse_option_pairs(["epochs=1", "epochs=2"])


def test_registry_imports_no_torch() -> None:
    code = ("import sys, archspace.estimators as e; e.list_estimators(); "
            "e.get_estimator('nasbench201'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the training loop --------------------------------------------------------------------
def _toy(n: int = 40) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(n, 1, 4, 4)
    y = (x.sum(dim=(1, 2, 3)) > 0).long()
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), x, y


def test_fit_runs_the_requested_steps_and_restores_lr() -> None:
    model, x, y = _toy()
    opt = make_optimizer(model, "sgd", 0.1, 0.0)
    res = fit(model, x, y, opt, 8, 2.5, None, torch.Generator().manual_seed(0))
    assert res.steps == 13 and res.epochs == pytest.approx(2.6)
    assert opt.param_groups[0]["lr"] == 0.1
    acc, loss = evaluate_model(model, x, y)
    assert 75.0 <= acc <= 100.0 and 0 < loss < math.log(2)


def test_fit_reports_the_sum_over_training_losses() -> None:
    """SoTL and SoTL-E (Ru et al., NeurIPS 2021) as the minibatch losses training computed:
    the mean over every step and over the last epoch's; a continued run whose earlier losses
    are unknown has no SoTL."""
    from archspace.estimators.loop import Resume

    model, x, y = _toy()
    losses: list[float] = []

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(out, target)
        losses.append(float(loss.detach()))
        return loss

    opt = make_optimizer(model, "sgd", 0.1, 0.0)
    res = fit(model, x, y, opt, 8, 3, None, torch.Generator().manual_seed(0), loss_fn=loss_fn)
    assert res.steps == len(losses) == 15
    assert res.sotl == pytest.approx(sum(losses) / 15, rel=1e-6)
    assert res.train_loss == pytest.approx(sum(losses[-5:]) / 5, rel=1e-6)
    assert res.sotl > res.train_loss  # the loss fell while training
    later = fit(model, x, y, opt, 8, 4, None, torch.Generator().manual_seed(0),
                resume=Resume(15))
    assert later.steps == 20 and math.isnan(later.sotl) and math.isfinite(later.train_loss)


def test_fit_stops_at_the_time_budget() -> None:
    model, x, y = _toy()
    opt = make_optimizer(model, "adam", 0.01, 0.0)
    res = fit(model, x, y, opt, 8, None, 0.05, torch.Generator().manual_seed(0))
    assert res.steps > 0 and 0.05 <= res.seconds < 1.0
    with pytest.raises(EstimatorError, match="budget"):
        fit(model, x, y, opt, 8, None, None, torch.Generator())


def test_fit_raises_on_non_finite_loss() -> None:
    model, x, y = _toy()
    x[3] = float("nan")
    opt = make_optimizer(model, "sgd", 0.1, 0.0)
    with pytest.raises(TrainingDiverged, match="diverged: the loss became nan"):
        fit(model, x, y, opt, 40, 1, None, torch.Generator().manual_seed(0))


# -- the train estimator ------------------------------------------------------------------
def test_train_is_deterministic_and_in_range() -> None:
    space = TinySpace()
    arch = space.make({"k": 3, "w": 8})
    est = get_estimator("train", epochs=1, batch_size=128)
    est.check_space(space)
    a, b = est.evaluate(space, arch, seed=3), est.evaluate(space, arch, seed=3)
    assert not torch.are_deterministic_algorithms_enabled()  # global state restored
    assert torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
    a.pop("train_seconds")
    b.pop("train_seconds")
    assert a == b
    c = est.evaluate(space, arch, seed=4)
    assert c["val_accuracy"] != a["val_accuracy"] or c["val_loss"] != a["val_loss"]
    assert 0.0 <= a["val_accuracy"] <= 100.0 and a["val_loss"] > 0
    assert a["steps"] == 1437 // 128 and a["epochs"] == 1.0 and a["resolution"] == 8
    cost = space.profile(arch, 8)
    assert a["params"] == cost.params and a["macs"] == cost.macs
    assert a["peak_sram_bytes"] == cost.peak_sram_bytes and a["flash_bytes"] == cost.flash_bytes


def test_train_learns_digits() -> None:
    space = TinySpace()
    est = get_estimator("train", epochs=4, batch_size=32, optimizer="adam", lr=0.01)
    m = est.evaluate(space, space.make({"k": 3, "w": 16}))
    assert m["val_accuracy"] > 60.0 and m["val_loss"] < 1.5 and m["train_loss"] < 1.5
    assert m["sotl_e"] == m["train_loss"] < m["sotl"] < math.log(10) + 1  # the loss fell
    assert {"sotl", "sotl_e"} <= set(est.produces())


def test_train_catalog_space_fits_classes_channels_and_resolution() -> None:
    space = get_space("mobilenetv2", width=0.35)  # 1000 classes, RGB, min resolution 32
    est = get_estimator("train", epochs=0.05, batch_size=32)
    est.check_space(space)
    m = est.evaluate(space, space.sample(0), seed=0)
    assert m["resolution"] == 32 and m["steps"] == 3
    ten = get_space("mobilenetv2", width=0.35, num_classes=10)
    assert m["params"] == ten.profile(space.sample(0), 32).params
    assert 0.0 <= m["val_accuracy"] <= 100.0


def test_train_time_budget_alone() -> None:
    space = TinySpace()
    m = get_estimator("train", epochs="none", max_seconds=0.3).evaluate(space, space.sample(0))
    assert 0.3 <= m["train_seconds"] < 2.0 and m["steps"] > 0
    assert m["epochs"] == m["steps"] / (1437 // 64)


def test_train_divergence_is_reported() -> None:
    space = TinySpace()
    est = get_estimator("train", epochs=1, batch_size=128, lr=1e30)
    with pytest.raises(TrainingDiverged, match="diverged"):
        est.evaluate(space, space.make({"k": 3, "w": 8}))


def test_train_check_space_rejects_what_it_cannot_fit() -> None:
    with pytest.raises(EstimatorError, match="not a vector of 10 class scores"):
        get_estimator("train").check_space(TinySpace(head=False))
    with pytest.raises(EstimatorError, match="no num_classes parameter; the dataset has 10"):
        get_estimator("train").check_space(FixedClasses())
    with pytest.raises(ArchspaceError, match=r"option dataset='svhn' .* must be digits, mnist"):
        get_estimator("train", dataset="svhn")  # when configured, before any space is checked


def test_choose_resolution() -> None:
    space = get_space("mobilenetv2", width=0.35)
    assert choose_resolution(space, 8, None) == 32
    assert choose_resolution(space, 48, None) == 48
    assert choose_resolution(TinySpace(), 8, 12) == 12
    with pytest.raises(ArchspaceError, match="cannot take resolution 16"):
        choose_resolution(space, 8, 16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_device_without_cuda_is_a_clear_error() -> None:
    space = TinySpace()
    with pytest.raises(EstimatorError, match="device='cuda': CUDA is not available"):
        get_estimator("train", device="cuda").evaluate(space, space.sample(0))


def test_train_cost_is_the_trained_network_and_constraints_use_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Constraints are checked on the network the estimator trains (dataset classes and
    resolution), not on the space as configured."""
    from archspace.estimators import get_estimator
    from archspace.spaces import get_space
    from archspace.study import Study, StudyConfig

    space = get_space("mcunet")
    est = get_estimator("train", dataset="digits", epochs=1)
    arch = space.sample(0)
    fitted, r = est.adapted(space)
    assert est.cost(space, arch) == fitted.profile(arch, r)
    assert est.cost(space, arch).flash_bytes < space.profile(arch).flash_bytes  # 10 classes
    cfg = StudyConfig(space="mcunet", space_params={}, estimator="train",
                      estimator_options={"dataset": "digits", "epochs": 1}, strategy="random",
                      strategy_options={}, seed=0, budget=1,
                      constraints=(f"flash<={space.profile(arch).flash_bytes // 2}",))
    study = Study.create(tmp_path / "s.db", cfg)
    rec = study._screen(arch, 0)
    study.close()
    assert rec.cost is not None and rec.cost["flash_bytes"] == est.cost(space, arch).flash_bytes


def test_train_uses_the_resolution_the_space_was_given() -> None:
    """``mcunet -p resolution=48`` trains at 48 (it used to train at the data's 32); the
    estimator's own ``resolution`` overrides it; a space left at its default trains at the
    data's resolution raised to the space's minimum."""
    space = get_space("mcunet", width=0.2, resolution=48)
    arch = space.sample(0)
    est = get_estimator("train", epochs=0.05, batch_size=64)
    assert est.adapted(space)[1] == 48
    m = est.evaluate(space, arch, seed=0)
    assert m["resolution"] == 48.0
    assert est.cost(space, arch) == get_space("mcunet", width=0.2, resolution=48,
                                              num_classes=10).profile(arch, 48)
    assert get_estimator("train", resolution=64).adapted(space)[1] == 64
    assert est.adapted(get_space("mcunet", width=0.2))[1] == 32
    # named at its default value, it still means what it says
    assert est.adapted(get_space("mcunet", width=0.2, resolution=224))[1] == 224


def test_evaluate_model_batch_does_not_change_the_result() -> None:
    from archspace.estimators.loop import EVAL_BATCH, EVAL_BATCH_CPU
    from archspace.nn import build_module

    space = get_space("nb201", C=4, N=1)
    torch.manual_seed(0)
    model = build_module(space.lower(space.sample(3), 8))
    x, y = torch.randn(300, 3, 8, 8), torch.randint(0, 10, (300,))
    assert EVAL_BATCH_CPU < 300 < EVAL_BATCH  # the default splits x, 512 does not
    acc, loss = evaluate_model(model, x, y)
    acc512, loss512 = evaluate_model(model, x, y, batch_size=EVAL_BATCH)
    assert acc == acc512
    assert loss == pytest.approx(loss512, rel=1e-6)
