"""How a job reads in both MCMA models: status spellings through the vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobtrail.bindings.mcma.model import fims_status, mcma_status, spelled
from jobtrail.jobs.core import Job

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(phase: str, written: str | None = None) -> Job:
    return Job("1", "http://s/jobs/1", phase, "Fixity", NOW, NOW, status_value=written)


@pytest.mark.parametrize(
    "phase, written, today, fims",
    [
        ("PENDING", None, "New", "NEW"),
        ("QUEUED", "SCHEDULED", "Scheduled", "SCHEDULED"),  # written, and it fits the phase
        ("QUEUED", "Assigned", "Assigned", "Assigned"),
        ("EXECUTING", "RUNNING", "Running", "RUNNING"),
        ("COMPLETED", "QUEUED", "Completed", "COMPLETED"),  # written for another phase: ignored
        ("ERROR", None, "Failed", "FAILED"),
        ("ABORTED", "Canceled", "Canceled", "Canceled"),
        ("SUSPENDED", None, "Pending", "PAUSED"),
    ],
)
def test_a_status_is_shown_in_each_models_spelling(
    phase: str, written: str | None, today: str, fims: str
) -> None:
    assert mcma_status(job(phase, written)) == today
    assert fims_status(job(phase, written)) == fims


def test_a_status_filter_is_spelled_as_mcma_spells_it() -> None:
    assert spelled("running") == "Running"
    with pytest.raises(Exception, match="valid tokens: New, Pending, Assigned"):
        spelled("Sleeping")
