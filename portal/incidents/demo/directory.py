"""Each demo account's user directory: most exposed phones belong to someone in it (a
few people have two or three), some are nobody's, some people were not exposed at
all, and a few have no email address."""

import collections
import json
import random
import unicodedata
import uuid

from django.db import connection
from django.utils import timezone

from portal.accounts.models import Organization
from portal.incidents.countries import COUNTRIES
from portal.incidents.demo.data import NAMES
from portal.incidents.demo.logs import SQLITE_BATCH, copy_rows
from portal.incidents.demo.people import DemoAccount
from portal.incidents.demo.phones import DemoPhone, PhoneFactory, Weighted
from portal.incidents.models import DirectoryPhone, DirectoryUser

MATCHED_SHARE = 0.88  # of an account's exposed phones that its directory knows
NO_EMAIL_SHARE = 0.05
UNEXPOSED_USER_SHARE = 0.15  # directory users whose phones are not in the logs

_LANGUAGES = {code: Weighted(country.languages) for code, country in COUNTRIES.items()}

# (public_id, username, name, email, phones, language)
_DirectoryRow = tuple[uuid.UUID, str, str, str, list[str], str]


def seed_directory(
    rng: random.Random,
    account: DemoAccount,
    organization: Organization,
    exposed: list[DemoPhone],
    used: set[str],
) -> None:
    phones = exposed[:]
    rng.shuffle(phones)
    matched = round(len(phones) * MATCHED_SHARE)
    if len(phones) > 1:
        matched = min(max(matched, 1), len(phones) - 1)
    people: list[list[DemoPhone]] = []
    position = 0
    while position < matched:
        roll = rng.random()
        size = 1 if roll < 0.88 else 2 if roll < 0.98 else 3
        people.append(phones[position : position + size])
        position += size
    factory = PhoneFactory(account)
    for _ in range(round(len(people) * UNEXPOSED_USER_SHARE)):
        people.append([factory.phone(rng, used)])

    usernames: collections.Counter[str] = collections.Counter()
    emails: collections.Counter[str] = collections.Counter()
    users: list[_DirectoryRow] = []
    for person in people:
        country = person[0].country
        firsts, lasts = NAMES[country.names]
        first, last = rng.choice(firsts), rng.choice(lasts)
        username = _unique(f"{_ascii(first)[0]}{_ascii(last)}", usernames)
        email = ""
        if rng.random() >= NO_EMAIL_SHARE:
            email = _unique(f"{_ascii(first)}.{_ascii(last)}", emails) + f"@{account.domain}"
        users.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                username,
                f"{first} {last}",
                email,
                [phone.e164 for phone in person],
                _LANGUAGES[country.code].pick(rng),
            )
        )
    if connection.vendor == "postgresql":
        _copy_directory(organization.pk, users)
    else:
        _bulk_create_directory(organization, users)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _unique(base: str, taken: collections.Counter[str]) -> str:
    # Bases are letters only, so a numbered name never collides with another base.
    taken[base] += 1
    return base if taken[base] == 1 else f"{base}{taken[base]}"


def _copy_directory(organization_id: int, users: list[_DirectoryRow]) -> None:
    # bulk_create costs tens of microseconds a row in the ORM; at a million log rows the
    # directory has ~90,000 people and as many phones, so they are copied too.
    now = timezone.now()  # bookkeeping only: what bulk_create would have stamped
    copy_rows(
        DirectoryUser,
        (
            "public_id",
            "organization_id",
            "username",
            "name",
            "email",
            "phones",
            "language",
            "created_at",
            "updated_at",
        ),
        (
            (
                public_id,
                organization_id,
                username,
                name,
                email,
                json.dumps(phones),
                language,
                now,
                now,
            )
            for public_id, username, name, email, phones, language in users
        ),
    )
    ids = dict(
        DirectoryUser.objects.filter(organization_id=organization_id).values_list("username", "id")
    )
    copy_rows(
        DirectoryPhone,
        ("organization_id", "directory_user_id", "phone"),
        (
            (organization_id, ids[username], phone)
            for _, username, _, _, phones, _ in users
            for phone in phones
        ),
    )


def _bulk_create_directory(organization: Organization, users: list[_DirectoryRow]) -> None:
    created = DirectoryUser.objects.bulk_create(
        (
            DirectoryUser(
                public_id=public_id,
                organization=organization,
                username=username,
                name=name,
                email=email,
                phones=phones,
                language=language,
            )
            for public_id, username, name, email, phones, language in users
        ),
        batch_size=2000,
    )
    DirectoryPhone.objects.bulk_create(
        (
            DirectoryPhone(organization=organization, directory_user=user, phone=phone)
            for user in created
            for phone in user.phones
        ),
        batch_size=SQLITE_BATCH,
    )
