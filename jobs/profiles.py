"""Job profiles: the kinds of work a job can ask for, and what a profile hands back.

A profile runs on a file the worker has already fetched (`Work.input_path`)
and writes its result files into `Work.output_dir`. It says what it made in
an `Outcome`: the files (each becomes an aggregated resource of the job's
OAI-ORE aggregation, served under the job) and any RDF it can say about the
work itself (a PREMIS event, for a fixity check) as N-Triples term strings,
which go into the aggregation's graph.

A profile raises `JobFailed` (jobtrail.base.errors) when the work cannot be
done on this input; the job ends in ERROR with that message as its summary.
A profile that needs a program the machine lacks says so in `unavailable()`,
and `/profiles` shows the reason instead of failing jobs later.
"""

from __future__ import annotations

import abc
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobtrail.base.errors import JobFailed, TimeLimitExceeded
from jobtrail.store import Triple


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    description: str
    required: bool = False
    secret: bool = False  # never stored: redacted in the dataset, its value in the vault


@dataclass(frozen=True)
class ResultFile:
    """A file a profile wrote into `Work.output_dir`."""

    name: str  # file name, no directories
    media_type: str
    title: str | None = None
    rendition: bool = False  # the input in another format: the input `dcterms:hasFormat` it


@dataclass
class Outcome:
    files: list[ResultFile] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)
    summary: str | None = None  # one line for people ("3 pages, 1,204 words")
    failure: JobFailed | None = None
    """Set when the work ran and its answer is "no" (a checksum that does not match):
    the job ends in ERROR with this summary, and the files and triples are kept as its report."""


@dataclass(frozen=True)
class Work:
    """Everything a profile may use while running one job."""

    job_iri: str
    input_url: str
    input_path: Path
    media_type: str | None  # as the input's server reported it (Content-Type), if it did
    parameters: Mapping[str, Any]
    output_dir: Path
    results_iri: str  # the aggregation; a result file's IRI is f"{results_iri}/{name}"
    deadline: float | None = None  # time.monotonic() by which the job must end
    fetch_small: Callable[[str], bytes] | None = None
    """Fetches a small auxiliary resource (a `.sha256` file) under the job's fetch policy."""

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: unlimited); TimeLimitExceeded if none are."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeLimitExceeded("the job ran past its execution duration")
        return left

    def file_iri(self, name: str) -> str:
        return f"{self.results_iri}/{name}"


class Profile(abc.ABC):
    name: str
    title: str
    description: str
    parameters: tuple[ParameterSpec, ...] = ()

    def secret_parameters(self) -> frozenset[str]:
        """The names of the parameters this profile declares secret."""
        return frozenset(p.name for p in self.parameters if p.secret)

    def unavailable(self) -> str | None:
        """Why this profile cannot run on this machine (a missing program), or None."""
        return None

    def limits(self) -> list[str]:
        """What it cannot do on this machine though it runs (an optional program is missing)."""
        return []

    @abc.abstractmethod
    def run(self, work: Work) -> Outcome:
        """Do the work; raise JobFailed when it cannot be done on this input."""

    def check_parameters(self, given: Mapping[str, Any]) -> None:
        """Raise JobFailed naming a required parameter that is missing."""
        missing = [p.name for p in self.parameters if p.required and p.name not in given]
        if missing:
            raise JobFailed(
                f"profile {self.name} needs the parameter(s) {', '.join(missing)}",
                hint="; ".join(f"{p.name}: {p.description}" for p in self.parameters),
            )


def run_tool(command: Sequence[str], work: Work, *, what: str) -> bytes:
    """Run an external program within the job's remaining time; its stdout, or JobFailed."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, timeout=work.remaining(), check=False
        )
    except subprocess.TimeoutExpired as e:
        raise TimeLimitExceeded(f"{what} ran past the job's execution duration") from e
    except OSError as e:
        raise JobFailed(f"{what} could not be started: {e}") from e
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
        raise JobFailed(f"{what} failed: {message}")
    return done.stdout
