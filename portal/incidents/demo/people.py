"""Who the demo breach seeds, shared by `seed_demo` (which creates them) and
`run_portal` (which prints how to sign in as them).

Every address is under a `.example` domain (RFC 2606), so no demo notice can reach a
real mailbox, and the password is for demo databases only.
"""

from dataclasses import dataclass

from portal.accounts.roles import Role

DEMO_PASSWORD = "vigil-demo-2024"  # noqa: S105 (the demo's published password, nothing else)
# Every seeded person's authenticator-app secret, published so a newcomer can pass the
# second factor within a minute: add it to an authenticator app, or run
# `manage.py demo_totp_code`. Both seed_demo and demo_totp_code refuse to run unless
# DEBUG is on, so production has no such path.
DEMO_TOTP_SECRET = "VIGILDEMOTOTPSECRETFORDEMOSONLY2"  # noqa: S105
DEMO_INCIDENT_SLUG = "march-2024-sms-logs"
OPERATOR_EMAIL = "operator@vigil.example"
OPERATOR_NAME = "Vera Operator"


@dataclass(frozen=True)
class DemoAccount:
    name: str
    account_id: str
    domain: str
    time_zone: str
    contact_name: str
    contact_phone: str
    # One member per role, in Role order: (name) of the owner, admin, security, viewer.
    member_names: tuple[str, str, str, str]

    def member_email(self, role: str) -> str:
        return f"{role}@{self.domain}"

    @property
    def contact_email(self) -> str:
        return f"security@{self.domain}"

    @property
    def contact_url(self) -> str:
        return f"https://{self.domain}/report-phishing"


# Acme and Globex carry the account ids of /work/shared/samples, so the sample dump
# imports into a seeded database.
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        name="Acme Corp",
        account_id="DA7QK4M2ZP",
        domain="acme.example",
        time_zone="America/New_York",
        contact_name="Acme Security Operations",
        contact_phone="+1 212 555 0100",
        member_names=("Olivia Hart", "Samir Patel", "Dana Kim", "Leo Brooks"),
    ),
    DemoAccount(
        name="Globex",
        account_id="DA3HN8WQ1C",
        domain="globex.example",
        time_zone="Europe/Berlin",
        contact_name="Globex CERT",
        contact_phone="+49 30 5550 1234",
        member_names=("Katrin Vogel", "Julien Moreau", "Mia Schneider", "Tom Becker"),
    ),
    DemoAccount(
        name="Initech",
        account_id="DA9XK2R7LB",
        domain="initech.example",
        time_zone="America/Los_Angeles",
        contact_name="Initech IT Help Desk",
        contact_phone="+1 415 555 0199",
        member_names=("Bill Lumbergh", "Joanna Diaz", "Peter Gibbons", "Milton Waddams"),
    ),
)

DEMO_ROLES: tuple[str, ...] = (Role.OWNER, Role.ADMIN, Role.SECURITY, Role.VIEWER)


def demo_member_emails() -> list[str]:
    """The operator first, then every account's members in role order."""
    return [OPERATOR_EMAIL] + [
        account.member_email(role) for account in DEMO_ACCOUNTS for role in DEMO_ROLES
    ]


def demo_sign_in_lines() -> list[str]:
    """How to sign in as the seeded operator and as one member of each role.

    Names only the people who exist in this database, so an unseeded or reset
    database prints nothing rather than addresses that do not work.
    """
    from portal.accounts.models import User

    existing = set(
        User.objects.filter(email__in=demo_member_emails(), is_active=True).values_list(
            "email", flat=True
        )
    )
    wanted: list[tuple[str, str]] = []
    if OPERATOR_EMAIL in existing:
        wanted.append(("operator staff", OPERATOR_EMAIL))
    for role in DEMO_ROLES:
        for account in DEMO_ACCOUNTS:
            email = account.member_email(role)
            if email in existing:
                wanted.append((f"{Role(role).label.lower()} of {account.name}", email))
                break
    if not wanted:
        return []
    width = max(len(label) for label, _ in wanted)
    return ["Demo sign-in:"] + [f"  {label.ljust(width)}  {email}" for label, email in wanted]


def demo_refuse_in_production() -> None:
    from django.conf import settings
    from django.core.management.base import CommandError

    if not settings.DEBUG:
        raise CommandError(
            "Refused: demo members share a published password and authenticator secret, "
            "so demo commands run only with DEBUG on (the embedded default), never in production."
        )
