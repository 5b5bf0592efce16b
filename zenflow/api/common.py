"""Building blocks shared by every API model: the base class, Kubernetes-style timestamps, and the
parse/dump helpers.

Every model of ours forbids unknown fields (so a typo like ``dependecies`` is an error that names
the field), reads both camelCase (the wire form) and snake_case (Python) names, and dumps camelCase
without ``None`` values — the compact form the API server stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from zenflow.api.formats import format_time

M = TypeVar("M", bound="ApiModel")


Time = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]
"""A timestamp; parsed from RFC 3339, dumped (in JSON mode) like Kubernetes does."""

ConditionStatus = Literal["True", "False", "Unknown"]
ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]


class ApiModel(BaseModel):
    """Base of all zenflow API types: camelCase wire names, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=False,
    )

    @classmethod
    def parse(cls: type[M], data: Mapping[str, Any]) -> M:
        """Validate a wire-form mapping (camelCase keys); raises ``pydantic.ValidationError``."""
        return cls.model_validate(data)

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase keys, JSON-compatible values, ``None`` fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ObjectMetaAccess:
    """``name``, ``namespace``, ``uid`` and ``generation`` of a top-level kind, read from its
    ``metadata`` (kept as the plain dict the API server sends)."""

    if TYPE_CHECKING:
        metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))

    @property
    def uid(self) -> str:
        return str(self.metadata.get("uid", ""))

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 0) or 0)


class LabelsAnnotations(ApiModel):
    """Labels and annotations to put on an object zenflow creates."""

    labels: dict[str, str] | None = Field(
        default=None, description="Labels added to the created object."
    )
    annotations: dict[str, str] | None = Field(
        default=None, description="Annotations added to the created object."
    )


class Condition(ApiModel):
    """A Kubernetes-style condition (the shape of ``metav1.Condition``)."""

    type: str = Field(description="Condition type, e.g. Ready, Completed, Failed.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str | None = Field(
        default=None, description="Machine-readable CamelCase reason for the last transition."
    )
    message: str | None = Field(default=None, description="Human-readable details.")
    last_transition_time: Time | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )
