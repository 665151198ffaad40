"""Ray adapters and the batch job: ``run_job(load_spec(path), keyring=...)``."""

from engine.jobs._run import JobResult, run_job
from engine.jobs._spec import JobSpec, ModelSpec, Task, load_spec, parse_spec

__all__ = ["JobResult", "JobSpec", "ModelSpec", "Task", "load_spec", "parse_spec", "run_job"]
