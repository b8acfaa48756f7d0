"""Phone normalization for the import: E.164 out, reasons for what cannot be a phone."""

import random

import phonenumbers
import pytest

from portal.incidents.imports import phones
from portal.incidents.imports.phones import phone_normalized


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (212) 555-0143", "US", ("+12125550143", "", "")),
        ("+12125550143", "US", ("+12125550143", "", "")),
        ("(415) 555-0199", "US", ("+14155550199", "", "")),
        # Possible but not valid: kept.
        ("07700 900123", "GB", ("+447700900123", "", "")),
        # No country given (Duo): the number's own.
        ("+447700900123", "", ("+447700900123", "GB", "")),
        ("+4915123456789", "", ("+4915123456789", "DE", "")),
        ("+80012345678", "", ("+80012345678", "", "")),
        ("not-a-number", "US", ("", "", 'phone "not-a-number" is not a phone number')),
        ("+1 555", "US", ("", "", 'phone "+1 555" is an impossible number')),
        ("555", "GB", ("", "", 'phone "555" is an impossible number for GB')),
        (
            "07700 900123",
            "XX",
            ("", "", 'phone "••••• ••0123" has no country code, and XX is no country'),
        ),
    ],
)
def test_it_normalizes_phones_as_written(raw, country, expected):
    assert phone_normalized(raw, country) == expected


def _full_parse(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_its_fast_path_for_e164_agrees_with_a_full_parse():
    """The shortcut for numbers already in E.164 must give what phonenumbers.parse
    gives, in every region: checked on each region's example numbers and variants."""
    rng = random.Random(7)
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        code = phonenumbers.country_code_for_region(region)
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            cases.append(f"+{code}{national}")
            for _ in range(15):
                digits = list(national + "5" * rng.choice([0, 0, 1, 2]))
                digits[rng.randrange(len(digits))] = str(rng.randrange(10))
                cases.append(f"+{code}{''.join(digits)}")
    fast = 0
    for raw in cases:
        number = phones._e164_fast(raw)
        if number is None or not phonenumbers.is_possible_number(number):
            continue
        fast += 1
        assert raw == _full_parse(raw), raw
    assert fast > len(cases) // 2  # the shortcut is taken for most
