"""The one conversion of a pydantic validation error into the project's one-line ConfigError.

Used wherever a config object is built from what a person typed: the CLI's
options (``--max-drop: ...``) and the service's ``CHURN_API_*`` variables.
Each caller says how a field is called where the person set it.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from features.errors import ConfigError

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
