"""A whole-request refusal is split until the culprit stands alone: the one home of that rule.

sObject Collections (allOrNone false) answers per record, except when Salesforce refuses the
request as a whole because of one record's content (HTTP 400, e.g. JSON_PARSER_ERROR for a
date it cannot parse): then nothing was written, and nothing says which record was at fault.
The sync halves the batch and sends each half again, until the record at fault is alone; it
fails by itself, with the API's code and message, and the others are written. A batch of n
records with one culprit costs about 2·log2(n) extra requests.

The Salesforce client only raises the refusal (it carries no domain rule); the writer that
sends a batch decides here. Transient errors are never split: they are retried or settled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeGuard, TypeVar

from leadsync.salesforce.errors import SalesforceError
from leadsync.salesforce.model import SaveError, SaveResult

T = TypeVar("T")
R = TypeVar("R")


def refused_as_whole(exc: BaseException) -> TypeGuard[SalesforceError]:
    """Did Salesforce refuse the whole request for its content (HTTP 400, not transient)?"""
    return isinstance(exc, SalesforceError) and not exc.transient and exc.status == 400


class Refused(Exception, Generic[T]):
    """A send refused as a whole; `items`: the batch as it stands after the refusal (e.g. its
    write-ahead marks released), to be split."""

    def __init__(self, error: SalesforceError, items: Sequence[T]) -> None:
        super().__init__(str(error))
        self.error = error
        self.items = list(items)


def split_refused(
    send: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    alone: Callable[[T, SalesforceError], R],
) -> list[R]:
    """`send(items)`, halving on Refused until the culprit stands alone; `alone(item, error)`
    is the result of an item refused by itself. Results in the order of `items`."""
    try:
        return send(items)
    except Refused as refused:
        batch = refused.items
        if len(batch) == 1:
            return [alone(batch[0], refused.error)]
        middle = len(batch) // 2
        return split_refused(send, batch[:middle], alone) + split_refused(
            send, batch[middle:], alone
        )


def refusing(send: Callable[[Sequence[T]], list[R]]) -> Callable[[Sequence[T]], list[R]]:
    """`send` (a client call that raises) with a whole-request refusal raised as Refused, for
    split_refused: `split_refused(refusing(lambda rs: sf.update(...)), records, refusal)`."""

    def wrapped(items: Sequence[T]) -> list[R]:
        try:
            return send(items)
        except SalesforceError as exc:
            if refused_as_whole(exc):
                raise Refused(exc, items) from exc
            raise

    return wrapped


def refusal(_item: object, error: SalesforceError) -> SaveResult:
    """The per-record result of a record refused by itself: the API's code and message."""
    code = error.code or "REFUSED"
    return SaveResult(False, None, (SaveError(code, error.detail, tuple(error.fields)),))
