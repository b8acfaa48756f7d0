"""Where a webhook may go (SSRF): a public address only.

An endpoint's URL must be https (http only where WEBHOOKS_ALLOW_HTTP is set: DEBUG and
the tests), and every address its host name resolves to must be public: loopback,
private, link-local, carrier-grade NAT, multicast, reserved and unspecified ranges are
refused, IPv4 and IPv6 alike, with an IPv4 address inside an IPv6 one (IPv4-mapped,
NAT64, 6to4, Teredo) judged as the IPv4 address it carries, and the cloud metadata
addresses named as such. WEBHOOKS_ALLOW_LOOPBACK (off by default; the tests that run a
local receiver) lets loopback through, and nothing else.

The check runs when an endpoint is saved, and again at each delivery against the
address actually connected to: the sender resolves the name once, checks every
address, and connects to the one it checked (wire.py), so a name that resolves to a
public address when saved and to 127.0.0.1 a minute later (DNS rebinding) is refused.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class AddressRefusedError(ValueError):
    """The URL or one of its addresses may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query


def target_of(url: str) -> Target:
    """The URL's parts, or AddressRefusedError saying what is wrong with it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise AddressRefusedError(
            _("The URL is not valid: %(error)s.") % {"error": error}
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise AddressRefusedError(_("The URL must start with https://."))
    if scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise AddressRefusedError(
            _("The URL must use https: a webhook carries a signature and data of the account.")
        )
    if not parts.hostname:
        raise AddressRefusedError(_("The URL has no host name."))
    if parts.username or parts.password:
        raise AddressRefusedError(_("The URL may not carry a user name or password."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=scheme,
        host=parts.hostname,
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not go to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return refusal(inner)
        if address.scope_id:
            return _("a link-local address")
    if address in METADATA:
        return _("a cloud metadata address")
    if address.is_loopback:
        return None if settings.WEBHOOKS_ALLOW_LOOPBACK else _("a loopback address")
    if address.is_unspecified:
        return _("an unspecified address")
    if address.is_link_local:
        return _("a link-local address")
    if address.is_multicast:
        return _("a multicast address")
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return _("a carrier-grade NAT address")
    if isinstance(address, ipaddress.IPv6Address) and address in NAT64_LOCAL:
        return _("a private address")
    if address.is_reserved:
        return _("a reserved address")
    if address.is_private:
        return _("a private address")
    if not address.is_global:
        return _("an address that is not public")
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (or the address itself), once."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise AddressRefusedError(
            _("%(host)s could not be resolved (%(error)s).") % {"host": host, "error": error}
        ) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise AddressRefusedError(_("%(host)s has no address.") % {"host": host})
    return found


def checked_addresses(target: Target) -> list[IPAddress]:
    """The target's addresses, all of them allowed, or AddressRefusedError naming the
    first that is not. All must pass: a name with one public and one private address
    could otherwise be sent to the private one."""
    addresses = resolve(target.host, target.port)
    for address in addresses:
        why = refusal(address)
        if why and target.host.strip("[]") == str(address):
            raise AddressRefusedError(
                _("%(address)s is %(why)s: webhooks go to public addresses only.")
                % {"address": address, "why": why}
            )
        if why:
            raise AddressRefusedError(
                _(
                    "%(host)s resolves to %(address)s, %(why)s: webhooks go to public addresses only."
                )
                % {"host": target.host, "address": address, "why": why}
            )
    return addresses


def url_check(url: str) -> list[IPAddress]:
    """The check made when an endpoint is saved."""
    return checked_addresses(target_of(url))
