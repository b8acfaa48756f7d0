from django import template

from portal.audit import display

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return display.action_label(action)


@register.filter
def audit_details(details) -> list[tuple[str, str]]:
    """(key, value) pairs of an event's details, secrets hidden and phones cut short."""
    return display.details_pairs(details)


@register.filter
def target_kind(target_type: str) -> str:
    return display.target_kind(target_type)
