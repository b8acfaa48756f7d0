"""The rows of an audit log, written in Python (as portal/incidents/exposures/presenters.py does
for the exposed users): the template engine spent some 60 ms on a page of 50 events,
most of the page's time. Every value from the database goes through `escape`; the markup
around them is ours. The table's frame stays in templates/audit/_events.html."""

from datetime import tzinfo
from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from portal.audit import display


def audit_rows_html(events, *, zone: tzinfo, show_account: bool) -> SafeString:
    # The words once per table, in the page's language.
    no_account = (
        '<span class="text-body-secondary" title="'
        + escape(_("Not tied to an account: a sign-in or an operator action"))
        + '">—</span>'
    )
    system = (
        '<span class="text-body-secondary"><i class="bi bi-gear me-1" aria-hidden="true"></i>'
        + escape(_("System"))
        + "</span>"
    )
    html = []
    for event in events:
        local = event.created_at.astimezone(zone)
        cells = [
            '<td class="text-nowrap">'
            f'<time datetime="{escape(local.isoformat())}">{local:%Y-%m-%d %H:%M:%S}</time>'
            f' <span class="small text-body-secondary">{escape(local.tzname() or "")}</span></td>'
        ]
        if show_account:
            organization = event.organization
            if organization is not None:
                url = reverse("operator:account", kwargs={"org": organization.public_id})
                cells.append(
                    f'<td><a href="{escape(url)}">{escape(organization.name)}</a>'
                    '<div class="small text-body-secondary font-monospace text-nowrap">'
                    f"{escape(organization.account_id)}</div></td>"
                )
            else:
                cells.append(f"<td>{no_account}</td>")
        actor = event.actor
        if actor is not None and actor.name:
            who = (
                f'{escape(actor.name)}<div class="small text-body-secondary">'
                f"{escape(event.actor_label)}</div>"
            )
        elif event.actor_label == "system":
            who = system
        else:
            who = escape(event.actor_label)
        cells.append(f'<td class="vigil-audit-who">{who}</td>')
        label = display.action_label(event.action)
        action = escape(label)
        if label != event.action:
            action += (
                '<div class="small text-body-secondary font-monospace">'
                f"{escape(event.action)}</div>"
            )
        cells.append(f"<td>{action}</td>")
        target = escape(event.target_label)
        if event.target_type:
            target += (
                '<div class="small text-body-secondary">'
                f"{escape(display.target_kind(event.target_type))}</div>"
            )
        cells.append(f'<td class="vigil-audit-target">{target}</td>')
        cells.append(f'<td class="font-monospace small text-nowrap">{escape(event.ip or "")}</td>')
        details = "".join(
            '<span class="vigil-audit-detail"><span class="text-body-secondary">'
            f"{escape(str(key))}:</span> {escape(str(value))}</span>"
            for key, value in display.details_pairs(event.details)
        )
        cells.append(f'<td class="small vigil-audit-details">{details}</td>')
        html.append(f"<tr>{''.join(cells)}</tr>")
    return mark_safe("".join(html))  # noqa: S308 (every value escaped above)
