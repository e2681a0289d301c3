"""HTTPS on the store LAN without any cloud service.

Cameras and service workers only work on secure origins, and a store's tablets
reach the server by a LAN name or address no public CA will certify. So each
store makes its own small certificate authority (`kirana tls init`), devices
trust it once (the /pair page shows a QR code to download it), and the server
certificate it signs names everything a device may type: the host name,
`<host>.local`, `localhost` and the machine's addresses.

The CA lives 10 years; the server certificate 397 days (browsers refuse longer
ones) and is renewed when fewer than 30 days are left, by `kirana tls init`, at
`kirana serve` start-up and hourly while it runs (app/core/lan_https.CertificateWatch
then serves the new one). Renewal keeps the CA, so paired devices stay paired.

The CA's private key is what an attacker on the LAN would want: with it they can make
a certificate every paired device trusts for the store's names and private networks.
By default it sits beside the server (0600) so renewal needs nobody; a store may instead
keep it encrypted with a passphrase (`--ca-passphrase-file`) or off the machine
(`kirana tls export-ca`, then `--ca-dir` on a USB stick or another computer). Either way
renewal then needs a person (`kirana tls renew`); `kirana serve` keeps serving and says
how many days are left.

Names given with `--name`/`--ip` are kept in `tls/extra-names.txt`, so every renewal
(by hand, at start-up or while the server runs) puts them back, with server.public_url's
host. A name the CA may not vouch for (its name constraints) is refused before any
certificate is made: browsers reject a certificate if any one of its names is outside
them. The rules themselves are in app/core/cert_names.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.core.cert_names import (
    PRIVATE_NETWORKS,
    IpNetwork,
    NameRefused,
    device_base_url,
    dns_name,
    dns_permitted,
    ip_permitted,
    private_ip,
    split_host,
)
from app.core.private_files import private_dir, write_private
from app.core.words import count_of

CA_DAYS = 3650
SERVER_DAYS = 397
RENEW_BEFORE = timedelta(days=30)
MIN_PASSPHRASE = 12


class CaKeyUnavailable(Exception):
    """The CA's key is needed but is kept offline, passphrase-protected, or wrong."""


@dataclass(frozen=True)
class TlsFiles:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"

    @property
    def extras(self) -> Path:
        """Names and addresses given to `kirana tls init --name/--ip`, one a line."""
        return self.folder / "extra-names.txt"

    def present(self) -> bool:
        return self.cert.exists() and self.key.exists() and self.ca_cert.exists()


def local_names(extra_names: tuple[str, ...] = (), extra_ips: tuple[str, ...] = ()
                ) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses the server certificate should cover."""
    host = socket.gethostname()
    names = [n for n in (host, f"{host}.local", "localhost", *extra_names) if _valid_name(n)]
    ips = {"127.0.0.1", "::1", *extra_ips}
    try:
        for info in socket.getaddrinfo(host, None):
            ips.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    ips.update(_linux_addresses())
    return sorted(set(names)), sorted(ips, key=lambda a: (":" in a, a))


def _valid_name(name: str) -> bool:
    """A computer name with, say, an underscore cannot go into a certificate."""
    try:
        dns_name(name)
    except NameRefused:
        return False
    return True


def primary_address() -> str:
    """The address this computer's default route leaves from: the one phones on the same
    Wi-Fi reach. connect() on a UDP socket picks the route and sends nothing."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never contacted
        return str(s.getsockname()[0])
    return ""


def device_url(files: TlsFiles | None, listen_host: str, port: int) -> str:
    """The address to send phones and tablets to when server.public_url is not set: one
    the served certificate covers and the Wi-Fi reaches (cert_names.device_base_url)."""
    cert = server_cert(files) if files is not None else None
    return device_base_url(
        scheme="https" if cert else "http", listen_host=listen_host, port=port,
        computer_name=socket.gethostname(), lan_ips=local_names()[1],
        primary_ip=primary_address(), cert=san_of(cert) if cert else None)


def _linux_addresses() -> set[str]:
    """IPv4 addresses of this machine's interfaces, read from /proc (no traffic sent)."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        return found
    for i, line in enumerate(lines):
        if "/32 host LOCAL" in line and i > 0:
            address = lines[i - 1].split()[-1]
            try:
                if not ipaddress.ip_address(address).is_loopback:
                    found.add(address)
            except ValueError:
                continue
    return found


def _write_private(path: Path, data: bytes) -> None:
    private_dir(path.parent)
    write_private(path, data)


def _key_pem(key: CertificateIssuerPrivateKeyTypes, passphrase: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def check_passphrase(passphrase: bytes) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the CA passphrase must be at least {MIN_PASSPHRASE} characters")
    return passphrase


def ca_key_path(files: TlsFiles, ca_dir: Path | None = None) -> Path:
    return Path(ca_dir) / "ca.key" if ca_dir else files.ca_key


def ca_key_encrypted(path: Path) -> bool:
    return path.exists() and b"ENCRYPTED" in path.read_bytes()[:64]


def load_ca_key(files: TlsFiles, passphrase: bytes | None = None,
                ca_dir: Path | None = None) -> CertificateIssuerPrivateKeyTypes:
    """The CA's key from this machine or `ca_dir`, checked against ca.crt."""
    path = ca_key_path(files, ca_dir)
    if not path.exists():
        raise CaKeyUnavailable(
            f"the certificate authority's key is not in {path.parent} (kept offline?): "
            "renew with --ca-dir <folder holding ca.key>")
    data = path.read_bytes()
    encrypted = ca_key_encrypted(path)
    if encrypted and not passphrase:
        raise CaKeyUnavailable("the certificate authority's key is protected by a passphrase: "
                               "renew with `kirana tls renew` (it asks) or --ca-passphrase-file")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted
                                                 else None)
    except ValueError:
        raise CaKeyUnavailable("wrong passphrase for the certificate authority's key") from None
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    if (not isinstance(key, get_args(CertificateIssuerPrivateKeyTypes))
            or key.public_key() != ca_cert.public_key()):
        raise CaKeyUnavailable(f"{path} is not the key of this store's CA ({files.ca_cert})")
    return key


def name_constraints(names: list[str], ips: list[str]) -> x509.NameConstraints:
    """The CA may only vouch for this store's own names, its addresses and private
    networks, so a device that trusts it trusts nothing else on the internet even if
    the store's key leaks."""
    dns = sorted({*names, "local", "localhost"})
    networks = {ipaddress.ip_network(n) for n in PRIVATE_NETWORKS}
    networks |= {ipaddress.ip_network(ip) for ip in ips}  # a single host each
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(n) for n in dns]
        + [x509.IPAddress(n) for n in sorted(networks, key=lambda n: (n.version, str(n)))],
        excluded_subtrees=None,
    )


def make_ca(files: TlsFiles, store_name: str, now: datetime | None = None,
            names: list[str] | None = None, ips: list[str] | None = None, *,
            passphrase: bytes | None = None, ca_dir: Path | None = None) -> x509.Certificate:
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"Kirana local CA ({store_name})"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kirana store"),
    ])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(name_constraints(*((names, ips or []) if names else local_names())),
                       critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    _write_private(ca_key_path(files, ca_dir), _key_pem(key, passphrase))
    if ca_dir:
        (Path(ca_dir) / "ca.crt").write_bytes(pem)
    private_dir(files.folder)
    files.ca_cert.write_bytes(pem)
    return cert


def make_server_cert(files: TlsFiles, names: list[str], ips: list[str],
                     now: datetime | None = None, *, passphrase: bytes | None = None,
                     ca_dir: Path | None = None) -> x509.Certificate:
    now = now or datetime.now(UTC)
    ca_key = load_ca_key(files, passphrase, ca_dir)
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a))
                                               for a in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key, _key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                           + files.ca_cert.read_bytes())
    return cert


def server_cert(files: TlsFiles) -> x509.Certificate | None:
    if not files.cert.exists():
        return None
    return x509.load_pem_x509_certificate(files.cert.read_bytes())


def ca_fingerprint(files: TlsFiles) -> str:
    """The CA certificate's SHA-256 fingerprint as phones show it (AB:12:…), to check
    that the certificate a phone fetched over plain HTTP is the store's."""
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    return ":".join(f"{b:02X}" for b in ca.fingerprint(hashes.SHA256()))


def san_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses a certificate covers."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (list(san.get_values_for_type(x509.DNSName)),
            [str(a) for a in san.get_values_for_type(x509.IPAddress)])


def needs_renewal(files: TlsFiles, now: datetime | None = None) -> bool:
    cert = server_cert(files)
    now = now or datetime.now(UTC)
    return cert is None or cert.not_valid_after_utc - now < RENEW_BEFORE


def ca_constraints(files: TlsFiles) -> tuple[list[str], list[IpNetwork]] | None:
    """The names and networks the store's CA may vouch for (None: no limit, a CA made
    before name constraints existed)."""
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    try:
        value = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    subtrees = value.permitted_subtrees or []
    return ([g.value for g in subtrees if isinstance(g, x509.DNSName)],
            [g.value for g in subtrees if isinstance(g, x509.IPAddress)
             and isinstance(g.value, ipaddress.IPv4Network | ipaddress.IPv6Network)])


def _permitted(limits: tuple[list[str], list[IpNetwork]] | None, name: str = "",
               ip: str = "") -> bool:
    if limits is None:
        return True
    return dns_permitted(name, limits[0]) if name else ip_permitted(ip, limits[1])


def not_permitted_message(files: TlsFiles, host: str) -> str:
    limits = ca_constraints(files)
    names = sorted(n for n in (limits[0] if limits else []) if n not in ("local", "localhost"))
    return (f"{host}: this store's certificate authority may not vouch for it (it was made "
            f"for {', '.join(names) or 'this computer'}, *.local and private addresses), so "
            "every device would refuse the certificate. To add a name, make a new authority "
            "(delete tls/ca.crt and tls/ca.key, run `kirana tls init` again) and pair every "
            "device again")


def public_host_problem(files: TlsFiles, host: str) -> str:
    """Why server.public_url's host cannot go into the certificate ("" when it can)."""
    names, ips = split_host(host)
    try:
        for name in names:
            dns_name(name)
        for ip in ips:
            private_ip(ip)
    except NameRefused as exc:
        return str(exc)
    limits = ca_constraints(files) if files.ca_cert.exists() else None
    if not (all(_permitted(limits, name=n) for n in names)
            and all(_permitted(limits, ip=ip) for ip in ips)):
        return not_permitted_message(files, host)
    return ""


def saved_extras(files: TlsFiles) -> tuple[list[str], list[str]]:
    """The names and addresses kept from earlier `--name`/`--ip` (refused if edited
    into something the certificate cannot carry)."""
    if not files.extras.exists():
        return [], []
    names: list[str] = []
    ips: list[str] = []
    for number, line in enumerate(files.extras.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        try:
            if split_host(entry)[1]:
                ips.append(private_ip(entry))
            else:
                names.append(dns_name(entry))
        except NameRefused as exc:
            raise NameRefused(f"{files.extras} line {number}: {exc}") from None
    return names, ips


def _save_extras(files: TlsFiles, names: list[str], ips: list[str]) -> None:
    lines = ["# Names and addresses given to `kirana tls init --name/--ip`; every renewal",
             "# of the server certificate keeps them. One a line.", *names, *ips]
    _write_private(files.extras, ("\n".join(lines) + "\n").encode())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class TlsReport:
    created_ca: bool
    renewed: bool
    names: list[str]
    ips: list[str]
    valid_until: datetime
    left_out: tuple[str, ...] = ()  # this computer's names the CA may not vouch for


def wanted_names(files: TlsFiles, extra_names: tuple[str, ...] = (),
                 extra_ips: tuple[str, ...] = (), public_host: str = "", *,
                 forget_extras: bool = False) -> tuple[list[str], list[str]]:
    """What a person asked the certificate to carry (checked): names and addresses kept
    from earlier, those given now, and server.public_url's host."""
    names: list[str] = []
    ips: list[str] = []
    asked = [("--name", n, dns_name) for n in extra_names] + [
        ("--ip", ip, private_ip) for ip in extra_ips]
    pub_names, pub_ips = split_host(public_host)
    asked += [("server.public_url:", n, dns_name) for n in pub_names] + [
        ("server.public_url:", ip, private_ip) for ip in pub_ips]
    for where, text, check in asked:
        try:
            (ips if check is private_ip else names).append(check(text))
        except NameRefused as exc:
            raise NameRefused(f"{where} {exc}") from None
    kept_names, kept_ips = ([], []) if forget_extras else saved_extras(files)
    return _unique(kept_names + names), _unique(kept_ips + ips)


def ensure(files: TlsFiles, store_name: str, *, force: bool = False,
           extra_names: tuple[str, ...] = (), extra_ips: tuple[str, ...] = (),
           public_host: str = "", forget_extras: bool = False,
           passphrase: bytes | None = None, ca_dir: Path | None = None,
           now: datetime | None = None) -> TlsReport:
    """Create the CA if missing; (re)make the server certificate when due, forced, or
    missing a name asked for. The CA exists once ca.crt does: its key may be kept offline
    (`ca_dir`) or encrypted (`passphrase`), and a missing key is never a reason to make a
    new CA. A name or address asked for that the CA may not vouch for raises NameRefused
    before anything is written; this computer's own names it may not vouch for (a new
    address, a renamed computer) are left out, so the certificate stays valid."""
    asked_names, asked_ips = wanted_names(files, extra_names, extra_ips, public_host,
                                          forget_extras=forget_extras)
    own_names, own_ips = local_names()
    created_ca = not files.ca_cert.exists()
    left_out: list[str] = []
    if created_ca:
        if passphrase:
            check_passphrase(passphrase)
        names, ips = _unique(own_names + asked_names), _unique(own_ips + asked_ips)
        make_ca(files, store_name, names=names, ips=ips, passphrase=passphrase, ca_dir=ca_dir)
    else:
        limits = ca_constraints(files)
        for host in [*asked_names, *asked_ips]:
            if not _permitted(limits, *((host, "") if host in asked_names else ("", host))):
                raise NameRefused(not_permitted_message(files, host))
        left_out = [n for n in own_names if not _permitted(limits, name=n)] + [
            ip for ip in own_ips if not _permitted(limits, ip=ip)]
        names = _unique([n for n in own_names if n not in left_out] + asked_names)
        ips = _unique([ip for ip in own_ips if ip not in left_out] + asked_ips)
    cert = server_cert(files)
    lacking = cert is not None and not _has_all(cert, asked_names, asked_ips)
    renewed = created_ca or force or lacking or needs_renewal(files, now)
    if renewed:
        cert = make_server_cert(files, names, ips, passphrase=passphrase, ca_dir=ca_dir)
    assert cert is not None  # needs_renewal() is true when there is none
    if extra_names or extra_ips or forget_extras:
        _save_extras(files, *wanted_names(files, extra_names, extra_ips,
                                          forget_extras=forget_extras))
    names, ips = san_of(cert)
    return TlsReport(created_ca, renewed, names, ips, cert.not_valid_after_utc,
                     tuple(left_out))


def _has_all(cert: x509.Certificate, names: list[str], ips: list[str]) -> bool:
    have_names, have_ips = san_of(cert)
    have = {n.lower() for n in have_names} | {str(ipaddress.ip_address(a)) for a in have_ips}
    return all(n in have for n in names) and all(
        str(ipaddress.ip_address(a)) in have for a in ips)


@dataclass(frozen=True)
class Renewal:
    renewed: bool
    message: str  # "" when nothing needed saying


def renew_if_needed(files: TlsFiles, store_name: str, public_host: str = "",
                    now: datetime | None = None) -> Renewal:
    """What `kirana serve` does at start and then twice a day while it runs: renew the
    server certificate if it is due or lacks a name asked for (kept `--name`s,
    server.public_url's host) and the CA's key is at hand. If the key is kept offline or
    encrypted, keep serving with the current certificate and say how long it has left;
    if public_url's host is one the CA may not vouch for, say so and leave it out."""
    warnings = []
    if problem := public_host_problem(files, public_host):
        warnings.append(f"Warning: server.public_url: {problem}; it is left out of the "
                        "server certificate.")
        public_host = ""
    try:
        wanted = wanted_names(files, public_host=public_host)
    except NameRefused as exc:  # extra-names.txt edited by hand into something wrong
        return Renewal(False, f"Warning: the server certificate cannot be renewed: {exc}.")
    cert = server_cert(files)
    if not needs_renewal(files, now) and cert is not None and _has_all(cert, *wanted):
        return Renewal(False, " ".join(warnings))
    try:
        report = ensure(files, store_name, public_host=public_host, now=now)
    except CaKeyUnavailable as exc:
        left = (cert.not_valid_after_utc - (now or datetime.now(UTC))).days if cert else 0
        when = (f"expires in {count_of(left, 'day')}" if left >= 0
                else f"EXPIRED {count_of(-left, 'day')} ago")
        if not needs_renewal(files, now):
            when = "lacks a name it should carry"
        warnings.append(f"Warning: the server certificate {when} and was not renewed: {exc}. "
                        "Run `kirana tls renew` on this computer.")
        return Renewal(False, " ".join(warnings))
    except NameRefused as exc:
        warnings.append(f"Warning: the server certificate was not renewed: {exc}.")
        return Renewal(False, " ".join(warnings))
    return Renewal(report.renewed, " ".join([*warnings, (
        f"Renewed the server certificate (valid until {report.valid_until:%d %b %Y})."
        if report.renewed else "")]).strip())


def renew_at_start(files: TlsFiles, store_name: str, now: datetime | None = None,
                   public_host: str = "") -> str:
    """renew_if_needed's message (what `kirana serve` prints before it starts)."""
    return renew_if_needed(files, store_name, public_host, now).message


def export_ca(files: TlsFiles, to: Path, *, keep: bool = False) -> Path:
    """Copy the CA (key and certificate) to `to` (a USB stick, another computer's share),
    check the copy, then remove the key here unless `keep`. Returns the key's new path."""
    key_pem = files.ca_key.read_bytes() if files.ca_key.exists() else None
    if key_pem is None:
        raise CaKeyUnavailable(f"no CA key at {files.ca_key} to export (already offline?)")
    private_dir(Path(to))
    target = Path(to) / "ca.key"
    if target.exists() and target.read_bytes() != key_pem:
        raise CaKeyUnavailable(f"{target} already holds another key; choose an empty folder")
    write_private(target, key_pem)
    (Path(to) / "ca.crt").write_bytes(files.ca_cert.read_bytes())
    if target.read_bytes() != key_pem:
        raise CaKeyUnavailable(f"the copy at {target} does not read back the same; kept here")
    if not keep:
        files.ca_key.unlink()
    return target


def protect_ca(files: TlsFiles, passphrase: bytes, ca_dir: Path | None = None) -> Path:
    """Encrypt an existing CA key in place with a passphrase (PKCS#8, best available)."""
    check_passphrase(passphrase)
    path = ca_key_path(files, ca_dir)
    if ca_key_encrypted(path):
        raise CaKeyUnavailable(f"{path} is already protected by a passphrase")
    key = load_ca_key(files, None, ca_dir)
    write_private(path, _key_pem(key, passphrase))
    return path
