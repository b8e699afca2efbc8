"""Meaningless space parameters are refused before a space builds anything (issue 10)."""

from __future__ import annotations

import pytest

from archspace.errors import ParamError
from archspace.spaces import get_space


@pytest.mark.parametrize(("name", "params", "msg"), [
    ("mobilenetv2", {"width": 0.0}, r"width=0.0 .* number in \(0, 100\]"),
    ("mcunet", {"width": float("nan")}, r"width=nan .* number in \(0, 100\]"),
    ("proxyless", {"width": float("inf")}, r"width=inf"),
    ("mobilenetv2", {"kernels": (3, 4)}, r"kernels=.* odd integer"),
    ("nasnet", {"B": 100_000}, r"B=100000 .* integer in 1\.\.100"),
    ("anynet", {"group_widths": (0,)}, r"group_widths=\(0,\) .* integer"),
    ("darts", {"layers": 10**30}, r"layers=\(an integer of 100 bits\)"),
])
def test_meaningless_parameters_raise_param_error(name: str, params: dict[str, object],
                                                  msg: str) -> None:
    with pytest.raises(ParamError, match=msg):
        get_space(name, **params)
