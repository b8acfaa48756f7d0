"""The operator console's account pages: staff only (`staff_view`), 404 for anyone else."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from portal.accounts.gate import staff_view
from portal.accounts.models import Organization
from portal.accounts.selectors import account_invitations_pending, account_members
from portal.incidents.operator.selectors import account_incidents, operator_accounts

PAGE_SIZE = 50


@staff_view
@require_safe
def operator_accounts_list(request):
    search = request.GET.get("q", "")[:200]
    accounts = operator_accounts(search)
    return render(
        request,
        "operator/accounts.html",
        {
            "search": search,
            "page": Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page")),
        },
    )


@staff_view
@require_safe
def operator_account(request, org):
    organization = get_object_or_404(Organization, public_id=org)
    return render(
        request,
        "operator/account.html",
        {
            "organization": organization,
            "members": account_members(organization),
            "invitations": account_invitations_pending(organization),
            "incidents": account_incidents(organization),
        },
    )
