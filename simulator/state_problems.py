"""The error every state part raises for a snapshot it cannot restore."""

from __future__ import annotations


class StateProblems(ValueError):
    """A snapshot that cannot be restored; each problem names where in the JSON and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
