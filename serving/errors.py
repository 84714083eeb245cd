"""The serving side's errors: the one conversion of a pydantic validation error into a one-line ConfigError,
and the errors of the serving side's dependencies (score store, registry) with their exit codes and statuses.

Used wherever a config object is built from what a person typed: the CLI's
options (``--max-drop: ...``) and the service's ``CHURN_API_*`` variables.
Each caller says how a field is called where the person set it.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from features.errors import ChurnError, ConfigError

SCALARS = (str, int, float, bool)


def config_error(error: ValidationError, name: Callable[[tuple], str]) -> ConfigError:
    """The first problem of ``error`` as ``<name>: <what is wrong> (got <value>)``.

    name: a validation error's location (field names, possibly empty for a check of
    the whole object) -> how the person calls that setting. The value is shown only
    when it is a plain scalar the person typed.
    """
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = f" (got {given!r})" if isinstance(given, SCALARS) and first["loc"] else ""
    return ConfigError(f"{name(tuple(first['loc']))}: {message}{shown}")


def option_name(loc: tuple) -> str:
    """A CLI option from a field location: ``("max_drop",)`` -> ``--max-drop``; a whole-object check -> ``--input``."""
    where = ".".join(str(part) for part in loc) or "input"
    return f"--{where.replace('_', '-')}"


# Faults of the serving side's dependencies ---------------------------------------------------------
# Exit codes 0-4 are the data and model errors of features.errors and the nightly checks; the
# dependencies of the serving side get their own (docs/operations.md lists them all).
class StoreBusy(ChurnError):
    """The score store is being written (a publish holds the DuckDB file) beyond the wait allowed: retry shortly."""

    exit_code = 5
    http_status = 503


class DependencyError(ChurnError):
    """A dependency is unreachable or broken: the score store (not a database, server down) or the MLflow registry."""

    exit_code = 6
    http_status = 503


class NothingPublished(ChurnError):
    """The nightly job found no user to score in any population: nothing was published."""

    exit_code = 7
    http_status = 409


def dependency_fault(error: BaseException) -> DependencyError | None:
    """A dependency's own exception met at an edge as one DependencyError line, or None if ``error`` is not one.

    The MLflow registry reports a broken or unreachable database as SQLAlchemy's DBAPIError (a
    garbage ``mlflow.db``: "file is not a database") or as an MlflowException. Matched by class,
    looked up only among the modules already imported (nothing is imported here).
    """
    import sys

    sa_exc = sys.modules.get("sqlalchemy.exc")
    mlflow_exc = sys.modules.get("mlflow.exceptions")
    if not ((sa_exc and isinstance(error, sa_exc.DBAPIError)) or (mlflow_exc and isinstance(error, mlflow_exc.MlflowException))):
        return None
    reason = str(getattr(error, "orig", None) or getattr(error, "message", None) or error).strip().splitlines()
    tracking = sys.modules.get("mlflow")
    where = tracking.get_tracking_uri() if tracking is not None else "(unknown)"
    if "://" in where and "@" in where:  # never show a password
        scheme, rest = where.split("://", 1)
        where = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return DependencyError(f"the MLflow registry at {where} cannot be used: {reason[0] if reason else type(error).__name__}")
