"""The audit stamps a write gets: the org's clock (wall time plus the offset the clock route
sets, fractions of a second and moves backwards included), cut to milliseconds, in
Salesforce's form `2026-01-31T10:00:00.000+0000`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@pytest.mark.parametrize("offset", [0, 0.0015, -400 * 86400 - 0.0007, 3 * 86400 + 0.9999])
def test_a_write_is_stamped_by_the_org_clock_to_the_millisecond(org, offset):
    org.control("clock", {"offset_seconds": offset})
    sf = org.sf()
    before = _ms(datetime.now(UTC) + timedelta(seconds=offset))
    lead_id = sf.Lead.create({"LastName": "Stamp", "Company": "C", "Region__c": "EMEA"})["id"]
    after = _ms(datetime.now(UTC) + timedelta(seconds=offset))
    lead = sf.Lead.get(lead_id)
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert STAMP.match(lead[name]), lead[name]
        stamped = datetime.strptime(lead[name], "%Y-%m-%dT%H:%M:%S.%f%z")
        assert before <= stamped <= after, (name, before, stamped, after)
    assert lead["CreatedDate"] == lead["SystemModstamp"]
