"""Space specs: NAME(params)[restrictions]."""

from __future__ import annotations

import pytest

from archspace.analysis.specs import SpecError, parse_spec
from archspace.errors import ArchspaceError


def test_parse_fields() -> None:
    s = parse_spec(" anynet(variant=C, max_width=64)[s*.d=1|2, -4, g!=32] ")
    assert s.text == "anynet(variant=C,max_width=64)[s*.d=1|2,-4,g!=32]"
    assert s.name == "anynet"
    assert s.params == (("variant", "C"), ("max_width", "64"))
    assert s.keep == (("s*.d", ("1", "2")),)
    assert s.drop == (("g", ("32",)),)
    assert s.drop_everywhere == ("4",)
    assert parse_spec("nb201").params == () and parse_spec("nb201").keep == ()
    assert parse_spec("mobilenetv2(kernels=3|5)").params == (("kernels", "3,5"),)


def test_build_nb201_subspaces() -> None:
    assert parse_spec("nb201").build().size() == 5**6
    assert parse_spec("nb201[-none]").build().size() == 4**6
    assert parse_spec("nb201[-none,-avg_pool_3x3]").build().size() == 3**6
    keep = parse_spec("nb201[n1.in0=nor_conv_3x3|skip_connect]").build()
    assert keep.size() == 2 * 5**5
    assert keep.decision("n1.in0").choices == ("skip_connect", "nor_conv_3x3")
    drop = parse_spec("nb201[n3.*!=none]").build()
    assert drop.size() == 5**3 * 4**3


def test_build_with_params() -> None:
    space = parse_spec("anynet(variant=C,max_width=64,max_depth=2)[s*.d=1]").build()
    assert space.params["variant"] == "C"
    assert space.decision("s1.d").choices == (1,)
    assert space.decision("s1.w").choices == tuple(range(8, 65, 8))
    assert parse_spec("mobilenetv2(kernels=3|5)").build().decision("b1.k").choices == (3, 5)


@pytest.mark.parametrize("text", [
    "", "  ", "nb201[", "nb201(", "nb201]", "nb201[]x", "1nb201", "nb201[-]", "nb201[x]",
    "nb201[a=]", "nb201[=a]", "nb201[a==b]", "nb201[a,,b]", "nb201(C)", "nb201(C=1,C=2)",
    "nb201[n1.in0=none,n1.in0=skip_connect]", "nb201[a=b|]",
])
def test_malformed_specs(text: str) -> None:
    with pytest.raises(SpecError):
        parse_spec(text)


@pytest.mark.parametrize("text", [
    "nosuchspace", "nb201(C=abc)", "nb201(Q=1)", "nb201[-nonee]", "nb201[n9.*=none]",
    "nb201[n1.in0=conv]", "nb201[-none,-skip_connect,-nor_conv_1x1,-nor_conv_3x3,-avg_pool_3x3]",
    "anynet(variant=Z)",
])
def test_specs_that_fail_to_build(text: str) -> None:
    spec = parse_spec(text)
    with pytest.raises(ArchspaceError) as info:
        spec.build()
    assert isinstance(info.value, SpecError)
    assert text.replace(" ", "") in str(info.value)
