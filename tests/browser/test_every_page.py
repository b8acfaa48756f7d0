"""Every page each role can reach, at a phone's width (390 px) and a laptop's (1280 px):
no critical or serious axe-core violation (WCAG 2.2 A and AA, with axe's best practices),
landmarks and a skip link everywhere, no sideways scroll, and a screenshot of each under
var/screenshots/<role>/ for a person to look at.

Each role starts from its home page and follows the links it is shown, visiting one page
per view (the first link to an exposure, not all of them), so a new page is covered as
soon as a link leads to it. Pages no link leads to (the public report form, the error
pages) are added by hand. The demo breach, seeded small, gives the pages real data; the
records a flow would leave behind (a log copy, campaigns, a report, an import) are added
to it.

`transaction=True`: the live server's thread has its own database connection.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import Resolver404, resolve
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.accounts.api_keys import api_key_create, api_key_revoke
from portal.accounts.models import ApiKey, Organization, User
from portal.accounts.roles import Capability, Role
from portal.incidents.demo import demo_breach_seed
from portal.incidents.demo.people import DEMO_ACCOUNTS, OPERATOR_EMAIL
from portal.incidents.models import DirectoryImport, Exposure, ImportBatch, Incident
from portal.logcopies.models import ExposureExport, LogCopyRequest
from portal.logcopies.services import logcopy_generate
from portal.webhooks.models import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tests import factories
from tests.browser.axe import axe_run
from tests.browser.conftest import expect_http_error
from tests.browser.test_logcopies import signed_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
WIDTHS = (390, 1280)
HEIGHT = {390: 844, 1280: 800}

# Links followed by no one: files (CSV exports, log-copy downloads, the public key that
# signs copies), the frames of a notice preview (checked with the page that holds them),
# Django's admin, signing out, and the API (JSON for machines; its docs are Swagger
# UI's own page).
NOT_PAGES = re.compile(
    r"(\.csv$|\.pem$|\.py$|/download/|/frame/|preview\.html$|^/admin/|^/accounts/logout/|^/static/"
    r"|^/api/)"
)

# The part of the page wider than the window: the elements whose right edge passes it,
# innermost first, so a failure names the table or the word that does not fit.
WIDER_THAN_THE_WINDOW = """
() => {
  const width = document.documentElement.clientWidth;
  // Inside a box that scrolls or clips, an element pushes that box's content, not the page.
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.right > width + 1 && box.width > 0 && getComputedStyle(el).position !== "fixed"
      && !clipped(el);
  });
  const innermost = wide.filter((el) => !wide.some((other) => other !== el && el.contains(other)));
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim()
       ? "." + el.className.trim().split(/\\s+/).join(".") : "")
    + " (" + Math.round(el.getBoundingClientRect().right) + " px)";
  return {
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: width,
    wide: innermost.slice(0, 4).map(name),
  };
}
"""


# Chart labels as drawn on the screen: an SVG's font size times its scale. Under 10 px
# they are not legible on a phone.
SMALLEST_CHART_TEXT = """
() => {
  const sizes = [...document.querySelectorAll("svg text")]
    .filter((text) => text.getBoundingClientRect().width > 0)
    .map((text) => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a);
  return sizes.length ? Math.min(...sizes) : null;
}
"""
LEGIBLE_PX = 10


@dataclass
class Crawl:
    role: str
    folder: Path
    visited: dict[str, str] = field(default_factory=dict)  # view name -> path
    seen: set[str] = field(default_factory=set)  # view names the crawl has asked for
    problems: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)


def axe_check(page, crawl: Crawl, label: str) -> None:
    failing, others = axe_run(page)
    crawl.problems.extend(f"{label}: {line}" for line in failing)
    crawl.minor.extend(f"{label}: {line}" for line in others)


def visit(page, crawl: Crawl, url: str, name: str, *, status: int = 200) -> None:
    """One page at both widths: axe, the scroll check and a screenshot at each."""
    page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT[WIDTHS[-1]]})
    response = page.goto(url)
    label = f"{crawl.role} {urlsplit(url).path}"
    if response is None or response.status != status:
        got = response.status if response else "no response"
        crawl.problems.append(f"{label}: HTTP {got}, expected {status}")
        return
    if status == 200:
        # A redirect (to sign in, to set up a second factor) lands on a page of its own.
        name = view_name_of(urlsplit(page.url).path) or name
        if name in crawl.visited:
            return
    check(page, crawl, name)


def check(page, crawl: Crawl, name: str) -> None:
    """The page the browser shows, at both widths: axe, the scroll check and a
    screenshot at each."""
    label = f"{crawl.role} {urlsplit(page.url).path}"
    crawl.visited[name] = urlsplit(page.url).path
    number = len(crawl.visited) - 1
    for width in reversed(WIDTHS):
        page.set_viewport_size({"width": width, "height": HEIGHT[width]})
        # Let a resize settle (the navbar collapses, tables reflow) before measuring.
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        at = f"{label} at {width} px"
        axe_check(page, crawl, at)
        sizes = page.evaluate(WIDER_THAN_THE_WINDOW)
        if sizes["scrollWidth"] > sizes["clientWidth"]:
            crawl.problems.append(
                f"{at}: scrolls sideways ({sizes['scrollWidth']} px in {sizes['clientWidth']}): "
                + ", ".join(sizes["wide"])
            )
        smallest = page.evaluate(SMALLEST_CHART_TEXT)
        if smallest is not None and smallest < LEGIBLE_PX:
            crawl.problems.append(f"{at}: chart labels of {smallest:.1f} px, under {LEGIBLE_PX}")
        page.screenshot(
            path=crawl.folder / f"{width}" / f"{number:02d}-{name.replace(':', '-')}.png",
            full_page=True,
        )


def view_name_of(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def crawl_from(page, crawl: Crawl, base: str, starts: list[str]) -> None:
    queue = [base + start for start in starts]
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path
        name = view_name_of(path)
        if name is None or name in crawl.seen:
            continue
        crawl.seen.add(name)
        visit(page, crawl, url, name)
        for href in page.eval_on_selector_all("a[href]", "links => links.map((a) => a.href)"):
            parts = urlsplit(href)
            if href.startswith(base) and not NOT_PAGES.search(parts.path):
                queue.append(base + parts.path + (f"?{parts.query}" if parts.query else ""))


def report(crawl: Crawl) -> None:
    summary = {
        "role": crawl.role,
        "widths": list(WIDTHS),
        "pages": crawl.visited,
        "failing": crawl.problems,
        "not_failing": crawl.minor,
    }
    (crawl.folder / "summary.json").write_text(json.dumps(summary, indent=2))
    assert not crawl.problems, (
        f"{len(crawl.problems)} problems on the {crawl.role}'s {len(crawl.visited)} pages:\n  "
        + "\n  ".join(crawl.problems)
    )


# The demo breach, small, with what the flows leave behind -----------------------------


@dataclass
class Portal:
    acme: Organization
    incident: Incident
    people: dict[str, User]
    report_token: str
    export_id: str


def demo_portal(media_root) -> Portal:
    demo_breach_seed(rows=400)
    account = DEMO_ACCOUNTS[0]
    acme = Organization.objects.get(account_id=account.account_id)
    incident = Incident.objects.get()
    people = {role: User.objects.get(email=account.member_email(role)) for role in Role.values}
    people["operator"] = User.objects.get(email=OPERATOR_EMAIL)
    now = timezone.now()

    LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        requested_by=people[Role.SECURITY],
        reason="Our SOC investigates case 4711",
    )
    # A ready copy, generated as a worker makes it: its page shows the zip's SHA-256
    # and the signed manifest's files (issue 16).
    logcopy_generate(
        copy=LogCopyRequest.objects.create(
            organization=acme,
            incident=incident,
            requested_by=people[Role.SECURITY],
            reason="Case 4712: the whole account",
            status=LogCopyRequest.Status.APPROVED,
            format=LogCopyRequest.Format.DUO,
            # Approved by the operator, as a ready copy always was: its page says so.
            decided_by=people["operator"],
            decided_at=timezone.now() - timedelta(minutes=5),
            decision_reason="Case 4712 confirmed with Acme",
        )
    )
    template = NoticeTemplate.objects.create(
        organization=acme,
        name="Acme vigilance notice",
        subject="{{ account_name }}: beware of anyone asking for your sign-in codes",
        body_text="Hello {{ recipient_name }},\n\nNever share a code. Tell {{ contact_name }}.",
    )
    NoticeTemplate.objects.create(
        organization=None,
        name="Default vigilance notice",
        subject="Your sign-in messages were exposed",
        body_text="Hello {{ recipient_name }},\n\nNever share a code.",
    )
    NoticeCampaign.objects.create(
        organization=acme,
        incident=incident,
        name="Second wave",
        template=template,
        created_by=people[Role.ADMIN],
    )
    sent = NoticeCampaign.objects.create(
        organization=acme,
        incident=incident,
        name="March notice",
        template=template,
        template_snapshot={
            "name": template.name,
            "language": "en",
            "subject": template.subject,
            "body_text": template.body_text,
            "body_html": "",
        },
        contact_snapshot={"name": account.contact_name, "email": account.contact_email},
        status=NoticeCampaign.Status.COMPLETED,
        recipients_total=1,
        sent_count=1,
        created_by=people[Role.ADMIN],
        launched_by=people[Role.ADMIN],
        launched_at=now - timedelta(days=1),
        completed_at=now - timedelta(days=1),
    )
    exposure = Exposure.objects.filter(
        organization=acme, directory_user__email__gt=""
    ).select_related("directory_user")[0]
    delivery = factories.sent_delivery(sent, exposure, sent_at=now - timedelta(days=1))
    SuspicionReport.objects.create(
        organization=acme,
        delivery=delivery,
        incident=incident,
        channel=SuspicionReport.Channel.CALL,
        occurred_at=now - timedelta(hours=3),
        asked_for="the code from a text message",
        contact_detail="+1 202 555 0147",
        description="A caller said he was from the help desk and asked for my code.",
    )
    ImportBatch.objects.create(
        incident=incident,
        upload=ContentFile(b"message_id,account_id\n", name="provider-dump.csv"),
        original_name="provider-dump.csv",
        sha256="0" * 64,
        format=ImportBatch.Format.CSV,
        status=ImportBatch.Status.COMPLETED,
        phase=ImportBatch.Phase.DONE,
        seen=400,
        imported=398,
        duplicate=2,
        created_by=people["operator"],
    )
    DirectoryImport.objects.create(
        organization=acme,
        upload=ContentFile(b"username,name,email,phones\n", name="directory.csv"),
        original_name="directory.csv",
        sha256="0" * 64,
        rows_total=3,
        rows_valid=2,
        rows_rejected=1,
        errors=[{"line": 3, "field": "phones", "reason": "+1 555 is not a phone number."}],
        created_by=people[Role.ADMIN],
    )
    export = ExposureExport.objects.create(
        organization=acme, incident=incident, requested_by=people[Role.OWNER]
    )
    # The API keys page with keys on it: one in use from a network, one revoked.
    siem, _ = api_key_create(
        organization=acme,
        name="SIEM sync",
        capabilities={Capability.VIEW_DASHBOARD, Capability.VIEW_AUDIT},
        networks=["203.0.113.0/24"],
        by=people[Role.OWNER],
    )
    ApiKey.objects.filter(pk=siem.pk).update(last_used_at=now, last_used_ip="203.0.113.7")
    old_key, _ = api_key_create(
        organization=acme,
        name="Old playbook",
        capabilities={Capability.VIEW_DASHBOARD},
        by=people[Role.OWNER],
    )
    api_key_revoke(key=old_key, by=people[Role.OWNER])
    _webhook_log(acme, now)
    return Portal(acme, incident, people, delivery.report_token, str(export.public_id))


def _webhook_log(acme, now) -> None:
    """A webhook endpoint whose delivery log holds one delivered event, one waiting for
    its next try after a 500 and one failed for good: every state the log shows."""
    endpoint = WebhookEndpoint.objects.create(
        organization=acme,
        url="https://siem.example.com/hooks/vigil-events-from-the-portal",
        description="SIEM",
        events=[EventType.LOG_COPY_READY, EventType.REPORT_FILED],
        secret="whsec_" + "QUJDREVGR0g=" * 4,
    )
    for n, (status, code) in enumerate(
        [("delivered", 200), ("pending", 500), ("failed", None)], start=1
    ):
        event = WebhookEvent.objects.create(
            organization=acme,
            message_id=f"msg_crawl{n}",
            type=EventType.REPORT_FILED,
            key=f"crawl-{n}",
            payload={"type": "report.filed", "timestamp": now.isoformat(), "data": {}},
        )
        delivery = WebhookDelivery.objects.create(
            organization=acme,
            event=event,
            endpoint=endpoint,
            status=status,
            attempts=1,
            last_status_code=code,
            next_attempt_at=now + timedelta(seconds=30) if status == "pending" else None,
        )
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=now,
            duration_ms=120,
            address="93.184.216.34",
            status_code=code,
            error="" if code else "Timed out after 10 s",
            response_excerpt="<html><title>Server error</title>" if code == 500 else "",
        )


# The tests: one per role ---------------------------------------------------------------


def new_crawl(role: str) -> Crawl:
    folder = SCREENSHOTS / role
    for width in WIDTHS:
        (folder / str(width)).mkdir(parents=True, exist_ok=True)
        for old in (folder / str(width)).glob("*.png"):
            old.unlink()
    return Crawl(role=role, folder=folder)


def visit_error(request, page, crawl: Crawl, url: str, name: str, status: int) -> None:
    expect_http_error(request, url)
    visit(page, crawl, url, name, status=status)


# Reachable by every signed-in person by address (allauth's pages for their own password,
# second factor and sessions), though no link of ours leads there yet: the owner's
# crawl covers them for all.
PERSONAL_PAGES = ["/accounts/2fa/", "/accounts/sessions/", "/accounts/password/change/"]


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.SECURITY, Role.VIEWER, "operator"])
def test_every_page_of_a_member_is_accessible_and_fits_a_phone(
    request, role, page, live_server, media_root
):
    portal = demo_portal(media_root)
    crawl = new_crawl(role)
    signed_in_browser(page, live_server, portal.people[role])
    account = f"/o/{portal.acme.public_id}"
    starts = ["/", "/operator/"] if role == "operator" else ["/", f"{account}/"]
    if role == Role.OWNER:
        draft = NoticeCampaign.objects.get(status=NoticeCampaign.Status.DRAFT)
        starts += [
            f"{account}/notices/{draft.public_id}/edit/",
            f"{account}/notices/{draft.public_id}/review/",
            f"{account}/log-copies/exports/{portal.export_id}/",
            *PERSONAL_PAGES,
        ]

    crawl_from(page, crawl, live_server.url, starts)

    visit_error(request, page, crawl, f"{live_server.url}{account}/no-such-page/", "404", 404)
    if role == Role.VIEWER:
        visit_error(request, page, crawl, f"{live_server.url}{account}/settings/", "403", 403)
    report(crawl)


def test_every_page_of_a_newcomer_without_a_second_factor_is_accessible(
    page, live_server, media_root
):
    portal = demo_portal(media_root)
    newcomer = User.objects.create_user(email="new@acme.example", password="long enough 42 x")
    portal.acme.memberships.create(user=newcomer, role=Role.VIEWER)
    crawl = new_crawl("newcomer")
    signed_in_browser(page, live_server, newcomer)

    # Sent to set up a second factor first, whatever the address.
    crawl_from(page, crawl, live_server.url, ["/", "/accounts/2fa/totp/activate/"])

    assert "mfa_activate_totp" in crawl.visited
    report(crawl)


@pytest.mark.urls("tests.core.error_urls")
def test_every_public_page_and_error_page_is_accessible_and_fits_a_phone(
    request, page, live_server, media_root
):
    portal = demo_portal(media_root)
    crawl = new_crawl("public")
    base = live_server.url

    crawl_from(
        page,
        crawl,
        base,
        ["/", "/accounts/login/", "/accounts/password/reset/", f"/report/{portal.report_token}/"],
    )
    # An invitation link that is wrong or used: its own page, as a 404.
    visit_error(request, page, crawl, f"{base}/invitations/no-such-link/", "invitation", 404)

    visit_error(request, page, crawl, f"{base}/test-errors/400/", "400", 400)
    visit_error(request, page, crawl, f"{base}/no-such-page/", "404", 404)
    visit_error(request, page, crawl, f"{base}/test-errors/429/", "429", 429)
    visit_error(request, page, crawl, f"{base}/test-errors/500/", "500", 500)
    # A form sent without its CSRF cookie (cookies blocked, or cleared meanwhile).
    page.goto(f"{base}/accounts/login/")
    page.context.clear_cookies()
    expect_http_error(request, f"{base}/accounts/login/")
    page.get_by_role("textbox", name="Email").fill("someone@acme.example")
    page.get_by_label("Password*", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")
    check(page, crawl, "403-form-expired")
    assert {"account_login", "account_reset_password", "report_form:form"} <= set(crawl.visited)
    report(crawl)
