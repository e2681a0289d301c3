"""Decoding ESC/POS real-time status replies (DLE EOT 1, 2, 4) and the words shown for them."""

from __future__ import annotations

from app.printing import status as st


def test_a_healthy_printer_is_ready():
    assert st.decode(0x12, 0x12, 0x12) == st.Status(st.READY)


def test_paper_end_from_the_paper_sensor_or_the_offline_cause():
    assert st.decode(0x1A, 0x12, 0x72).reason == st.PAPER_OUT  # DLE EOT 4 bits 5-6
    assert st.decode(0x1A, 0x32, 0x12).reason == st.PAPER_OUT  # DLE EOT 2 bit 5


def test_cover_open_error_and_offline():
    assert st.decode(0x1A, 0x16, 0x12).reason == st.COVER_OPEN
    assert st.decode(0x1A, 0x52, 0x12).reason == st.ERROR
    assert st.decode(0x1A, 0x12, 0x12).reason == st.OFFLINE


def test_paper_near_end_still_prints():
    status = st.decode(0x12, 0x12, 0x1E)
    assert status.ready and status.paper_low


def test_reply_bytes_are_told_from_other_bytes():
    assert all(st.is_reply_byte(b) for b in (0x12, 0x1A, 0x72, 0x16))
    assert not any(st.is_reply_byte(b) for b in (0x00, 0xFF, 0x10, 0x04))


def test_status_requests_hidden_in_image_bytes_are_counted():
    assert st.requests_in(b"\x1dv0\x00\x10\x04\x01\xff\x10\x04\x09\x10\x04\x04") == 2
    assert st.requests_in(b"plain text\n\x1dV\x00") == 0


def test_banner_words():
    assert st.banner("counter-1", st.PAPER_OUT, 2) == (
        "Printer counter-1: out of paper — 2 receipts waiting.")
    assert st.banner("counter-1", st.NOT_RESPONDING, 1) == (
        "Printer counter-1: not responding — 1 receipt waiting.")
    assert st.banner("counter-1", st.READY, 3) == ""
    assert st.next_step(st.PAPER_OUT) == "Load a new roll; the receipts will print by themselves."
