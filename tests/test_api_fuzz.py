"""Property-based fuzzing of every operation in docs/openapi.yaml (schemathesis) against `dkmap serve`
on the built demo-small: no answer is a 5xx, and every answer has a documented status, content type
and body schema. Bounded: FUZZ_EXAMPLES cases per operation and generation mode (valid requests, and
requests that break the schema), about 20 s on 2 cores.

The parameters naming data (dataset, metric, item, model, spaces) are drawn from the served dataset's
own names, so the fuzz reaches the handlers and not only their 404s (unknown names are
tests/test_api_hardening.py's); the negative mode still sends other names."""

from __future__ import annotations

import copy

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from test_openapi import SPEC_FILE

FUZZ_EXAMPLES = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# `/` answers 503 by design when frontend/dist is not built (a clone before `npm run build`).
NOT_FUZZED = "^/$"
# Random file names of the frontend are all 404s (and every one when frontend/dist is not built).
NO_FILES = "GET /{filename} (positive)"


def known(values: list[str]) -> dict:
    return {"type": "string", "enum": list(values)}


def pinned_spec(server) -> dict:
    """docs/openapi.yaml with the data-naming parameters drawn from what `server` serves."""
    ds = next(d for d in server.get("/api/datasets").json()["datasets"] if d["name"] == "demo-small")
    ids = server.get("/api/datasets/demo-small/search?q=a&limit=5&fields=ids").json()["ids"]
    spec = copy.deepcopy(yaml.safe_load(SPEC_FILE.read_text()))
    params = spec["components"]["parameters"]
    params["dataset"]["schema"] = known(["demo-small"])
    params["metric"]["schema"] = known([m["name"] for m in ds["metrics"]])
    params["item_id"]["schema"] = known(ids)
    params["model"]["schema"] = known(ds["generators"])
    for name in ("z", "x", "y"):
        params[name]["schema"]["maximum"] = 12   # past every map's levels still tested, not only 2^63
    compare = spec["paths"]["/api/datasets/{dataset}/compare/spec"]["get"]["parameters"]
    for p in compare[:2]:
        p["schema"] = known(["image", *ds["spaces"]])
    return spec


def test_no_server_error_and_answers_match_the_schema(live_server):
    schema = schemathesis.openapi.from_dict(pinned_spec(live_server)).exclude(path_regex=NOT_FUZZED)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 19
    failures, tried = {}, {}
    with requests.Session() as session:
        for op, mode in ((op, mode) for op in operations for mode in GenerationMode):
            sent = []

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            def fuzz(case):
                response = case.call_and_validate(base_url=live_server.url, session=session, checks=CHECKS,
                                                  timeout=60)
                sent.append(response.status_code)

            try:
                fuzz()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                continue   # no parameter nor body to make invalid (GET /api/datasets)
            except Exception as exc:   # one operation's failure must not hide another's
                failures[f"{op.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:3000]
            tried[f"{op.label} ({mode.value})"] = sent
    assert failures == {}
    # Positive cases reach every handler: each operation answered 200 at least once.
    answered = {label: statuses for label, statuses in tried.items() if label.endswith("(positive)")}
    assert len(answered) == len(operations)
    assert {label for label, statuses in answered.items() if 200 not in statuses} == {NO_FILES}, tried


def test_the_checks_catch_an_answer_the_description_does_not_allow(api):
    """The fuzz is not vacuous: an answer missing a required field, or with an undocumented status,
    fails the same checks."""
    spec = yaml.safe_load(SPEC_FILE.read_text())
    listing = spec["paths"]["/api/datasets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    listing["required"].append("no_such_field")
    del spec["paths"]["/api/datasets/{dataset}/search"]["get"]["responses"]["404"]
    schema = schemathesis.openapi.from_dict(spec)
    with requests.Session() as session:
        case = schema["/api/datasets"]["GET"].Case()
        with pytest.raises(FailureGroup) as found:
            case.call_and_validate(base_url=api.url, session=session, checks=CHECKS, timeout=60)
        assert [type(e).__name__ for e in found.value.exceptions] == ["JsonSchemaError"]
        assert "no_such_field" in str(found.value.exceptions[0])
        case = schema["/api/datasets/{dataset}/search"]["GET"].Case(path_parameters={"dataset": "nope"})
        with pytest.raises(FailureGroup) as found:
            case.call_and_validate(base_url=api.url, session=session, checks=CHECKS, timeout=60)
        assert [type(e).__name__ for e in found.value.exceptions] == ["UndefinedStatusCode"]
