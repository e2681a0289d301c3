"""The receiving form's put-away list is drawn once per (bins, chosen, home) and kept
(receiving_routes.bin_options, issue #17 speed work): it must be exactly what the loop
it replaced drew, for any bins, any chosen value (typed into a refused form too) and
any home bin, and a chosen value that is no bin's code must not fill the cache."""

from __future__ import annotations

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import resources
from app.purchasing.receiving import BinChoice
from app.purchasing.receiving_routes import _kept_bin_options, bin_options

# receive_step.html's loop before the list was kept.
_PLAIN = ("{% for b in bins %}<option value=\"{{ b.code }}\"{% if b.code == chosen %} "
          "selected{% endif %}>{{ b.code }}{% if b.zone %} · {{ b.zone }}{% endif %}"
          "{% if b.code == home %} (its place){% endif %}</option>{% endfor %}")

codes = st.text(alphabet="AB-1<&\"'", min_size=1, max_size=6)


def _env(auto_reload: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(resources.TEMPLATES),
                             autoescape=True, auto_reload=auto_reload)
    env.globals["bin_options"] = bin_options
    return env


KEPT, FRESH = _env(False), _env(True)
CALL = "{{ bin_options(bins, chosen, home) }}"


@settings(max_examples=150)
@given(bins=st.lists(st.tuples(codes, st.sampled_from(["", "AMBIENT", "COLD<"])),
                     max_size=12, unique_by=lambda b: b[0]),
       chosen=st.one_of(codes, st.just(""), st.text(max_size=30)),
       home=st.one_of(codes, st.just("")))
def test_the_kept_list_is_the_plain_loop(bins, chosen, home):
    choices = tuple(BinChoice(code, zone) for code, zone in bins)
    if bins and chosen == "A":
        chosen = bins[0][0]  # a real choice now and then
    want = KEPT.from_string(_PLAIN).render(bins=choices, chosen=chosen, home=home)
    for env in (KEPT, FRESH):
        assert env.from_string(CALL).render(bins=choices, chosen=chosen, home=home) == want
        # twice: the kept one again
        assert env.from_string(CALL).render(bins=choices, chosen=chosen, home=home) == want


def test_typed_values_do_not_fill_the_cache():
    choices = (BinChoice("A-01", "AMBIENT"), BinChoice("B-01", ""))
    template = KEPT.from_string(CALL)
    template.render(bins=choices, chosen="nothing", home="A-01")
    before = _kept_bin_options.cache_info().currsize
    for typed in ("x" * 100_000, "A-01\x00", "a-01", "<script>", "B-01 "):
        html = template.render(bins=choices, chosen=typed, home="A-01")
        assert "selected" not in html and "x" * 50 not in html
    assert _kept_bin_options.cache_info().currsize == before
    assert 'value="B-01" selected' in template.render(bins=choices, chosen="B-01", home="A-01")
