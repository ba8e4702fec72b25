"""format_text: the canonical form, comments kept, meaning unchanged (as the PyYAML loader reads it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from leadsync.config.fmt import FmtError, format_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "leadsync.yaml.example").read_text(encoding="utf-8")

SHUFFLED = """\
# header: stays on top

# about accounts
accounts:
    uk:   # the uk account
        address_books:
        -   campaign: "Spring"   # which campaign
            name: 'Webinar'
            create_leads: true
        -   {backfill: yes, name: Other}
        lead_mapping:
        # the rows
        -   salesforce: FirstName  # first name
            direction: two-way
            datafield: FIRSTNAME
        - {direction: "two-way", datafield: LASTNAME, salesforce: LastName}
        dotdigital:
            password: ${DD_UK_PASSWORD}
            username: "${DD_UK_USERNAME}"
            # region comment
            region: r1
        custom_thing: [a, b]
defaults: {campaign_member_status: Sent, lead_status: "New"}
salesforce:
    api_version: "61.0"
    # the auth
    auth: {access_token: "${SF_ACCESS_TOKEN}"}
    instance_url: ${SF_INSTANCE_URL}
version: 1   # always 1
zzz_unknown: "yes"
state:
  path: x.db
  backend: sqlite
# footer
"""


def comments(text: str) -> list[str]:
    return sorted(m.group(0).strip() for m in re.finditer(r"(?:^|\s)#.*$", text, re.MULTILINE))


def test_example_is_canonical() -> None:
    assert format_text(EXAMPLE) == EXAMPLE


def test_shuffled_config_becomes_canonical_with_every_comment() -> None:
    out = format_text(SHUFFLED)
    assert comments(out) == comments(SHUFFLED)
    assert yaml.safe_load(out) == yaml.safe_load(SHUFFLED)
    top = [line.split(":")[0] for line in out.splitlines() if re.match(r"^[a-z]", line)]
    assert top == ["version", "state", "salesforce", "defaults", "accounts", "zzz_unknown"]
    assert out.startswith("# header: stays on top\n\nversion: 1   # always 1\n")
    assert out.endswith("# footer\n")
    expected_account = """\
# about accounts
accounts:
  uk:     # the uk account
    dotdigital:
      # region comment
      region: r1
      username: ${DD_UK_USERNAME}
      password: ${DD_UK_PASSWORD}
    lead_mapping:
      # the rows
      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}  # first name
      - {salesforce: LastName,  datafield: LASTNAME,  direction: two-way}
    address_books:
      - name: Webinar
        create_leads: true
        campaign: Spring         # which campaign
      - name: Other
        backfill: true
    custom_thing: [a, b]
"""
    assert expected_account in out
    assert "salesforce:\n  instance_url: ${SF_INSTANCE_URL}\n  # the auth\n  auth:\n" in out
    assert '  api_version: "61.0"\n' in out
    assert "defaults:\n  lead_status: New\n  campaign_member_status: Sent\n" in out
    assert 'zzz_unknown: "yes"\n' in out
    assert format_text(out) == out


@pytest.mark.parametrize(
    "value",
    ['"61.0"', '"yes"', '"on"', '"0777"', '"1_000"', '"null"', '""', '"a: b"', '"#x"', '"12:30"'],
)
def test_quotes_stay_where_a_reader_would_retype_the_value(value: str) -> None:
    text = f"version: 1\nx: {value}\n"
    out = format_text(text)
    assert yaml.safe_load(out) == yaml.safe_load(text)
    assert out == f'version: 1\n\nx: "{yaml.safe_load(text)["x"]}"\n'.replace('"""', '""')


def test_needless_quotes_go_and_single_quotes_become_double() -> None:
    out = format_text("version: 1\na: 'New'\nb: \"it's\"\nc: '${X:-http://h}'\n")
    assert out == "version: 1\n\na: New\n\nb: it's\n\nc: ${X:-http://h}\n"


def test_var_references_are_never_interpolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_ACCESS_TOKEN", "s3cr3t-token-value")
    out = format_text(EXAMPLE)
    assert "s3cr3t" not in out
    assert "access_token: ${SF_ACCESS_TOKEN}" in out


def test_auth_keys_follow_the_matching_auth_form() -> None:
    text = (
        "salesforce:\n  auth:\n    domain: test\n    security_token: ${T}\n"
        "    password: ${P}\n    username: u\n"
    )
    out = format_text(text)
    assert (
        "auth:\n    username: u\n    password: ${P}\n    security_token: ${T}\n    domain: test\n"
        in out
    )


def test_trailing_deeper_comment_stays_with_the_block_above() -> None:
    text = "defaults:\n  lead_status: New\n  # campaign_member_status: Sent\nversion: 1\n"
    out = format_text(text)
    assert out == "version: 1\n\ndefaults:\n  lead_status: New\n  # campaign_member_status: Sent\n"


def test_block_scalars_and_hash_inside_values_survive() -> None:
    text = "version: 1\nnote: |\n  line # not a comment\n\n  second\nurl: http://h/#frag  # real\n"
    out = format_text(text)
    assert yaml.safe_load(out) == yaml.safe_load(text)
    assert "  line # not a comment\n\n  second\n" in out
    assert out.endswith("url: http://h/#frag  # real\n")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("version: 1\naccounts: [1,\n", "x.yaml:3:1: invalid YAML"),
        ("version: 1\nversion: 2\n", "x.yaml:2:1: duplicate key"),
        ("a: &x 1\nb: *x\n", "x.yaml:1:4: fmt does not support anchors"),
        ("- a\n- b\n", "x.yaml:1: the top level must be a mapping"),
    ],
)
def test_bad_input_names_file_and_line(text: str, where: str) -> None:
    with pytest.raises(FmtError) as info:
        format_text(text, "x.yaml")
    assert str(info.value).startswith(where)


def test_empty_and_comment_only_files() -> None:
    assert format_text("") == ""
    assert format_text("# just a note\n\n") == "# just a note\n"


def test_values_keep_the_type_pyyaml_gives_them() -> None:
    text = "version: 1\na: [y, n, yes, 1e3, 0777]\nb:\n  - y\n  - |\n    lit\n  -\n  - - x\n"
    out = format_text(text)
    assert yaml.safe_load(out) == yaml.safe_load(text)
    assert format_text(out) == out
    assert 'a: ["y", "n", true, "1e3", 0777]\n' in out


def test_a_value_ending_in_a_non_breaking_space_keeps_it() -> None:
    """Only spaces are layout: U+00A0 is part of a name (Python's str.rstrip() would drop it,
    and with it the name `leadsync init` read from Dotdigital)."""
    text = 'accounts:\n  uk:\n    address_books:\n      - name: "0\xa0"\n      - name: "a\xa0"\n'
    books = yaml.safe_load(format_text(text))["accounts"]["uk"]["address_books"]
    assert [b["name"] for b in books] == ["0\xa0", "a\xa0"]


def test_push_keys_take_their_place_and_status_lists_stay_on_one_line() -> None:
    text = """\
accounts:
  uk:
    address_books:
      - member_statuses:
          - Sent
          - Responded
        push_campaign_members: true
        campaign: Customer Day
        name: Invitees
    contact_mapping:
      - {direction: two-way, salesforce: FirstName, datafield: FIRSTNAME}
      - {salesforce: Title, datafield: JOBTITLE, direction: salesforce-to-dotdigital}
    lead_mapping:
      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}
"""
    out = format_text(text)
    assert (
        out
        == """\
accounts:
  uk:
    lead_mapping:
      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}
    contact_mapping:
      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}
      - {salesforce: Title,     datafield: JOBTITLE,  direction: salesforce-to-dotdigital}
    address_books:
      - name: Invitees
        campaign: Customer Day
        push_campaign_members: true
        member_statuses: [Sent, Responded]
"""
    )
    assert format_text(out) == out
    assert yaml.safe_load(out) == yaml.safe_load(text)
