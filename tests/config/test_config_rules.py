"""Every validate rule: the code, the file:line (and column where it matters), and the message."""

from __future__ import annotations

import pytest

from leadsync.applied.values import settings_view
from leadsync.config import Secret, load, load_or_raise
from leadsync.config.codes import SECRET_KEYS
from leadsync.errors import ConfigError


def codes_of(result) -> list[str]:
    return [d.code for d in result.diagnostics]


def only(result, code: str):
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [d.format() for d in result.diagnostics]
    return found[0]


def test_base_config_is_clean_and_typed(write, base, env, where):
    line_of, col_of = where
    path = write(base)
    result = load(path, env)
    assert result.diagnostics == []
    cfg = result.config
    assert cfg is not None and cfg.version == 1
    assert cfg.salesforce.instance_url == env["SF_INSTANCE_URL"]
    assert cfg.salesforce.ca_bundle == env["SF_CA_BUNDLE"]
    token = cfg.salesforce.auth.access_token
    assert isinstance(token, Secret) and token.env_var == "SF_ACCESS_TOKEN"
    assert token.reveal() == env["SF_ACCESS_TOKEN"]
    dd = cfg.accounts["uk"].dotdigital
    assert isinstance(dd.password, Secret) and dd.password.env_var == "DD_UK_PASSWORD"
    assert dd.base_url == env["DD_UK_ENDPOINT"]
    row = cfg.accounts["uk"].lead_mapping[1]
    assert row.salesforce == "LastName" and row.direction.writes_to_salesforce
    # every value keeps its place: the direction of row 1, exactly
    pos = cfg.positions["accounts.uk.lead_mapping[1].direction"]
    assert (pos.line, pos.column) == (
        line_of(base, "LASTNAME"),
        col_of(base, "dotdigital-to-salesforce"),
    )
    assert cfg.pos("accounts.uk.address_books[0].campaign").line == line_of(base, "campaign:")
    book = cfg.accounts["uk"].address_books[0]
    assert book.pos.line == line_of(base, "- name: Webinar")
    assert (book.create_leads, book.campaign, book.backfill) == (True, "Spring Webinar 2026", False)
    assert cfg.sync.bulk_threshold == 2000 and cfg.sync.max_api_share == 0.5
    assert cfg.sync.overlap_seconds == 300 and cfg.sync.allow_duplicate_save is False
    assert cfg.state.backend == "sqlite" and cfg.state.path == ".leadsync/state.db"
    assert len(cfg.source_sha256) == 64


def test_example_file_validates_clean(env, where):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "leadsync.yaml.example"
    text = example.read_text()
    assert text.startswith("# yaml-language-server: $schema=./schema/leadsync.schema.json")
    result = load(str(example), env)
    assert result.diagnostics == [], [d.format() for d in result.diagnostics]
    rows = {r.salesforce: r for r in result.config.accounts["uk"].lead_mapping}
    assert rows["Region__c"].datafield == "REGION"
    assert rows["Region__c"].direction == "dotdigital-to-salesforce"


def test_unknown_key_names_line_column_and_suggests(write, base, env, where):
    line_of, _ = where
    text = base.replace("version: 1", "version: 1\nverison: 1").replace(
        "    clear_address_books: false", "    clear_address_books: false\n    colour: red"
    )
    result = load(write(text), env)
    assert codes_of(result) == ["LS020", "LS020"]
    top, nested = result.diagnostics
    assert (top.line, top.column, top.path) == (line_of(text, "verison"), 1, "verison")
    assert "did you mean 'version'" in top.message
    assert (nested.line, nested.column) == (line_of(text, "colour"), 5)
    assert nested.path == "accounts.uk.colour"


def test_wrong_types(write, base, env, where):
    line_of, col_of = where
    text = base.replace("clear_address_books: false", 'clear_address_books: "no"').replace(
        'api_version: "61.0"', "api_version: 61.0"
    )
    result = load(write(text), env)
    assert codes_of(result) == ["LS022", "LS022"]
    api, clear = result.diagnostics
    assert api.path == "salesforce.api_version" and "quotes" in api.message
    assert (api.line, api.column) == (line_of(text, "api_version"), col_of(text, "61.0"))
    assert clear.line == line_of(text, "clear_address_books")
    assert "true or false" in clear.message
    assert result.config is None


def test_list_where_mapping_belongs(write, base, env, where):
    line_of, _ = where
    text = base.replace("  lead_status: New\n  campaign_member_status: Sent\n", "  - New\n")
    result = load(write(text), env)
    d = only(result, "LS022")
    assert d.path == "defaults" and d.line == line_of(text, "- New")


def test_bad_direction_points_at_the_value(write, base, env, where):
    line_of, col_of = where
    text = base.replace("direction: dotdigital-to-salesforce}", "direction: dotdigital-to-sf}")
    result = load(write(text), env)
    d = only(result, "LS023")
    assert d.path == "accounts.uk.lead_mapping[1].direction"
    assert (d.line, d.column) == (
        line_of(text, "dotdigital-to-sf"),
        col_of(text, "dotdigital-to-sf"),
    )
    assert "two-way" in d.message and "salesforce-to-dotdigital" in d.message
    assert result.config is None


def test_missing_required_key_points_at_the_parent_key(write, base, env, where):
    line_of, _ = where
    text = base.replace("  instance_url: ${SF_INSTANCE_URL}\n", "")
    d = only(load(write(text), env), "LS021")
    assert "'instance_url'" in d.message
    assert (d.path, d.line, d.column) == ("salesforce", line_of(text, "salesforce:"), 1)


def test_missing_top_level_sections(write, env):
    result = load(write("version: 1\n"), env)
    assert {d.message for d in result.diagnostics} == {
        "missing required key 'salesforce'",
        "missing required key 'accounts'",
    }
    assert all(d.code == "LS021" and d.line == 1 for d in result.diagnostics)


def test_unset_env_var_is_named_never_valued(write, base, env, where):
    line_of, col_of = where
    del env["DD_UK_PASSWORD"]
    text = base
    result = load(write(text), env)
    d = only(result, "LS010")
    assert "DD_UK_PASSWORD" in d.message
    assert (d.line, d.column) == (line_of(text, "password:"), col_of(text, "${DD_UK_PASSWORD"))
    assert d.path == "accounts.uk.dotdigital.password"
    assert codes_of(result) == ["LS010"]  # no follow-up "must not be empty" noise


def test_defaults_apply_when_unset_or_empty(write, base, env):
    del env["DD_UK_ENDPOINT"]
    env["SF_CA_BUNDLE"] = ""
    cfg = load(write(base), env).config
    assert cfg.accounts["uk"].dotdigital.endpoint == "https://r1-api.dotdigital.com"
    assert cfg.salesforce.ca_bundle is None


def test_malformed_reference_and_escape(write, base, env, where):
    line_of, _ = where
    text = base.replace("lead_status: New", "lead_status: ${BROKEN").replace(
        "campaign_member_status: Sent", "campaign_member_status: $${NOT_A_VAR}"
    )
    result = load(write(text), env)
    d = only(result, "LS011")
    assert d.line == line_of(text, "${BROKEN") and d.path == "defaults.lead_status"
    text2 = base.replace("campaign_member_status: Sent", "campaign_member_status: $${NOT_A_VAR}")
    cfg = load(write(text2), env).config
    assert cfg.defaults.campaign_member_status == "${NOT_A_VAR}"


def test_env_values_are_coerced_to_schema_types(write, base, env, where):
    line_of, _ = where
    text = base + "sync:\n  bulk_threshold: ${BULK}\n  allow_duplicate_save: ${DUP:-false}\n"
    cfg = load(write(text), {**env, "BULK": "500"}).config
    assert cfg.sync.bulk_threshold == 500 and cfg.sync.allow_duplicate_save is False
    result = load(write(text), {**env, "BULK": "lots"})
    d = only(result, "LS022")
    assert d.path == "sync.bulk_threshold" and "${BULK}" in d.message
    assert d.line == line_of(text, "bulk_threshold")


def test_literal_secret_warns_and_is_still_secret(write, base, env, where, secret_values):
    line_of, col_of = where
    text = base.replace("${SF_ACCESS_TOKEN}", "literal-TOKEN-zz9")
    result = load(write(text), env)
    d = only(result, "LS012")
    assert d.severity == "warning" and d.path == "salesforce.auth.access_token"
    assert (d.line, d.column) == (line_of(text, "literal-TOKEN"), col_of(text, "literal-TOKEN"))
    assert result.config is not None  # a warning does not block
    token = result.config.salesforce.auth.access_token
    assert isinstance(token, Secret) and token.env_var is None
    assert "literal-TOKEN-zz9" not in repr(result.config)
    assert all("literal-TOKEN-zz9" not in x.message for x in result.diagnostics)


def test_secret_default_in_file_warns(write, base, env):
    text = base.replace("${DD_UK_PASSWORD}", "${DD_UK_PASSWORD:-hunter2}")
    assert only(load(write(text), env), "LS012").path == "accounts.uk.dotdigital.password"


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_every_secret_key_is_masked_in_messages(key):
    from leadsync.config.source import Tree

    tree = Tree(file="x.yaml", from_env={"a.env": ["VAR"]})
    assert tree.show("hunter2", f"a.b.{key}") == "(sensitive)"
    assert tree.show("hunter2", "a.env") == "(the value of ${VAR})"
    assert tree.show("plain", "a.name") == "'plain'"


def test_clear_address_books_with_create_leads(write, base, env, where):
    line_of, col_of = where
    text = base.replace("clear_address_books: false", "clear_address_books: true")
    d = only(load(write(text), env), "LS101")
    assert d.path == "accounts.uk.clear_address_books"
    assert (d.line, d.column) == (line_of(text, "clear_address_books"), col_of(text, "true"))
    # the message says what the setting does, and why it cannot go with create_leads
    assert "emptied of everyone who is not a member of their Salesforce Campaign" in d.message
    assert "new members would be removed before the sync reads them" in d.message
    assert "'Webinar signups'" in d.message
    # without a create_leads book, clearing is allowed; with no pushing book it does nothing
    text2 = text.replace("create_leads: true", "create_leads: false").replace(
        "        campaign: Spring Webinar 2026\n", ""
    )
    d = only(load(write(text2), env), "LS113")
    assert d.severity == "warning" and d.path == "accounts.uk.clear_address_books"
    assert "does nothing" in d.message
    pushing = text.replace("        create_leads: true\n", "        push_campaign_members: true\n")
    assert load(write(pushing), env).diagnostics == []


def test_push_keys_are_checked_offline(write, base, env, where):
    line_of, _ = where
    text = base.replace(
        "        campaign: Spring Webinar 2026\n",
        "        campaign: Spring Webinar 2026\n"
        "      - name: Customer Day\n"
        "        push_campaign_members: true\n"
        "      - name: Newsletter\n"
        "        member_statuses: [Sent]\n",
    ).replace(
        "    address_books:\n",
        "    contact_mapping:\n"
        "      - {salesforce: Title, datafield: JOBTITLE, direction: salesforce-to-dotdigital}\n"
        "      - {salesforce: title, datafield: JOB, direction: two-way}\n"
        "    address_books:\n",
    )
    result = load(write(text), env)
    assert sorted(codes_of(result)) == ["LS104", "LS111", "LS112"]
    push = only(result, "LS111")
    assert push.path == "accounts.uk.address_books[1].push_campaign_members"
    assert push.line == line_of(text, "push_campaign_members: true")
    assert "has no campaign" in push.message
    statuses = only(result, "LS112")
    assert (statuses.severity, statuses.line) == ("warning", line_of(text, "member_statuses"))
    assert only(result, "LS104").path == "accounts.uk.contact_mapping[1].salesforce"
    fixed = (
        text.replace(
            "        push_campaign_members: true\n",
            "        push_campaign_members: true\n        campaign: Customer Day 2026\n        member_statuses: [Sent, Responded]\n",
        )
        .replace("      - name: Newsletter\n        member_statuses: [Sent]\n", "")
        .replace(
            "{salesforce: title, datafield: JOB, direction: two-way}",
            "{salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}",
        )
    )
    cfg = load_or_raise(write(fixed), env)
    book = cfg.accounts["uk"].address_books[1]
    assert (book.push_campaign_members, book.member_statuses) == (True, ("Sent", "Responded"))
    assert [r.salesforce for r in cfg.accounts["uk"].contact_mapping] == ["Title", "FirstName"]


@pytest.mark.parametrize("field", ["FirstName", "LastName", "Company"])
def test_required_lead_fields_must_be_mapped(write, base, env, where, field):
    line_of, _ = where
    lines = [ln for ln in base.splitlines(keepends=True) if f"salesforce: {field}," not in ln]
    text = "".join(lines)
    d = only(load(write(text), env), "LS102")
    assert d.message.startswith(f"{field} is not mapped")
    assert (d.path, d.line) == ("accounts.uk.lead_mapping", line_of(text, "lead_mapping:"))


def test_required_lead_field_needs_a_writing_direction(write, base, env, where):
    line_of, col_of = where
    text = base.replace(
        "datafield: COMPANY,   direction: two-way",
        "datafield: COMPANY, direction: salesforce-to-dotdigital",
    )
    d = only(load(write(text), env), "LS103")
    assert d.message.startswith("Company is mapped salesforce-to-dotdigital")
    assert d.path == "accounts.uk.lead_mapping[2].direction"
    assert (d.line, d.column) == (
        line_of(text, "COMPANY"),
        col_of(text, "salesforce-to-dotdigital"),
    )


def test_mapping_rules_only_apply_with_create_leads(write, base, env):
    text = base.replace("create_leads: true", "create_leads: false").replace(
        "        campaign: Spring Webinar 2026\n", ""
    )
    text = "".join(ln for ln in text.splitlines(keepends=True) if "LastName" not in ln)
    assert load(write(text), env).diagnostics == []


def test_account_without_mapping_but_with_create_leads(write, base, env, where):
    line_of, _ = where
    start = base.index("    lead_mapping:")
    end = base.index("    address_books:")
    text = base[:start] + base[end:]
    result = load(write(text), env)
    assert codes_of(result) == ["LS102"] * 3
    assert {d.path for d in result.diagnostics} == {"accounts.uk"}
    assert {d.line for d in result.diagnostics} == {line_of(text, "  uk:")}


def test_same_salesforce_field_twice(write, base, env, where):
    line_of, col_of = where
    text = base.replace(
        "      - {salesforce: Company,",
        "      - {salesforce: firstname, datafield: OTHER, direction: two-way}\n"
        "      - {salesforce: Company,",
    )
    d = only(load(write(text), env), "LS104")
    assert d.path == "accounts.uk.lead_mapping[2].salesforce"
    assert (d.line, d.column) == (line_of(text, "OTHER"), col_of(text, "firstname"))
    assert f"first at line {line_of(text, 'FIRSTNAME')}" in d.message


def test_same_datafield_twice(write, base, env, where):
    line_of, _ = where
    text = base.replace(
        "      - {salesforce: Company,",
        "      - {salesforce: Title, datafield: FIRSTNAME, direction: two-way}\n"
        "      - {salesforce: Company,",
    )
    d = only(load(write(text), env), "LS105")
    assert d.path == "accounts.uk.lead_mapping[2].datafield"
    assert d.line == line_of(text, "Title")


def test_duplicate_book_names(write, base, env, where):
    line_of, _ = where
    text = base + "      - name: Webinar signups\n"
    d = only(load(write(text), env), "LS106")
    assert d.path == "accounts.uk.address_books[1].name"
    assert d.line == line_of(text, "- name: Webinar signups", nth=2)


def test_campaign_without_create_leads_warns(write, base, env):
    text = base + "      - name: Newsletter\n        campaign: Spring\n"
    result = load(write(text), env)
    d = only(result, "LS107")
    assert d.severity == "warning" and result.config is not None


def test_version_must_be_1(write, base, env, where):
    d = only(load(write(base.replace("version: 1", "version: 2")), env), "LS027")
    assert (d.line, d.column, d.path) == (1, 10, "version")
    d = only(load(write(base.replace("version: 1\n", "")), env), "LS021")
    assert "'version'" in d.message


def test_auth_forms(write, base, env, where):
    line_of, _ = where
    mixed = base.replace(
        "    access_token: ${SF_ACCESS_TOKEN}\n",
        "    access_token: ${SF_ACCESS_TOKEN}\n    password: ${SF_ACCESS_TOKEN}\n",
    )
    d = only(load(write(mixed), env), "LS025")
    assert d.path == "salesforce.auth" and d.line == line_of(mixed, "auth:")
    incomplete = base.replace("access_token: ${SF_ACCESS_TOKEN}", "username: me@example.com")
    assert "username" in only(load(write(incomplete), env), "LS025").message
    password = base.replace(
        "access_token: ${SF_ACCESS_TOKEN}",
        "username: me@example.com\n    password: ${SF_ACCESS_TOKEN}\n    domain: test\n"
        "    consumer_key: KEY\n    consumer_secret: ${SF_ACCESS_TOKEN}\n"
        "    login_url: https://127.0.0.1:8443",
    )
    cfg = load(write(password), env).config
    assert cfg.salesforce.auth.kind == "password" and cfg.salesforce.auth.domain == "test"
    assert isinstance(cfg.salesforce.auth.consumer_secret, Secret)
    half = password.replace("    consumer_secret: ${SF_ACCESS_TOKEN}\n", "")
    d = only(load(write(half), env), "LS021")
    assert "consumer_secret" in d.message
    typo = password.replace("domain: test", "domian: test")
    d = only(load(write(typo), env), "LS020")
    assert (d.path, d.line) == ("salesforce.auth.domian", line_of(typo, "domian"))
    jwt = base.replace(
        "access_token: ${SF_ACCESS_TOKEN}",
        "username: me@example.com\n    consumer_key: KEY\n    private_key_file: keys/sf.pem",
    )
    path = write(jwt)
    cfg = load(path, env).config
    assert cfg.salesforce.auth.kind == "jwt"
    from pathlib import Path

    assert cfg.salesforce.auth.private_key_file == str(Path(path).parent / "keys/sf.pem")
    not_a_mapping = base.replace(
        "  auth:\n    access_token: ${SF_ACCESS_TOKEN}\n", "  auth: ${SF_ACCESS_TOKEN}\n"
    )
    result = load(write(not_a_mapping), env)
    assert only(result, "LS022").path == "salesforce.auth"
    assert env["SF_ACCESS_TOKEN"] not in result.diagnostics[0].message


def test_endpoint_xor_region(write, base, env, where):
    line_of, _ = where
    both = base.replace("      username: ${DD_UK", "      region: r2\n      username: ${DD_UK")
    d = only(load(write(both), env), "LS026")
    assert d.path == "accounts.uk.dotdigital" and d.line == line_of(both, "dotdigital:")
    assert "not both" in d.message
    region = "".join(ln for ln in both.splitlines(keepends=True) if "endpoint:" not in ln)
    cfg = load(write(region), env).config
    assert cfg.accounts["uk"].dotdigital.base_url == "https://r2-api.dotdigital.com"
    neither = "".join(ln for ln in base.splitlines(keepends=True) if "endpoint:" not in ln)
    assert "region" in only(load(write(neither), env), "LS026").message
    bad = region.replace("region: r2", "region: r9")
    d = only(load(write(bad), env), "LS023")
    assert d.line == line_of(bad, "region: r9") and "r1, r2, r3" in d.message


def test_ranges_and_names(write, base, env, where):
    line_of, _ = where
    text = base + "sync:\n  bulk_threshold: 0\n  max_api_share: 0\n  overlap_seconds: -1\n"
    text = text.replace("  uk:\n", "  9uk:\n")
    result = load(write(text), env)
    by_path = {d.path: d for d in result.diagnostics}
    assert set(by_path) == {
        'accounts["9uk"]',
        "sync.bulk_threshold",
        "sync.max_api_share",
        "sync.overlap_seconds",
    }
    assert all(d.code == "LS024" for d in result.diagnostics)
    assert by_path['accounts["9uk"]'].line == line_of(text, "9uk:")
    assert by_path["sync.max_api_share"].line == line_of(text, "max_api_share")


def test_postgres_backend_needs_dsn(write, base, env, where):
    line_of, _ = where
    text = base.replace("backend: sqlite", "backend: postgres")
    d = only(load(write(text), env), "LS021")
    assert "'dsn'" in d.message and "postgres" in d.message and d.line == line_of(text, "state:")
    ok = text.replace("  path: .leadsync/state.db\n", "  dsn: ${DSN}\n")
    cfg = load(write(ok), {**env, "DSN": "postgresql://u:pw-DSN-777@db/x"}).config
    assert isinstance(cfg.state.dsn, Secret) and cfg.state.path is None


def test_yaml_syntax_error_has_parser_position(write, env):
    text = "version: 1\nsalesforce:\n  auth: [unclosed\naccounts: {}\n"
    result = load(write(text), env)
    d = only(result, "LS003")
    assert d.line == 4 and d.column >= 1 and "YAML syntax error" in d.message


def test_reference_in_flow_mapping_gets_a_quoting_hint(write, base, env, where):
    line_of, _ = where
    text = base.replace(
        "  auth:\n    access_token: ${SF_ACCESS_TOKEN}\n",
        "  auth: {access_token: ${SF_ACCESS_TOKEN}}\n",
    )
    d = only(load(write(text), env), "LS003")
    assert d.line == line_of(text, "auth: {") and '"${VAR}"' in d.message
    quoted = text.replace("${SF_ACCESS_TOKEN}}", '"${SF_ACCESS_TOKEN}"}')
    assert load(write(quoted), env).diagnostics == []


def test_tab_indentation_error(write, env):
    d = only(load(write("version: 1\nstate:\n\tbackend: sqlite\n"), env), "LS003")
    assert d.line == 3


def test_duplicate_keys(write, base, env, where):
    line_of, _ = where
    text = base.replace("  lead_status: New\n", "  lead_status: New\n  lead_status: Open\n")
    d = only(load(write(text), env), "LS004")
    assert (d.path, d.line, d.column) == ("defaults.lead_status", line_of(text, "Open"), 3)
    assert "first at line" in d.message


def test_empty_and_non_utf8_and_multi_doc(write, tmp_path, env):
    assert only(load(write("# only a comment\n"), env), "LS006").line == 1
    raw = tmp_path / "latin1.yaml"
    raw.write_bytes(b"version: 1\nname: caf\xe9\n")
    d = only(load(str(raw), env), "LS002")
    assert (d.line, d.column) == (2, 10)
    assert only(load(write("version: 1\n---\nversion: 1\n"), env), "LS003").line == 2


def test_aliases_are_bounded(write, env):
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        laughs.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    d = only(load(write("\n".join(laughs) + "\n"), env), "LS005")
    assert d.line >= 1
    recursive = "a: &x\n  - *x\n"
    result = load(write(recursive), env)
    assert "LS005" in codes_of(result)


def test_unreadable_file(tmp_path, env):
    result = load(str(tmp_path / "missing.yaml"), env)
    d = only(result, "LS001")
    assert "No such file" in d.message and result.config is None


def test_output_is_sorted_and_deterministic(write, base, env):
    text = base.replace("version: 1", "version: 3").replace("direction: two-way}", "direction: up}")
    text = text.replace("clear_address_books: false", "clear_address_books: 7")
    path = write(text)
    first = load(path, env).diagnostics
    assert first == load(path, env).diagnostics
    assert [(d.line, d.column) for d in first] == sorted((d.line, d.column) for d in first)


def test_load_or_raise(write, base, env, secret_values):
    cfg = load_or_raise(write(base), env)
    assert cfg.accounts["uk"].name == "uk"
    text = base.replace("direction: two-way}", "direction: sideways}")
    with pytest.raises(ConfigError) as info:
        load_or_raise(write(text), env)
    assert len(info.value.diagnostics) == 2
    message = str(info.value)
    assert "invalid config (2 errors)" in message and "LS023" in message
    assert not any(s in message for s in secret_values)


def test_values_inside_containers_are_never_echoed(write, base, env, secret_values):
    """Found by the property test: a list holding an env value in an enum/const position."""
    text = base.replace("version: 1", 'version: ["${DD_UK_PASSWORD}"]')
    d = only(load(write(text), env), "LS027")
    assert "a list" in d.message
    assert not any(s in d.message for s in secret_values)


def _with_sync(base: str, text: str) -> str:
    return base.replace("accounts:\n", f"sync:\n  {text}\naccounts:\n", 1)


def test_in_doubt_grace_is_a_duration_read_as_seconds(write, base, env):
    cfg = load(write(base), env).config
    assert cfg is not None and cfg.sync.in_doubt_grace == 900  # 15m: above Salesforce's 10
    assert "in_doubt_grace" not in settings_view(cfg.sync)  # the default is not recorded
    result = load(write(_with_sync(base, "in_doubt_grace: 1h30m")), env)
    assert result.diagnostics == [] and result.config.sync.in_doubt_grace == 5400
    assert settings_view(result.config.sync)["in_doubt_grace"] == 5400


@pytest.mark.parametrize(
    ("value", "code"), [("15", "LS022"), ("15 minutes", "LS024"), ("-5m", "LS024"), ("1d", "LS024")]
)
def test_in_doubt_grace_that_is_no_duration_names_the_line(write, base, env, where, value, code):
    line_of, _ = where
    text = _with_sync(base, f"in_doubt_grace: {value}")
    d = only(load(write(text), env), code)  # a bare number has no unit
    assert d.path == "sync.in_doubt_grace" and d.line == line_of(text, "in_doubt_grace")
    if code == "LS024":
        assert "a duration such as 15m, 660s or 1h30m" in d.message


def test_in_doubt_grace_shorter_than_a_salesforce_request_warns(write, base, env, where):
    line_of, _ = where
    text = _with_sync(base, "in_doubt_grace: 5m")
    result = load(write(text), env)
    d = only(result, "LS109")
    assert d.severity == "warning" and d.line == line_of(text, "in_doubt_grace")
    assert "5m is shorter than the 10 minutes" in d.message and "Leadsync_Key__c" in d.message
    assert result.config.sync.in_doubt_grace == 300  # a warning: the value still applies
    assert codes_of(load(write(_with_sync(base, "in_doubt_grace: 660s")), env)) == []


def test_sweep_every_is_read_by_the_one_duration_parser(write, base, env, where):
    """sync.sweep_every takes what `sync --every` takes (10s to 744h), read as seconds; the
    default is not recorded in the applied state (a state from before the key reads the same)."""
    line_of, _ = where
    cfg = load(write(base), env).config
    assert cfg is not None and cfg.sync.sweep_every == 24 * 3600
    assert "sweep_every" not in settings_view(cfg.sync)
    result = load(write(_with_sync(base, "sweep_every: 1h30m")), env)
    assert result.diagnostics == [] and result.config.sync.sweep_every == 5400
    assert settings_view(result.config.sync)["sweep_every"] == 5400
    for value, says in (
        ("0h", "longer than zero"),
        ("5s", "the shortest interval is 10s"),
        ("745h", "the longest interval is 31 days"),
        ("9" * 20 + "h", "the longest interval is 31 days"),
        ("daily", "a duration such as 24h, 12h or 1h30m"),
    ):
        text = _with_sync(base, f"sweep_every: {value}")
        d = only(load(write(text), env), "LS024")
        assert d.path == "sync.sweep_every" and d.line == line_of(text, "sweep_every"), value
        assert says in d.message, (value, d.message)
