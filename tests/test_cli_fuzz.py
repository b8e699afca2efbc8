"""Every subcommand, fed malformed input by hypothesis, answers with one line
``archspace: error: ...`` on stderr, nothing on stdout, exit status 2 and no traceback.

Each generated command line is invalid by construction: a valid base (so that the fuzzed piece is
what gets checked) plus one to three bad pieces drawn from the families below: numbers outside
an option's declared range (overflowing ones, ``nan``, ``inf``, Python syntax such as
``10**30``, thousands of digits), unknown option flags, garbage ``K=V`` pairs for ``-p`` /
``-e`` / ``-s`` / ``-c``, unknown names, and files that are missing, binary, directories, empty,
or JSON nested 100000 deep. Bad values of plugin options are derived from the options' own
declarations (what ``archspace estimators --json`` lists). A study must never start: ``Study.run``
is replaced by a failure, so an input the CLI let through to a search fails the test.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspace.cli import cli
from archspace.estimators import list_estimators
from archspace.limits import MAX_SEED
from archspace.options import Option
from archspace.spaces import get_space, list_spaces, space_params
from archspace.strategies import list_strategies
from archspace.study import Study

#: 30 fixed examples per command in the suite; ARCHSPACE_FUZZ_EXAMPLES=N draws N fresh ones.
_EXAMPLES = os.environ.get("ARCHSPACE_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_EXAMPLES or 30), deadline=None, derandomize=_EXAMPLES is None,
                database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
Args = list[str]
Gen = Callable[["Files"], st.SearchStrategy[Args]]


# -- the files the fuzzer hands over ---------------------------------------------------------
class Files:
    """Malformed files (and one real study) in a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.missing = root / "missing.db"
        self.binary = root / "binary.bin"
        self.binary.write_bytes(b"\x00\xff\xfe\x80binary\x00" * 64)
        self.nul = root / "nul.txt"
        self.nul.write_bytes(b"C=16\x00\n")
        self.directory = root / "folder.db"
        self.directory.mkdir()
        self.deep = root / "deep.json"
        self.deep.write_text("[" * 100_000)
        self.deep_objects = root / "deep_objects.json"
        self.deep_objects.write_text('{"a":' * 5000 + "1" + "}" * 5000)
        self.big_number = root / "big_number.json"
        self.big_number.write_text('{"x": ' + "9" * 6000 + "}")
        self.empty = root / "empty.db"
        self.empty.write_bytes(b"")
        self.text = root / "text.db"
        self.text.write_text("not a study\n")
        self.study = root / "study.db"
        self.out = root / "out"

    def bad(self) -> list[Path]:
        """Files no command can use as an arch file or a study."""
        return [self.missing, self.binary, self.nul, self.directory, self.deep,
                self.deep_objects, self.big_number, self.empty, self.text]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    f = Files(tmp_path_factory.mktemp("fuzz"))
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "random", "--budget", "2", "--study",
                                   str(f.study), "--no-progress"])
    assert res.exit_code == 0, res.output
    return f


@pytest.fixture(autouse=True)
def _no_search(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Study, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a fuzzed command line started a search")

    monkeypatch.setattr(Study, "run", refuse)


# -- bad values --------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)
HUGE = st.integers(20, 6000).map(lambda n: "9" * n)
ALWAYS_BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "10**30",
                      "2**64", "1e30e", "0x1f", "1_0.5.5", "", " ", "--", "one"]


def _parses_as(text: str, kind: type) -> float | None:
    try:
        value = kind(text)
    except (ValueError, OverflowError):
        return None
    return value if kind is int or math.isfinite(value) else None


def bad_int(low: int, high: int) -> st.SearchStrategy[str]:
    """Text that is not an integer in ``low..high``."""
    outside = st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1)).map(str)
    junk = TEXT.filter(lambda t: (v := _parses_as(t, int)) is None or not low <= v <= high)
    return st.one_of(st.sampled_from(ALWAYS_BAD_NUMBERS), HUGE, HUGE.map("-".__add__), outside,
                     junk, st.floats(allow_nan=True).map(repr))


def bad_float(low: float | None, high: float | None, open_low: bool = False) -> st.SearchStrategy[str]:
    """Text that is not a finite number within the bounds given."""
    def bad(t: str) -> bool:
        v = _parses_as(t, float)
        return v is None or (low is not None and (v <= low if open_low else v < low)) or \
            (high is not None and v > high)
    pool: list[st.SearchStrategy[str]] = [st.sampled_from(ALWAYS_BAD_NUMBERS[:10]),
                                          TEXT.filter(bad)]
    if low is not None:
        pool.append(st.floats(max_value=low, exclude_max=not open_low).map(repr).filter(bad))
    if high is not None:
        pool.append(st.floats(min_value=high, exclude_min=True).map(repr).filter(bad))
    return st.one_of(pool)


def bad_seed() -> st.SearchStrategy[str]:
    return bad_int(0, MAX_SEED)


def unknown_name(known: set[str]) -> st.SearchStrategy[str]:
    """A name that is none of ``known`` (no ``:``: a ``module:Class`` space would be imported)."""
    return TEXT.filter(lambda t: t.strip() not in known and ":" not in t)


def positional(known: set[str]) -> st.SearchStrategy[str]:
    """An unknown name given as an argument (not starting with ``-``: ``-h`` would be an option)."""
    return unknown_name(known).filter(lambda t: not t.startswith("-"))


def unknown_flag() -> st.SearchStrategy[str]:
    return TEXT.map(lambda t: "--zz-" + "".join(c for c in t if c.isalnum()))


def _option_value(declared: Option) -> st.SearchStrategy[str] | None:
    """Values ``declared`` refuses (None for a free string option: any text may be valid)."""
    if declared.choices:
        values = unknown_name(set(declared.choices))
    elif declared.type is int:
        low, high = declared.bounds
        values = bad_int(int(low or 0), int(high or 0))
    elif declared.type is float:
        values = st.one_of(bad_float(declared.minimum, declared.maximum), st.floats().map(repr))
    elif declared.type is bool:
        values = TEXT
    else:
        return None
    return values.filter(lambda t: _fails(declared, t))


def _fails(declared: Option, text: str) -> bool:
    try:
        declared.convert("fuzz", text)
    except ValueError:
        return True
    return False


def bad_pairs(options: list[Option]) -> st.SearchStrategy[str]:
    """A ``K=V`` an owner with ``options`` refuses: an unknown key, a malformed pair, or a
    declared option with a value outside what it declares."""
    known = {o.name for o in options}
    pool = [unknown_name(known | {""}).map(lambda k: f"zz{k.strip()}=1"),
            TEXT.filter(lambda t: "=" not in t or not t.partition("=")[0].strip())]
    for o in options:
        value = _option_value(o)
        if value is not None:
            pool.append(value.map(lambda v, name=o.name: f"{name}={v}"))
    return st.one_of(pool)


def bad_params(space: str) -> st.SearchStrategy[str]:
    """A ``-p K=V`` space ``space`` refuses: an unknown key, or a numeric parameter with a
    value no space accepts (not a number, overflowing, negative, past every cap)."""
    pool: list[st.SearchStrategy[str]] = [
        unknown_name(set(space_params(space)) | {""}).map(lambda k: f"zz{k.strip()}=1"),
        TEXT.filter(lambda t: "=" not in t or not t.partition("=")[0].strip())]
    for key, default in space_params(space).items():
        numeric = (not isinstance(default, bool) and isinstance(default, int | float)) or (
            isinstance(default, tuple) and default and not isinstance(default[0], bool)
            and isinstance(default[0], int | float))
        if numeric:
            bad = st.one_of(st.sampled_from(ALWAYS_BAD_NUMBERS[:10]), HUGE,
                            HUGE.map("-".__add__), st.just("-1"))
            if isinstance(default, tuple):
                bad = bad.map(lambda v, d=default: ",".join([*map(str, d[:2]), v]))
            pool.append(bad.map(lambda v, k=key: f"{k}={v}"))
    return st.one_of(pool)


def _options_of(rows: list[dict[str, Any]], registry: str) -> dict[str, list[Option]]:
    if registry == "estimator":
        from archspace.estimators import estimator_class
        return {r["name"]: list(getattr(estimator_class(r["name"]), "options", ())) for r in rows}
    from archspace.strategies import strategy_class
    return {r["name"]: list(getattr(strategy_class(r["name"]), "options", ())) for r in rows}


ESTIMATORS = _options_of(list_estimators(), "estimator")
FORMULAS = {name for space in list_spaces() for name in get_space(space).size_formulas()}
STRATEGIES = _options_of(list_strategies(), "strategy")
SPACES = set(list_spaces())


def bad_constraint() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["macs<=1e999", "macs<=inf", "params<nan", "flash<=1e400GiB",
                         "peak_sram<=-1kB", "macs<=10**30", "macs=<5", "macs<=5XB", "macs"]),
        HUGE.map(lambda d: f"params<=1e{d}"),
        st.sampled_from(["<=", "<", ">=", ">"]).flatmap(
            lambda op: unknown_name({"macs", "params", "peak_sram", "flash"})
            .map(lambda m: f"zz{''.join(c for c in m if c not in '<>=,')}{op}1")),
        TEXT.filter(lambda t: not any(c in t for c in "<>")
                    and any(p.strip() for p in t.split(","))))


def bad_quantity() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["1e999kB", "inf", "nan", "-1kB", "10**30", "5XB", "kB"]),
                     HUGE.map(lambda d: f"1e{d}MB"))


# -- one generator per subcommand ------------------------------------------------------------
def _with(base: Args, bad: st.SearchStrategy[Args]) -> st.SearchStrategy[Args]:
    return st.lists(bad, min_size=1, max_size=3).map(
        lambda parts: base + [a for part in parts for a in part])


def _opt(flag: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[Args]:
    return value.map(lambda v: [flag, v])


def _space_cmd(name: str, extra: list[st.SearchStrategy[Args]]) -> Gen:
    def gen(f: Files) -> st.SearchStrategy[Args]:
        def for_space(space: str) -> st.SearchStrategy[Args]:
            return _with([name, space], st.one_of(
                _opt("-p", bad_params(space)), unknown_flag().map(lambda x: [x]), *extra))
        return st.one_of(st.sampled_from(sorted(SPACES)).flatmap(for_space),
                         positional(SPACES).map(lambda s: [name, s]))
    return gen


def _arch_input(f: Files) -> st.SearchStrategy[Args]:
    return st.one_of(st.sampled_from(f.bad()).map(lambda p: ["--arch", f"@{p}"]),
                     _opt("--arch", TEXT.filter(lambda t: t.strip() != "")),
                     _opt("--arch", st.sampled_from(["[" * 100_000, '{"a":' * 3000,
                                                      '{"C": ' + "9" * 5000 + "}", "{}", "[]",
                                                      "@", "@" + "\u00e9" * 40])),
                     _opt("--named", unknown_name(set())))


def size_gen(f: Files) -> st.SearchStrategy[Args]:
    return _space_cmd("size", [_opt("--formula", unknown_name(FORMULAS)),
                               st.just(["--distinct", "--formula", "x"])])(f)


def sample_gen(f: Files) -> st.SearchStrategy[Args]:
    return _space_cmd("sample", [_opt("-n", bad_int(1, 10_000_000)), _opt("--seed", bad_seed())])(f)


def profile_gen(f: Files) -> st.SearchStrategy[Args]:
    base = ["profile", "nb201"]
    return st.one_of(
        _with(base, st.one_of(_arch_input(f), _opt("--sample", bad_int(1, 1_000_000)))),
        _with([*base, "--sample", "1"], st.one_of(
            _opt("--seed", bad_seed()), _opt("-r", bad_int(32, 8192)),
            _opt("-p", bad_params("nb201")), unknown_flag().map(lambda x: [x]))))


def draw_gen(f: Files) -> st.SearchStrategy[Args]:
    out = ["-o", str(f.root / "arch.png")]
    return st.one_of(
        _with(["draw", "nb201", *out], _arch_input(f)),
        _with(["draw", "nb201", "--sample", *out], st.one_of(
            _opt("--seed", bad_seed()), _opt("-p", bad_params("nb201")),
            unknown_flag().map(lambda x: [x]))),
        st.sampled_from([str(f.root / "a.txt"), str(f.missing / "a.png"), str(f.directory)])
        .map(lambda o: ["draw", "nb201", "--sample", "-o", o]))


def search_gen(f: Files) -> st.SearchStrategy[Args]:
    def with_plugins(estimator: str, strategy: str) -> st.SearchStrategy[Args]:
        base = ["search", "--space", "nb201", "--estimator", estimator, "--strategy", strategy,
                "--budget", "1", "--study", str(f.root / "new.db"), "--no-progress"]
        bad: list[st.SearchStrategy[Args]] = [
            _opt("-e", bad_pairs(ESTIMATORS[estimator])),
            _opt("-s", bad_pairs(STRATEGIES[strategy])),
            _opt("-p", bad_params("nb201")), _opt("-c", bad_constraint()),
            _opt("--budget", bad_int(1, 10_000_000)), _opt("--seed", bad_seed()),
            _opt("--workers", bad_int(1, 4096)), _opt("--max-retries", bad_int(0, 1000)),
            _opt("--cpus-per-trial", bad_float(0, 4096, open_low=True)),
            _opt("--gpus-per-trial", bad_float(0, 4096)),
            _opt("--trial-timeout", bad_float(0, 10_000_000, open_low=True)),
            _opt("--executor", unknown_name({"inline", "process", "ray"})),
            _opt("--objective", unknown_name(set()).map(lambda t: f"zz{t}:sideways")),
            _opt("--reward", st.one_of(TEXT, bad_quantity().map(lambda q: f"macs:{q}:-0.07"),
                                       st.sampled_from(["macs:1M:1e300", "macs:1M:nan"]))),
            _opt("--study", st.sampled_from([str(f.study), str(f.directory)])),
            unknown_flag().map(lambda x: [x])]
        return _with(base, st.one_of(bad))
    names = st.tuples(st.sampled_from(sorted(ESTIMATORS)), st.sampled_from(sorted(STRATEGIES)))
    return st.one_of(names.flatmap(lambda es: with_plugins(*es)),
                     unknown_name(set(ESTIMATORS)).map(
                         lambda e: ["search", "--space", "nb201", "--estimator", e, "--strategy",
                                    "random", "--budget", "1", "--study", str(f.root / "n.db")]))


def _study_cmd(name: str, tail: Args, bad: Callable[[Files], list[st.SearchStrategy[Args]]]) -> Gen:
    def gen(f: Files) -> st.SearchStrategy[Args]:
        return st.one_of(
            st.sampled_from(f.bad()).map(lambda p: [name, str(p), *tail]),
            _with([name, str(f.study), *tail], st.one_of(
                *bad(f), _opt("--space", unknown_name({"nb201"})),
                unknown_flag().map(lambda x: [x]))))
    return gen


def resume_gen(f: Files) -> st.SearchStrategy[Args]:
    return _study_cmd("resume", ["--no-progress"], lambda f: [
        _opt("--budget", st.one_of(bad_int(1, 10_000_000), st.just("1"))),
        _opt("--workers", bad_int(1, 4096)), _opt("--trial-timeout", bad_float(0, 1e7, True))])(f)


def report_gen(f: Files) -> st.SearchStrategy[Args]:
    return _study_cmd("report", ["-o", str(f.out / "report")], lambda f: [
        _opt("--top", bad_int(1, 10_000_000)), _opt("-o", st.just(str(f.text)))])(f)


def export_gen(f: Files) -> st.SearchStrategy[Args]:
    return _study_cmd("export", ["-o", str(f.out / "export")], lambda f: [
        _opt("--trial", st.one_of(bad_int(0, 10_000_000), st.integers(2, 10_000_000).map(str))),
        _opt("-f", unknown_name({"json", "pt", "onnx", ""}).filter(
            lambda t: all(p.strip() not in ("json", "pt", "onnx") for p in t.split(",")))),
        st.just(["--best", "--trial", "0"])])(f)


def flops_gen(f: Files) -> st.SearchStrategy[Args]:
    base = ["analyze", "flops", "--space", "mcunet", "--samples", "3", "-o", str(f.out / "flops")]
    return st.one_of(
        _with(base, st.one_of(
            _opt("-p", bad_params("mcunet")), _opt("--sram", bad_quantity()),
            _opt("--flash", bad_quantity()), _opt("--constraint", bad_constraint()),
            _opt("--samples", bad_int(1, 1_000_000)), _opt("--min-count", bad_int(1, 1_000_000)),
            _opt("--seed", bad_seed()),
            _opt("--widths", st.sampled_from(ALWAYS_BAD_NUMBERS[:10]).map(lambda v: f"0.5,{v}")),
            _opt("--resolutions", bad_int(32, 8192).filter(lambda v: v.strip() and "," not in v)
                 .map(lambda v: f"96,{v}")),
            _opt("--grid", TEXT), unknown_flag().map(lambda x: [x]))),
        unknown_name(SPACES).map(lambda s: ["analyze", "flops", "--space", s, "-o", str(f.out)]))


def edf_gen(f: Files) -> st.SearchStrategy[Args]:
    base = ["analyze", "edf", "nb201", "--estimator", "nasbench201", "--samples", "5",
            "--bootstrap", "2", "-o", str(f.out / "edf")]
    return st.one_of(
        _with(base, st.one_of(
            _opt("--estimator-option", bad_pairs(ESTIMATORS["nasbench201"])),
            _opt("--samples", bad_int(1, 1_000_000)), _opt("--bins", bad_int(1, 1000)),
            _opt("--bootstrap", bad_int(1, 100_000)), _opt("--seed", bad_seed()),
            _opt("--normalize", unknown_name({"macs", "params", "none"})),
            unknown_flag().map(lambda x: [x]))),
        positional(SPACES).map(lambda s: ["analyze", "edf", s, "--estimator",
                                                   "nasbench201", "-o", str(f.out)]),
        bad_params("nb201").map(lambda p: ["analyze", "edf", f"nb201({p})", "--estimator",
                                           "nasbench201", "-o", str(f.out)]))


def listing_gen(name: str) -> Gen:
    def gen(f: Files) -> st.SearchStrategy[Args]:
        return st.one_of(unknown_flag().map(lambda x: [name, x]),
                         positional(set()).map(lambda t: [name, "--json", t]))
    return gen


def generic_gen(name: str) -> Gen:
    """A command without a generator of its own (one added later): unknown flags."""
    return lambda f: unknown_flag().map(lambda x: [name, x])


GENERATORS: dict[str, Gen] = {
    "size": size_gen, "sample": sample_gen, "profile": profile_gen, "draw": draw_gen,
    "search": search_gen, "resume": resume_gen, "report": report_gen, "export": export_gen,
    "analyze flops": flops_gen, "analyze edf": edf_gen,
    "spaces": listing_gen("spaces"), "estimators": listing_gen("estimators"),
    "strategies": listing_gen("strategies"),
}


def _commands() -> list[str]:
    """Every leaf command of the CLI, subcommands of groups as 'group sub'."""
    out = []
    for name, command in cli.commands.items():
        if isinstance(command, click.Group):
            out.extend(f"{name} {sub}" for sub in command.commands)
        else:
            out.append(name)
    return out


def _invoke(args: Args) -> Result:
    return CliRunner().invoke(cli, args)


def assert_one_error_line(args: Args, res: Result) -> None:
    shown = f"args={[a[:80] for a in args]!r}\noutput={res.output[:2000]!r}\nexception={res.exception!r}"
    assert "Traceback" not in res.output, shown
    assert isinstance(res.exception, SystemExit | None), shown
    assert res.exit_code == 2, shown
    assert res.stdout == "", shown
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: "), shown


def test_every_command_is_fuzzed() -> None:
    """The generators cover the CLI's commands (a new command gets at least unknown flags)."""
    assert set(GENERATORS) <= set(_commands())
    assert {"search", "resume", "report", "export", "size", "sample", "profile", "draw",
            "analyze flops", "analyze edf", "spaces", "estimators", "strategies"} <= set(GENERATORS)


@pytest.mark.parametrize("command", _commands())
@FUZZ
@given(data=st.data())
def test_malformed_input_is_one_line_exit_2(files: Files, command: str, data: st.DataObject) -> None:
    gen = GENERATORS.get(command) or generic_gen(command.split()[0])
    args = data.draw(gen(files), label="args")
    assert_one_error_line(args, _invoke(args))
