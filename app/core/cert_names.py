"""Which names and addresses the store's certificate may carry, and which address a new
device is sent to. Rules only: no files, no sockets (app/core/tls.py does the I/O).

A browser rejects a server certificate outright when one of its names lies outside the
name constraints of the CA that signed it, so a name the CA may not vouch for is refused
before a certificate is made ("every device says not private" is the silent failure it
prevents). The CA only vouches for private networks and the store's own names, so an
address typed by a person must be a private one.

The address a phone is sent to (the /pair QR codes, e-receipts) must be one the phone can
reach and the certificate covers: a bare computer name ("vm") usually resolves on the
computer itself and nowhere else, and 127.0.0.1 is the phone itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# What the store's CA may vouch for besides its own names (name constraints).
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
                    "169.254.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in PRIVATE_NETWORKS)
# A phone on the shop Wi-Fi is most likely on one of these (in this order); Docker's
# bridges sit in 172.16/12, so that comes after the usual router ranges.
_LAN_PREFERENCE = tuple(ipaddress.ip_network(n) for n in
                        ("192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10"))
MAX_NAME = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ANY_ADDRESS = ("0.0.0.0", "::", "")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class NameRefused(ValueError):
    """A name or address the store's certificate cannot carry; str() says why in plain
    words, starting with the name."""


def _shown(text: str) -> str:
    return repr(text) if not text.isprintable() or len(text) > 60 else text


def dns_name(text: str) -> str:
    """A host name for the certificate, lower case without a trailing dot; refuses
    wildcards, addresses, control characters, non-ASCII and over-long names."""
    shown = _shown(text[:60] + ("…" if len(text) > 60 else ""))
    if not text.isprintable() or any(c.isspace() for c in text):
        raise NameRefused(f"{shown}: contains a control character or a space")
    name = text.rstrip(".").lower()
    if not name:
        raise NameRefused("an empty name")
    if "*" in name:
        raise NameRefused(f"{shown}: a wildcard (*) name is not allowed; give each name")
    if len(name) > MAX_NAME:
        raise NameRefused(f"{shown}: longer than {MAX_NAME} characters")
    if not name.isascii():
        raise NameRefused(f"{shown}: only letters a-z, digits, '-' and '.' (write an "
                          "international name in its xn-- form)")
    if _ip(name) is not None:
        raise NameRefused(f"{shown}: an address, not a name (give it with --ip)")
    for label in name.split("."):
        if not _LABEL.match(label):
            raise NameRefused(f"{shown}: each part between dots must be 1-63 letters a-z, "
                              "digits or '-', not starting or ending with '-'")
    return name


def _ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]").split("%")[0])
    except ValueError:
        return None


def is_private(address: IpAddress) -> bool:
    return any(address in network for network in _PRIVATE)


def private_ip(text: str) -> str:
    """An address a person asked the certificate to carry: valid and private."""
    address = _ip(text)
    if address is None or not text.isprintable():
        raise NameRefused(f"{_shown(text[:60])}: not an IP address")
    if not is_private(address):
        raise NameRefused(f"{address}: a public address; the store's certificate authority "
                          "only vouches for private ones (192.168.x.x, 10.x.x.x, "
                          "172.16-31.x.x) and the store's own names")
    return str(address)


def dns_permitted(name: str, permitted: Iterable[str]) -> bool:
    """RFC 5280 dNSName constraint: the name itself or any name under it."""
    name = name.lower()
    return any(name == p or name.endswith("." + p) for p in (q.lower() for q in permitted))


def ip_permitted(address: str, permitted: Iterable[IpNetwork]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip.version == n.version and ip in n for n in permitted)


def host_of(url: str) -> str:
    """The host of a URL, lower case, without brackets ("" when there is none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def split_host(host: str) -> tuple[list[str], list[str]]:
    """A host as (names, ips) for the certificate: one list holds it."""
    if not host:
        return [], []
    return ([], [str(_ip(host))]) if _ip(host) is not None else ([host.lower()], [])


def covers(host: str, cert_names: Iterable[str], cert_ips: Iterable[str]) -> bool:
    """Whether a certificate with these names (no wildcards are made) covers `host`."""
    address = _ip(host)
    if address is not None:
        return any(_ip(ip) == address for ip in cert_ips)
    return host.lower().rstrip(".") in {n.lower() for n in cert_names}


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def lan_rank(address: str) -> tuple[int, int, str]:
    """Sort key: the addresses a phone on the shop Wi-Fi most likely reaches first;
    loopback and link-local last, IPv6 after IPv4."""
    ip = _ip(address)
    if ip is None:
        return (9, 9, address)
    if ip.is_loopback or ip.is_link_local:
        return (8, ip.version, address)
    for rank, network in enumerate(_LAN_PREFERENCE):
        if ip.version == network.version and ip in network:
            return (rank, ip.version, address)
    return (len(_LAN_PREFERENCE), ip.version, address)


def device_base_url(*, scheme: str, listen_host: str, port: int, computer_name: str,
                    lan_ips: Iterable[str], primary_ip: str = "",
                    cert: tuple[list[str], list[str]] | None = None) -> str:
    """The address to send devices to when server.public_url is not set.

    Listening on one address: that address. Listening on all of them (0.0.0.0): the one
    the computer's default route leaves from (`primary_ip`), else the likeliest LAN
    address, provided the certificate covers it; then `<name>.local` (phones resolve it
    by mDNS); the bare computer name only when nothing else is covered."""
    if listen_host not in ANY_ADDRESS:
        return f"{scheme}://{_url_host(listen_host)}:{port}"

    def ok(host: str) -> bool:
        return cert is None or covers(host, *cert)

    reachable = [ip for ip in lan_ips if lan_rank(ip)[0] < 8]
    candidates = ([primary_ip] if primary_ip in reachable else []) + sorted(
        reachable, key=lan_rank)
    for ip in candidates:
        if ok(ip):
            return f"{scheme}://{_url_host(ip)}:{port}"
    mdns = f"{computer_name}.local"
    return f"{scheme}://{mdns if ok(mdns) else computer_name}:{port}"


def pairing_problems(url: str, cert_names: list[str] | None, cert_ips: list[str] | None
                     ) -> list[str]:
    """What stops a phone from using `url` (the /pair QR codes), in plain words."""
    host = host_of(url)
    ip = _ip(host)
    problems = []
    if host == "localhost" or host.endswith(".localhost") or (ip is not None
                                                                and ip.is_loopback):
        problems.append(
            f"The QR codes point at {host}, which is this computer itself: a phone cannot "
            "reach it. Start the server with --host 0.0.0.0, or set server.public_url to "
            "the address devices use.")
    elif ip is None and "." not in host:
        problems.append(
            f"The QR codes point at the computer name {host}, which phones usually cannot "
            f"look up. Use {host}.local or the computer's address in server.public_url.")
    if cert_names is not None and cert_ips is not None and host and not covers(
            host, cert_names, cert_ips):
        option = "--ip" if ip is not None else "--name"
        problems.append(
            f"The QR codes point at {host}, which the server certificate does not cover, so "
            f"phones will say the connection is not private. Run `kirana tls init --force "
            f"{option} {host}` and restart the server, or set server.public_url to an address "
            f"it covers ({', '.join(sorted(cert_ips, key=lan_rank)[:3] + cert_names[:3])}).")
    return problems


def trust_page_url(app_url: str) -> str:
    """The plain-HTTP page that hands out the CA, on the same host and port as the app:
    the phone does not trust the store yet, so HTTPS would only show a warning."""
    parts = urlsplit(app_url)
    netloc = parts.netloc if parts.port or parts.scheme != "https" else f"{parts.netloc}:443"
    return f"http://{netloc}/pair/trust"
