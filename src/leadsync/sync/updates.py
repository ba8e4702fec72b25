"""Field updates between linked people: which side changed, which side wins, what to write. Pure.

A link pairs a Dotdigital contact with a Salesforce Lead or Contact (sync/links.py). Per mapped
datafield it keeps the merge base: the last value both sides agreed on. Values are compared in
canonical form, converted to the Salesforce field's type exactly as a Lead create converts them
(sync/mapping.py `convert`), so `1` and `1.0`, `"yes"` and `true`, or two spellings of one date
are one value and never an endless "change". The base, not timestamps, decides which side
changed; so a value leadsync wrote (which moves the base) never comes back as a change.

The rules (README "Field updates"), one function each below:

- `salesforce-to-dotdigital`: Salesforce always wins. Whenever the two sides differ, Dotdigital
  gets the Salesforce value (a change made in Dotdigital is reset).
- `dotdigital-to-salesforce`: Dotdigital always wins. When Dotdigital changed since the base,
  Salesforce gets its value; a change made only in Salesforce is left alone until the next
  Dotdigital change overwrites it.
- `two-way`: the side that changed since the base wins; when both changed (to different
  values), Salesforce wins and the field is recorded as a conflict.
- Blanks: an empty Dotdigital value never blanks a field Salesforce requires (skipped, with the
  reason). An empty value is only carried across when the other side held an agreed value
  before, i.e. someone cleared it; with no base, an empty side never blanks the other.
- No base yet (a new link: a Lead leadsync created, an existing Lead/Contact it matched): equal
  values become the base; otherwise the side with a value fills the empty one, and when both
  hold different values Salesforce wins (as in a conflict, but not counted as one: nobody
  changed anything since an agreement that never existed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from leadsync.config.model import Direction
from leadsync.leadrules import SALESFORCE_REQUIRED
from leadsync.salesforce.model import FieldInfo, ObjectDescribe
from leadsync.sync.mapping import ConversionError, convert

S2D = Direction.SALESFORCE_TO_DOTDIGITAL
D2S = Direction.DOTDIGITAL_TO_SALESFORCE
TWO_WAY = Direction.TWO_WAY

# Decision kinds
NONE = "none"  # nothing to write, the base stays
AGREE = "agree"  # both sides hold the same value: it becomes the base
TO_SALESFORCE = "to_salesforce"
TO_DOTDIGITAL = "to_dotdigital"
SKIPPED = "skipped"  # a rule forbids the write (reason given); the base stays
FAILED = "failed"  # the value cannot be written (reason + Salesforce-like code)

REQUIRED_BLANK = "REQUIRED_FIELD_BLANK"
NOT_UPDATEABLE = "NOT_UPDATEABLE"
INVALID_FIELD = "INVALID_FIELD"

Value = str | int | float | bool | None

# Fields Salesforce refuses to blank whatever describe says (leadrules.SALESFORCE_REQUIRED for
# Leads: Company is nillable in recent API versions, yet orgs still refuse a Lead without it).
REQUIRED_ON_UPDATE: dict[str, tuple[str, ...]] = {
    "Lead": SALESFORCE_REQUIRED,
    "Contact": ("LastName",),
}


@dataclass(frozen=True, slots=True)
class Bad:
    """A Dotdigital value that does not convert to the Salesforce field's type."""

    raw: Any
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One mapping row as the update step applies it: the row plus what the org says about the
    Salesforce field (None: the field is gone from the object) and the datafield's type."""

    salesforce: str
    datafield: str
    direction: str
    info: FieldInfo | None
    required: bool = False
    dd_type: str = "String"

    @property
    def updateable(self) -> bool:
        return self.info is not None and self.info.updateable


def rules_for(
    sobject: str,
    rows: Sequence[Any],
    describe: ObjectDescribe,
    datafield_types: Mapping[str, str],
) -> tuple[FieldRule, ...]:
    """The mapping rows of one Salesforce object (`rows`: sync/mapping.py Row) as FieldRules:
    each with its field's describe, whether Salesforce requires a value, the datafield type."""
    by_lower = {name.lower(): info for name, info in describe.fields.items()}
    types = {name.upper(): kind for name, kind in datafield_types.items()}
    out: list[FieldRule] = []
    for row in rows:
        info = describe.fields.get(row.salesforce) or by_lower.get(row.salesforce.lower())
        name = info.name if info is not None else row.salesforce
        required = name in REQUIRED_ON_UPDATE.get(sobject, ()) or (
            info is not None and not info.nillable and info.type != "boolean"
        )
        dd_type = types.get(row.datafield.upper(), "String")
        out.append(FieldRule(name, row.datafield, row.direction, info, required, dd_type))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Decision:
    kind: str
    value: Value = None  # the canonical value to write (TO_*) or agreed (AGREE)
    conflict: bool = False  # two-way, both sides changed since the base: Salesforce won
    reason: str | None = None
    code: str | None = None


def canonical(raw: Any, info: FieldInfo | None) -> Value | Bad:
    """A value of either side in the form values are compared and stored in: the Salesforce
    field's type, converted as a create converts it; an empty value is None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if info is None:
        return raw if isinstance(raw, str | int | float | bool) else str(raw)
    try:
        return convert(raw, info)
    except ConversionError as exc:
        return Bad(raw, exc.code, str(exc))


def canonical_salesforce(raw: Any, info: FieldInfo | None) -> Value:
    """A value Salesforce holds: valid by construction, so one that does not convert (an
    inactive picklist value, say) is compared as it is rather than failed."""
    value = canonical(raw, info)
    if isinstance(value, Bad):
        return raw if isinstance(raw, str | int | float | bool) else str(raw)
    return value


def same(a: Value | Bad, b: Value | Bad) -> bool:
    if isinstance(a, Bad) or isinstance(b, Bad):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def decide(
    direction: str,
    *,
    has_base: bool,
    base: Value,
    sf: Value,
    dd: Value | Bad,
    required: bool = False,
    updateable: bool = True,
) -> Decision:
    """What one field of one linked pair needs, by the row's direction (see module doc)."""
    if same(sf, dd):
        return Decision(AGREE, sf) if (not has_base or not same(base, sf)) else Decision(NONE)
    if direction == S2D:
        return _salesforce_wins(has_base, base, sf)
    if direction == D2S:
        if has_base and same(dd, base):
            return Decision(NONE)  # changed only in Salesforce: left alone
        return _to_salesforce(has_base, base, dd, required, updateable)
    if direction != TWO_WAY:
        raise ValueError(f"unknown direction {direction!r}")
    if not has_base:
        if sf is None:
            return _to_salesforce(has_base, base, dd, required, updateable)
        return Decision(TO_DOTDIGITAL, sf)
    sf_changed = not same(sf, base)
    dd_changed = not same(dd, base)
    if dd_changed and not sf_changed:
        return _to_salesforce(has_base, base, dd, required, updateable)
    return Decision(TO_DOTDIGITAL, sf, conflict=sf_changed and dd_changed)


def _salesforce_wins(has_base: bool, base: Value, sf: Value) -> Decision:
    if sf is None and (not has_base or base is None):
        return Decision(NONE)  # never blank Dotdigital with a value nobody agreed on
    return Decision(TO_DOTDIGITAL, sf)


def _to_salesforce(
    has_base: bool, base: Value, dd: Value | Bad, required: bool, updateable: bool
) -> Decision:
    if isinstance(dd, Bad):
        return Decision(FAILED, reason=dd.message, code=dd.code)
    if dd is None:
        if not has_base or base is None:
            return Decision(NONE)
        if required:
            return Decision(
                SKIPPED,
                reason="the Dotdigital value is empty and Salesforce requires this field",
                code=REQUIRED_BLANK,
            )
    if not updateable:
        return Decision(
            SKIPPED, reason="Salesforce does not let this field be updated", code=NOT_UPDATEABLE
        )
    return Decision(TO_SALESFORCE, dd)


# -- one linked pair ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldNote:
    """A field worth telling the user about: a conflict, a skip, a failure."""

    kind: str  # "conflict" | "skipped" | "update_failed"
    field: str  # Salesforce field
    datafield: str
    salesforce: Any
    dotdigital: Any
    winner: str | None = None  # "salesforce" | "dotdigital"
    reason: str | None = None
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "field": self.field,
            "datafield": self.datafield,
            "salesforce": _jsonable(self.salesforce),
            "dotdigital": _jsonable(self.dotdigital),
            "winner": self.winner,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(slots=True)
class LinkPlan:
    """What one linked pair needs this run. Bases move per side only once that side's write
    succeeded (`settled`), so a failed or interrupted write is simply re-derived next run."""

    to_salesforce: dict[str, Value] = field(default_factory=dict)  # Salesforce field -> value
    to_dotdigital: dict[str, Any] = field(default_factory=dict)  # datafield -> value (wire)
    agreed: dict[str, Value] = field(default_factory=dict)  # datafield -> new base, no write
    sf_base: dict[str, Value] = field(default_factory=dict)  # datafield -> base if SF write ok
    dd_base: dict[str, Value] = field(default_factory=dict)  # datafield -> base if DD write ok
    notes: list[FieldNote] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.to_salesforce or self.to_dotdigital)

    def settled(self, base: Mapping[str, Value], *, sf_ok: bool, dd_ok: bool) -> dict[str, Value]:
        """The merge base after this plan's writes (those that succeeded)."""
        out = {**base, **self.agreed}
        if sf_ok:
            out.update(self.sf_base)
        if dd_ok:
            out.update(self.dd_base)
        return out


def plan_link(
    rules: Sequence[FieldRule],
    base: Mapping[str, Value],
    salesforce: Mapping[str, Any],
    dotdigital: Mapping[str, Any],
) -> LinkPlan:
    """Apply every rule to one pair: `salesforce` holds the record's raw values by field name,
    `dotdigital` the contact's by datafield, `base` the merge base by datafield. Only fields
    whose value changes are written."""
    plan = LinkPlan()
    for rule in rules:
        raw = salesforce.get(rule.salesforce)
        dd_raw = dotdigital.get(rule.datafield)
        alike = raw is not None and raw.__class__ is dd_raw.__class__ and raw == dd_raw
        if alike and _agreed(plan, rule, base, raw):
            continue  # the common case (a Lead read back as written): converted once
        sf = canonical_salesforce(raw, rule.info)
        dd = canonical(dd_raw, rule.info)
        has_base = rule.datafield in base
        if rule.info is None:  # the field is gone from the object: neither side is written
            if not (has_base and same(dd, base.get(rule.datafield))):
                reason = f"{rule.salesforce} no longer exists in Salesforce (run `leadsync plan`)"
                _apply(plan, rule, Decision(FAILED, reason=reason, code=INVALID_FIELD), None, dd)
            continue
        decision = decide(
            rule.direction,
            has_base=has_base,
            base=base.get(rule.datafield),
            sf=sf,
            dd=dd,
            required=rule.required,
            updateable=rule.updateable,
        )
        _apply(plan, rule, decision, sf, dd)
    return plan


def _agreed(plan: LinkPlan, rule: FieldRule, base: Mapping[str, Value], raw: Any) -> bool:
    """Both sides hold the very same raw value: what `decide` makes of it, from one conversion
    instead of two (`canonical_salesforce` equals `canonical` whenever the latter converts).
    False (decide it the long way) when it does not convert, or the field is gone."""
    if rule.info is None:
        return False
    value = canonical(raw, rule.info)
    if isinstance(value, Bad) or not same(value, value):  # (a NaN is not the same as itself)
        return False
    df = rule.datafield
    if df not in base or not same(base[df], value):
        plan.agreed[df] = value  # decide: AGREE, the value becomes the base
    return True  # else decide: NONE, the base stays


def _apply(plan: LinkPlan, rule: FieldRule, decision: Decision, sf: Value, dd: Any) -> None:
    shown_dd = dd.raw if isinstance(dd, Bad) else dd
    if decision.kind == AGREE:
        plan.agreed[rule.datafield] = decision.value
    elif decision.kind == TO_SALESFORCE:
        plan.to_salesforce[rule.salesforce] = decision.value
        plan.sf_base[rule.datafield] = decision.value
    elif decision.kind == TO_DOTDIGITAL:
        plan.to_dotdigital[rule.datafield] = to_dotdigital(decision.value, rule.dd_type)
        plan.dd_base[rule.datafield] = decision.value
        if decision.conflict:
            plan.notes.append(
                FieldNote(
                    "conflict",
                    rule.salesforce,
                    rule.datafield,
                    sf,
                    shown_dd,
                    winner="salesforce",
                    reason="changed on both sides since the last sync; Salesforce wins",
                )
            )
    elif decision.kind in (SKIPPED, FAILED):
        kind = "skipped" if decision.kind == SKIPPED else "update_failed"
        plan.notes.append(
            FieldNote(
                kind,
                rule.salesforce,
                rule.datafield,
                sf,
                shown_dd,
                reason=decision.reason,
                code=decision.code,
            )
        )


def to_dotdigital(value: Value, dd_type: str) -> Any:
    """A canonical (Salesforce-typed) value as the datafield's type stores it, such that
    reading it back and converting it gives the same canonical value."""
    if value is None:
        return None
    kind = (dd_type or "String").lower()
    if kind == "numeric" and not isinstance(value, bool):
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError:
            return value  # Dotdigital refuses it: that record's import fails, with its reason
        return int(number) if number.is_integer() and "." not in str(value) else number
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return value if "T" in value else f"{value}T00:00:00"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Bad):
        return value.raw
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
