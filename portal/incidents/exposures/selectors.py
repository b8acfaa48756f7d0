"""Reads for incidents (writes live in services.py).

The exposed-users pages read Exposure, one row per exposed phone; the dashboard reads
the rollups the writers keep (ExposureRollup, MessageRollup); neither reads the big log
table. Only one phone's timeline touches MessageLogRecord, through the (organization,
incident, phone, sent_at) index.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

from django.db import connection
from django.db.models import Exists, Lookup, OuterRef, Q, QuerySet, Sum
from django.db.models.fields.related import ForeignKey
from django.db.models.functions import Coalesce, Length, TruncDate
from django.utils.translation import gettext, ngettext
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from portal.accounts.models import Membership, Organization
from portal.incidents.models import (
    DirectoryUser,
    Exposure,
    ExposureRollup,
    ExposureTotal,
    Incident,
    MessageLogRecord,
    MessageRollup,
)
from portal.incidents.phones_display import LAST_DIGITS, SHOWS_LAST_DIGITS_ABOVE, country_name


def incidents_visible_to(user) -> QuerySet[Incident]:
    """Published incidents that touch at least one account the user is a member of.

    An account sees an incident only if it has exposures in it (DESIGN.md section 3).
    EXISTS rather than a join with DISTINCT: an incident has one exposure row per
    exposed phone, so the join would multiply each incident by thousands of rows.
    """
    if not user.is_authenticated:
        return Incident.objects.none()
    member_of = Membership.objects.filter(user=user).values("organization_id")
    touches_an_account = Exposure.objects.filter(
        incident=OuterRef("pk"), organization_id__in=member_of
    )
    return Incident.objects.filter(Exists(touches_an_account), status=Incident.Status.PUBLISHED)


def incidents_of_account(organization: Organization) -> QuerySet[Incident]:
    """The published incidents this account has exposures in: the only ones its
    members may open. Any other incident, a draft or one of another account's only,
    is a 404 for them."""
    touches_this_account = Exposure.objects.filter(
        incident=OuterRef("pk"), organization=organization
    )
    return Incident.objects.filter(Exists(touches_this_account), status=Incident.Status.PUBLISHED)


def incident_of_account(organization: Organization, public_id) -> Incident | None:
    """The incident of `incidents_of_account` with this public id, or None. Written out:
    every incident page asks it, and the ORM took three times as long to compile the
    EXISTS as the database took to answer it (raw() still converts each column)."""
    q = connection.ops.quote_name
    incident_table, exposure_table = q(Incident._meta.db_table), q(Exposure._meta.db_table)
    sql = f"""
        SELECT * FROM {incident_table} AS i
        WHERE i.public_id = %s AND i.status = %s AND EXISTS (
            SELECT 1 FROM {exposure_table} AS e
            WHERE e.incident_id = i.id AND e.organization_id = %s
        )
    """  # noqa: S608 (table names from the models; every value is a parameter)
    public_id_value = Incident._meta.get_field("public_id").get_db_prep_value(public_id, connection)
    found = Incident.objects.raw(
        sql, [public_id_value, Incident.Status.PUBLISHED.value, organization.pk]
    )
    return next(iter(found), None)


def exposures_of(organization: Organization, incident: Incident) -> QuerySet[Exposure]:
    return Exposure.objects.filter(organization=organization, incident=incident)


# --- The account's exposures in one incident, summed ----------------------------------

# The dashboard's numbers, the account home and the list's filter choices read the
# rollup (models.ExposureRollup), which the writers of exposures keep in their own
# transactions: a few hundred rows per account and incident instead of 100,000
# exposures summed per view, and no cache to go stale or to be cold.


class ExposureGroup(NamedTuple):
    """The exposures that share a country, region and carrier, summed."""

    country: str
    region: str
    carrier: str
    phones: int
    messages: int
    sms: int
    voice: int
    sms_phones: int  # phones that got at least one SMS
    voice_phones: int  # and at least one call
    matched: int  # phones matched to a directory user
    notified: int  # matched phones whose person was notified


@dataclass(frozen=True)
class ExposureSummary:
    groups: tuple[ExposureGroup, ...]
    exposed_users: int  # distinct directory users: a person with two phones counts once
    # When the writers last refreshed the rollup: names the version of the exposures.
    refreshed_at: datetime | None = None

    def total(self, name: str) -> int:
        return sum(getattr(group, name) for group in self.groups)


def exposure_summary(organization: Organization, incident: Incident) -> ExposureSummary:
    """The account's exposures in the incident, summed by (country, region, carrier),
    from the rollup: one query for the groups and the distinct people together."""
    q = connection.ops.quote_name
    # One round trip: the total rides on every group row (a scalar subquery), and on a
    # lone row of NULLs when there are no groups. Written out: the ORM takes longer to
    # compile this than the database takes to answer it.
    sql = f"""
        SELECT r.country, r.region, r.carrier, r.phones, r.messages, r.sms, r.voice,
            r.sms_phones, r.voice_phones, r.matched, r.notified, t.exposed_users,
            t.refreshed_at
        FROM {q(ExposureTotal._meta.db_table)} AS t
        LEFT JOIN {q(ExposureRollup._meta.db_table)} AS r
            ON r.organization_id = t.organization_id AND r.incident_id = t.incident_id
        WHERE t.organization_id = %s AND t.incident_id = %s
    """  # noqa: S608 (table names from the models; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization.pk, incident.pk])
        rows = cursor.fetchall()
    if not rows:
        return ExposureSummary(groups=(), exposed_users=0)
    exposed_users, refreshed_at = rows[0][-2:]
    groups = tuple(ExposureGroup._make(row[:-2]) for row in rows if row[3] is not None)
    return ExposureSummary(groups=groups, exposed_users=exposed_users, refreshed_at=refreshed_at)


# --- The exposed-users list ---------------------------------------------------------

# Sort keys a URL may name, and the columns they order by. The id last keeps a page
# boundary stable between two requests when many rows share the same value.
SORTS: dict[str, tuple[str, ...]] = {
    "-last_seen": ("-last_seen_at", "-id"),
    "last_seen": ("last_seen_at", "id"),
    "-first_seen": ("-first_seen_at", "-id"),
    "first_seen": ("first_seen_at", "id"),
    "-messages": ("-message_count", "-id"),
    "messages": ("message_count", "id"),
    "country": ("country", "region", "-last_seen_at", "-id"),
    "-country": ("-country", "-region", "-last_seen_at", "-id"),
}
DEFAULT_SORT = "-last_seen"

# What a search box entry is taken as: digits (with the usual separators) search the
# number; anything else searches the matched person.
_PHONE_SEPARATORS = str.maketrans("", "", " -.()+")
# Every country calling code, for reading a number typed in national form. They form a
# prefix code (none is the start of another), so an E.164 number splits into a code and
# a national number in one way only.
_COUNTRY_CODES = tuple(sorted(str(code) for code in COUNTRY_CODE_TO_REGION_CODE))
# How a number is dialled abroad before its country code, besides "+".
_INTERNATIONAL_PREFIXES = ("00", "011")


@dataclass(frozen=True)
class ExposureFilters:
    q: str = ""
    country: str = ""
    region: str = ""
    carrier: str = ""
    message_type: str = ""  # "sms": got any SMS, "voice": any call, "both": both
    matched: str = ""  # "yes" or "no"
    notified: str = ""  # "yes" or "no"
    sort: str = DEFAULT_SORT

    def as_details(self) -> dict[str, str]:
        """The filters that are set, as an audit event's details (audit_record masks
        any phone number in them as it writes them)."""
        return {
            name: value
            for name, value in vars(self).items()
            if value and not (name == "sort" and value == DEFAULT_SORT)
        }

    def is_narrowing(self) -> bool:
        """Does any filter leave phones out? (The sort only orders them.)"""
        return any(value for name, value in vars(self).items() if name != "sort")

    @property
    def phone_digits(self) -> str:
        """The digits of a search by phone number; empty for a search by person."""
        digits = self.q.strip().translate(_PHONE_SEPARATORS)
        return digits if digits.isdigit() else ""

    def searches_past_the_mask(self) -> bool:
        """Could this search tell more of a number than the mask shows? Only members
        who may reveal numbers search that way, and each such search is audited."""
        return len(self.phone_digits) > LAST_DIGITS


def _whole_number_readings(digits: str) -> list[str]:
    """The E.164 numbers `digits` spell when typed in full: with the country code (after
    "+", "00" or "011", or bare), or in national form (with or without the trunk 0)
    behind any country code. Compared for equality, never as a suffix: a match confirms
    a number the member already holds, and can never extend one they hold part of."""
    international = {digits}
    for prefix in _INTERNATIONAL_PREFIXES:
        if digits.startswith(prefix):
            international.add(digits[len(prefix) :])
    national = {digits, digits[1:]} if digits.startswith("0") else {digits}
    readings = {f"+{number}" for number in international}
    readings.update(f"+{code}{number}" for code in _COUNTRY_CODES for number in national)
    return sorted(reading for reading in readings if len(reading) <= 16)  # E.164: 15 digits


def _search_by_phone(
    exposures: QuerySet[Exposure], digits: str, *, reveal: bool
) -> QuerySet[Exposure]:
    if reveal:
        return exposures.filter(phone__endswith=digits)
    if len(digits) <= LAST_DIGITS:
        # What the mask shows, and only where it shows it: a number too short for its
        # mask to show the last digits is not found by them either.
        return exposures.alias(phone_length=Length("phone")).filter(
            phone__endswith=digits, phone_length__gt=SHOWS_LAST_DIGITS_ABOVE + 1
        )
    return exposures.filter(phone__in=_whole_number_readings(digits))


# A search by person names at most this many people as a list of ids; one that matches
# more (a single letter) is left to the database as a subquery. As a subquery, the
# planner walks the sort order probing each exposure's person: at 10M log rows (a
# million people, 10,000 of them Thompsons) that took 1.1 s, against 0.1-0.2 s for the
# 10,000 ids as one array.
SEARCH_PEOPLE_LISTED = 20_000


@ForeignKey.register_lookup
class AnyOf(Lookup):
    """`column = ANY(%s)` with the ids as one array parameter (PostgreSQL). `__in` with
    a thousand ids prepares each one and writes a thousand placeholders, which psycopg
    then parses: some 5 ms of Python for a search by a common name."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Typed: an untyped list of ints is sent as numeric[], which no index or hash
        # of the column's type serves (a parallel scan of the sort order, 40 ms).
        array_type = self.lhs.output_field.db_type(connection)
        return f"{lhs} = ANY(%s::{array_type}[])", (*lhs_params, [int(v) for v in self.rhs])


def _of_people(exposures: QuerySet[Exposure], ids: list[int]) -> QuerySet[Exposure]:
    if connection.vendor == "postgresql":
        return exposures.filter(directory_user__any_of=ids)
    return exposures.filter(directory_user_id__in=ids)


def _search(
    exposures: QuerySet[Exposure], filters: ExposureFilters, *, reveal: bool, organization_id
) -> QuerySet[Exposure]:
    if filters.phone_digits:
        return _search_by_phone(exposures, filters.phone_digits, reveal=reveal)
    q = filters.q.strip()
    # The account's people first, found through the trigram indexes on the three
    # columns (migration 0007), then their exposures through the (directory user,
    # account, incident) index. Their ids are fetched first, so that the planner knows
    # how few they are: given the subquery, it walked the whole sort order probing
    # every exposure's person against the pattern (38 ms for "Thompson" at 100,000).
    people = DirectoryUser.objects.filter(
        Q(name__icontains=q) | Q(email__icontains=q) | Q(username__icontains=q)
    )
    if organization_id is not None:
        people = people.filter(organization_id=organization_id)
    # In no order: the directory's own (by username) would only cost a sort. No
    # estimate first: planning the three trigram scans cost as much as running them,
    # and a broad search ("a") stops at the limit.
    ids = list(people.order_by().values_list("pk", flat=True)[: SEARCH_PEOPLE_LISTED + 1])
    if len(ids) <= SEARCH_PEOPLE_LISTED:
        return _of_people(exposures, ids)
    # Too many to list: left to the database; its count will be an estimate too.
    return exposures.filter(directory_user_id__in=people.values("pk"))


def exposures_filtered(
    exposures: QuerySet[Exposure],
    filters: ExposureFilters,
    *,
    reveal: bool = False,
    people: bool = True,
    organization_id: int | None = None,
) -> QuerySet[Exposure]:
    """Narrow and order `exposures`, with each one's directory user joined.

    Without `people` (a role that sees names and emails masked), a search by name, email
    or username finds nothing: matching a name the member already knows would confirm
    what the mask withholds. Searching by phone digits stays.

    Without `reveal` (the member may not reveal numbers), a search by phone digits finds
    only what the masked list shows anyway: numbers by their last four digits or fewer,
    or a number typed in full. A longer suffix would let anyone extend the four digits
    the mask shows one digit at a time, watching which guess keeps the row. With
    `reveal`, any digits match the end of the number, and the views audit the search.
    """
    if filters.q.strip():
        if not people and not filters.phone_digits:
            return exposures.none()
        exposures = _search(exposures, filters, reveal=reveal, organization_id=organization_id)
    if filters.country:
        exposures = exposures.filter(country=filters.country)
    if filters.region:
        exposures = exposures.filter(region=filters.region)
    if filters.carrier:
        exposures = exposures.filter(carrier=filters.carrier)
    if filters.message_type == "sms":
        exposures = exposures.filter(sms_count__gt=0)
    elif filters.message_type == "voice":
        exposures = exposures.filter(voice_count__gt=0)
    elif filters.message_type == "both":
        exposures = exposures.filter(sms_count__gt=0, voice_count__gt=0)
    if filters.matched:
        exposures = exposures.filter(directory_user__isnull=filters.matched == "no")
    if filters.notified:
        exposures = exposures.filter(last_notified_at__isnull=filters.notified == "no")
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    return exposures.select_related("directory_user").order_by(*order)


# What a row of the lists shows: loading only these skips, among others, each
# directory user's list of phones, a JSON column decoded per row.
EXPOSURE_ROW_FIELDS = (
    "public_id",
    "phone",
    "country",
    "region",
    "carrier",
    "sms_count",
    "voice_count",
    "message_count",
    "first_seen_at",
    "last_seen_at",
    "last_notified_at",
    "directory_user__name",
    "directory_user__username",
    "directory_user__email",
)


class ListedPerson(NamedTuple):
    name: str
    username: str
    email: str


class ListedExposure(NamedTuple):
    """A row of the exposed-users list: what presenters.exposure_rows reads of an
    Exposure and its directory user, without building two model instances per row
    (some 3 ms a page of 50, deferred fields and the join's instance included)."""

    pk: int
    public_id: object
    phone: str
    country: str
    region: str
    carrier: str
    sms_count: int
    voice_count: int
    message_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    last_notified_at: datetime | None
    directory_user: ListedPerson | None


def exposures_listed(ids: list[int]) -> dict[int, ListedExposure]:
    """The exposures of these ids (chosen by an account's filtered list), by id."""
    rows = (
        Exposure.objects.filter(pk__in=ids)
        .order_by()
        .values_list(
            # The tuple's own fields, then whose (if anyone's) the phone is.
            *ListedExposure._fields[:-1],
            "directory_user_id",
            *(f"directory_user__{name}" for name in ListedPerson._fields),
        )
    )
    listed: dict[int, ListedExposure] = {}
    for row in rows:
        own, (person_id, *person) = row[:12], row[12:]
        listed[row[0]] = ListedExposure._make(
            (*own, ListedPerson._make(person) if person_id is not None else None)
        )
    return listed


@dataclass(frozen=True)
class FilterChoices:
    """The values the account's exposures have, for the filter form's selects."""

    countries: list[tuple[str, str]]
    regions: list[tuple[str, str]]
    carriers: list[tuple[str, str]]


def exposure_filter_choices(summary: ExposureSummary) -> FilterChoices:
    countries: set[str] = set()
    regions: dict[str, set[str]] = defaultdict(set)
    carriers: set[str] = set()
    for group in summary.groups:
        if group.country:
            countries.add(group.country)
        if group.region:
            regions[group.region].add(group.country)
        if group.carrier:
            carriers.add(group.carrier)

    def region_label(region: str) -> str:
        # The same name can stand in two countries ("Georgia"); the filter is by name.
        where = ", ".join(sorted(code for code in regions[region] if code))
        return f"{region} ({where})" if where else region

    return FilterChoices(
        countries=sorted(
            ((code, f"{country_name(code)} ({code})") for code in countries),
            key=lambda choice: choice[1],
        ),
        regions=[(region, region_label(region)) for region in sorted(regions, key=str.lower)],
        carriers=[(carrier, carrier) for carrier in sorted(carriers, key=str.lower)],
    )


def exposure_timeline(exposure: Exposure) -> QuerySet:
    """The messages to one exposed phone, oldest first: metadata only (the logs hold
    no content). Walks the (organization, incident, phone, sent_at) index. Named tuples
    (sent_at, message_type, carrier, country, region, context), not models: a page of
    100 deferred-field instances cost more than writing their rows."""
    return (
        MessageLogRecord.objects.filter(
            organization_id=exposure.organization_id,
            incident_id=exposure.incident_id,
            phone=exposure.phone,
        )
        .order_by("sent_at", "id")
        .values_list(
            "sent_at", "message_type", "carrier", "country", "region", "context", named=True
        )
    )


def exposures_of_same_person(exposure: Exposure) -> QuerySet[Exposure]:
    """The matched person's other exposed phones in the same incident."""
    if exposure.directory_user_id is None:
        return Exposure.objects.none()
    return (
        Exposure.objects.filter(
            organization_id=exposure.organization_id,
            incident_id=exposure.incident_id,
            directory_user_id=exposure.directory_user_id,
        )
        .exclude(pk=exposure.pk)
        .order_by("-last_seen_at")
    )


# --- The dashboard ------------------------------------------------------------------

BREAKDOWN_TOP = 10


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    value: str  # the filter value that lists these phones; empty when there is none
    phones: int
    messages: int
    share: float  # of all phones, 0..1


@dataclass(frozen=True)
class Breakdown:
    rows: list[BreakdownRow]
    other: BreakdownRow | None = None  # everything past the top rows, summed

    @property
    def all_rows(self) -> list[BreakdownRow]:
        return [*self.rows, self.other] if self.other else self.rows


@dataclass(frozen=True)
class DayCount:
    day: date
    sms: int
    voice: int

    @property
    def total(self) -> int:
        return self.sms + self.voice


@dataclass(frozen=True)
class IncidentDashboard:
    phones: int
    matched_phones: int
    exposed_users: int
    messages: int
    sms_messages: int
    voice_messages: int
    notified_phones: int  # matched phones whose person was notified
    by_country: Breakdown
    by_region: Breakdown
    by_carrier: Breakdown
    by_type: Breakdown
    per_day: list[DayCount]
    # What it was folded from: the response plan reads the same numbers.
    summary: ExposureSummary | None = None

    @property
    def unmatched_phones(self) -> int:
        return self.phones - self.matched_phones

    @property
    def notified_share(self) -> float:
        return self.notified_phones / self.matched_phones if self.matched_phones else 0.0


def _breakdown(
    totals: dict[tuple[str, str], list[int]], all_phones: int, *, top: int = BREAKDOWN_TOP
) -> Breakdown:
    """`totals` maps (label, filter value) to [phones, messages]; the most phones first."""
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0][0].lower()))

    def row(label: str, value: str, phones: int, messages: int) -> BreakdownRow:
        return BreakdownRow(
            label, value, phones, messages, phones / all_phones if all_phones else 0
        )

    rows = [row(label, value, phones, messages) for (label, value), (phones, messages) in ranked]
    if len(rows) <= top + 1:  # "1 other" would hide a name and save no line
        return Breakdown(rows)
    rest = rows[top:]
    others = ngettext("%(count)s other", "%(count)s others", len(rest)) % {"count": len(rest)}
    other = row(others, "", sum(r.phones for r in rest), sum(r.messages for r in rest))
    return Breakdown(rows[:top], other)


def _per_day_counts(
    organization: Organization, incident: Incident, zone: tzinfo
) -> dict[date, tuple[int, int]]:
    """From the rollup of quarter-hours (UTC): some 3,000 rows a month, summed into
    the account's days by the database."""
    sms = MessageLogRecord.MessageType.SMS
    voice = MessageLogRecord.MessageType.VOICE
    rows = (
        MessageRollup.objects.filter(organization=organization, incident=incident)
        .annotate(day=TruncDate("quarter_hour", tzinfo=zone))
        .values("day")
        .annotate(
            sms=Coalesce(Sum("messages", filter=Q(message_type=sms)), 0),
            voice=Coalesce(Sum("messages", filter=Q(message_type=voice)), 0),
        )
        .order_by()
    )
    return {row["day"]: (row["sms"], row["voice"]) for row in rows}


def messages_per_day(
    organization: Organization, incident: Incident, *, zone: tzinfo, messages: int
) -> list[DayCount]:
    """Every day of the exposure window in the account's time zone, with its SMS and
    voice messages (zero where none), and the days with messages in the tolerance on
    either side of it. Never further: a row dated 2099 that an older import let in
    must not draw 75 years of empty days."""
    counts = _per_day_counts(organization, incident, zone) if messages else {}
    first = incident.window_start.astimezone(zone).date()
    last = (incident.window_end - timedelta(microseconds=1)).astimezone(zone).date()
    tolerance = timedelta(hours=incident.sent_at_tolerance_hours)
    earliest = (incident.window_start - tolerance).astimezone(zone).date()
    latest = (incident.window_end + tolerance).astimezone(zone).date()
    inside = [day for day in counts if earliest <= day <= latest]
    if inside:
        first, last = min(first, *inside), max(last, *inside)
    days = []
    day = first
    while day <= last:
        sms, voice = counts.get(day, (0, 0))
        days.append(DayCount(day, sms, voice))
        day += timedelta(days=1)
    return days


def incident_dashboard(
    organization: Organization, incident: Incident, *, zone: tzinfo
) -> IncidentDashboard:
    """Everything the dashboard shows, folded from the summary and the per-day counts."""
    summary = exposure_summary(organization, incident)
    by_country: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_region: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_carrier: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    not_given = ("Not given", "")
    for group in summary.groups:
        country, region, carrier = group.country, group.region, group.carrier
        keys = (
            (by_country, (f"{country_name(country)} ({country})", country) if country else not_given),
            # Regions of the same name in two countries stay apart, labelled with the
            # country; the list filters by the name.
            (by_region, (f"{region} ({country})" if country else region, region) if region else not_given),
            (by_carrier, (carrier, carrier) if carrier else not_given),
        )  # fmt: skip
        for breakdown, key in keys:
            breakdown[key][0] += group.phones
            breakdown[key][1] += group.messages
    phones = summary.total("phones")
    messages = summary.total("messages")

    def type_row(label: str, value: str, phones_of_type: int, messages_of_type: int):
        share = phones_of_type / phones if phones else 0.0
        return BreakdownRow(label, value, phones_of_type, messages_of_type, share)

    return IncidentDashboard(
        phones=phones,
        matched_phones=summary.total("matched"),
        exposed_users=summary.exposed_users,
        messages=messages,
        sms_messages=summary.total("sms"),
        voice_messages=summary.total("voice"),
        notified_phones=summary.total("notified"),
        by_country=_breakdown(by_country, phones),
        by_region=_breakdown(by_region, phones),
        by_carrier=_breakdown(by_carrier, phones),
        # A phone that got both counts in both rows: the rows do not add up to all.
        by_type=Breakdown(
            [
                type_row("SMS", "sms", summary.total("sms_phones"), summary.total("sms")),
                type_row(
                    gettext("Voice"), "voice", summary.total("voice_phones"), summary.total("voice")
                ),
            ]
        ),
        per_day=messages_per_day(organization, incident, zone=zone, messages=messages),
        summary=summary,
    )
