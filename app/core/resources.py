"""Where Kirana's own files are: page and print templates, static files, example configs
and demo data, migrations. Every module that needs one asks here; one rule for a checkout
and an installed wheel.

The repository keeps templates/, static/ and store_config/ at its top level; the wheel
carries them inside the package as app/templates, app/static and app/store_config
(pyproject.toml maps them with [tool.setuptools.package-dir]). So a folder is the
package's own (an installed wheel) if it is there, else the checkout's top-level one
(`pip install -e .` or the source tree on sys.path). Kirana is installed unzipped (as pip
does): Jinja, Alembic and the static file server need real folders.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("app")))


def bundled(name: str) -> Path:
    """The folder `name` shipped with Kirana (templates, static, store_config)."""
    for candidate in (PACKAGE / name, PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"Kirana's {name}/ folder is missing (looked in {PACKAGE} and {PACKAGE.parent}); "
        "reinstall Kirana from a wheel built from the repository"
    )


TEMPLATES = bundled("templates")
PRINT_TEMPLATES = TEMPLATES / "print"
STATIC = bundled("static")
STORE_CONFIG = bundled("store_config")
MIGRATIONS = PACKAGE / "migrations"
HUB_MIGRATIONS = PACKAGE / "hub" / "migrations"
