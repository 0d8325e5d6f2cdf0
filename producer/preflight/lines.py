"""One check's result as one line: a mark, what was checked, and what was found or what to do."""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How a line counts: only a failure makes `doctor` exit non-zero."""

    ok = "ok"
    #: the check could not be made, or the setting works but not as well as it could
    warning = "warning"
    failed = "failed"
    #: what the settings mean for the run (rate, time, spend): nothing to pass or fail
    note = "note"


#: the mark each outcome's line starts with
MARKS = {Outcome.ok: "✓", Outcome.warning: "!", Outcome.failed: "✗", Outcome.note: "·"}


@dataclass(frozen=True)
class CheckLine:
    """`✓ token: valid and active`: the outcome, the subject checked, and the finding."""

    outcome: Outcome
    subject: str
    text: str

    def render(self) -> str:
        return f"{MARKS[self.outcome]} {self.subject}: {self.text}"

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.failed


def ok(subject: str, text: str) -> CheckLine:
    return CheckLine(Outcome.ok, subject, text)


def warning(subject: str, text: str) -> CheckLine:
    return CheckLine(Outcome.warning, subject, text)


def failed(subject: str, text: str) -> CheckLine:
    return CheckLine(Outcome.failed, subject, text)


def note(subject: str, text: str) -> CheckLine:
    return CheckLine(Outcome.note, subject, text)
