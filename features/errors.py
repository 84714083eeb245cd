"""The project's exception hierarchy.

Every error the user can cause derives from :class:`ChurnError` and carries the
exit code the CLI returns and the HTTP status the service answers with, so that
both edges map errors in one place. Messages are one line each and name the bad
table, column, field or value and what was expected.
"""

from __future__ import annotations


class ChurnError(Exception):
    """Base class of every expected, user-facing error."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        """The error as one or more one-line messages."""
        return [self.message]


class ConfigError(ChurnError):
    """A command-line option or configuration value is invalid."""

    exit_code = 2
    http_status = 400


class DataContractError(ChurnError):
    """A dataset breaks the data contract; holds one line per problem."""

    exit_code = 2
    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        if not problems:
            raise ValueError("DataContractError needs at least one problem")
        self.problems = list(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"dataset breaks the data contract ({len(problems)} {noun}): " + "; ".join(problems))

    def lines(self) -> list[str]:
        return list(self.problems)
