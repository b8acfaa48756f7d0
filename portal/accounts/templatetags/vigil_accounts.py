"""The account switcher in the navbar (one query per page, whatever the accounts; none
on an account page, where the gate loaded them), and a person's own failed second-factor
attempts on their two-factor page."""

from django import template

from portal.accounts.gate import CURRENT_ACCOUNT_SESSION_KEY, memberships_of
from portal.accounts.selectors import SECOND_FACTOR_FAILURES_DAYS, second_factor_failures

register = template.Library()


@register.inclusion_tag("accounts/_account_switcher.html", takes_context=True)
def account_switcher(context):
    request = context.get("request")
    user = context.get("user")
    if request is None or user is None or not user.is_authenticated:
        return {"current": None, "others": []}
    memberships = getattr(request, "memberships", None)  # the gate's, on account pages
    if memberships is None:
        memberships = memberships_of(user)
    # The account of this page if it is an account page (the gate sets request.member),
    # else the last one used in this session.
    member = getattr(request, "member", None)
    if member is not None:
        current_id = str(member.organization.public_id)
    else:
        current_id = request.session.get(CURRENT_ACCOUNT_SESSION_KEY)
    current = next((m for m in memberships if str(m.organization.public_id) == current_id), None)
    return {
        "current": current,
        "others": [m for m in memberships if m is not current],
        "on_account_page": member is not None,
    }


@register.inclusion_tag("accounts/_second_factor_failures.html", takes_context=True)
def second_factor_failures_panel(context):
    """The signed-in person's own wrong second-factor codes of the last month, on their
    two-factor page: when, and from which address."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"failures": [], "days": SECOND_FACTOR_FAILURES_DAYS}
    return {"failures": second_factor_failures(user), "days": SECOND_FACTOR_FAILURES_DAYS}
