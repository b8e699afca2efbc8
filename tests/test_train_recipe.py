"""The ``train`` estimator's NAS-Bench-201 recipe, its augmentation, and the reduced-cost
proxies of EcoNAS (fewer samples, lower resolution, smaller networks)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from archspace.cli import cli
from archspace.datasets.core import Dataset, from_images
from archspace.datasets.raw import Images
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.augment import augmentation, crop_padding, flip_crop
from archspace.estimators.loop import make_optimizer
from archspace.estimators.recipes import RECIPES
from archspace.estimators.subset import balanced_subset
from archspace.spaces import get_space


def colour_images(n: int = 48, side: int = 8, classes: int = 3) -> Dataset:
    """A tiny 3-channel dataset whose class is the brightest colour channel."""
    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(n) % classes
    x = torch.rand(n, 3, side, side, generator=gen) * 0.5
    x[torch.arange(n), labels] += 0.5
    images = Images((x.clamp(0, 1) * 255).to(torch.uint8).numpy(), labels.numpy(),
                    tuple(f"c{i}" for i in range(classes)))
    return from_images("colours", images, 0.25)


def train_on(data: Dataset, **options: object) -> dict[str, float]:
    est = get_estimator("train", **{"batch_size": 8, "epochs": 1, **options})
    est.use_shared_inputs({"dataset": data})
    space = get_space("nb201", C=4, N=1, num_classes=data.num_classes)
    est.check_space(space)
    return est.evaluate(space, space.sample(0), seed=0)


# -- the recipe ---------------------------------------------------------------------------
def test_nb201_recipe_has_the_benchmark_hyperparameters() -> None:
    """200E.config / 12E.config of AutoDL-Projects: SGD Nesterov 0.9, lr 0.1 cosine to 0,
    weight decay 5e-4, batch 256."""
    c = get_estimator("train", recipe="nb201").config
    assert (c["optimizer"], c["lr"], c["momentum"], c["weight_decay"], c["batch_size"],
            c["epochs"], c["augment"]) == ("sgd", 0.1, 0.9, 5e-4, 256, 200.0, "auto")
    assert get_estimator("train", recipe="nb201-12e").config["epochs"] == 12.0
    plain = get_estimator("train").config
    assert (plain["batch_size"], plain["lr"]) == (64, None)  # no recipe: the defaults
    model = torch.nn.Linear(2, 2)
    opt = make_optimizer(model, c["optimizer"], c["lr"], c["weight_decay"], c["momentum"])
    assert opt.param_groups[0]["nesterov"] is True


def test_explicit_options_override_the_recipe() -> None:
    c = get_estimator("train", recipe="nb201", epochs="6", batch_size="32").config
    assert (c["epochs"], c["batch_size"], c["lr"]) == (6.0, 32, 0.1)
    with pytest.raises(EstimatorError, match=r"recipe=.nb2. .* one of nb201, nb201-12e"):
        get_estimator("train", recipe="nb2")
    assert set(RECIPES) == {"nb201", "nb201-12e"}


# -- augmentation -------------------------------------------------------------------------
def test_flip_crop_takes_each_image_from_a_padded_window() -> None:
    x = torch.randn(16, 3, 8, 8)
    fill = torch.tensor([-1.0, -2.0, -3.0])
    out = flip_crop(x, torch.Generator().manual_seed(0), 2, fill)
    assert out.shape == x.shape
    padded = fill.view(1, 3, 1, 1).repeat(16, 1, 12, 12)
    padded[:, :, 2:10, 2:10] = x
    flips = 0
    for i in range(16):
        windows = [(f, dy, dx) for f in (False, True) for dy in range(5) for dx in range(5)
                   if torch.equal(out[i], (padded[i].flip(-1) if f else padded[i])
                                  [:, dy:dy + 8, dx:dx + 8])]
        assert windows, f"image {i} is no window of its padded, maybe flipped, copy"
        flips += windows[0][0]
    assert 0 < flips < 16
    again = flip_crop(x, torch.Generator().manual_seed(0), 2, fill)
    assert torch.equal(out, again)  # seeded


def test_augmentation_choice_and_padding() -> None:
    assert crop_padding(32) == 4 and crop_padding(16) == 2 and crop_padding(8) == 1
    assert augmentation("auto", 1, 8, (0.5,), (0.2,)) is None  # digits: not augmented
    assert augmentation("none", 3, 32, (0.5,) * 3, (0.2,) * 3) is None
    assert augmentation("auto", 3, 32, (0.5,) * 3, (0.2,) * 3) is not None
    assert augmentation("flip_crop", 1, 8, (0.5,), (0.2,)) is not None  # asked for


def test_natural_images_are_augmented_by_default_digits_not() -> None:
    data = colour_images()
    auto, flip, none = (train_on(data, augment=a) for a in ("auto", "flip_crop", "none"))
    for m in (auto, flip, none):
        m.pop("train_seconds")
    assert auto == flip and auto["val_loss"] != none["val_loss"]
    space = get_space("nb201", C=4, N=1, num_classes=10)
    arch = space.sample(0)
    digits = [get_estimator("train", epochs=0.2, batch_size=64, augment=a).evaluate(space, arch)
              for a in ("auto", "none", "flip_crop")]
    for m in digits:
        m.pop("train_seconds")
    assert digits[0] == digits[1] != digits[2]


# -- reduced-cost proxies (EcoNAS): samples, resolution, channels and cells ----------------------
def test_balanced_subset_is_balanced_seeded_and_nested() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 4)
    sub = balanced_subset(labels, 13)
    assert torch.equal(sub, torch.sort(sub).values) and len(set(sub.tolist())) == 13
    assert torch.bincount(labels[sub]).tolist() == [5, 4, 4]
    assert torch.equal(sub, balanced_subset(labels, 13))
    big = balanced_subset(labels, 40)  # class 2 has only 4: the others make up the rest
    assert torch.bincount(labels[big]).tolist() == [18, 18, 4]
    assert set(sub.tolist()) <= set(big.tolist())


def test_train_samples_trains_on_the_subset() -> None:
    space = get_space("nb201", C=4, N=1)
    est = get_estimator("train", train_samples=100, epochs=1, batch_size=20)
    est.check_space(space)
    m = est.evaluate(space, space.sample(0))
    assert m["train_samples"] == 100 and m["steps"] == 5 and m["epochs"] == 1.0


@pytest.mark.parametrize(("n", "needle"), [
    (99999, "train_samples=99999: dataset 'digits' has 1438 training images in 10 classes; "
            "allowed: an integer from 10 to 1438"),
    (5, "train_samples=5: dataset 'digits'"),
])
def test_train_samples_out_of_range_is_one_line_before_training(tmp_path: Path, n: int,
                                                                 needle: str) -> None:
    path = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "-p", "C=4", "-p", "N=1",
                                   "--estimator", "train", "-e", f"train_samples={n}",
                                   "--strategy", "random", "--budget", "1", "--study",
                                   str(path)], catch_exceptions=False)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr
    assert not path.exists()


def test_reduced_cost_proxies_shrink_what_is_trained() -> None:
    """``nb201 -p C=8 -p N=1`` at a lower resolution: fewer MACs than the full network."""
    full, small = get_space("nb201"), get_space("nb201", C=8, N=1)
    arch = full.sample(3)
    est = get_estimator("train", epochs=0.1, resolution=16)
    est.check_space(small)
    m = est.evaluate(small, arch)
    assert m["resolution"] == 16
    assert m["macs"] < get_estimator("train", resolution=32).cost(full, arch).macs / 20
