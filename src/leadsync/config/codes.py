"""Stable diagnostic codes of `leadsync validate` (scripts and CI annotations grep for them).

Codes never change meaning once released; new findings get new codes. `plan` adds its own
observed-facts codes (LS2xx and up) in leadsync.reconcile.

| code  | severity | finding |
|-------|----------|---------|
| LS001 | error    | the config file cannot be read (missing, a directory, no permission) |
| LS002 | error    | the file is not valid UTF-8 or contains characters YAML forbids |
| LS003 | error    | YAML syntax error (line/column from the parser), or more than one document |
| LS004 | error    | duplicate key in a mapping |
| LS005 | error    | YAML feature leadsync does not read: merge keys (<<), anchors/aliases, tags, complex keys, nesting too deep, too many nodes (fmt refuses the same) |
| LS006 | error    | the file is empty |
| LS010 | error    | `${VAR}` is unset and has no `:-default` (names the variable, never a value) |
| LS011 | error    | malformed `${...}` reference (write `$${` for a literal `${`) |
| LS012 | warning  | a secret (password, access_token, security_token, consumer_secret, dsn) is written literally in the file |
| LS013 | error    | `${VAR}` is set but empty where the field needs a value (names the variable) |
| LS020 | error    | unknown key (with a "did you mean" hint) |
| LS021 | error    | missing required key |
| LS022 | error    | wrong type (e.g. a list where a mapping belongs, a number where a string belongs) |
| LS023 | error    | value not allowed (enum: direction, region, state backend) |
| LS024 | error    | value out of range or badly formed (minimum/maximum, pattern, empty string, too long) |
| LS025 | error    | `salesforce.auth` is not exactly one of the three auth forms |
| LS026 | error    | a Dotdigital connection sets both or neither of `endpoint` and `region` |
| LS027 | error    | unsupported config `version` (this leadsync reads version 1) |
| LS028 | error    | a URL carries a user name or password (`https://user:pw@host`); the URL is never shown |
| LS029 | error    | any other schema violation |
| LS030 | error    | `salesforce.ca_bundle` does not exist, cannot be read, or holds no PEM CA certificate |
| LS101 | error    | `clear_address_books: true` in an account that has a `create_leads` address book |
| LS102 | error    | FirstName, LastName or Company is not mapped in an account with a `create_leads` book |
| LS103 | error    | FirstName, LastName or Company is mapped only `salesforce-to-dotdigital` in such an account |
| LS104 | error    | the same Salesforce field is mapped twice in an account |
| LS105 | error    | the same datafield is mapped twice in an account |
| LS106 | error    | two address books with the same name in an account |
| LS107 | warning  | `campaign` on an address book without `create_leads` (the link has no effect) |
| LS108 | warning  | `add_existing_to_campaign` on an address book without `campaign` (it has no effect) |
| LS109 | warning  | `sync.in_doubt_grace` shorter than the 10 minutes Salesforce may run a request |
| LS110 | error    | a lead mapping row still says `datafield: TODO` (left by `leadsync init` for a field no datafield matched) |
| LS111 | error    | `push_campaign_members: true` on an address book without `campaign` (nothing to push from) |
| LS112 | warning  | `member_statuses` on an address book without `push_campaign_members` (it has no effect) |
| LS113 | warning  | `clear_address_books: true` in an account with no `push_campaign_members` book (it does nothing) |
"""

from __future__ import annotations

FILE_UNREADABLE = "LS001"
BAD_ENCODING = "LS002"
YAML_SYNTAX = "LS003"
DUPLICATE_KEY = "LS004"
YAML_UNSUPPORTED = "LS005"
EMPTY_FILE = "LS006"

ENV_UNSET = "LS010"
ENV_MALFORMED = "LS011"
LITERAL_SECRET = "LS012"
ENV_EMPTY = "LS013"

UNKNOWN_KEY = "LS020"
MISSING_KEY = "LS021"
WRONG_TYPE = "LS022"
BAD_ENUM = "LS023"
BAD_VALUE = "LS024"
AUTH_FORM = "LS025"
ENDPOINT_XOR_REGION = "LS026"
BAD_VERSION = "LS027"
URL_CREDENTIALS = "LS028"
SCHEMA_OTHER = "LS029"

CA_BUNDLE = "LS030"

CLEAR_WITH_CREATE_LEADS = "LS101"
REQUIRED_FIELD_UNMAPPED = "LS102"
REQUIRED_FIELD_WRONG_DIRECTION = "LS103"
DUPLICATE_SALESFORCE_FIELD = "LS104"
DUPLICATE_DATAFIELD = "LS105"
DUPLICATE_BOOK = "LS106"
CAMPAIGN_WITHOUT_CREATE_LEADS = "LS107"
ADD_EXISTING_WITHOUT_CAMPAIGN = "LS108"
SHORT_IN_DOUBT_GRACE = "LS109"
UNDECIDED_DATAFIELD = "LS110"
PUSH_WITHOUT_CAMPAIGN = "LS111"
STATUSES_WITHOUT_PUSH = "LS112"
CLEAR_WITHOUT_PUSH = "LS113"

# What `leadsync init` writes where no datafield matched a Lead field the org requires.
TODO_DATAFIELD = "TODO"

# Keys whose values are secrets wherever they appear; they become `Secret` in the typed config.
SECRET_KEYS = frozenset({"password", "access_token", "security_token", "consumer_secret", "dsn"})
