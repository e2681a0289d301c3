"""The address a new device is sent to and what /pair warns about (issue #16 item 15), and
where the CA is handed out over plain HTTP (item 16): app/core/cert_names.py, pure."""

from __future__ import annotations

from app.core.cert_names import (
    covers,
    device_base_url,
    host_of,
    pairing_problems,
    trust_page_url,
)

# ---- the address a new device is sent to ----------------------------------------------------

CERT = (["vm", "vm.local", "localhost"], ["127.0.0.1", "192.168.1.20", "172.17.0.1", "::1"])


def url(**kw):
    args = dict(scheme="https", listen_host="0.0.0.0", port=8000, computer_name="vm",
                lan_ips=["127.0.0.1", "172.17.0.1", "192.168.1.20"], primary_ip="", cert=CERT)
    return device_base_url(**{**args, **kw})


def test_listening_everywhere_sends_devices_to_the_lan_address_the_certificate_covers():
    assert url() == "https://192.168.1.20:8000"  # the router's range before Docker's bridge
    assert url(primary_ip="172.17.0.1") == "https://172.17.0.1:8000"  # the default route wins
    assert url(listen_host="::") == "https://192.168.1.20:8000"


def test_an_address_the_certificate_lacks_is_passed_over():
    assert url(lan_ips=["192.168.1.99", "172.17.0.1"],
               primary_ip="192.168.1.99") == "https://172.17.0.1:8000"
    # Nothing covered: the computer's .local name (phones resolve it), never 127.0.0.1.
    assert url(lan_ips=["127.0.0.1", "10.9.9.9"]) == "https://vm.local:8000"
    assert url(lan_ips=[], cert=(["vm"], [])) == "https://vm:8000"


def test_without_a_certificate_the_likeliest_lan_address_is_used():
    assert device_base_url(scheme="http", listen_host="0.0.0.0", port=8000,
                           computer_name="vm", lan_ips=["127.0.0.1", "169.254.3.3", "10.1.2.3"],
                           cert=None) == "http://10.1.2.3:8000"


def test_one_listening_address_is_the_address():
    assert url(listen_host="192.168.1.20") == "https://192.168.1.20:8000"
    assert url(listen_host="127.0.0.1") == "https://127.0.0.1:8000"
    assert url(listen_host="fd00::5", port=443) == "https://[fd00::5]:443"


def test_pairing_warns_about_loopback_bare_names_and_names_the_certificate_lacks():
    names, ips = CERT
    assert pairing_problems("https://192.168.1.20:8000", names, ips) == []
    assert pairing_problems("https://vm.local:8000", names, ips) == []
    loop = pairing_problems("https://127.0.0.1:8000", names, ips)
    assert len(loop) == 1 and "this computer itself" in loop[0] and "--host 0.0.0.0" in loop[0]
    assert "this computer itself" in pairing_problems("https://localhost:8000", names, ips)[0]
    bare = pairing_problems("https://vm:8000", names, ips)
    assert len(bare) == 1 and "cannot look up" in bare[0]
    lacking = pairing_problems("https://kirana.example.in", names, ips)
    assert len(lacking) == 1 and "does not cover" in lacking[0]
    assert "--name kirana.example.in" in lacking[0] and "192.168.1.20" in lacking[0]
    assert "--ip 10.0.0.5" in pairing_problems("https://10.0.0.5:8000", names, ips)[0]
    assert pairing_problems("http://10.0.0.5:8000", None, None) == []  # no certificate yet


def test_covers_and_hosts():
    assert covers("VM.local", *CERT) and covers("192.168.1.20", *CERT) and covers("::1", *CERT)
    assert not covers("192.168.1.21", *CERT) and not covers("till.vm.local", *CERT)
    assert host_of("https://[fd00::5]:8000/") == "fd00::5" and host_of("https://Vm:1") == "vm"
    assert host_of("https://[bad") == ""


def test_the_trust_page_is_plain_http_on_the_same_host_and_port():
    assert trust_page_url("https://192.168.1.20:8000/") == "http://192.168.1.20:8000/pair/trust"
    assert trust_page_url("https://kirana.local") == "http://kirana.local:443/pair/trust"
    assert trust_page_url("https://[fd00::5]:8000") == "http://[fd00::5]:8000/pair/trust"
