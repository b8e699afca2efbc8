"""Where a study keeps the checkpoints of its trained networks, and which it keeps.

An estimator whose :attr:`~archspace.estimators.base.Estimator.keep` is ``best`` or ``all``
(``train``: ``best`` unless told ``-e keep=all|none``) writes trial N's trained state to
``STUDY.ckpt/N.pt`` beside the study file ``STUDY`` (the worker that trains it writes it,
atomically; see :mod:`archspace.estimators.checkpoint`). After each recorded trial the study loop prunes the
folder: ``keep=best`` leaves only the best complete trial's file (by the study's score, as
:meth:`~archspace.study.storage.StudyStorage.best_trial` ranks), ``keep=all`` every complete
trial's; a failed or infeasible trial's file, and temporary files a killed worker left, go.
``archspace export`` then takes the kept weights instead of re-training. With Ray on several
machines, the study's folder must be on a file system every worker can write to be of use; a
worker that cannot write a checkpoint warns, and its trial's result still counts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from archspace.study.storage import StudyStorage

__all__ = ["CheckpointKeeper", "checkpoint_dir", "trial_checkpoint"]

_TRIAL_FILE = re.compile(r"(\d+)\.pt")


def checkpoint_dir(study: str | os.PathLike[str]) -> Path:
    """The folder of a study's checkpoints: ``STUDY.ckpt`` beside it (absolute)."""
    p = Path(study).expanduser().absolute()
    return p.with_name(p.name + ".ckpt")


def trial_checkpoint(study: str | os.PathLike[str], number: int) -> Path:
    """The checkpoint file of trial ``number`` of ``study``."""
    return checkpoint_dir(study) / f"{number}.pt"


class CheckpointKeeper:
    """Prunes a study's checkpoint folder to what its ``keep`` policy keeps (module doc)."""

    def __init__(self, study: str | os.PathLike[str], policy: str) -> None:
        if policy not in ("best", "all", "none"):
            raise ValueError(f"keep policy {policy!r}; allowed: best, all, none")
        self.folder = checkpoint_dir(study)
        self.policy = policy

    def path(self, number: int) -> str:
        """Where trial ``number``'s worker writes its checkpoint."""
        return str(self.folder / f"{number}.pt")

    def prune(self, storage: StudyStorage, in_flight: frozenset[int] = frozenset()) -> None:
        """Remove every file the policy does not keep; trials ``in_flight`` keep theirs (being
        written; a scheduled study also protects the trials it may still promote)."""
        if not self.folder.is_dir():
            return
        if self.policy == "none":  # a scheduled study's: only what ``in_flight`` protects
            keep = set()
        elif self.policy == "best":
            best = storage.best_trial()
            keep = {best.number} if best is not None else set()
        else:
            keep = {t.number for t in storage.trials("complete")}
        for entry in self.folder.iterdir():
            m = _TRIAL_FILE.fullmatch(entry.name)
            if m is not None and (int(m.group(1)) in keep or int(m.group(1)) in in_flight):
                continue
            if m is None and not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue  # not ours: left alone
            if m is None and in_flight:
                continue  # a temporary file may be a checkpoint being written now
            if entry.is_file() or entry.is_symlink():
                entry.unlink(missing_ok=True)
