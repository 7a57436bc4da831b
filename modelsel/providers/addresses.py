"""Which machine a base URL's host names, compared as addresses, not as strings.

169.254.169.254 has many spellings the socket layer accepts: `2852039166`, `0xa9fea9fe`,
`0251.0376.0251.0376`, `169.254.43518` (inet_aton's forms), `[::ffff:169.254.169.254]` and the
other IPv6 forms that carry an IPv4 address (6to4, Teredo, NAT64), and DNS names that answer with
the address written inside them (`169.254.169.254.nip.io`, `a9fea9fe.nip.io`). Each is read
back to the address it reaches, here, without the network: a number is parsed as the C library
parses it, a name's embedded address is read from its labels, and /etc/hosts is consulted. Any
name under a wildcard-DNS service is refused (failing safe: what it answers is whatever its
spelling says), and so is a name /etc/hosts maps to such an address. Other names are not resolved: DNS can answer
differently when the request is made (rebinding), so a resolution now would prove nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from pathlib import Path

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_NAMES = {"metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.com", "instance-data",
                  "instance-data.ec2.internal", "metadata.platformequinix.com", "metadata.packet.net"}
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, Oracle, OpenStack, DigitalOcean ...
    "169.254.170.2",  # AWS ECS task credentials
    "fd00:ec2::254", "fd00:ec2::23",  # AWS IMDS and its time service over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure WireServer
    "192.0.0.192",  # Oracle Cloud (legacy)
)}
# DNS services that answer any name with the address written in it (and rebinding services).
WILDCARD_DNS = ("nip.io", "sslip.io", "xip.io", "nip.direct", "traefik.me", "localtest.me", "lvh.me", "vcap.me",
                "backname.io", "1u.ms", "rbndr.us", "xip.name", "lacolhost.com", "fuf.me", "localh.st")

_NUMERIC = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}", re.I)
_QUAD = re.compile(r"(?<![0-9])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?![0-9])")


def literal(host: str) -> Address | None:
    """The address a host written as a number reaches, as the socket layer reads it; else None."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def embedded(ip: Address) -> list[Address]:
    """The address and every IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    out: list[Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        raw = int(ip)
        out += [a for a in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if a is not None]
        if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("64:ff9b:1::/48"):
            out.append(ipaddress.IPv4Address(raw & 0xFFFFFFFF))
        if raw >> 32 == 0 and raw > 1:  # IPv4-compatible (::a9fe:a9fe)
            out.append(ipaddress.IPv4Address(raw))
    return out


def in_name(host: str) -> list[Address]:
    """Addresses written inside a DNS name: dotted or dashed quads, 8-hex-digit and decimal tokens,
    IPv6 with dashes for colons (sslip.io's `--1`)."""
    found: list[Address] = []
    for m in _QUAD.finditer(host):
        try:
            found.append(ipaddress.IPv4Address(".".join(m.groups())))
        except ValueError:
            pass
    for label in host.split("."):
        for token in label.split("-"):
            if re.fullmatch(r"[0-9a-f]{8}", token, re.I):
                found.append(ipaddress.IPv4Address(int(token, 16)))
            elif token.isdigit() and len(token) >= 8:
                ip = literal(token)
                if ip is not None:
                    found.append(ip)
        if "--" in label:
            try:
                found.append(ipaddress.IPv6Address(label.replace("-", ":")))
            except ValueError:
                pass
    return found


@lru_cache(maxsize=1)
def _hosts_file() -> dict[str, list[Address]]:
    table: dict[str, list[Address]] = {}
    try:
        text = Path("/etc/hosts").read_text(errors="replace")
    except OSError:
        return table
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and (ip := literal(parts[0])) is not None:
            for name in parts[1:]:
                table.setdefault(name.lower().rstrip("."), []).append(ip)
    return table


def _wildcard(host: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in WILDCARD_DNS)


def metadata_reason(host: str) -> str | None:
    """Why `host` is a link-local or cloud metadata address (what it reaches, in words), or None."""
    h = host.lower().rstrip(".")
    if h in METADATA_NAMES:
        return "a cloud metadata service"
    ip = literal(h)
    named = [ip] if ip is not None else [*in_name(h), *_hosts_file().get(h, [])]
    for a in (x for n in named for x in embedded(n)):
        if a in METADATA_ADDRESSES:
            return f"a cloud metadata address ({a})"
        if a.is_link_local:
            return f"a link-local address ({a})"
    if ip is None and _wildcard(h):
        return ("a wildcard-DNS name, which answers with any address written in it, 169.254.169.254 included; "
                "write the address itself")
    return None


def is_loopback(host: str) -> bool:
    """This machine, however spelled (127.1, 2130706433, [::ffff:127.0.0.1]); a DNS name other than
    localhost is not taken on its word (127.0.0.1.nip.io is another host as far as keys go)."""
    h = host.lower().rstrip(".")
    if h in ("localhost", "ip6-localhost"):
        return True
    ip = literal(h)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip is not None and (ip.is_loopback or (mapped is not None and mapped.is_loopback))
