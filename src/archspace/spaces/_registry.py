"""The catalog: a table of every built-in space, imported lazily by name.

Adding a space means adding one row here; nothing registers itself on import.

**User spaces.** Any command also takes a space of the user's own as ``module:Class``. The
module is imported from ``sys.path``, with the current directory searched *last* (appended, never
put first): a file in the working directory named like a standard-library or installed module
(``json.py``, ``numpy.py``, ``archspace.py``) never shadows it, here or in spawned workers, which
inherit this ``sys.path``. A space named in a *file* (a study's configuration, an export's
``arch.json``) is data: :func:`check_trusted` refuses to import it unless the caller consents.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any

from archspace.errors import ParamError, SpaceError
from archspace.space.base import Space

__all__ = ["CATALOG", "SpaceEntry", "Trust", "UntrustedSpaceError", "check_trusted", "get_space",
           "is_catalog_space", "list_spaces", "parse_params", "space_class", "space_params",
           "space_target"]

#: Consent to import a user space that a file names: ``True`` (any), the ``module:Class`` the
#: user named again (that one only; another is refused), or ``False`` (catalog spaces only).
Trust = bool | str


@dataclass(frozen=True)
class SpaceEntry:
    """One catalog row: the space's name and where its class lives."""

    name: str
    target: str  # "module:Class"


CATALOG: dict[str, SpaceEntry] = {e.name: e for e in (
    SpaceEntry("nasnet", "archspace.spaces.nasnet:NASNetSpace"),
    SpaceEntry("darts", "archspace.spaces.darts:DARTSSpace"),
    SpaceEntry("nb201", "archspace.spaces.nb201:NB201Space"),
    SpaceEntry("mobilenetv2", "archspace.spaces.mobilenetv2:MobileNetV2Space"),
    SpaceEntry("proxyless", "archspace.spaces.proxyless:ProxylessSpace"),
    SpaceEntry("mnasnet", "archspace.spaces.mnasnet:MnasNetSpace"),
    SpaceEntry("mcunet", "archspace.spaces.mcunet:MCUNetSpace"),
    SpaceEntry("autodeeplab", "archspace.spaces.autodeeplab:AutoDeepLabSpace"),
    SpaceEntry("nasfpn", "archspace.spaces.nasfpn:NASFPNSpace"),
    SpaceEntry("trilevel", "archspace.spaces.trilevel:TrilevelSpace"),
    SpaceEntry("macro", "archspace.spaces.macro:MacroSpace"),
    SpaceEntry("anynet", "archspace.spaces.anynet:AnyNetSpace"),
    SpaceEntry("regnet", "archspace.spaces.regnet:RegNetSpace"),
)}


def list_spaces() -> list[str]:
    """Names of every space in the catalog."""
    return list(CATALOG)


def space_class(name: str) -> type[Space]:
    """The class implementing catalog space ``name``, or a user's space given as
    ``module:Class`` (the module importable from the current directory or ``sys.path``)."""
    if name in CATALOG:
        module, cls = CATALOG[name].target.split(":")
        return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
    if ":" in name:
        return _user_space(name)
    raise SpaceError(f"unknown space {name!r}; available: {', '.join(CATALOG)}, or your own "
                     "as module:Class")


def space_target(space: Space) -> str:
    """What :func:`get_space` takes to rebuild ``space``'s class: its catalog name, or
    ``module:Class`` for a space outside the catalog."""
    cls = type(space)
    entry = CATALOG.get(space.name)
    if entry is not None and entry.target == f"{cls.__module__}:{cls.__qualname__}":
        return space.name
    return f"{cls.__module__}:{cls.__qualname__}"


class UntrustedSpaceError(SpaceError):
    """A file names a user space (code) that the caller did not consent to import."""


def is_catalog_space(target: str) -> bool:
    """Whether ``target`` is a catalog space (a name, or a catalog row's ``module:Class``):
    archspace's own code, safe to import whatever file names it."""
    return target in CATALOG or any(e.target == target for e in CATALOG.values())


def check_trusted(target: str, trust: Trust, source: str, hint: str | None = None) -> None:
    """Refuse, before anything is imported, to rebuild space ``target`` read from ``source``
    (e.g. ``"study s.db"``) unless it is a catalog space or ``trust`` consents to it (see
    :data:`Trust`). A ``trust`` naming another space is refused whatever ``target`` is.
    ``hint`` says how to consent (default: the command-line options)."""
    if isinstance(trust, str) and trust != target:
        raise SpaceError(f"{source} uses the space {target!r}, not {trust!r} given by --space; "
                         f"give --space {target} or leave --space out")
    if trust is True or isinstance(trust, str) or is_catalog_space(target):
        return
    module = target.partition(":")[0]
    how = hint or f"pass --space {target} or --trust-code to allow it"
    raise UntrustedSpaceError(f"{source} uses the user space {target!r} (module {module} would "
                              f"be imported); {how}")


def _user_space(target: str) -> type[Space]:
    """Import ``module:Class``, a user-defined :class:`Space` subclass (the current directory
    searched after everything else on ``sys.path``: see the module doc)."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise SpaceError(f"malformed space {target!r}; a user's space is given as module:Class, "
                         "e.g. myspaces:TinyNet")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:  # "" (python -m, python -c) is cwd already
        sys.path.append(cwd)
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise SpaceError(f"space {target!r}: cannot import module {module!r} ({e}); run from "
                         "its directory or put it on PYTHONPATH") from None
    except AttributeError:
        raise SpaceError(f"space {target!r}: module {module!r} has no {attr!r}") from None
    if not (inspect.isclass(obj) and issubclass(obj, Space)):
        raise SpaceError(f"space {target!r} is not a subclass of archspace.Space (or ChainSpace)")
    return obj


def space_params(name: str) -> dict[str, Any]:
    """The parameters space ``name`` accepts, with their defaults."""
    sig = inspect.signature(space_class(name).__init__)
    return {k: p.default for k, p in sig.parameters.items() if k != "self"}


def _convert(name: str, key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple | list):
            items = [t.strip() for t in text.split(",") if t.strip()]
            if default and isinstance(default[0], int | float):
                return tuple(type(default[0])(t) for t in items)
            return tuple(items)
    except ValueError:
        kind = "a list" if isinstance(default, tuple | list) else type(default).__name__
        raise ParamError(f"parameter {key}={text!r} of space {name!r} must be {kind} "
                         f"(default {default!r})") from None
    return text


def parse_params(name: str, pairs: list[str]) -> dict[str, Any]:
    """Turn ``["M=5", "ops=conv3x3,skip"]`` into typed keyword arguments for space ``name``."""
    allowed = space_params(name)
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ParamError(f"malformed parameter {pair!r}; expected K=V with K one of "
                             f"{', '.join(allowed) or '(none)'}")
        if key not in allowed:
            raise ParamError(f"space {name!r} has no parameter {key!r}; allowed: "
                             f"{', '.join(allowed) or '(none)'}")
        out[key] = _convert(name, key, text.strip(), allowed[key])
    return out


def get_space(name: str, **params: Any) -> Space:
    """An instance of catalog space ``name`` with the given parameters."""
    cls = space_class(name)
    allowed = space_params(name)
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ParamError(f"space {name!r} has no parameter {unknown[0]!r}; allowed: "
                         f"{', '.join(allowed) or '(none)'}")
    space = cls(**params)
    space.explicit_params = space.explicit_params | frozenset(params)
    return space
