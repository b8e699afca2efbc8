"""What a study checks before its first evaluation, so that no budget is spent on a mistake.

Each check raises :class:`~archspace.errors.ArchspaceError` (one line, exit status 2 on the
command line) naming the problem and what is allowed; nothing is trained and, for a new study,
no file is written:

* the constraints parse, a device that latency constraints or objectives read has a table
  measured on this machine (:mod:`archspace.study.latency`), and every ``--objective`` names
  a cost or a metric the estimator declares it returns
  (:meth:`~archspace.estimators.base.Estimator.produces`; an estimator that declares none is
  not checked);
* the machine has what the estimator needs (:meth:`Estimator.check_machine`, e.g. a CUDA
  device), when the executor evaluates on this machine;
* some arch of the space meets the constraints (:func:`~archspace.study.feasibility.
  check_feasible`, a seeded sample priced by the cost model), unless the study already found
  one;
* the dataset loads and the space fits it (:meth:`Estimator.check_space`, run when the pieces
  are built, :func:`archspace.study.components.build_components`).
"""

from __future__ import annotations

from archspace.estimators.base import Estimator
from archspace.space.arch import Arch
from archspace.study.components import Components
from archspace.study.constraints import memory_models, model_costs, parse_constraints
from archspace.study.executor import Executor
from archspace.study.feasibility import check_feasible
from archspace.study.latency import latency_ms, study_latency_table
from archspace.study.objectives import Objectives
from archspace.study.storage import StudyConfig

__all__ = ["check_before_evaluating", "objectives_of"]


def objectives_of(estimator: Estimator, config: StudyConfig) -> Objectives:
    """The study's objectives, checked against the metrics ``estimator`` declares."""
    return Objectives.build(estimator.metric, config.objectives, config.reward,
                            estimator.produces(), estimator.name)


def check_before_evaluating(parts: Components, config: StudyConfig, executor: Executor,
                            probe_constraints: bool = True) -> None:
    """Every check of the module docstring that the built pieces allow (the constraints'
    feasibility only with ``probe_constraints``)."""
    constraints = parse_constraints(config.constraints)
    objectives = objectives_of(parts.estimator, config)
    table = study_latency_table(constraints, objectives)  # an unknown device stops it here
    if executor.runs_here:
        parts.estimator.check_machine()
    if constraints and probe_constraints:
        space, est = parts.space, parts.estimator
        keys = {c.key for c in constraints}

        def cost_of(arch: Arch) -> dict[str, float]:
            profile = est.cost(space, arch)
            cost = {k: float(getattr(profile, k)) for k in keys
                    if "@" not in k and k != "latency_ms"}
            for model in memory_models(constraints):
                cost.update(model_costs(est.cost(space, arch, model), model))
            if table is not None and "latency_ms" in keys:
                cost["latency_ms"] = latency_ms(table, est, space, arch)
            return cost

        check_feasible(space, cost_of, constraints, config.seed)
