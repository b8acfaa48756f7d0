"""Phone numbers as the dump writes them, normalized to E.164.

Parsing with phonenumbers costs some 15 µs a number, and a month of logs sends each
phone ten messages or more, so results are cached by (number as written, country
hint). The cache is bounded, so memory stays flat however long the dump is; a phone
evicted and met again is normalized again, which for a number already written in
E.164 (what providers log, mostly) takes the fast path below, five times cheaper.
"""

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from portal.incidents.imports.errors import phone_masked

CACHE_SIZE = 100_000  # about 40 MB when full
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _literal_national_prefixes() -> dict[int, str]:
    """Calling codes whose main region strips at most a fixed national prefix ("0",
    "1", "8", or none) when parsing: for them, "+<code><national number>" that does
    not start with that prefix is what parse() would make of it, digit for digit.
    Codes with rewriting rules (Argentina, Brazil, Japan, Madagascar...) are left out
    and always parsed."""
    prefixes = {}
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        region = phonenumbers.region_code_for_country_code(code)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is None or metadata.national_prefix_transform_rule:
            continue
        prefix = metadata.national_prefix_for_parsing
        if prefix is None or re.fullmatch(r"[0-9]+", prefix):
            prefixes[code] = prefix or ""
    return prefixes


_FAST_CODES = _literal_national_prefixes()


def _e164_fast(raw: str) -> PhoneNumber | None:
    """The number of `raw` when it is already E.164 that parse() would keep as it is."""
    if not _E164.fullmatch(raw):
        return None
    # Calling codes are prefix-free (ITU-T E.164): the first that matches is the one.
    for length in (1, 2, 3):
        code = int(raw[1 : 1 + length])
        prefix = _FAST_CODES.get(code)
        if prefix is not None:
            national = raw[1 + length :]
            if national[0] == "0" or (prefix and national.startswith(prefix)):
                return None
            return PhoneNumber(country_code=code, national_number=int(national))
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return None
    return None


@lru_cache(maxsize=CACHE_SIZE)
def phone_normalized(raw: str, country: str) -> tuple[str, str, str]:
    """(E.164, the number's own country, problem) for a phone as written and the
    row's country (ISO 3166-1 alpha-2, may be empty) as the hint for national numbers.

    The problem is empty when the number is usable. A number that is possible (right
    length for its country) but not valid (say, a range not yet assigned) is kept:
    the provider did send a message to it. The number's own country is only worked
    out when the row names none (Duo logs), since that costs a parse's worth again.
    """
    number = _e164_fast(raw)
    if number is None or not phonenumbers.is_possible_number(number):
        return _parsed(raw, country)
    return raw, "" if country else _own_country(number), ""


def _parsed(raw: str, country: str) -> tuple[str, str, str]:
    try:
        number = phonenumbers.parse(raw, country or None)
    except NumberParseException:
        if (
            country
            and not raw.lstrip().startswith("+")
            and phonenumbers.country_code_for_region(country) == 0
        ):
            return "", "", f"{_written(raw)} has no country code, and {country} is no country"
        return "", "", f"{_written(raw)} is not a phone number"
    if not phonenumbers.is_possible_number(number):
        where = f" for {country}" if country and not raw.lstrip().startswith("+") else ""
        return "", "", f"{_written(raw)} is an impossible number{where}"
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, "" if country else _own_country(number), ""


def _own_country(number: PhoneNumber) -> str:
    # A number that is possible but not valid has no region of its own: its calling
    # code's main country stands in (GB for +44, US for +1).
    region = phonenumbers.region_code_for_number(
        number
    ) or phonenumbers.region_code_for_country_code(number.country_code)
    # "001" for the non-geographic (+800, +882...), "ZZ" for none: no country.
    if len(region) == 2 and region.isalpha() and region != "ZZ":
        return region
    return ""


def _written(raw: str) -> str:
    return f'phone "{phone_masked(raw)}"'
