"""Pages of exposures that cost the same at page 1 and at page 500.

Two habits of Django's Paginator get dear at 100,000 rows. A page is `OFFSET n LIMIT
50` over the whole query, joins included, so page 500 joins the directory for 25,000
rows and drops all but 50 of them; and its count runs the whole filter again on every
page. Here the page's ids come first, from the sort's index alone (models.Exposure:
one index per sort, each ending in the id), and only the 50 rows are loaded with their
joins (a deferred join).

What a list holds changes only when its exposures do, and every writer of exposures
refreshes the rollup in the same transaction (`ExposureTotal.refreshed_at`, the list's
version). So a list's count, and the ids of each page shown, are kept in the cache
under its filters and that version: the next view of the same page (or the same search
again, from the next page) reads them instead of walking 25,000 index entries to page
500, or matching the directory again for a search by name. The rows themselves are
always read fresh, by id.
"""

import hashlib
import json
from collections.abc import Callable
from functools import cache as once

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Long enough for anyone paging through a filter; the key changes anyway when the
# exposures do (the rollup's refresh time is in it).
COUNT_SECONDS = 600
# Past this many rows by the planner's estimate, a filtered list says "about" and shows
# the estimate instead of counting: a search matching 9,000 of a million phones took
# 80 to 170 ms to count, and grows with the account. (PostgreSQL; SQLite counts.)
ESTIMATE_ABOVE = 10_000


class Lazy[T]:
    """A list's queryset, built on first use only: a page found in the cache never
    builds it (a search by name looks its people up while building it)."""

    def __init__(self, build: Callable[[], T]):
        self.get: Callable[[], T] = once(build)


class DeferredJoinPaginator(Paginator):
    """A Paginator whose pages read their ids first, then load those rows only.
    `estimated` says its count is the planner's estimate (see count_cached). With
    `cache_key` (list_cache_key: the list's filters and version), each page's ids are
    kept in the cache."""

    estimated = False

    def __init__(
        self,
        object_list: "QuerySet | Lazy[QuerySet]",
        per_page,
        *,
        load: Callable[[list], dict] | None = None,
        cache_key: str | None = None,
        **kwargs,
    ):
        # What loads the page's rows by id: by default the list itself, filters and
        # all; `load` (ids -> {id: row}) spares the database the filters again (a
        # search's list of people) once the ids, which the filtered list chose, are
        # known, and may load lighter rows than models.
        super().__init__((), per_page, **kwargs)
        self.lazy = object_list if isinstance(object_list, Lazy) else Lazy(lambda: object_list)
        self.load = load
        self.cache_key = cache_key

    @cached_property
    def count(self) -> int:
        # Usually set by the view instead: from the rollup, or count_cached.
        return self.lazy.get().count()

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = self._ids(bottom, top)
        if self.load is not None:
            loaded = self.load(ids)
        else:
            loaded = {row.pk: row for row in self.lazy.get().order_by().filter(pk__in=ids)}
        # In the ids' order, which is the sort's; a row gone in between is left out.
        return Page([loaded[pk] for pk in ids if pk in loaded], number, self)

    def _ids(self, bottom: int, top: int) -> list[int]:
        key = f"{self.cache_key}:ids:{bottom}:{top}" if self.cache_key else None
        ids = cache.get(key) if key else None
        if ids is None:
            ids = list(self.lazy.get().values_list("pk", flat=True)[bottom:top])
            if key:
                cache.set(key, ids, COUNT_SECONDS)
        return ids


def planner_estimate(queryset) -> int | None:
    """The rows PostgreSQL expects `queryset` to return (EXPLAIN: planning only, about
    a millisecond); None on another database."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (an empty IN list)
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        [plan] = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def list_cache_key(*, key_parts: tuple, version: str) -> str:
    """Where a list's count and pages are kept: `key_parts` say what the list is (its
    account, incident, filters and sort), `version` what its rows are."""
    text = "|".join(str(part) for part in (*key_parts, version))
    return "incidents:list:v3:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def count_cached(queryset: "QuerySet | Lazy[QuerySet]", *, cache_key: str) -> tuple[int, bool]:
    """The list's count and whether it is an estimate, kept under `cache_key`
    (list_cache_key): the first page counts, the next ones read it. Past
    ESTIMATE_ABOVE by the planner's estimate, the estimate."""
    key = f"{cache_key}:count"
    found = cache.get(key)
    if found is None:
        listed = queryset.get() if isinstance(queryset, Lazy) else queryset
        estimate = planner_estimate(listed)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            found = (estimate, True)
        else:
            found = (listed.count(), False)
        cache.set(key, found, COUNT_SECONDS)
    return found
