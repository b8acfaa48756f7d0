"""Seeding the demo breach: people, accounts, the incident, then log rows, directories
and exposures, inside one transaction and drawn from one `random.Random(seed)`."""

import dataclasses
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt as mfa_encrypt
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from portal.accounts.models import Membership, Organization, User
from portal.database import table_analyze
from portal.incidents.demo.data import ACCOUNT_ROW_SHARES
from portal.incidents.demo.directory import seed_directory
from portal.incidents.demo.logs import load_log_rows, log_rows
from portal.incidents.demo.people import (
    DEMO_ACCOUNTS,
    DEMO_INCIDENT_SLUG,
    DEMO_PASSWORD,
    DEMO_ROLES,
    DEMO_TOTP_SECRET,
    OPERATOR_EMAIL,
    OPERATOR_NAME,
    demo_member_emails,
)
from portal.incidents.demo.phones import WINDOW_END, WINDOW_START, DemoPhone, plan_phones
from portal.incidents.exposures.services import exposure_match_directory, exposure_rebuild
from portal.incidents.models import (
    DirectoryPhone,
    DirectoryUser,
    Exposure,
    Incident,
    MessageLogRecord,
)

logger = logging.getLogger(__name__)

DEFAULT_ROWS = 20_000
DEFAULT_SEED = 2024
MIN_ROWS = 100
BECAME_AWARE_AT = datetime(2024, 4, 1, 17, 20, tzinfo=UTC)
DISCLOSED_AT = datetime(2024, 4, 12, 15, 0, tzinfo=UTC)

INCIDENT_TITLE = "Telephony provider breach: March 2024 SMS and voice logs"
INCIDENT_SUMMARY = (
    "On 1 April 2024 the telephony provider that delivers our SMS and voice messages "
    "told us that an attacker had phished one of its employees and downloaded the "
    "message logs of 1-31 March 2024. The logs hold the phone numbers that messages "
    "went to, their carriers, countries and states, the times and the message types. "
    "They hold no message content: no passcodes and no links."
)


class DemoSeedError(Exception):
    """The demo cannot be seeded as asked; the message says why, in words to act on."""


class DemoAlreadySeededError(DemoSeedError):
    """The database already holds (part of) the demo breach; the message says what."""


@dataclass(frozen=True)
class DemoSeedSummary:
    seed: int
    accounts: int
    members: int
    staff: int
    rows: int
    phones: int
    exposures: int
    matched_exposures: int
    directory_users: int
    directory_users_without_email: int
    seconds: float

    @property
    def matched_share(self) -> float:
        return self.matched_exposures / self.exposures if self.exposures else 0.0


class _Clock:
    """Logs how long each step took: the seeder is also how we measure the big table."""

    def __init__(self):
        self.started = self.last = time.monotonic()

    def lap(self, what: str) -> None:
        now = time.monotonic()
        logger.info("demo breach: %s in %.1fs", what, now - self.last)
        self.last = now

    def total(self) -> float:
        return time.monotonic() - self.started


def demo_breach_seed(
    *, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, reset: bool = False
) -> DemoSeedSummary:
    """Seed the demo breach; with `reset`, first delete a demo breach seeded before."""
    if rows < MIN_ROWS:
        raise DemoSeedError(f"The demo needs at least {MIN_ROWS} log rows, not {rows}.")
    clock = _Clock()
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, no secrets)
    with transaction.atomic():
        if reset:
            demo_breach_clear()
            clock.lap("deleted the previous demo breach")
        else:
            _refuse_if_seeded()
        organizations = _seed_people(rng)
        incident = _seed_incident(rng)
        used_phones: set[str] = set()
        phones_by_account: list[list[DemoPhone]] = []
        for account, organization, share in zip(
            DEMO_ACCOUNTS, organizations, _row_split(rows), strict=True
        ):
            phones = plan_phones(rng, account, share, used_phones)
            loaded = load_log_rows(
                incident=incident, organization=organization, rows=log_rows(rng, phones)
            )
            clock.lap(f"loaded {loaded} log rows for account {account.account_id}")
            phones_by_account.append(phones)
        for account, organization, phones in zip(
            DEMO_ACCOUNTS, organizations, phones_by_account, strict=True
        ):
            seed_directory(rng, account, organization, phones, used_phones)
        clock.lap("built the directories")
        if connection.vendor == "postgresql":
            # The rows are not committed yet, so autovacuum cannot have analyzed them;
            # without statistics the planner guesses badly for the rebuild below.
            table_analyze(MessageLogRecord, DirectoryUser, DirectoryPhone)
            clock.lap("analyzed the new rows")
        organization_ids = [organization.pk for organization in organizations]
        exposure_rebuild(incident=incident, organization_ids=organization_ids)
        clock.lap("rebuilt the exposures")
        exposure_match_directory(organization_ids=organization_ids)
        clock.lap("matched the exposures to the directories")
        # Every table it filled, the exposures last: the minute sweep's reminders read
        # them next, and a plan made without statistics once took 95 s there.
        table_analyze(MessageLogRecord, DirectoryUser, DirectoryPhone, Exposure)
        clock.lap("analyzed the tables it filled")
        phone_count = sum(len(planned) for planned in phones_by_account)
        summary = _summarize(seed, incident, organizations, phone_count)
    # After the commit: on PostgreSQL the deferred foreign-key checks of every row run
    # there, and they are part of what seeding costs.
    clock.lap("committed")
    summary = dataclasses.replace(summary, seconds=clock.total())
    logger.info(
        "demo breach seeded: %d accounts, %d rows, %d exposures, %.0f%% matched, %.1fs",
        summary.accounts,
        summary.rows,
        summary.exposures,
        100 * summary.matched_share,
        summary.seconds,
    )
    return summary


def demo_breach_clear() -> bool:
    """Delete the demo incident, accounts and members. True if there was any."""
    account_ids = [account.account_id for account in DEMO_ACCOUNTS]
    with transaction.atomic():
        incidents = Incident.objects.filter(slug=DEMO_INCIDENT_SLUG)
        # The big table first, in one statement, so deleting the incident does not
        # make the ORM walk a million rows.
        MessageLogRecord.objects.filter(incident__in=incidents).delete()
        MessageLogRecord.objects.filter(organization__account_id__in=account_ids).delete()
        deleted = incidents.delete()[0]
        deleted += Organization.objects.filter(account_id__in=account_ids).delete()[0]
        deleted += _demo_users().delete()[0]
    return deleted > 0


def _demo_users():
    return User.objects.filter(
        Q.create([("email__iexact", email) for email in demo_member_emails()], connector=Q.OR)
    )


def _refuse_if_seeded() -> None:
    found = []
    if Incident.objects.filter(slug=DEMO_INCIDENT_SLUG).exists():
        found.append(f"the incident {DEMO_INCIDENT_SLUG!r}")
    accounts = Organization.objects.filter(
        account_id__in=[account.account_id for account in DEMO_ACCOUNTS]
    ).count()
    if accounts:
        found.append(f"{accounts} of the demo accounts")
    users = _demo_users().count()
    if users:
        found.append(f"{users} of the demo users")
    if found:
        raise DemoAlreadySeededError(
            "This database already holds the demo breach ("
            + ", ".join(found)
            + "). Nothing was changed. Seed again with --reset to delete it first."
        )


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _seed_people(rng: random.Random) -> list[Organization]:
    # One hash for everyone: hashing is deliberately slow, and it is the same password.
    password = make_password(DEMO_PASSWORD)
    operator = User.objects.create(
        email=OPERATOR_EMAIL,
        name=OPERATOR_NAME,
        public_id=_uuid(rng),
        password=password,
        is_staff=True,
        is_superuser=True,
        date_joined=BECAME_AWARE_AT,
    )
    organizations = []
    people = [operator]
    for account in DEMO_ACCOUNTS:
        organization = Organization.objects.create(
            public_id=_uuid(rng),
            name=account.name,
            account_id=account.account_id,
            contact_name=account.contact_name,
            contact_email=account.contact_email,
            contact_phone=account.contact_phone,
            contact_url=account.contact_url,
            notice_sender_name=f"{account.name} Security",
            notice_reply_to=account.contact_email,
            time_zone=account.time_zone,
        )
        members = User.objects.bulk_create(
            User(
                email=account.member_email(role),
                name=name,
                public_id=_uuid(rng),
                password=password,
                date_joined=DISCLOSED_AT,
            )
            for role, name in zip(DEMO_ROLES, account.member_names, strict=True)
        )
        Membership.objects.bulk_create(
            Membership(public_id=_uuid(rng), user=user, organization=organization, role=role)
            for user, role in zip(members, DEMO_ROLES, strict=True)
        )
        organizations.append(organization)
        people.extend(members)
    # Everyone gets the demo's authenticator-app secret, so the enforced second factor
    # costs a newcomer one command (demo_totp_code) instead of an enrolment.
    secret = mfa_encrypt(DEMO_TOTP_SECRET)
    Authenticator.objects.bulk_create(
        Authenticator(user=person, type=Authenticator.Type.TOTP, data={"secret": secret})
        for person in people
    )
    return organizations


def _seed_incident(rng: random.Random) -> Incident:
    return Incident.objects.create(
        public_id=_uuid(rng),
        slug=DEMO_INCIDENT_SLUG,
        title=INCIDENT_TITLE,
        provider="the telephony provider",
        summary=INCIDENT_SUMMARY,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        became_aware_at=BECAME_AWARE_AT,
        disclosed_at=DISCLOSED_AT,
        status=Incident.Status.PUBLISHED,
        published_at=DISCLOSED_AT,
    )


def _row_split(rows: int) -> list[int]:
    split = [int(rows * share) for share in ACCOUNT_ROW_SHARES[:-1]]
    return [*split, rows - sum(split)]


# --- Summary ----------------------------------------------------------------------


def _summarize(
    seed: int, incident: Incident, organizations: list[Organization], phones: int
) -> DemoSeedSummary:
    exposures = Exposure.objects.filter(incident=incident).aggregate(
        count=Count("id"), matched=Count("directory_user"), rows=Sum("message_count")
    )
    directory = DirectoryUser.objects.filter(organization__in=organizations).aggregate(
        count=Count("id"), without_email=Count("id", filter=Q(email=""))
    )
    return DemoSeedSummary(
        seed=seed,
        accounts=len(organizations),
        members=Membership.objects.filter(organization__in=organizations).count(),
        staff=User.objects.filter(email=OPERATOR_EMAIL, is_staff=True).count(),
        rows=exposures["rows"] or 0,
        phones=phones,
        exposures=exposures["count"],
        matched_exposures=exposures["matched"],
        directory_users=directory["count"],
        directory_users_without_email=directory["without_email"],
        seconds=0.0,
    )
