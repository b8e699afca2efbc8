"""Estimator options: the shared :class:`~archspace.options.Option` with
:class:`~archspace.estimators.base.EstimatorError` as the error, and command-line pair parsing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archspace.estimators.base import EstimatorError
from archspace.options import Option
from archspace.options import resolve_options as _resolve

__all__ = ["Option", "parse_option_pairs", "resolve_options"]


def resolve_options(estimator: str, options: Sequence[Option],
                    given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``estimator``: the given ones converted and checked, the rest defaults."""
    return _resolve("estimator", estimator, options, given, EstimatorError)


def parse_option_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["epochs=3", "dataset=digits"]`` -> ``{"epochs": "3", "dataset": "digits"}`` (the
    values stay strings; :func:`resolve_options` converts them)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise EstimatorError(f"malformed estimator option {pair!r}; expected NAME=VALUE")
        if key in out:
            raise EstimatorError(f"estimator option {key!r} given twice")
        out[key] = value.strip()
    return out
