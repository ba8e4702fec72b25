"""The pure parts of `leadsync init`: which variables, which mapping rows, which books, and a
rendered file that loads back to exactly the names the live systems hold."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.config.loader import load_text
from leadsync.dotdigital.model import AddressBook, DataField
from leadsync.errors import ConfigError, LeadsyncError, UsageError
from leadsync.init import books, command, environment, mapping
from leadsync.init.render import AccountSpec, FileSpec, render
from leadsync.salesforce.model import FieldInfo, ObjectDescribe, PicklistValue


def _field(name: str, type_: str = "string", *, required: bool = False, **kw: object) -> FieldInfo:
    return FieldInfo(
        name,
        str(kw.pop("label", name)),
        type_,
        nillable=not required,
        createable=bool(kw.pop("createable", True)),
        defaulted_on_create=False,
        custom=name.endswith("__c"),
        **kw,  # type: ignore[arg-type]
    )


def _lead(*extra: FieldInfo) -> ObjectDescribe:
    base = [
        _field("FirstName"),
        _field("LastName", required=True),
        _field("Company"),
        _field("Email", "email"),
        FieldInfo("Status", "Lead Status", "picklist", False, True, True),
        _field("Title"),
        _field("PostalCode", label="Zip/Postal Code"),
        _field("OwnerId", "reference"),
    ]
    return ObjectDescribe("Lead", {f.name: f for f in [*base, *extra]})


def _df(name: str, type_: str = "String") -> DataField:
    return DataField(name, type_, "Private", None)


def _rows(proposed: mapping.ProposedMapping) -> dict[str, str]:
    return {r.salesforce: r.datafield for r in proposed.rows}


# -- mapping -------------------------------------------------------------------------------


def test_required_fields_are_matched_by_name_label_or_dotdigital_name_else_todo() -> None:
    lead = _lead(
        _field("Region__c", "picklist", required=True),
        _field("Segment__c", required=True, label="Market sector"),
        _field("Started__c", "date", required=True),
        _field("Ref__c", "reference", required=True),
    )
    dfs = [_df(n) for n in ("FIRSTNAME", "LASTNAME", "REGION", "MARKET_SECTOR", "POSTCODE")]
    proposed = mapping.propose(lead, [*dfs, _df("STARTED", "Numeric"), _df("EMAIL")])
    assert [(r.salesforce, r.datafield) for r in proposed.rows] == [
        ("FirstName", "FIRSTNAME"),
        ("LastName", "LASTNAME"),
        ("Company", "TODO"),  # needed to create Leads: written even with nothing to match
        ("Ref__c", "TODO"),  # a lookup: no datafield can fill it
        ("Region__c", "REGION"),
        ("Segment__c", "MARKET_SECTOR"),
        ("Started__c", "TODO"),  # a Numeric datafield cannot hold a date
        ("PostalCode", "POSTCODE"),
    ]
    notes = {r.salesforce: r.note for r in proposed.rows}
    assert notes["Segment__c"] == (
        'required by the org; MARKET_SECTOR matches the field label "Market sector"'
    )
    assert notes["PostalCode"] == "POSTCODE is Dotdigital's name for PostalCode"
    assert notes["Ref__c"].startswith("required by the org, cannot be filled from a datafield")
    assert proposed.unmapped == ("EMAIL", "STARTED")  # Email is leadsync's own: never proposed


def test_a_datafield_is_used_once_and_the_choice_is_stable() -> None:
    dfs = [_df("FIRST_NAME"), _df("FIRSTNAME"), _df("LASTNAME"), _df("COMPANY")]
    one = mapping.propose(_lead(), dfs)
    other = mapping.propose(_lead(), list(reversed(dfs)))
    assert one == other
    assert _rows(one)["FirstName"] == "FIRSTNAME" and one.unmapped == ("FIRST_NAME",)


def test_restricted_picklist_values_are_named_in_the_comment() -> None:
    values = tuple(PicklistValue(v, v, True, False) for v in "ABCDEFGH")
    lead = _lead(
        FieldInfo(
            "Region__c",
            "Region",
            "picklist",
            nillable=False,
            createable=True,
            defaulted_on_create=False,
            custom=True,
            restricted_picklist=True,
            picklist_values=values,
        )
    )
    [row] = [r for r in mapping.propose(lead, [_df("REGION")]).rows if r.salesforce == "Region__c"]
    assert row.note.endswith("restricted picklist: A, B, C, D, E, F and 2 more")


# -- books ---------------------------------------------------------------------------------


def test_books_link_exact_campaigns_suggest_alike_ones_and_leave_out_duplicates() -> None:
    found = [
        AddressBook(3, "Webinar", "Private", 1200),
        AddressBook(1, "spring launch", "Private", 0),
        AddressBook(2, "Twice", "Private", 5),
        AddressBook(9, "Twice", "Private", 6),
        AddressBook(4, "Fair", "Private", 1),
        AddressBook(5, "Nothing alike", "Private", 1),
    ]
    campaigns = [
        books.Campaign("701000000000002AAA", "Webinar", ("Sent", "Responded")),
        books.Campaign("701000000000003AAA", "Spring Launch", None),
        books.Campaign("701000000000005AAA", "Fair", ("Attended",)),
        books.Campaign("701000000000004AAA", "Fair", ()),
    ]
    proposed = books.propose(found, campaigns, "Sent")
    by_name = {b.name: b for b in proposed.books}
    assert list(by_name) == ["Fair", "Nothing alike", "spring launch", "Webinar"]
    assert by_name["Webinar"].campaign == "Webinar"
    assert by_name["Webinar"].note.endswith("(member statuses: Sent, Responded)")
    assert by_name["spring launch"].campaign is None
    assert by_name["spring launch"].suggestion == "Spring Launch"
    assert by_name["Fair"].campaign is None
    assert by_name["Fair"].suggestion == "701000000000004AAA"
    assert "2 Campaigns have this name" in by_name["Fair"].note
    assert by_name["Nothing alike"].suggestion is None and by_name["Nothing alike"].note == ""
    assert proposed.left_out == (
        '"Twice": 2 address books have this name (ids 2 and 9); rename all but one in '
        "Dotdigital to use it",
    )
    assert books.members(1200) == "1,200 members" and books.members(1) == "1 member"


def test_linked_campaign_without_the_member_status_says_apply_adds_it() -> None:
    campaign = books.Campaign("701000000000002AAA", "Webinar", ("Attended",))
    [book] = books.propose([AddressBook(1, "Webinar", "Private", 0)], [campaign], "Sent").books
    assert book.note.endswith("(member statuses: Attended; apply adds Sent)")


# -- environment ---------------------------------------------------------------------------

SF_BASE = {"SF_INSTANCE_URL": "https://acme.my.salesforce.com"}


def test_auth_form_precedence_and_what_is_missing() -> None:
    both = {**SF_BASE, "SF_ACCESS_TOKEN": "t", "SF_USERNAME": "u", "SF_PASSWORD": "p"}
    sf = environment.salesforce_vars(both)
    assert sf.form == "access_token" and sf.auth == (("access_token", "SF_ACCESS_TOKEN"),)
    assert sf.why == "SF_ACCESS_TOKEN is set; also set, not used: SF_PASSWORD"
    jwt = {**SF_BASE, "SF_USERNAME": "u", "SF_PRIVATE_KEY_FILE": "k.pem", "SF_DOMAIN": "test"}
    with pytest.raises(
        ConfigError, match=r"^SF_CONSUMER_KEY is not set \(Salesforce, jwt login\)$"
    ):
        environment.salesforce_vars(jwt)
    jwt["SF_CONSUMER_KEY"] = "ck"
    assert [k for k, _ in environment.salesforce_vars(jwt).auth] == [
        "username",
        "consumer_key",
        "private_key_file",
        "domain",
    ]
    with pytest.raises(ConfigError, match=r"^SF_PASSWORD is not set \(Salesforce, password"):
        environment.salesforce_vars({**SF_BASE, "SF_USERNAME": "u"})
    with pytest.raises(ConfigError, match="and SF_INSTANCE_URL"):
        environment.salesforce_vars({})


def test_accounts_from_flags_or_the_environment() -> None:
    env = {
        "DD_UK_USERNAME": "u",
        "DD_UK_PASSWORD": "p",
        "DD_UK_REGION": "r1",
        "DD_EU_WEST_USERNAME": "u",
    }
    assert environment.account_names([], env) == ["eu_west", "uk"]
    assert environment.account_names(["uk", "uk"], env) == ["uk"]
    uk = environment.account_vars("uk", env)
    assert (uk.location_key, uk.location) == ("region", "DD_UK_REGION")
    with pytest.raises(
        ConfigError,
        match=r"^DD_EU_WEST_ENDPOINT \(or DD_EU_WEST_REGION\) and DD_EU_WEST_PASSWORD are",
    ):
        environment.account_vars("eu-west", env)
    with pytest.raises(UsageError, match="both read DD_EU_WEST_"):
        environment.account_names(["eu-west", "eu_west"], env)
    with pytest.raises(UsageError, match="starts with a letter"):
        environment.account_names(["9lives"], env)
    with pytest.raises(UsageError, match="pass --account NAME"):
        environment.account_names([], {})


# -- render --------------------------------------------------------------------------------

_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")


def _spec(names: list[str]) -> FileSpec:
    env = {**SF_BASE, "SF_ACCESS_TOKEN": "t", "DD_UK_ENDPOINT": "https://dd", "DD_UK_USERNAME": "u"}
    env["DD_UK_PASSWORD"] = "p"
    found = [AddressBook(i, n, "Private", i) for i, n in enumerate(names)]
    campaigns = [books.Campaign(f"70100000000000{i}AAA", n, ()) for i, n in enumerate(names[:1])]
    account = AccountSpec(
        environment.account_vars("uk", env),
        mapping.propose(_lead(), [_df("FIRSTNAME"), _df("LASTNAME"), _df("COMPANY")]),
        books.propose(found, campaigns, "Sent"),
        False,
        2000,
    )
    sf = environment.salesforce_vars(env)
    return FileSpec("sqlite", sf, "61.0", "Open - Not Contacted", "Sent", (account,))


@settings(max_examples=25)
@given(st.lists(_NAMES, min_size=1, max_size=3, unique_by=lambda s: s))
def test_any_book_name_loads_back_exactly(names: list[str]) -> None:
    """Quotes, '#', '${', line breaks, YAML words like "yes": the loaded file names the book the
    live system holds (the loader interpolates: a literal ${ must come back as ${)."""
    text = render(_spec(names))
    env = {"SF_INSTANCE_URL": "https://x.example", "SF_ACCESS_TOKEN": "t"}
    env |= {"DD_UK_ENDPOINT": "https://dd.example", "DD_UK_USERNAME": "u", "DD_UK_PASSWORD": "p"}
    result = load_text(text, "leadsync.yaml", env)
    assert result.config is not None, [d.format() for d in result.diagnostics]
    listed = {b.name for b in result.config.accounts["uk"].address_books}
    assert listed == {n for n in names if len(n) <= books.BOOK_NAME_MAX}
    assert yaml.safe_load(text)["version"] == 1


def test_a_file_validate_would_refuse_is_never_written() -> None:
    """The last step before writing loads the file as validate does: a rendering bug stops
    init (exit 1, nothing written) instead of handing the user a broken file."""
    spec = _spec(["Webinar"])
    text = render(spec)
    command._self_check(text, spec)  # the real rendering passes
    with pytest.raises(LeadsyncError, match=r"^internal error: init wrote a file validate refuses"):
        command._self_check(text.replace("version: 1", "version: 2"), spec)
    with pytest.raises(LeadsyncError, match="0 LS110 for 1 TODO"):
        command._self_check(text, replace(spec, accounts=(_with_todo(spec.accounts[0]),)))


def _with_todo(account: AccountSpec) -> AccountSpec:
    todo = mapping.ProposedRow("Segment__c", "TODO", "required by the org")
    rows = mapping.ProposedMapping((*account.mapping.rows, todo), account.mapping.unmapped)
    return replace(account, mapping=rows)
