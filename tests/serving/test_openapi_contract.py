"""The published contract: every operation documents its request and success bodies with an
example, so a kiosk or dashboard developer can start from /docs alone."""

import pytest

from serving.api.main import create_app


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _has_example(spec: dict, schema: dict) -> bool:
    schema = _resolve(spec, schema)
    if "examples" in schema or "example" in schema:
        return True
    if schema.get("type") == "array":
        return _has_example(spec, schema.get("items", {}))
    if "data" in schema.get("properties", {}):  # a page: its items carry the example
        return _has_example(spec, schema["properties"]["data"])
    if "anyOf" in schema:
        return all(_has_example(spec, s) for s in schema["anyOf"] if s.get("type") != "null")
    return False


SPEC = create_app().openapi()
OPERATIONS = [
    (path, method, operation)
    for path, methods in SPEC["paths"].items()
    for method, operation in methods.items()
]


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_every_body_has_an_example(path, method, operation):
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        if media == "application/json":
            assert _has_example(SPEC, content["schema"]), f"{method} {path}: request body"
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            content = response.get("content", {}).get("application/json")
            if content and content.get("schema"):
                assert _has_example(SPEC, content["schema"]), f"{method} {path}: {status}"


def _models_with_examples():
    from pydantic import BaseModel

    from serving.api import schemas

    for name in dir(schemas):
        model = getattr(schemas, name)
        if isinstance(model, type) and issubclass(model, BaseModel):
            extra = model.model_config.get("json_schema_extra") or {}
            for example in extra.get("examples", []) if isinstance(extra, dict) else []:
                yield pytest.param(model, example, id=name)


@pytest.mark.parametrize(("model", "example"), list(_models_with_examples()))
def test_every_example_is_valid_for_its_model(model, example):
    model.model_validate(example)
