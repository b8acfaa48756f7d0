"""Phone numbers as the dump writes them, normalized to E.164: the one phone rule.

A provider writes the same number many ways: `+12015183375`, `+1 (201) 518-3375`,
`0012015183375`, `01112015183375` (the US's own international prefix),
`12015183375`, `(201) 518-3375`. The row's country column is a hint, not a truth.
Each way written gives one or more *readings*, and one reading is kept:

- Written with `+` (or `tel:+`), with `00`, or with the hint country's own
  international prefix (from phonenumbers' metadata: `011` US and CA, `010` JP,
  `0011` AU, `00` most of the world): the number is international, read after the
  prefix. One reading (two when `00` and the hint's own prefix both match).
- Digits with no prefix: read both ways, as a full international number
  (`4915123495004` → +49 1512 3495004) and as a national number under the hint,
  trunk prefix and all (`2015550123` under US → +1 201 555 0123).
- A reading that is valid (in an assigned range, `is_valid_number`) beats one that is
  only possible (the right length). Between two valid readings, the one in the hint's
  country wins (so `2015550123` under US never becomes an Egyptian +20 number), then
  the one with the hint's calling code (a Canadian number in a row that says US), then
  the international one.
- A reading that is only possible is kept only when no reading is valid, and only when
  the writer said its country: written international, or a reading in the hint's
  country; the row keeps why (`PhoneReading.note`, stored in its `extra`). Anything
  else, too short or too long for every reading, is rejected with the reason.

Parsing costs some 30 µs a number, and a month of logs sends each phone ten messages
or more, so results are cached by (number as written, country hint). The cache is
bounded, so memory stays flat however long the dump is; a phone evicted and met again
is normalized again, which for a number already written in E.164 (what providers log,
mostly) takes the fast path below, a few times cheaper.
"""

import re
from functools import cache, lru_cache
from typing import NamedTuple

import phonenumbers
from django.utils.translation import gettext_noop
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import ValidationResult as Possible

from portal.incidents.imports.errors import phone_masked
from portal.incidents.reasons import Reason

CACHE_SIZE = 100_000  # about 50 MB when full
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# What may surround the digits: spaces (any), dashes (any), dots, slashes, brackets.
_PUNCTUATION = re.compile(r"[\s\-\u2010-\u2015\u2212.\u00b7/()\[\]]+")
_PLUS = ("+", "\uff0b")  # and the full-width plus of East Asian keyboards
_LETTER = re.compile(r"[^\W\d_]")
_FLOAT_TAIL = re.compile(r"(\d)\.0+$")  # 12015550123.0: a spreadsheet's number
_TOO_SHORT = (Possible.TOO_SHORT, Possible.IS_POSSIBLE_LOCAL_ONLY, Possible.INVALID_LENGTH)
# ITU-T E.164: at most 15 digits, calling code included. phonenumbers' metadata allows
# some regions' special numbers longer than that; no SMS reaches them.
E164_MAX_DIGITS = 15


class PhoneReading(NamedTuple):
    """What became of a phone as written.

    `e164` is empty when the number is rejected, and `problem` says why. `country` is
    the number's own country (for a number only possible, its calling code's main
    country; none for non-geographic numbers such as +800).
    `note` is set when the number is kept although it is only possible, not valid.
    """

    e164: str
    country: str
    problem: str
    note: str = ""


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


@cache
def _international_prefix(region: str) -> re.Pattern | None:
    """The region's own international (IDD) prefix as a pattern anchored at the start
    of the digits: `011` for US, `010` for JP, `001[14-689]|...0011` for AU."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.international_prefix:
        return None
    return re.compile(f"(?:{metadata.international_prefix})")


class _Reading(NamedTuple):
    number: PhoneNumber
    international: bool  # written (or read) as a full international number


def _digits_only(text: str) -> str | None:
    """The digits of a number written without `+`, or None when anything but digits
    and punctuation is in it (letters: not a phone, nor a vanity number in a log)."""
    text = _FLOAT_TAIL.sub(r"\1", text)
    rest = _PUNCTUATION.sub("", text)
    if not rest or not rest.isdigit():
        return None
    # Any script's digits (full-width ones included) as ASCII.
    return phonenumbers.normalize_digits_only(rest)


_NOT_A_PHONE = Reason(gettext_noop("is not a phone number"))


def _readings(text: str, hint: str) -> tuple[list[_Reading], bool] | str:
    """The ways `text` can be read, and whether the writer said it is international;
    or why it is no phone number at all."""
    if text.startswith(_PLUS):
        if _LETTER.search(text) or not phonenumbers.normalize_digits_only(text):
            return _NOT_A_PHONE
        digits = _digits_only(text[1:])
        # "+1 (212) 555-0143" is "+12125550143": the fast path, no parse. A "(0)"
        # after the code, or anything else unusual, goes to phonenumbers.
        number = _international(digits) if digits and "(0)" not in text else _parsed(text)
        return ([_Reading(number, True)] if number is not None else []), True
    digits = _digits_only(text)
    if not digits:
        return _NOT_A_PHONE
    international: list[str] = []
    if digits.startswith("00"):
        international.append(digits[2:])
    own = _international_prefix(hint) if hint else None
    if own is not None and (match := own.match(digits)) and match.end():
        rest = digits[match.end() :]
        if rest not in international:
            # After 00, on a tie: "0049 1512 ..." in a row that says SG (whose own
            # prefixes are 000 to 039) is German, not "+91 5123..." in India.
            international.append(rest)
    readings: list[_Reading] = []
    if international:
        for rest in international:
            number = _international(rest)
            if number is not None:
                readings.append(_Reading(number, True))
        return readings, True
    national = _parsed(digits, hint) if hint else None
    # The international reading can only win if the digits start with a calling code
    # whose number is valid where the national one is not, or is in the hint's
    # country too: when the national reading is valid in the hint's country and the
    # digits do not start with the hint's calling code, it cannot, and is not parsed.
    if not (
        national is not None
        and not digits.startswith(str(national.country_code))
        and _valid_region(national, hint) == hint
    ):
        number = _international(digits)
        if number is not None:
            readings.append(_Reading(number, True))
    if national is not None:
        readings.append(_Reading(national, False))
    return readings, False


def _international(digits: str) -> PhoneNumber | None:
    """`digits` read as a full international number (calling code first)."""
    return _e164_fast("+" + digits) or _parsed("+" + digits)


def _valid_region(number: PhoneNumber, hint: str) -> str | None:
    """The region in which `number` is valid (the hint's first: one check instead of a
    search through every region of a shared calling code), or None."""
    if not _fits(number):
        return None
    if hint and phonenumbers.is_valid_number_for_region(number, hint):
        return hint
    region = phonenumbers.region_code_for_number(number)
    if region and phonenumbers.is_valid_number_for_region(number, region):
        return region
    return None


def _parsed(text: str, region: str | None = None) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
        # The number its E.164 form reads back as: a national reading can keep a
        # leading zero ("011000" in CC) that E.164 then loses, so that what is stored
        # would read as another number. Judged as it reads back, it cannot. (The fast
        # path tells, for most numbers, that it reads back as it is, without a parse.)
        e164 = _e164(number)
        if e164 == text:
            return number  # E.164 in, the same E.164 out: it reads back as itself
        same = _e164_fast(e164)
        if same is not None and not number.italian_leading_zero:
            return same
        return phonenumbers.parse(e164, None)
    except NumberParseException:
        return None


@lru_cache(maxsize=CACHE_SIZE)
def phone_normalized(raw: str, country: str) -> PhoneReading:
    """The phone as written and the row's country (ISO 3166-1 alpha-2, may be empty)
    as the hint, read by the rule in this module's docstring."""
    number = _e164_fast(raw)
    if number is not None:
        region = _valid_region(number, country)
        if region is not None:
            return PhoneReading(raw, _country_of(region), "")
    return _normalized(raw, country)


def _normalized(raw: str, country: str) -> PhoneReading:
    text = raw.strip().removeprefix("'").strip()
    if text[:4].casefold() == "tel:":
        text = text[4:].strip()
    hint = country if country and phonenumbers.country_code_for_region(country) else ""
    if country and not hint and not text.startswith((*_PLUS, "00")):
        return _rejected(
            raw,
            Reason(
                gettext_noop("has no country code, and %(country)s is no country"),
                country=country,
            ),
        )
    found = _readings(text, hint)
    if isinstance(found, str):
        return _rejected(raw, found)
    readings, written_international = found
    hint_code = phonenumbers.country_code_for_region(hint) if hint else 0

    def affinity(number: PhoneNumber, region: str | None) -> int:
        if hint and region == hint:
            return 2
        return 1 if number.country_code == hint_code else 0

    valid = [
        (affinity(reading.number, region), reading.number, region)
        for reading in readings
        if (region := _valid_region(reading.number, hint)) is not None
    ]
    if valid:
        # max() keeps the first of equals: the international reading, as listed.
        _, best, region = max(valid, key=lambda candidate: candidate[0])
        return PhoneReading(_e164(best), _country_of(region), "")
    possible = [
        reading.number
        for reading in readings
        if _possible(reading.number) == Possible.IS_POSSIBLE
        and (written_international or reading.number.country_code == hint_code)
    ]
    if possible:
        # The hint's calling code first; else the first listed (max keeps it).
        best = max(possible, key=lambda number: number.country_code == hint_code)
        region = _own_country(best)
        return PhoneReading(
            _e164(best),
            region,
            "",
            f"possible but not valid: the number is the right length for "
            f"{region or '+' + str(best.country_code)} but in no range assigned there",
        )
    digit_count = len(phonenumbers.normalize_digits_only(text))
    return _rejected(raw, _why_not(readings, hint, written_international, digit_count))


def _fits(number: PhoneNumber) -> bool:
    digits = len(str(number.country_code)) + len(phonenumbers.national_significant_number(number))
    return digits <= E164_MAX_DIGITS


def _possible(number: PhoneNumber) -> Possible:
    if not _fits(number):
        return Possible.TOO_LONG
    return phonenumbers.is_possible_number_with_reason(number)


def _why_not(
    readings: list[_Reading], hint: str, written_international: bool, digit_count: int
) -> Reason:
    if not written_international and not hint:
        return Reason(gettext_noop("has no country code, and the row names no country"))
    if not readings:
        if digit_count > E164_MAX_DIGITS + 4:  # longer than E.164 after any prefix
            return Reason(gettext_noop("is too long"))
        if written_international:
            return Reason(gettext_noop("has no valid country code"))
        return _NOT_A_PHONE
    results = [_possible(reading.number) for reading in readings]
    # The hint's country is named when the number was read as one of its own.
    where = hint if hint and not written_international else ""
    if all(result in _TOO_SHORT for result in results):
        if where:
            return Reason(gettext_noop("is too short for %(country)s"), country=where)
        return Reason(gettext_noop("is too short"))
    if all(result == Possible.TOO_LONG for result in results):
        if where:
            return Reason(gettext_noop("is too long for %(country)s"), country=where)
        return Reason(gettext_noop("is too long"))
    if all(result == Possible.INVALID_COUNTRY_CODE for result in results):
        return Reason(gettext_noop("has no valid country code"))
    if not written_international and any(result == Possible.IS_POSSIBLE for result in results):
        if where:
            return Reason(
                gettext_noop(
                    "is not a valid number for %(country)s, and as an international number "
                    "it is only possible, not valid: too uncertain to keep"
                ),
                country=where,
            )
        return Reason(
            gettext_noop(
                "is not a valid number, and as an international number it is only "
                "possible, not valid: too uncertain to keep"
            )
        )
    if where:
        return Reason(gettext_noop("is an impossible number for %(country)s"), country=where)
    return Reason(gettext_noop("is an impossible number"))


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _rejected(raw: str, why: Reason) -> PhoneReading:
    return PhoneReading(
        "",
        "",
        Reason(gettext_noop('phone "%(phone)s" %(problem)s'), phone=phone_masked(raw), problem=why),
    )


def _country_of(region: str) -> str:
    # "001" for the non-geographic (+800, +882...): no country.
    return region if len(region) == 2 and region.isalpha() and region != "ZZ" else ""


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
