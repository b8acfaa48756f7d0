"""Three journeys with the keyboard alone (WCAG 2.1.1, 2.4.1, 2.4.7): signing in from the
home page, composing and launching a notice, and filing a report through a notice's
link. No click and no fill: Tab to reach a control, typing, Space and Enter. Every
control reached on the way shows a focus ring, inside the window.

`transaction=True`: the live server's thread has its own database connection.
"""

import pytest
from django.core import mail
from playwright.sync_api import expect

from notifications.models import NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.accounts.roles import Role
from tests import factories
from tests.browser.test_accounts import wait_for_a_fresh_window
from tests.browser.test_logcopies import signed_in_browser
from tests.signin import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element: whether it shows a ring (an outline, or a box-shadow where a
# widget draws its own), and whether it is inside the window (WCAG 2.4.11).
FOCUS = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
    || style.boxShadow !== "none";
  return {
    what: el.outerHTML.slice(0, 120),
    style: [style.outlineStyle, style.outlineWidth, style.boxShadow].join(" / "),
    ring,
    inView: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
      && box.top < window.innerHeight && box.left < window.innerWidth,
  };
}
"""


def tab_to(page, target, *, limit: int = 40) -> None:
    """Press Tab until `target` has the focus, checking the ring at every stop."""
    # Bootstrap scrolls smoothly unless the person asked for less motion: without it the
    # focused control is still on its way into the window when it is measured.
    page.emulate_media(reduced_motion="reduce")
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus["what"].startswith("<body"):
            continue
        assert focus["ring"], f"no visible focus on {focus['what']} ({focus['style']})"
        assert focus["inView"], f"the focus is outside the window: {focus['what']}"
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"{limit} presses of Tab never reached {target}")


def test_a_member_signs_in_with_the_keyboard_alone(page, live_server):
    acme = factories.organization("Acme Corp")
    alice = factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice")
    page.goto(live_server.url + "/")

    # The first stop is the skip link, shown when focused; it moves the focus to <main>.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # From <main>, the next stop is inside it: the navbar is behind.
    tab_to(page, page.get_by_role("main").get_by_role("link", name="Sign in"), limit=3)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    tab_to(page, page.get_by_role("textbox", name="Email"))
    page.keyboard.type(alice.email)
    tab_to(page, page.get_by_label("Password*", exact=True), limit=3)
    page.keyboard.type(factories.PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(live_server.url + "/accounts/2fa/authenticate/")
    code = page.get_by_role("textbox", name="Code")
    if not code.evaluate("el => el === document.activeElement"):
        tab_to(page, code)
    wait_for_a_fresh_window()
    page.keyboard.type(totp_code(alice))
    page.keyboard.press("Enter")

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Alice")


def test_an_admin_composes_and_launches_a_notice_with_the_keyboard_alone(page, live_server):
    acme = factories.organization(
        "Acme Corp", contact_name="Acme Security Desk", contact_email="security@acme.example"
    )
    breach = factories.incident(title="Telephony provider breach")
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", email="jane@acme.example")
    factories.exposure(breach, acme, directory_user=jane)
    NoticeTemplate.objects.create(
        organization=acme,
        name="Acme vigilance notice",
        subject="Beware of anyone asking for your sign-in codes",
        body_text="Hello {{ recipient_name }},\n\nNever share a code.",
    )
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    signed_in_browser(page, live_server, bob)
    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/")

    tab_to(page, page.get_by_role("link", name="Send a vigilance notice"), limit=60)
    page.keyboard.press("Enter")

    expect(page.get_by_label("Incident")).to_have_value(str(breach.public_id))
    # A radio group is one stop, at its chosen option; arrows choose another.
    tab_to(page, page.get_by_label("Exposed users not yet notified"))
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("All matched exposed users")).to_be_checked()
    template = page.get_by_label("Template")
    tab_to(page, template)
    page.keyboard.type("Acme vig")  # a closed <select> picks the option typed
    expect(template.locator("option:checked")).to_have_text("Acme vigilance notice")
    tab_to(page, page.get_by_label("Name"))
    page.keyboard.type("First wave")
    tab_to(page, page.get_by_role("button", name="Save and review"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Review and launch")
    tab_to(page, page.get_by_role("button", name="Launch now"), limit=60)
    page.keyboard.press("Enter")

    expect(page.locator(".vigil-messages")).to_contain_text("The campaign is launched")
    campaign = NoticeCampaign.objects.get()
    assert campaign.name == "First wave"
    assert campaign.launched_by == bob
    assert campaign.status in {NoticeCampaign.Status.SENDING, NoticeCampaign.Status.COMPLETED}


def test_a_person_files_a_report_through_a_notice_with_the_keyboard_alone(page, live_server):
    acme = factories.organization("Acme Corp", contact_email="security@acme.example")
    breach = factories.incident(title="Telephony provider breach")
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", email="jane@acme.example")
    exposure = factories.exposure(breach, acme, directory_user=jane)
    campaign = NoticeCampaign.objects.create(
        organization=acme, incident=breach, status=NoticeCampaign.Status.COMPLETED
    )
    delivery = factories.sent_delivery(campaign, exposure)
    page.goto(f"{live_server.url}/report/{delivery.report_token}/")

    # Arrows move through a radio group and choose as they go.
    tab_to(page, page.get_by_label("Phone call"))
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("SMS", exact=True)).to_be_checked()
    tab_to(page, page.get_by_label("What did they ask for?"))
    page.keyboard.type("The code from a text message")
    tab_to(page, page.get_by_role("button", name="Send the report"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you: your report is sent")).to_be_visible()
    report = SuspicionReport.objects.get()
    assert (report.channel, report.asked_for) == ("sms", "The code from a text message")
    assert [message.to for message in mail.outbox] == [["security@acme.example"]]
