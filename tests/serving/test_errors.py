"""The one conversion of a pydantic validation error into a one-line ConfigError."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from features.errors import ConfigError
from serving.errors import config_error, option_name


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_drop: float = Field(0.2, le=1)
    low: float = 0.1
    high: float = 0.5
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        return self


def _error(**values) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    return caught.value


def test_names_the_field_as_the_caller_calls_it_with_the_value():
    error = config_error(_error(max_drop=3), option_name)
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert error.message == "--max-drop: Input should be less than or equal to 1 (got 3)"
    assert config_error(_error(max_drop=3), lambda loc: f"CHURN_API_{loc[0].upper()}").message.startswith("CHURN_API_MAX_DROP: ")


def test_a_check_of_the_whole_object_has_no_field_and_no_value():
    assert config_error(_error(low=0.9), option_name).message == "--input: low 0.9 must be below high 0.5"


def test_a_value_that_is_not_a_plain_scalar_is_not_repeated():
    assert config_error(_error(secret=["x"]), option_name).message == "--secret: Input should be a valid string"
