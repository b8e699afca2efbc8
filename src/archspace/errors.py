"""Errors raised on bad user input.

Every error a user can cause derives from :class:`ArchspaceError`; the CLI prints its message as one
line and exits with status 2. Each message names the problem and what is allowed.
"""

from __future__ import annotations

__all__ = ["ArchError", "ArchspaceError", "ParamError", "SpaceError"]


class ArchspaceError(ValueError):
    """Base class of all user-facing errors."""


class SpaceError(ArchspaceError):
    """Unknown space, or a space that cannot take the requested resolution or parameters."""


class ParamError(ArchspaceError):
    """Unknown or malformed space parameter."""


class ArchError(ArchspaceError):
    """Malformed architecture, or a decision given a value outside its choices."""
