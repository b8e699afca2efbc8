"""Training a supernet, searching with its inherited weights, exporting them, and bad input:
end to end through the command line on a 1-cell nb201 and digits at 8x8 pixels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from archspace import get_space
from archspace.cli import cli
from archspace.estimators import get_estimator
from archspace.export import load_model
from archspace.supernet.checkpoint import load_supernet, read_supernet_file

SPACE = ("--space", "nb201", "-p", "C=4", "-p", "N=1")
TRAIN = ("-e", "dataset=digits", "-e", "epochs=2", "-e", "batch_size=128")
NONET = """
from archspace.space import Decision, Space


class NoNet(Space):  # decisions, but no network in the IR: no supernet
    name = "nonet"

    def __init__(self, num_classes: int = 10) -> None:
        self.num_classes = num_classes
        self._set_decisions([Decision.of("k", (1, 2))])

    def build(self, arch, resolution=None):
        import torch

        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(self.num_classes))
"""


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, err + out
    return out


@pytest.fixture(scope="module")
def sn_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sn") / "sn.pt"
    ok("supernet", "train", *SPACE, *TRAIN, "-o", str(path), "--no-progress")
    return path


def test_training_writes_a_file_of_data_for_its_space(sn_file: Path) -> None:
    data = read_supernet_file(sn_file)
    assert data["space"] == "nb201" and data["params"] == {"C": 4, "N": 1}
    assert data["complete"] and data["epoch"] == 2 and len(data["history"]) == 2
    assert data["num_classes"] == 10 and data["resolution"] == 8 and data["dataset"] == "digits"
    assert set(data["metrics"]) >= {"largest_val_accuracy", "smallest_val_accuracy"}
    out = ok("supernet", "train", *SPACE, *TRAIN, "-o", str(sn_file), "--no-progress")
    assert "supernet of nb201(C=4,N=1)" in out  # trained already: nothing to do
    code, _, err = run("supernet", "train", *SPACE, "-e", "dataset=digits", "-e", "epochs=3",
                       "-e", "batch_size=128", "-o", str(sn_file), "--no-progress")
    assert code == 2 and "other options" in err and err.count("\n") == 1


def test_resume_continues_an_interrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archspace.supernet.train as tr

    path = tmp_path / "r.pt"
    calls = {"n": 0}
    real = tr.write_supernet_file

    def stop_after_first(p: Path, payload: dict) -> Path:  # type: ignore[type-arg]
        real(p, payload)
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(tr, "write_supernet_file", stop_after_first)
    space = get_space("nb201", C=4, N=1)
    opts = {"dataset": "digits", "epochs": 2, "batch_size": 128}
    with pytest.raises(KeyboardInterrupt):
        tr.train_supernet(space, path, opts)
    assert read_supernet_file(path)["epoch"] == 1
    monkeypatch.setattr(tr, "write_supernet_file", real)
    tr.train_supernet(space, path, opts)
    straight = tmp_path / "s.pt"
    tr.train_supernet(space, straight, opts)
    a, b = read_supernet_file(path), read_supernet_file(straight)
    assert a["complete"] and all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def test_oneshot_search_and_export_with_inherited_weights(sn_file: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "s.db", tmp_path / "model"
    ok("search", *SPACE, "--estimator", "oneshot", "-e", f"supernet={sn_file}",
       "--strategy", "evolution", "--budget", "6", "--seed", "0", "--study", str(db),
       "-c", "params<=20000", "--no-progress")
    ok("export", str(db), "-o", str(out))
    info = json.loads((out / "arch.json").read_text())
    assert info["network"]["weights"] == "inherited"
    model = load_model(out)
    space = get_space("nb201", C=4, N=1)
    arch = space.parse_arch(info["arch"])
    sn = load_supernet(sn_file, space)
    x = torch.randn(3, 3, 8, 8)
    est = get_estimator("oneshot", supernet=str(sn_file))
    score = est.evaluate(space, arch)
    assert score["val_accuracy"] == pytest.approx(info["metrics"]["val_accuracy"]) \
        if info["metrics"] else True
    sn = est.supernet(space)  # recalibrated for the arch by evaluate
    sn.activate(arch).eval()
    with torch.no_grad():
        assert torch.allclose(model(x), sn(x), atol=1e-5)
    ok("export", str(db), "-o", str(tmp_path / "ft"), "--finetune-epochs", "1")
    assert json.loads((tmp_path / "ft" / "arch.json").read_text())["network"]["weights"] == \
        "fine-tuned"


def test_scores_do_not_depend_on_the_order(sn_file: Path) -> None:
    space = get_space("nb201", C=4, N=1)
    est = get_estimator("oneshot", supernet=str(sn_file))
    a, b = space.sample(1), space.sample(2)
    first = est.evaluate(space, a)["val_accuracy"]
    est.evaluate(space, b)
    assert est.evaluate(space, a)["val_accuracy"] == first


def test_bad_input_is_one_line_exit_2(sn_file: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(sn_file.read_bytes()[:1000])
    not_data = tmp_path / "code.pt"
    torch.save({"format": "archspace-supernet/1", "f": Path("x")}, not_data)
    db = str(tmp_path / "x.db")
    cases = {
        "another space's params": ("search", "--space", "nb201", "-p", "C=8", "-p", "N=1",
                                   "--estimator", "oneshot", "-e", f"supernet={sn_file}"),
        "another space": ("search", "--space", "darts", "--estimator", "oneshot",
                          "-e", f"supernet={sn_file}"),
        "truncated": ("search", *SPACE, "--estimator", "oneshot", "-e", f"supernet={bad}"),
        "not data": ("search", *SPACE, "--estimator", "oneshot", "-e", f"supernet={not_data}"),
        "missing": ("search", *SPACE, "--estimator", "oneshot", "-e", "supernet=nope.pt"),
        "no file given": ("search", *SPACE, "--estimator", "oneshot"),
    }
    for why, args in cases.items():
        code, _, err = run(*args, "--strategy", "random", "--budget", "1", "--study", db,
                           "--no-progress")
        assert code == 2 and err.startswith("archspace: error:") and err.count("\n") == 1, \
            (why, err)
    (tmp_path / "nonet_space.py").write_text(NONET)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run("supernet", "train", "--space", "nonet_space:NoNet", "-e",
                       "dataset=digits", "-o", str(tmp_path / "n.pt"))
    assert code == 2 and "has no supernet" in err and err.count("\n") == 1, err
    code, _, err = run("supernet", "train", *SPACE, "-e", "dataset=digits", "-e", "distill=true",
                       "-o", str(tmp_path / "d.pt"))
    assert code == 2 and "sandwich" in err
