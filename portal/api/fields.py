"""Days and times the API reads as text in ISO 8601 / RFC 3339 form, and nothing else.

Pydantic reads a number, or text made of digits, as a Unix timestamp: `?date_to=0`
was the 1st of January 1970 and answered an empty page, where the caller had made a
mistake that deserved a 422 saying so (found by schemathesis). These types keep the
schema's `format: date` / `format: date-time` and refuse anything else by name.
"""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _day_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("give a day as YYYY-MM-DD, e.g. 2024-03-10")
    return value


def _moment_text(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _MOMENT.match(value):
        raise ValueError(
            "give a time as RFC 3339 text with its offset, e.g. 2024-03-10T09:00:00+01:00"
        )
    return value


IsoDay = Annotated[date, BeforeValidator(_day_text)]
IsoMoment = Annotated[AwareDatetime, BeforeValidator(_moment_text)]
