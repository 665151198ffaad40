"""Progress bars (tqdm.auto) for the job's stages: a ``progress=`` callback for ``run_job``."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import IO, Self

from tqdm.auto import tqdm

__all__ = ["JOB_STAGES", "StageProgress", "stage_progress"]

# The stages run_job reports, in order (README, "The batch job"); an unknown stage
# name extends the bar rather than failing, so a new stage never breaks a run.
JOB_STAGES: tuple[str, ...] = (
    "read_and_validate",
    "start_ray",
    "tokenize",
    "quarantine",
    "train",
    "ckks_keygen",
    "encrypt_and_score",
    "decrypt_and_decide",
    "report",
    "write",
)


class StageProgress:
    """A progress bar over named stages; call it with each stage's name as it starts.

    Pass an instance as ``run_job(..., progress=bar)``: each call completes the previous
    stage and shows the new one. Use it as a context manager (or call ``close``) so the
    last stage is counted when the job returns; on an exception the bar stays where the
    job stopped. ``tqdm.auto`` draws a widget in Jupyter and text on a terminal.

    Args:
        stages: The expected stage names, in order (sets the bar's total).
        desc: The bar's label.
        file: Where a text bar is written (default: stderr).
        disable: True hides the bar; None hides it when ``file`` is not a terminal.
    """

    def __init__(
        self,
        stages: Sequence[str] = JOB_STAGES,
        *,
        desc: str = "finveil",
        file: IO[str] | None = None,
        disable: bool | None = False,
    ) -> None:
        self._expected = tuple(stages)
        self._seen: list[str] = []
        self._done = 0
        self._bar = tqdm(total=len(self._expected), desc=desc, unit="stage", file=file,
                         disable=disable, leave=True)  # fmt: skip

    @property
    def stages_seen(self) -> tuple[str, ...]:
        """The stage names reported so far, in order."""
        return tuple(self._seen)

    @property
    def completed(self) -> int:
        """How many stages the bar counts as done."""
        return self._done

    def __call__(self, stage: str) -> None:
        """Mark the previous stage done and show ``stage`` as running."""
        if self._seen:
            self._advance()
        self._seen.append(stage)
        if len(self._seen) > (self._bar.total or 0):
            self._bar.total = len(self._seen)
        self._bar.set_postfix_str(stage, refresh=True)

    def close(self, *, finished: bool = True) -> None:
        """Count the last stage as done when ``finished``, then close the bar."""
        if finished and self._seen and self._done < len(self._seen):
            self._advance()
            self._bar.total = self._done
            self._bar.set_postfix_str("done", refresh=True)
        self._bar.close()

    def _advance(self) -> None:
        self._done += 1
        self._bar.update(1)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(finished=exc_type is None)


def stage_progress(
    stages: Sequence[str] = JOB_STAGES,
    *,
    desc: str = "finveil",
    file: IO[str] | None = None,
    disable: bool | None = False,
) -> StageProgress:
    """Return a stage progress bar to pass as ``run_job(..., progress=...)``.

    Example:
        >>> with stage_progress(disable=True) as bar:
        ...     for name in ("read_and_validate", "tokenize"):
        ...         bar(name)
        >>> bar.completed
        2
    """
    return StageProgress(stages, desc=desc, file=file, disable=disable)
