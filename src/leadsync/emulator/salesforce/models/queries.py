"""SOQL execution: field paths, projection, index lookups, paging with query locators."""

from __future__ import annotations

from collections.abc import Callable

from leadsync.emulator.salesforce import soql
from leadsync.emulator.salesforce.exceptions import ApiError, malformed_query
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.sobjects import ObjectDef

PAGE_SIZE = 2000
MAX_SOQL_CHARS = 100_000  # a SOQL statement, however it arrives (GET, Composite, Bulk query job)
MAX_OPEN_LOCATORS = 50


class Queries(OrgState):
    """Runs parsed SOQL against the record tables."""

    # --- queries ------------------------------------------------------------------------------

    def _resolver(self, obj: ObjectDef) -> Callable[[str], tuple[Callable[[dict], object], str]]:
        def resolve(path: str) -> tuple[Callable[[dict], object], str]:
            parts = unqualified(obj, path).split(".")
            if len(parts) == 1:
                f = obj.get(path)
                if f is None:
                    raise ApiError(
                        400, "INVALID_FIELD",
                        f"No such column '{path}' on entity '{obj.name}'. If you are attempting to use a custom "
                        "field, be sure to append the '__c' after the custom field name. Please reference your "
                        "WSDL or the describe call for the appropriate names.",
                    )  # fmt: skip
                return soql.field_getter(f.name), f.type
            if len(parts) == 2:
                ref = obj.relationships.get(parts[0].lower())
                target = self.objects.get(ref.reference_to[0]) if ref and ref.reference_to else None
                if ref is None or target is None:
                    raise ApiError(
                        400, "INVALID_FIELD",
                        f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting to use "
                        "a custom relationship, be sure to append the '__r' after the custom relationship name. "
                        "Please reference your WSDL or the describe call for the appropriate names.",
                    )  # fmt: skip
                inner_getter, ftype = self._resolver(target)(parts[1])
                table = self.records[target.name]
                ref_name = ref.name

                def getter(r: dict) -> object:
                    parent = table.get(r.get(ref_name) or "")
                    return None if parent is None else inner_getter(parent)

                return getter, ftype
            raise ApiError(400, "INVALID_FIELD", f"Unsupported field path '{path}'")

        return resolve

    def _project(self, obj: ObjectDef, fields: list[str], record: dict, version: str) -> dict:
        out: dict = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}",
            }
        }
        for path in fields:
            parts = unqualified(obj, path).split(".")
            if len(parts) == 1:
                f = obj.get(parts[0])
                out[f.name] = record.get(f.name)  # type: ignore[union-attr]
                continue
            ref = obj.relationships[parts[0].lower()]
            target = self.objects[ref.reference_to[0]]
            parent = self.records[target.name].get(record.get(ref.name) or "")
            rel = ref.relationship_name or parts[0]
            if parent is None:
                out[rel] = None
                continue
            nested = out.get(rel) or {
                "attributes": {
                    "type": target.name,
                    "url": f"/services/data/v{version}/sobjects/{target.name}/{parent['Id']}",
                }
            }
            tf = target.get(parts[1])
            nested[tf.name] = parent.get(tf.name)  # type: ignore[union-attr]
            out[rel] = nested
        return out

    def query(self, text: str, *, include_deleted: bool, version: str, page: bool = True) -> dict:
        """Run a query: its first page (a query locator for the rest), or with page=False all
        records at once (Bulk API query jobs)."""
        if len(text) > MAX_SOQL_CHARS:
            raise malformed_query(
                f"SOQL statements can not be longer than {MAX_SOQL_CHARS} characters"
            )
        query = soql.parse(text)
        obj = self._objects_lower.get(query.sobject.lower())
        if obj is None:
            raise ApiError(
                400, "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
            )  # fmt: skip
        resolve = self._resolver(obj)
        for path in query.fields:
            resolve(path)
        predicate = (
            soql.compile_where(query.where, resolve, self.clock.now())
            if query.where is not None
            else None
        )
        with self.lock:
            table = self.records[obj.name]
            candidates = (
                None  # the indexes hold live records only
                if include_deleted
                else soql.index_candidates(query.where, lambda p, lits: self._lookup(obj, p, lits))
            )
            if candidates is None:
                rows: list[dict] = list(table.values())
            else:
                rows = [table[i] for i in sorted(candidates) if i in table]
            rows = self._visible(obj.name, rows, include_deleted)
            if predicate is not None:
                rows = list(filter(predicate, rows))
            if query.order:
                top = None if query.limit is None else (query.offset or 0) + query.limit
                soql.sort_rows(rows, query.order, resolve, top)
            if query.offset:
                rows = rows[query.offset :]
            if query.limit is not None:
                rows = rows[: query.limit]
            if query.count:
                return {"totalSize": len(rows), "done": True, "records": []}
            records = [self._project(obj, query.fields, r, version) for r in rows]
        if not page:
            return {"totalSize": len(records), "done": True, "records": records}
        return self._page(records, 0, version, None)

    def _visible(self, sobject: str, rows: list[dict], include_deleted: bool) -> list[dict]:
        """Live rows, and with include_deleted (queryAll) those still in the recycle bin too.
        A table none of whose records was ever deleted holds live rows only (a query without
        an index would otherwise test every row of the org)."""
        if include_deleted:
            return [r for r in rows if not r["IsDeleted"] or self.in_recycle_bin(r)]
        if sobject not in self.ever_deleted:
            return rows
        return [r for r in rows if not r["IsDeleted"]]

    def _lookup(self, obj: ObjectDef, path: str, lits: list[soql.Lit]) -> set[str] | None:
        if any(lit.kind != "str" for lit in lits):
            return None
        if path.lower() == "id":
            return {to18(str(lit.value)) or str(lit.value) for lit in lits}
        f = obj.get(path)
        index = self.indexes.get((obj.name, f.name)) if f else None
        if index is None:
            return None
        found: set[str] = set()
        for lit in lits:
            key = str(lit.value)
            if f.type == "reference":  # type: ignore[union-attr]
                key = to18(key) or key
            found |= index.get(key.casefold(), set())
        return found

    def _page(self, records: list[dict], start: int, version: str, locator: str | None) -> dict:
        end = start + PAGE_SIZE
        page = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[start:end],
        }
        if end < len(records):
            if locator is None:
                locator = self.ids.new(KEY_PREFIXES["QueryLocator"])
                with self.lock:
                    self.locators[locator] = records
                    while len(self.locators) > MAX_OPEN_LOCATORS:  # oldest cursors expire first
                        self.locators.pop(next(iter(self.locators)))
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        elif locator is not None:
            with self.lock:
                self.locators.pop(locator, None)
        return page

    def query_more(self, locator_path: str, version: str) -> dict:
        locator, _, offset = locator_path.partition("-")
        with self.lock:
            records = self.locators.get(locator)
        if records is None or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(records, int(offset), version, locator)


def unqualified(obj: ObjectDef, path: str) -> str:
    """`Lead.Owner.Name` in a query FROM Lead is `Owner.Name`: SOQL allows the object's own
    name before a field path (unless it is also a relationship name)."""
    head, dot, rest = path.partition(".")
    if dot and head.lower() == obj.name.lower() and head.lower() not in obj.relationships:
        return rest
    return path
