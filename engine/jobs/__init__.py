"""Ray adapters and the batch jobs: ``run_job(load_spec(path), keyring=...)``, retokenize."""

from engine.jobs._features_ray import ray_aggregate
from engine.jobs._retokenize import RetokenizeResult, retokenize_dataset
from engine.jobs._run import JobResult, run_job
from engine.jobs._spec import Algorithm, JobSpec, ModelSpec, Task, load_spec, parse_spec

__all__ = [
    "Algorithm",
    "JobResult",
    "JobSpec",
    "ModelSpec",
    "RetokenizeResult",
    "Task",
    "load_spec",
    "parse_spec",
    "ray_aggregate",
    "retokenize_dataset",
    "run_job",
]
