"""Connecting to Ray: an embedded local Ray, or an existing cluster by address."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ray

from engine.errors import ConfigError

_log = logging.getLogger(__name__)
_LOGGING_CONFIG = Path(__file__).with_name("ray_data_logging.yaml")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterInfo:
    """Where the job ran: ``address`` is ``"local"`` for the embedded Ray."""

    address: str
    cpus: int


@contextmanager
def ray_cluster(address: str | None = None) -> Iterator[ClusterInfo]:
    """Connect to Ray for the duration of a job.

    Args:
        address: An existing cluster (``ray://`` or ``host:port``); ``None`` uses
            ``RAY_ADDRESS`` if set, else starts a local Ray that stops with the job.

    Yields:
        The cluster the job runs on.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    # Ray Data reads its logging config when it is imported: errors only on the console.
    os.environ.setdefault("RAY_DATA_LOGGING_CONFIG", str(_LOGGING_CONFIG))
    import ray.data  # (after the logging config is in place)

    if ray.is_initialized():
        # A notebook or a `ray job submit` entrypoint already connected: reuse it.
        yield ClusterInfo(address="existing", cpus=_cpus())
        return
    try:
        if address is None:
            # SECURITY: the embedded Ray is one machine's; bind its services to loopback
            # rather than to the host's network address.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            ray.init(
                # "local" always starts a new embedded Ray, even when a `ray start` cluster
                # runs on this machine (plain ray.init() would attach to that one).
                address="local",
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                # SECURITY: raw identifiers pass through the object store on their way to the
                # tokenize workers; the embedded Ray never spills objects to disk.
                _system_config={"automatic_object_spilling_enabled": False},
            )
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to Ray at {address or 'local'}: {exc}") from None
    _quiet_ray_data()
    try:
        cpus = _cpus()
        _log.info("ray: connected to %s with %d CPUs", address or "local", cpus)
        yield ClusterInfo(address=address or "local", cpus=cpus)
    finally:
        ray.shutdown()


def _cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]


def _quiet_ray_data() -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
