"""Block-STM's collaborative scheduler (Gelashvili et al. 2022, Algorithms 4 and 5), by the paper's names.

Tasks are indexed in block order (here: chunks of transactions). `execution_idx` is the next task
to try executing, `validation_idx` the next to validate; both only decrease when something forces
a redo: an abort (validations from the aborted task up), a dependency resolved (its waiters), a
re-execution that wrote a location its previous incarnation did not (validations from it up).
Each task has an incarnation number and a status; a task that read an ESTIMATE waits in the
dependency list of the task that wrote it.

The paper's scheduler is lock-free and shared by all threads. Here one coordinator thread owns it
(see `parevm.parallel.engine`), so the atomics are plain integers and `check_done` needs no double
collect of `decrease_cnt` (kept as a statistic). `num_active_tasks` counts tasks handed out and not
yet finished: executions in flight at workers or waiting to be sent, and the validation being run.

One extension: the task list grows on demand (`more()` creates the next task), so chunk boundaries
are decided only when execution reaches them, with the costs measured so far.
"""
from __future__ import annotations

from typing import Callable

READY_TO_EXECUTE, EXECUTING, EXECUTED, ABORTING = range(4)


class Scheduler:
    __slots__ = ("execution_idx", "validation_idx", "decrease_cnt", "num_active_tasks", "done_marker",
                 "incarnation", "status", "dependencies", "_more")

    def __init__(self, more: Callable[[], bool]) -> None:
        self.execution_idx = 0
        self.validation_idx = 0
        self.decrease_cnt = 0
        self.num_active_tasks = 0
        self.done_marker = False
        self.incarnation: list[int] = []
        self.status: list[int] = []
        self.dependencies: list[list[int]] = []  # task -> tasks waiting for it
        self._more = more  # adds one task to the block; False when there are no more

    @property
    def size(self) -> int:
        return len(self.status)

    def _exists(self, idx: int) -> bool:
        """Whether task `idx` exists, creating tasks up to it if the block has more."""
        while idx >= len(self.status):
            if not self._more():
                return False
            self.incarnation.append(0)
            self.status.append(READY_TO_EXECUTE)
            self.dependencies.append([])
        return True

    def done(self) -> bool:
        return self.done_marker

    def check_done(self) -> None:
        if (self.num_active_tasks == 0 and self.validation_idx >= self.execution_idx
                and not self._exists(self.execution_idx)):
            self.done_marker = True

    def decrease_execution_idx(self, target: int) -> None:
        if target < self.execution_idx:
            self.execution_idx = target
        self.decrease_cnt += 1

    def decrease_validation_idx(self, target: int) -> None:
        if target < self.validation_idx:
            self.validation_idx = target
        self.decrease_cnt += 1

    def try_incarnate(self, idx: int) -> tuple[int, int] | None:
        if self._exists(idx) and self.status[idx] == READY_TO_EXECUTE:
            self.status[idx] = EXECUTING
            return idx, self.incarnation[idx]
        self.num_active_tasks -= 1
        return None

    def next_version_to_execute(self) -> tuple[int, int] | None:
        if not self._exists(self.execution_idx):
            self.check_done()
            return None
        self.num_active_tasks += 1
        idx = self.execution_idx
        self.execution_idx += 1
        return self.try_incarnate(idx)

    def next_version_to_validate(self) -> tuple[int, int] | None:
        if self.validation_idx >= self.size:
            self.check_done()
            return None
        self.num_active_tasks += 1
        idx = self.validation_idx
        self.validation_idx += 1
        if self.status[idx] == EXECUTED:
            return idx, self.incarnation[idx]
        self.num_active_tasks -= 1
        return None

    def add_dependency(self, idx: int, blocking_idx: int) -> bool:
        """`idx` read an ESTIMATE of `blocking_idx`. False if that has executed since (retry now)."""
        if self.status[blocking_idx] == EXECUTED:
            return False
        self.status[idx] = ABORTING
        self.dependencies[blocking_idx].append(idx)
        self.num_active_tasks -= 1
        return True

    def _set_ready_status(self, idx: int) -> None:
        self.incarnation[idx] += 1
        self.status[idx] = READY_TO_EXECUTE

    def _resume_dependencies(self, idx: int) -> None:
        waiting = self.dependencies[idx]
        if waiting:
            self.dependencies[idx] = []
            for dependent in waiting:
                self._set_ready_status(dependent)
            self.decrease_execution_idx(min(waiting))

    def finish_execution(self, idx: int, incarnation: int, wrote_new_location: bool) -> tuple[int, int] | None:
        """Returns a validation task for `idx` to run next, or None."""
        self.status[idx] = EXECUTED
        self._resume_dependencies(idx)
        if self.validation_idx > idx:
            if not wrote_new_location:
                return idx, incarnation
            self.decrease_validation_idx(idx)
        self.num_active_tasks -= 1
        return None

    def try_validation_abort(self, idx: int, incarnation: int) -> bool:
        if self.incarnation[idx] == incarnation and self.status[idx] == EXECUTED:
            self.status[idx] = ABORTING
            return True
        return False

    def finish_validation(self, idx: int, aborted: bool) -> tuple[int, int] | None:
        """Returns the re-execution task for an aborted `idx` to run next, or None."""
        if aborted:
            self._set_ready_status(idx)
            self.decrease_validation_idx(idx + 1)
            if self.execution_idx > idx:
                return self.try_incarnate(idx)
        self.num_active_tasks -= 1
        return None

    def abandon_execution(self, idx: int) -> None:
        """An execution task was lost with its worker: make a new incarnation ready (not in the paper)."""
        self._set_ready_status(idx)
        self.decrease_execution_idx(idx)
        self.num_active_tasks -= 1
