"""Requests checked against botocore's service models, more strictly than botocore checks them before sending.

botocore's ``ParamValidator`` checks types, required members and minimums; it leaves maximums and enum values to
the service (moto checks few of them). ``assert_valid`` adds both, from the same model, so a request that passes
is one the real API accepts as far as its published shapes say.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator


@cache
def service_model(service: str) -> Any:
    return boto3.session.Session().client(service, region_name="us-east-1").meta.service_model


def operation_name(operation: str) -> str:
    """``put_scaling_policy`` -> ``PutScalingPolicy`` (already CamelCase names are kept)."""
    return "".join(part.title() for part in operation.split("_")) if "_" in operation else operation


def input_shape(service: str, operation: str) -> StructureShape:
    shape: StructureShape = service_model(service).operation_model(operation_name(operation)).input_shape
    return shape


def assert_valid(service: str, operation: str, params: dict[str, Any]) -> None:
    """``params`` pass botocore's validation and the model's maximums and enums for ``service.operation``."""
    shape = input_shape(service, operation)
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    problems = list(_beyond_the_model(params, shape, operation))
    assert not problems, problems


def _beyond_the_model(value: Any, shape: Shape, path: str) -> Any:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in value.items():
            yield from _beyond_the_model(member, shape.members[name], f"{path}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _beyond_the_model(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            yield from _beyond_the_model(item, shape.value, f"{path}[{key}]")
    elif shape.metadata.get("enum") and value not in shape.metadata["enum"]:
        yield f"{path}: {value!r} is not one of the model's {shape.type_name} values"
    elif "max" in shape.metadata and isinstance(value, (int, float)) and value > shape.metadata["max"]:
        yield f"{path}: {value} is above the model's maximum {shape.metadata['max']}"
