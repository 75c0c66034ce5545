"""Driving scheduled jobs without waiting: a settable clock and "run this job as if its time had come".

The bot takes its time from `services.clock()` and arms one-shot jobs at instants computed
from it. A `FakeClock` starts a day ahead of the wall clock, so the real scheduler never fires
a job a test is driving (every job it holds is a day in its future); `run_job` moves the fake
clock to the job's time and awaits the job's coroutine itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self.now = start or (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        if moment < self.now:
            raise ValueError(f"the clock only moves forward ({moment} < {self.now})")
        self.now = moment


def job_time(services, job_id: str) -> datetime:
    job = services.scheduler.get_job(job_id)
    if job is None:
        raise LookupError(f"no job {job_id!r} is armed")
    return job.next_run_time


async def run_job(services, clock: FakeClock, job_id: str) -> datetime:
    """Advance `clock` to when the job is due and run it, as the scheduler would; returns that time."""
    job = services.scheduler.get_job(job_id)
    if job is None:
        raise LookupError(f"no job {job_id!r} is armed")
    clock.set(max(clock.now, job.next_run_time))
    await job.func(*job.args, **job.kwargs)
    return job.next_run_time
