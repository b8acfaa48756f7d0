"""Pages of exposures that cost the same at page 1 and at page 500.

Two habits of Django's Paginator get dear at 100,000 rows. A page is `OFFSET n LIMIT
50` over the whole query, joins included, so page 500 joins the directory for 25,000
rows and drops all but 50 of them; and its count runs the whole filter again on every
page. Here the page's ids come first, from the sort's index alone (models.Exposure:
one index per sort, each ending in the id), and only the 50 rows are loaded with their
joins (a deferred join); the count of a filtered list is kept in the cache under the
rollup's version, so later pages, and the same filter again, do not count again.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet

# Long enough for anyone paging through a filter; the key changes anyway when the
# exposures do (the rollup's refresh time is in it).
COUNT_SECONDS = 600
# Past this many rows by the planner's estimate, a filtered list says "about" and shows
# the estimate instead of counting: a search matching 9,000 of a million phones took
# 80 to 170 ms to count, and grows with the account. (PostgreSQL; SQLite counts.)
ESTIMATE_ABOVE = 10_000


class DeferredJoinPaginator(Paginator):
    """A Paginator whose pages read their ids first, then load those rows only.
    `estimated` says its count is the planner's estimate (see count_cached)."""

    estimated = False

    def __init__(
        self, object_list, per_page, *, load: Callable[[list], dict] | None = None, **kwargs
    ):
        # What loads the page's rows by id: by default the list itself, filters and
        # all; `load` (ids -> {id: row}) spares the database the filters again (a
        # search's list of people) once the ids, which the filtered list chose, are
        # known, and may load lighter rows than models.
        super().__init__(object_list, per_page, **kwargs)
        self.queryset: QuerySet = object_list
        self.load = load

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.queryset.values_list("pk", flat=True)[bottom:top])
        if self.load is not None:
            loaded = self.load(ids)
        else:
            loaded = {row.pk: row for row in self.queryset.order_by().filter(pk__in=ids)}
        # In the ids' order, which is the sort's; a row gone in between is left out.
        return Page([loaded[pk] for pk in ids if pk in loaded], number, self)


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


def count_cached(queryset, *, key_parts: tuple, version: str) -> tuple[int, bool]:
    """The queryset's count and whether it is an estimate, kept under `key_parts` (what
    the filter is) and `version` (what the rows are): the first page counts, the next
    ones read it. Past ESTIMATE_ABOVE by the planner's estimate, the estimate."""
    text = "|".join(str(part) for part in (*key_parts, version))
    key = "incidents:count:v2:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    found = cache.get(key)
    if found is None:
        estimate = planner_estimate(queryset)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            found = (estimate, True)
        else:
            found = (queryset.count(), False)
        cache.set(key, found, COUNT_SECONDS)
    return found
