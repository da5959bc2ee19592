"""A validation report people can read: focus node, path, message, severity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobtrail.base.terms import SH, shorten

VIOLATION = str(SH.Violation)
WARNING = str(SH.Warning)
INFO = str(SH.Info)

_SEVERITY_NAMES = {VIOLATION: "Violation", WARNING: "Warning", INFO: "Info"}


@dataclass(frozen=True)
class Result:
    """One SHACL validation result (IRIs and values as plain strings)."""

    focus: str
    path: str | None
    message: str
    severity: str = VIOLATION
    shape: str | None = None
    component: str | None = None
    value: str | None = None

    @property
    def severity_name(self) -> str:
        return _SEVERITY_NAMES.get(self.severity, self.severity)

    def key(self) -> tuple[str, str | None, str]:
        """What two validators must agree on: where, along which path, how severe."""
        return self.focus, self.path, self.severity


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        """True when nothing is a violation (warnings do not reject)."""
        return not any(r.severity == VIOLATION for r in self.results)

    @property
    def violations(self) -> list[Result]:
        return [r for r in self.results if r.severity == VIOLATION]

    @property
    def warnings(self) -> list[Result]:
        return [r for r in self.results if r.severity != VIOLATION]

    def text(self, indent: str = "") -> str:
        lines = []
        order = sorted(self.results, key=lambda r: (r.severity != VIOLATION, r.focus, r.path or ""))
        for r in order:
            where = f"{_short(r.focus)}" + (f" {_short(r.path)}" if r.path else "")
            value = f" (value: {_short(r.value)})" if r.value is not None else ""
            lines.append(f"{indent}{r.severity_name}: {where}: {r.message}{value}")
        return "\n".join(lines)

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                k: v
                for k, v in {
                    "severity": r.severity_name,
                    "focusNode": r.focus,
                    "resultPath": r.path,
                    "message": r.message,
                    "value": r.value,
                    "sourceShape": r.shape,
                }.items()
                if v is not None
            }
            for r in self.results
        ]


def _short(iri: str | None) -> str:
    return "" if iri is None else shorten(iri)
