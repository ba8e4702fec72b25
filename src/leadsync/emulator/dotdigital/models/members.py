"""Reading members: a book's members (optionally only those added or modified since a time) and
every contact of an account, in order, by arithmetic over a book's segments, so a page costs
O(page + segments), never O(book)."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from datetime import datetime

from leadsync.emulator.dotdigital.books import (
    AddressBook,
    ContactRecord,
    Explicit,
    Gap,
    Generator,
    Segment,
    seg_span,
)
from leadsync.emulator.dotdigital.models.contacts import Contacts


class Members(Contacts):
    """Paging through members without materialising them."""

    def _touched_indices(self, g: Generator, lo: int) -> list[int]:
        d = self.touched.get(g.pattern, {})
        return sorted(n - g.start for n in d if g.start + lo <= n < g.start + g.count)

    def _segment_runs(
        self, book: AddressBook, seg: Segment, since: datetime | None, lo: int, mode: str
    ) -> Iterator[tuple[int, int | None]]:
        """(first index, length) runs of a segment's matching members from index lo on;
        length None means 'every member from here to the end of the segment'.
        mode "modified": added to this book or contact updated since; "created": created since."""
        if isinstance(seg, Gap):
            return
        if isinstance(seg, Generator):
            if since is None or seg.added_at >= since:
                yield from _runs_around(lo, seg.count, seg.left)
                return
            if mode == "created":
                return  # generated contacts were created when their generator ran
            for i in self._touched_indices(seg, lo):
                if i not in seg.left and self.generated_member(seg, i).updated >= since:
                    yield i, 1
            return
        for i in range(lo, len(seg.ids)):
            cid = seg.ids[i]
            if cid is None:
                continue
            c = self.contacts[cid]
            if mode == "created":
                when = c.created
            elif self.join_updates_modified:
                when = max(book.added[cid], c.updated)
            else:
                when = c.updated  # the join itself is no modification
            if since is None or when >= since:
                yield i, 1

    def _member(self, seg: Segment, i: int) -> ContactRecord:
        if isinstance(seg, Generator):
            return self.generated_member(seg, i)
        assert isinstance(seg, Explicit)
        cid = seg.ids[i]
        assert cid is not None
        return self.contacts[cid]

    def book_members(
        self,
        book: AddressBook,
        since: datetime | None = None,
        *,
        skip: int = 0,
        position: int = 0,
        mode: str = "modified",
    ) -> Iterator[tuple[int, ContactRecord]]:
        """Members of a book (optionally only those added/modified since `since`) as
        (position, contact), starting at book position `position` and skipping the first
        `skip` matches. Costs O(segments + touched members + what the caller consumes)."""
        base = 0
        for seg in book.segments:
            n = seg_span(seg)
            if position >= base + n:
                base += n
                continue
            lo = max(0, position - base)
            for first, length in self._segment_runs(book, seg, since, lo, mode):
                run = (n - first) if length is None else length
                if skip >= run:
                    skip -= run
                    continue
                for i in range(first + skip, first + run):
                    yield base + i, self._member(seg, i)
                skip = 0
            base += n

    def all_contacts(
        self, after_id: int = 0, *, mode: str = "modified", since: datetime | None = None
    ) -> Iterator[ContactRecord]:
        """Every contact of the account in ascending id order, ids > after_id. With `since`,
        generators older than it are skipped whole (their untouched members cannot match);
        the caller still filters each contact."""
        streams: list[Iterator[ContactRecord]] = [self._materialised_after(after_id)]
        streams += [
            self._generated_after(g, after_id)
            for g in self.generators
            if since is None or g.added_at >= since
        ]
        return heapq.merge(*streams, key=lambda c: c.id)

    def _materialised_after(self, after_id: int) -> Iterator[ContactRecord]:
        for k in range(bisect.bisect_right(self.sorted_ids, after_id), len(self.sorted_ids)):
            yield self.contacts[self.sorted_ids[k]]

    def _generated_after(self, g: Generator, after_id: int) -> Iterator[ContactRecord]:
        for i in range(max(0, after_id + 1 - g.id_base), g.count):
            c = self.generated_member(g, i)
            if c.generator is g:  # still virtual and this generator is its origin
                yield c


def _runs_around(lo: int, count: int, holes: set[int]) -> Iterator[tuple[int, int | None]]:
    """Runs (first, length) covering lo..count-1 except the holes; the last run open-ended."""
    start = lo
    for h in sorted(h for h in holes if h >= lo):
        if h > start:
            yield start, h - start
        start = h + 1
    if start < count:
        yield start, None
