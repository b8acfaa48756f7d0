from django import template

from portal.audit import display
from portal.audit.presenters import audit_rows_html

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


@register.simple_tag
def audit_rows(page, zone, show_account=False):
    """A page's <tr>s (portal/audit/presenters.py)."""
    return audit_rows_html(page, zone=zone, show_account=bool(show_account))
