"""Studies: the search loop, its SQLite record, constraints, objectives and resume."""

from archspace.study.components import Components, Factories, build_components
from archspace.study.constraints import Constraint, ConstraintError, parse_constraint, parse_constraints
from archspace.study.executor import Executor, InlineExecutor, Job, Outcome
from archspace.study.objectives import (
    Objective,
    ObjectiveError,
    Objectives,
    Reward,
    non_dominated_sort,
    pareto_front,
    parse_reward,
)
from archspace.study.runner import Study, StudyResult, run_study
from archspace.study.storage import StorageError, StudyConfig, StudyInUseError, StudyStorage, TrialRecord

__all__ = [
    "Components", "Constraint", "ConstraintError", "Executor", "Factories", "InlineExecutor", "Job",
    "Objective", "ObjectiveError", "Objectives", "Outcome", "Reward", "StorageError", "Study",
    "StudyConfig", "StudyInUseError", "StudyResult", "StudyStorage", "TrialRecord", "build_components",
    "non_dominated_sort", "pareto_front", "parse_constraint", "parse_constraints", "parse_reward",
    "run_study",
]
