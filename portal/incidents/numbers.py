"""Counts written the active language's way: "1,234,567", "1.234.567" or "1 234 567"."""

from django.utils import formats


def grouped(value: int, separator: str) -> str:
    """`value` with its thousands joined by `separator` (a table looks it up once)."""
    text = f"{value:,}"
    return text if separator == "," else text.replace(",", separator)


def number_text(value: int) -> str:
    """`value` grouped with the active language's thousands separator."""
    return grouped(value, str(formats.get_format("THOUSAND_SEPARATOR")))
