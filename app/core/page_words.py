"""The words the page scripts show (static/js): translated on the server, handed to the
scripts with the page.

The scripts keep no English of their own: the camera scanner's status lines and buttons,
the "new version" banner, the order board's link state and the names of tables that
scroll sideways all read `WORDS` from a JSON block that `templates/base.html` writes
(`<script type="application/json" id="page-words">`: data, never run, so the pages'
Content-Security-Policy is unchanged). A key the page lacks is shown as the key, which a
test (`tests/unit/test_page_words.py`) keeps from happening: every `word("…")` the
scripts ask for is listed here, and every entry here is asked for.

Placeholders are `%(name)s` as in the rest of the catalogue; the script fills them in.
"""

from __future__ import annotations

from app.core.i18n import N_, gettext

WORDS: dict[str, str] = {
    # static/js/camera-scanner.js
    "camera.panel": N_("Camera scanner"),
    "camera.button": N_("Scan with the camera"),
    "camera.button_label": N_("Camera"),
    "camera.close": N_("Close the camera"),
    "camera.torch": N_("Torch"),
    "camera.type": N_("Type the code"),
    "camera.starting": N_("Starting the camera…"),
    "camera.loading": N_("Loading the barcode reader…"),
    "camera.ready": N_("Point the camera at a barcode or QR code."),
    "camera.blocked": N_(
        "Camera blocked: allow the camera for this site in the browser settings, or type the code"
    ),
    "camera.missing": N_("No camera found: type the code or use the scanner gun"),
    "camera.busy": N_("Camera in use by another app: close it and try again, or type the code"),
    "camera.insecure": N_(
        "The camera needs a secure (https) connection: type the code or use the scanner gun"
    ),
    "camera.reader_failed": N_(
        "The barcode reader could not start: type the code or use the scanner gun"
    ),
    "camera.failed": N_("The camera could not start: type the code or use the scanner gun"),
    "camera.no_field": N_("This screen has no scan field any more: close the camera"),
    "camera.checking": N_("Checking %(code)s…"),
    "camera.torch_on_failed": N_("The torch could not be switched on."),
    "camera.torch_off_failed": N_("The torch could not be switched off."),
    # static/js/app.js: the update banner, the order board's link, sideways tables, and
    # the red "Not sent" box when the store server cannot be reached
    "update.ready": N_("A new version of Kirana is ready."),
    "update.reload": N_("Reload"),
    "live.on": N_("live"),
    "live.reconnecting": N_("reconnecting…"),
    "table.name": N_("Table"),
    "unsent.title": N_("Not sent: store server unreachable."),
    "unsent.scans": N_("Scans waiting: %(codes)s."),
    "unsent.will_retry": N_("They go in by themselves when the connection is back."),
    "unsent.tap_again": N_("Try again when the connection is back."),
    "table.scrolls": N_("%(name)s (scrolls sideways)"),
}


def page_words() -> dict[str, str]:
    """Every script word in the request's language (English where the catalogue has none)."""
    return {key: gettext(text) for key, text in WORDS.items()}
