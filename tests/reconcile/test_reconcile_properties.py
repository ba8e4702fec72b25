"""Properties of the pure diff over generated configs and worlds (hypothesis, no I/O).

- applying a plan's resolved value and planning again gives no changes (apply converges);
- the same inputs give the same plan, in the same order (deterministic);
- no secret value reaches any rendering, whatever it is;
- the summary counts add up to the number of resources.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.reconcile.diff import diff
from leadsync.reconcile.document import to_json
from leadsync.views.plan import to_markdown, to_text

NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)
SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=20).map(
    lambda s: "S3CR3T" + s
)
EXTRA_FIELDS = ["Phone", "Title", "Website", "AnnualRevenue", "Description"]


@st.composite
def worlds(draw, b):
    book_names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    extra = draw(st.lists(st.sampled_from(EXTRA_FIELDS), unique=True, max_size=3))
    rows = [
        ("FirstName", "FIRSTNAME", "two-way"),
        ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
        ("Company", "COMPANY", "two-way"),
        *[
            (f, f.upper()[:20], draw(st.sampled_from(["two-way", "salesforce-to-dotdigital"])))
            for f in extra
        ],
    ]
    books = tuple(
        b.book(n, create_leads=draw(st.booleans()), backfill=draw(st.booleans()))
        for n in book_names
    )
    password, token = draw(SECRET), draw(SECRET)
    cfg = b.config(
        b.account(rows=b.mapping(*rows), books=books, password=password, create_missing=True),
        token=token,
    )
    dd_books = tuple(b.AddressBook(100 + i, n, "Private", i) for i, n in enumerate(book_names))
    datafields = (
        "FIRSTNAME",
        "LASTNAME",
        "COMPANY",
        *draw(st.lists(st.sampled_from([f.upper() for f in EXTRA_FIELDS]), unique=True)),
    )
    lead = b.lead(
        *(b.field(f, "currency" if f == "AnnualRevenue" else "string") for f in EXTRA_FIELDS)
    )
    obs = b.observed(b.dd_account(books=dd_books, datafields=datafields), lead_obj=lead)
    return cfg, obs, (password, token)


def _settings():
    return settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


def test_apply_converges_and_plans_are_deterministic(b):
    @_settings()
    @given(worlds(b))
    def check(world):
        cfg, obs, secrets = world
        plan = diff(cfg, None, obs, salt="salt-1")
        assert not plan.has_errors, plan.diagnostics
        assert sum(plan.summary().values()) == len(plan.changes)
        assert diff(cfg, None, obs, salt="salt-1") == plan
        # what apply records (remote creations done) makes the next plan empty
        for change in plan.remote_actions():
            obs = obs.with_datafield(
                "uk", b.DataField(change.after["name"], change.after["type"], "Private", None)
            )
        again = diff(
            cfg, b.applied_from(diff(cfg, None, obs, salt="salt").resolved), obs, salt="salt"
        )
        assert not again.has_changes, [c.address for c in again.changes if c.action != "no-op"]
        rendered = to_text(plan) + to_markdown(plan) + json.dumps(to_json(plan), ensure_ascii=False)
        for secret in secrets:
            assert secret not in rendered

    check()
