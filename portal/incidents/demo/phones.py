"""The demo's phones: generated numbers that phonenumbers calls valid mobiles of their
country, each with a region, a carrier, a habit (SMS or calls) and a message count."""

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import phonenumbers

from portal.incidents.countries import COUNTRIES, Country, Region
from portal.incidents.demo.data import ACCOUNT_COUNTRY_WEIGHTS
from portal.incidents.demo.people import DemoAccount

WINDOW_START = datetime(2024, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 4, 1, tzinfo=UTC)
HOURS_IN_WINDOW = int((WINDOW_END - WINDOW_START).total_seconds()) // 3600

MESSAGES_PER_PHONE = 10  # on average: a phone gets many messages in a month
PORTED_SHARE = 0.02  # phones that move to another carrier during the month

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class Weighted:
    """A weighted choice drawn with one `rng.random()`: much cheaper than `rng.choices`
    when called once per log row."""

    def __init__(self, items: Sequence[tuple[object, float]]):
        self.values = [value for value, _ in items]
        self.cumulative = list(itertools.accumulate(weight for _, weight in items))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass(slots=True)
class DemoPhone:
    e164: str
    country: Country
    region: Region
    carrier: str
    ported_to: str  # empty unless the number moves to another carrier mid-month
    ported_at: int  # seconds into the window
    voice_share: float
    route: str
    messages: int = 1


def generate_phone(rng: random.Random, country: Country, region: Region, used: set[str]) -> str:
    """A new number phonenumbers calls a valid mobile of `country`, never one in `used`.

    Random digits behind a real mobile prefix are valid about half the time or more
    (the rest fall into unassigned ranges), so a few tries always find one.
    """
    calling_code = phonenumbers.country_code_for_region(country.code)
    prefixes = region.prefixes or country.prefixes
    for _ in range(200):
        prefix = prefixes[int(rng.random() * len(prefixes))]
        length = country.lengths[int(rng.random() * len(country.lengths))]
        rest = length - len(prefix)
        national = prefix + str(int(rng.random() * 10**rest)).zfill(rest)
        number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=int(national))
        e164 = f"+{calling_code}{national}"
        if (
            e164 not in used
            and phonenumbers.is_valid_number_for_region(number, country.code)
            and phonenumbers.number_type(number) in _MOBILE_TYPES
        ):
            used.add(e164)
            return e164
    raise RuntimeError(f"No valid mobile number for {country.code} in 200 tries: check prefixes.")


class PhoneFactory:
    """Phones where one account's people are: its own mix of countries."""

    def __init__(self, account: DemoAccount):
        self.countries = Weighted(
            [
                (COUNTRIES[code], weight)
                for code, weight in ACCOUNT_COUNTRY_WEIGHTS[account.account_id]
            ]
        )
        self.regions = {
            code: Weighted([(region, region.weight) for region in country.regions])
            for code, country in COUNTRIES.items()
        }
        self.carriers = {code: Weighted(country.carriers) for code, country in COUNTRIES.items()}

    def phone(self, rng: random.Random, used: set[str]) -> DemoPhone:
        country: Country = self.countries.pick(rng)
        region: Region = self.regions[country.code].pick(rng)
        carriers = self.carriers[country.code]
        carrier = carriers.pick(rng)
        ported_to, ported_at = "", 0
        if rng.random() < PORTED_SHARE:
            ported_to = carriers.pick(rng)
            if ported_to == carrier:
                ported_to = next(c for c in carriers.values if c != carrier)
            ported_at = int(rng.random() * HOURS_IN_WINDOW * 3600)
        kind = rng.random()
        # Most people take codes by SMS; some prefer a call, a few only ever take calls.
        voice_share = 0.02 if kind < 0.8 else 0.25 if kind < 0.95 else 0.85
        return DemoPhone(
            e164=generate_phone(rng, country, region, used),
            country=country,
            region=region,
            carrier=carrier,
            ported_to=ported_to,
            ported_at=ported_at,
            voice_share=voice_share,
            route=f"r{1 + int(rng.random() * 24):02d}",
        )


def plan_phones(
    rng: random.Random, account: DemoAccount, rows: int, used: set[str]
) -> list[DemoPhone]:
    """The account's phones and how many messages each gets: at least one, and a long
    tail of people who sign in many times a day."""
    factory = PhoneFactory(account)
    count = max(1, rows // MESSAGES_PER_PHONE)
    phones = [factory.phone(rng, used) for _ in range(count)]
    weights = list(itertools.accumulate(rng.lognormvariate(0, 1.1) for _ in phones))
    for index in rng.choices(range(count), cum_weights=weights, k=rows - count):
        phones[index].messages += 1
    return phones
