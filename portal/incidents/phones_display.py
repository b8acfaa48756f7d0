"""Phone numbers as pages and exports show them.

Most roles see a number masked: its country code and its last four digits, enough to
tell a person "your number ending 0143" and to match it against one's own records,
not enough to call or text it. Security staff reveal one number at a time, and each
reveal is audited (portal/incidents/exposures/views.py).
"""

import functools

import phonenumbers
from phonenumbers import geocoder

BULLETS = "••• •••"
LAST_DIGITS = 4
# A number shows its last digits only when it has more digits than this. One this short
# is not a real E.164 number, and showing "its last four" would show half of it or more.
SHOWS_LAST_DIGITS_ABOVE = 2 * LAST_DIGITS


def phone_last_digits(e164: str) -> str:
    # An E.164 number ("+" and digits) needs no character-by-character pass; a list
    # page asks this a hundred times.
    digits = e164[1:] if e164[:1] == "+" and e164[1:].isascii() and e164[1:].isdigit() else ""
    if not digits:
        digits = "".join(character for character in e164 if character.isdigit())
    return digits[-LAST_DIGITS:] if len(digits) > SHOWS_LAST_DIGITS_ABOVE else ""


@functools.cache
def _region_prefix(country: str) -> str:
    """ "US" -> "+1"; "" where the region has no calling code."""
    code = phonenumbers.country_code_for_region(country.upper())
    return f"+{code}" if code else ""


@functools.cache
def region_calling_codes() -> dict[str, str]:
    """Every region's calling code, as `_region_prefix` reads it ("US" -> "1"): for a
    query that masks numbers in SQL as `phone_masked` does (portal/api)."""
    codes = {
        region: phonenumbers.country_code_for_region(region)
        for region in phonenumbers.SUPPORTED_REGIONS
    }
    return {region: str(code) for region, code in codes.items() if code}


def _calling_code(e164: str, country: str) -> str:
    # The exposure's country names the calling code in a (cached) look-up; parsing the
    # number costs twenty times more, and an API page masks a thousand of them.
    if country:
        prefix = _region_prefix(country)
        if prefix and e164.startswith(prefix):
            return prefix[1:]
    try:
        return str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        return ""


def phone_masked(e164: str, country: str = "") -> str:
    """ "+1 ••• ••• 0143". The bullets are always the same, so the mask does not tell
    how long the number is either. `country`, the ISO code the logs gave, is a hint."""
    code = _calling_code(e164, country)
    last = phone_last_digits(e164)
    return f"{'+' + code + ' ' if code else ''}{BULLETS} {last or '••••'}"


def phone_readable(e164: str) -> str:
    """The full number, grouped as its country writes it: "+1 212-555-0143"."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@functools.cache
def country_name(code: str) -> str:
    """ "US" as a person reads it: "United States"; the code itself where unknown."""
    example = phonenumbers.example_number(code.upper()) if code else None
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or code


def name_masked(name: str) -> str:
    """A person's name as a role that may not export them sees it: initials only
    ("Jane Thompson" as "J. T."), enough to tell two rows apart, not to name anyone."""
    return " ".join(f"{word[0]}." for word in name.split() if word)


def email_masked(email: str) -> str:
    """An address with its local part cut to its first letter ("j•••@acme.example"):
    the domain tells which mailbox system, not whose mailbox."""
    local, at, domain = email.partition("@")
    if not at:
        return f"{local[:1]}•••" if local else ""
    return f"{local[:1]}•••@{domain}"
