"""A store's print-template overrides run in Jinja's sandbox (issue #13 item 19, ASVS 4.0.3
V5.2.5, V12.3.x): a template that reaches for Python internals (to run a shell command)
is refused, the problem shown and the built-in layout printed; normal overrides render."""

from __future__ import annotations

import pytest

from app.printing.documents import PrintTemplates
from tests.unit.test_print_documents import CONTEXTS, config

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() | length }} classes",
    "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ money.__globals__['__builtins__']['__import__']('os').system('touch {marker}') }}",
    "{{ '{0.__class__.__base__.__subclasses__}'.format('') }}",
    "{{ store.__class__.__init__.__globals__ }}",
    "{% for c in range(2000000) %}{% endfor %}",
]


@pytest.mark.parametrize("body", ESCAPES)
def test_a_template_reaching_for_python_internals_is_refused(tmp_path, body):
    marker = tmp_path / "pwned"
    overrides = tmp_path / "print_templates"
    overrides.mkdir()
    (overrides / "receipt.txt.j2").write_text(
        "[c]Hello\n" + body.replace("{marker}", str(marker)) + "\n[cut]\n")
    templates = PrintTemplates(config(tmp_path))
    layout = templates.render("receipt", **CONTEXTS["receipt"][0])
    assert not marker.exists(), "the template ran a shell command"
    assert "TAX INVOICE" in layout and "Hello" not in layout  # the built-in layout
    problem = templates.problems["receipt.txt.j2"]
    assert problem.startswith("receipt.txt.j2 ") and "built-in layout" in problem
    assert "unsafe" in problem or "range" in problem


def test_a_normal_override_still_renders_in_the_sandbox(tmp_path):
    overrides = tmp_path / "print_templates"
    overrides.mkdir()
    (overrides / "receipt.txt.j2").write_text(
        "[c][b]{{ store.name | t }}\n"
        "[c]{{ sale.number }} {{ local(sale.at) }}\n"
        "{% for line in sale.lines %}{{ line.name | t }}|{{ money(line.gross_minor) }}\n"
        "{% endfor %}"
        "Total|{{ money(sale.total_minor) }}\n[cut]\n")
    templates = PrintTemplates(config(tmp_path))
    layout = templates.render("receipt", **CONTEXTS["receipt"][0])
    assert layout.startswith("[c][b]Kirana Fresh") and "S1-000042" in layout
    assert "Tata Salt 1 kg|" in layout and "receipt.txt.j2" not in templates.problems
