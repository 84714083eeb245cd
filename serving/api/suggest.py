"""Unknown request fields answered with the closest valid name: ``filters.bands_x: unknown field; did you mean bands?``.

Pydantic's ``extra="forbid"`` says only "Extra inputs are not permitted". :func:`suggest_fields`
wraps a model's validation: each ``extra_forbidden`` error keeps its type and location and gains
the closest field name of the model at that location (or the list of valid ones). The message
never quotes the value sent.
"""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

EXTRA = "extra_forbidden"


def _model_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The model class that validates the object at ``path`` below ``model`` (list indexes skipped), or None."""
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def unknown_field_message(model: type[BaseModel] | None, name: object) -> str:
    """What to say of an unknown field ``name`` of ``model``: the closest valid name, else the valid ones."""
    if model is None:
        return "unknown field"
    valid = sorted(model.model_fields)
    close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]}?"
    return f"unknown field; valid: {', '.join(valid)}"


def with_suggestions(model: type[BaseModel], error: ValidationError) -> ValidationError:
    """``error`` with every unknown-field error worded by :func:`unknown_field_message`; other errors unchanged."""
    details: list[InitErrorDetails] = []
    for e in error.errors():
        if e["type"] == EXTRA and e["loc"]:
            message = unknown_field_message(_model_at(model, tuple(e["loc"][:-1])), e["loc"][-1])
            details.append({"type": PydanticCustomError(EXTRA, message), "loc": e["loc"], "input": e["input"]})
        else:
            details.append({"type": e["type"], "loc": e["loc"], "input": e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {})})
    return ValidationError.from_exception_data(error.title, details)
