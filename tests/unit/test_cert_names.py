"""The certificate's name rules (issue #16 item 17): app/core/cert_names.py, pure."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.cert_names import (
    MAX_NAME,
    NameRefused,
    dns_name,
    dns_permitted,
    ip_permitted,
    private_ip,
)

# ---- names and addresses a person may ask the certificate to carry -----------------------


@pytest.mark.parametrize("text, shown", [
    ("*.local", "wildcard"),
    ("*", "wildcard"),
    ("till.*.local", "wildcard"),
    ("a" * 300, f"longer than {MAX_NAME}"),
    ("till\x00.local", "control character"),
    ("till.local\x00", "control character"),
    ("till local", "space"),
    ("tíll.local", "xn--"),
    ("192.168.1.20", "--ip"),
    ("::1", "--ip"),
    ("-till.local", "each part"),
    ("till-.local", "each part"),
    ("till..local", "each part"),
    ("till_2.local", "each part"),
    ("a" * 64 + ".local", "each part"),
    ("", "empty"),
    (".", "empty"),
])
def test_hostile_names_are_refused_in_plain_words(text, shown):
    with pytest.raises(NameRefused, match=shown.replace("*", r"\*").replace("-", r"\-")):
        dns_name(text)


def test_a_refusal_shows_control_characters_visibly_and_long_names_cut():
    with pytest.raises(NameRefused) as nul:
        dns_name("till\x00.local")
    assert "\\x00" in str(nul.value) and "\x00" not in str(nul.value)
    with pytest.raises(NameRefused) as long:
        dns_name("a" * 300)
    assert len(str(long.value)) < 150


@pytest.mark.parametrize("text, name", [
    ("Till-2.Local", "till-2.local"),
    ("kirana.example.in.", "kirana.example.in"),
    ("xn--kirna-2qa.local", "xn--kirna-2qa.local"),
    ("a" * 63 + ".local", "a" * 63 + ".local"),
])
def test_good_names_come_back_lower_case_without_the_trailing_dot(text, name):
    assert dns_name(text) == name


@pytest.mark.parametrize("text", ["8.8.8.8", "203.0.113.9", "192.0.2.7", "2001:db8::1",
                                  "2606:4700::1111", "172.32.0.1", "11.0.0.1"])
def test_public_addresses_are_refused(text):
    with pytest.raises(NameRefused, match="public address"):
        private_ip(text)


@pytest.mark.parametrize("text", ["999.1.1.1", "192.168.1", "till.local", "", "1.2.3.4\x00",
                                  "192.168.1.1/24"])
def test_things_that_are_not_addresses_are_refused(text):
    with pytest.raises(NameRefused, match="not an IP address"):
        private_ip(text)


@pytest.mark.parametrize("text, canonical", [
    ("192.168.1.20", "192.168.1.20"), ("10.0.0.1", "10.0.0.1"), ("172.31.255.1", "172.31.255.1"),
    ("100.64.0.9", "100.64.0.9"), ("127.0.0.1", "127.0.0.1"), ("FD00::0001", "fd00::1"),
    ("fe80::1", "fe80::1"),
])
def test_private_addresses_are_taken(text, canonical):
    assert private_ip(text) == canonical


@given(st.text(max_size=400))
def test_any_text_is_a_clean_name_or_a_plain_refusal(text):
    try:
        name = dns_name(text)
    except NameRefused as exc:
        assert str(exc) and "\x00" not in str(exc)
        return
    assert len(name) <= MAX_NAME and "*" not in name and name == name.lower()
    assert set(name) <= set(string.ascii_lowercase + string.digits + "-.")
    assert all(0 < len(label) <= 63 for label in name.split("."))


@given(st.one_of(st.ip_addresses().map(str), st.text(max_size=60)))
def test_any_text_is_a_private_address_or_a_plain_refusal(text):
    try:
        address = private_ip(text)
    except NameRefused as exc:
        assert str(exc)
        return
    assert not ipaddress.ip_address(address).is_global  # an independent oracle


def test_name_constraints_match_as_browsers_do():
    permitted = ["vm", "local", "localhost", "kirana.example.in"]
    assert dns_permitted("vm", permitted) and dns_permitted("till.vm", permitted)
    assert dns_permitted("VM.LOCAL", permitted) and dns_permitted("kirana.example.in", permitted)
    assert not dns_permitted("vm2", permitted)  # not a suffix match: a whole label
    assert not dns_permitted("example.in", permitted)
    assert not dns_permitted("evilkirana.example.in", permitted)
    networks = [ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("192.0.2.2/32"),
                ipaddress.ip_network("fc00::/7")]
    assert ip_permitted("192.168.7.1", networks) and ip_permitted("192.0.2.2", networks)
    assert not ip_permitted("192.0.2.3", networks) and not ip_permitted("8.8.8.8", networks)
    assert ip_permitted("fd12::1", networks) and not ip_permitted("not-an-ip", networks)
