"""Composite's rules live in the org model (models/composite.py), not in the HTTP layer: the
limits refuse a request and all-or-none rolls back writes with no HTTP server involved. The
wire behaviour is tested through simple-salesforce in test_sf_composite*.py."""

from __future__ import annotations

import pytest

from leadsync.emulator.salesforce.exceptions import ApiError, RecordError
from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.models.composite import (
    SubAnswer,
    batch_subrequests,
    composite_subrequests,
)

V = "/services/data/v59.0"


def _get(ref: str, url: str) -> dict:
    return {"method": "GET", "url": url, "referenceId": ref}


def test_the_model_holds_the_composite_limits():
    describe = f"{V}/sobjects/Lead/describe"
    assert (
        len(
            composite_subrequests(
                {"compositeRequest": [_get(f"d{i}", describe) for i in range(25)]}
            )
        )
        == 25
    )
    with pytest.raises(ApiError) as err:
        composite_subrequests({"compositeRequest": [_get(f"d{i}", describe) for i in range(26)]})
    assert (err.value.code, err.value.status) == ("LIMIT_EXCEEDED", 400)
    with pytest.raises(ApiError) as err:
        composite_subrequests(
            {"compositeRequest": [_get(f"q{i}", f"{V}/query?q=x") for i in range(6)]}
        )
    assert err.value.code == "LIMIT_EXCEEDED" and "5 query" in err.value.message
    with pytest.raises(ApiError) as err:
        batch_subrequests({"batchRequests": [{"method": "GET", "url": "v59.0/limits"}] * 26})
    assert err.value.code == "LIMIT_EXCEEDED"
    with pytest.raises(ApiError) as err:
        batch_subrequests({"batchRequests": [{"method": "GET", "url": "v59.0/composite"}]})
    assert "cannot contain /composite" in err.value.message


def test_all_or_none_rolls_back_in_the_model():
    org = SalesforceBackend()

    def execute(sub: dict) -> SubAnswer:
        try:
            return SubAnswer(201, {"id": org.insert("Lead", dict(sub["body"]))})
        except RecordError as exc:
            return SubAnswer(400, [{"errorCode": exc.errors[0].code}])

    subs = [
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "ok",
         "body": {"LastName": "A", "Company": "C", "Email": "a@x.com"}},
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "bad",
         "body": {"Company": "C", "Description": "@{ok.id}"}},
    ]  # fmt: skip
    answers = org.run_composite(composite_subrequests({"compositeRequest": subs}), True, execute)
    assert [(a.reference_id, a.status) for a in answers] == [("ok", 400), ("bad", 400)]
    assert answers[0].body[0]["errorCode"] == "PROCESSING_HALTED"
    assert answers[1].body[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert not [r for r in org.records["Lead"].values() if not r["IsDeleted"]]
    kept = org.run_composite(composite_subrequests({"compositeRequest": subs}), False, execute)
    assert [a.status for a in kept] == [201, 400]
    assert len(org.records["Lead"]) == 1
