"""The phone rule (portal/incidents/imports/phones.py), checked on numbers generated from
phonenumbers' own metadata rather than numbers we picked: every region's example
numbers, written every way a provider writes them, and random digit strings."""

import random
import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult

from portal.incidents.imports import phones
from portal.incidents.imports.phones import PhoneReading, phone_normalized

GB_UNASSIGNED = (
    "possible but not valid: the number is the right length for GB but in no range assigned there"
)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (212) 555-0143", "US", ("+12125550143", "US", "")),
        ("+12125550143", "US", ("+12125550143", "US", "")),
        ("(415) 555-0199", "US", ("+14155550199", "US", "")),
        # Possible but not valid, in the hint's country: kept, and the row says why.
        ("07700 900123", "GB", ("+447700900123", "GB", "", GB_UNASSIGNED)),
        # No country given (Duo): the number's own.
        ("+447700900123", "", ("+447700900123", "GB", "", GB_UNASSIGNED)),
        ("+4915123456789", "", ("+4915123456789", "DE", "")),
        ("+80012345678", "", ("+80012345678", "", "")),
        ("not-a-number", "US", ("", "", 'phone "not-a-number" is not a phone number')),
        ("+1 555", "US", ("", "", 'phone "+1 555" is too short')),
        ("555", "GB", ("", "", 'phone "555" is too short for GB')),
        (
            "07700 900123",
            "XX",
            ("", "", 'phone "••••• ••0123" has no country code, and XX is no country'),
        ),
        # What an outside dump held, and how it was mis-read before the rule.
        ("0012015183375", "US", ("+12015183375", "US", "")),
        ("00821020001524", "KR", ("+821020001524", "KR", "")),
        ("005511961034260", "BR", ("+5511961034260", "BR", "")),
        ("00819012677655", "JP", ("+819012677655", "JP", "")),
        ("0061412892079", "AU", ("+61412892079", "AU", "")),
        ("006581086418", "SG", ("+6581086418", "SG", "")),
        ("002348021896740", "NG", ("+2348021896740", "NG", "")),
        ("4915123495004", "DE", ("+4915123495004", "DE", "")),
        ("12", "DE", ("", "", 'phone "12" is too short for DE')),
        # The hint's own international prefix.
        ("011 1 201 518 3375", "US", ("+12015183375", "US", "")),
        ("010 81 90 1267 7655", "JP", ("+819012677655", "JP", "")),
        ("0011 61 412 892 079", "AU", ("+61412892079", "AU", "")),
        # Two valid readings: the one in the hint's country wins, never +20 (Egypt).
        ("2015550123", "US", ("+12015550123", "US", "")),
        # A Canadian number in a row that says US: the hint's calling code wins.
        ("4165550123", "US", ("+14165550123", "CA", "")),
        # Only possible as an international number, and not in the hint's country.
        (
            "447700900123",
            "US",
            (
                "",
                "",
                'phone "••••••••0123" is not a valid number for US, and as an international '
                "number it is only possible, not valid: too uncertain to keep",
            ),
        ),
        # A roaming row: 00 is international everywhere, even where the hint's own
        # prefix also starts with 00 (SG: 000-039; KR: 001-008...).
        ("0049 1512 3000371", "SG", ("+4915123000371", "DE", "")),
        ("001 646 207 8957", "KR", ("+16462078957", "US", "")),
        ("0081 90 1200 3513", "ID", ("+819012003513", "JP", "")),
        (
            "+1 212 555 0143 0143 0143 0143 01",
            "US",
            ("", "", 'phone "+• ••• ••• •••• •••• •••• ••43 01" is too long'),
        ),
        # What spreadsheets and exports do to a number.
        ("'+12015183375", "US", ("+12015183375", "US", "")),
        ("12015183375.0", "US", ("+12015183375", "US", "")),
        ("tel:+12015183375", "US", ("+12015183375", "US", "")),
        ("+1\u00a0201\u2011518\u20113375", "US", ("+12015183375", "US", "")),
        ("+44 (0)20 7946 0958", "GB", ("+442079460958", "GB", "")),
        ("1-800-FLOWERS", "US", ("", "", 'phone "1-800-FLOWERS" is not a phone number')),
        ("", "US", ("", "", 'phone "" is not a phone number')),
    ],
)
def test_it_normalizes_phones_as_written(raw, country, expected):
    assert phone_normalized(raw, country) == PhoneReading(*expected)


# --- Every region's example numbers, every way written ------------------------------


def _own_international_prefix(region: str) -> str | None:
    """The region's international prefix as a dialler would write it: the preferred one
    ("0011" in AU, "8~10" written "810" in RU), else the pattern when it is one literal
    string of digits ("011" in the US, "00" in most of the world)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    preferred = (metadata.preferred_international_prefix or "").replace("~", "")
    if preferred.isdigit():
        return preferred
    if metadata.international_prefix and metadata.international_prefix.isdigit():
        return metadata.international_prefix
    return None


def _written_forms(region: str, number) -> dict[str, str]:
    """One number in the six ways the issue names (and a seventh where the region has
    an international prefix other than 00)."""
    code = str(number.country_code)
    national = phonenumbers.national_significant_number(number)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    forms = {
        "e164": phonenumbers.format_number(number, PhoneNumberFormat.E164),
        "plus with spaces": international,
        "plus with dashes": international.replace(" ", "-").replace("-", " ", 1),
        "00": f"00{code}{national}",
        "code without plus": f"{code}{national}",
        "national": phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
    }
    own = _own_international_prefix(region)
    if own and own != "00":
        forms["own international prefix"] = f"{own} {code} {national}"
    return forms


def _examples() -> list[tuple[str, str, object]]:
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                examples.append((region, kind, number))
    return examples


EXAMPLES = _examples()


def test_it_has_examples_for_nearly_every_region():
    regions = {region for region, _, _ in EXAMPLES}
    assert len(regions) >= 0.95 * len(phonenumbers.SUPPORTED_REGIONS)
    assert len(EXAMPLES) > 400


def test_it_reads_every_regions_examples_written_every_way_under_the_regions_hint():
    wrong = []
    for region, _kind, number in EXAMPLES:
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        for form, written in _written_forms(region, number).items():
            got = phone_normalized(written, region)
            if got.e164 != e164 or got.problem:
                wrong.append((region, form, written, e164, got))
    assert wrong == []


def test_it_reads_every_regions_examples_written_internationally_without_a_hint():
    wrong = []
    for region, _kind, number in EXAMPLES:
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        forms = _written_forms(region, number)
        for form in ("e164", "plus with spaces", "plus with dashes", "00", "code without plus"):
            got = phone_normalized(forms[form], "")
            if got.e164 != e164 or got.problem:
                wrong.append((region, form, forms[form], e164, got))
            elif got.country != (phonenumbers.region_code_for_number(number) or ""):
                wrong.append((region, form, forms[form], "country", got))
    assert wrong == []


def test_it_refuses_a_national_number_without_a_hint():
    number = phonenumbers.example_number_for_type("DE", PhoneNumberType.MOBILE)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    assert phone_normalized(national, "").problem.endswith(
        "has no country code, and the row names no country"
    )


# --- Random digit strings -----------------------------------------------------------

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _stored_number_is_sound(raw: str, hint: str) -> None:
    reading = phone_normalized(raw, hint)
    assert isinstance(reading, PhoneReading)
    if not reading.e164:
        assert reading.problem.startswith("phone ")
        return
    assert not reading.problem
    assert re.fullmatch(r"\+[1-9][0-9]{3,17}", reading.e164)
    number = phonenumbers.parse(reading.e164, None)
    assert phonenumbers.format_number(number, PhoneNumberFormat.E164) == reading.e164
    if phonenumbers.is_valid_number(number):
        assert not reading.note
    else:
        # Kept although only possible: possible in full (not "local only"), and said.
        assert phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
        assert reading.note.startswith("possible but not valid")


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(["", "", "+", "00", "0", "011", "010", "0011", "'", " "]),
    digits=st.text(alphabet="0123456789", min_size=0, max_size=20),
    separator=st.sampled_from(["", " ", "-", ".", "(", ")"]),
    hint=st.sampled_from(["", "XX", *REGIONS]),
)
@example(prefix="", digits="12", separator="", hint="DE")
@example(prefix="00", digits="", separator="", hint="US")
def test_it_never_fails_and_never_keeps_an_impossible_number(prefix, digits, separator, hint):
    spaced = separator.join([digits[:3], digits[3:6], digits[6:]]) if separator else digits
    _stored_number_is_sound(prefix + spaced, hint)


@settings(max_examples=1000, deadline=None)
@given(raw=st.text(max_size=30), hint=st.sampled_from(["", "US", "DE", "JP", "AU", "BR", "GB"]))
def test_it_never_fails_on_any_text(raw, hint):
    _stored_number_is_sound(raw, hint)


def test_its_fast_path_for_e164_agrees_with_the_full_rule():
    """The shortcut for numbers already in E.164 must give what the full rule gives, in
    every region: checked on each region's example numbers and variants of them."""
    rng = random.Random(7)
    cases = []
    for region in REGIONS:
        code = phonenumbers.country_code_for_region(region)
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            example_number = phonenumbers.example_number_for_type(region, kind)
            if example_number is None:
                continue
            national = phonenumbers.national_significant_number(example_number)
            cases.append(f"+{code}{national}")
            for _ in range(15):
                digits = list(national + "5" * rng.choice([0, 0, 1, 2]))
                digits[rng.randrange(len(digits))] = str(rng.randrange(10))
                cases.append(f"+{code}{''.join(digits)}")
    fast = 0
    for raw in cases:
        number = phones._e164_fast(raw)
        if number is None or not phonenumbers.is_valid_number(number):
            continue
        fast += 1
        assert phone_normalized(raw, "") == phones._normalized(raw, ""), raw
    assert fast > len(cases) // 4  # the shortcut is taken for many


def test_it_never_stores_more_digits_than_e164_allows():
    # JP's metadata allows 17-digit special numbers; E.164 stops at 15, calling code in.
    assert phone_normalized("10000000000000000", "JP").e164 == ""
    assert phone_normalized("+81 10000000000000000", "").problem.endswith("is too long")
