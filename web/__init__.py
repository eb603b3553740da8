"""Pages, and the static files vaxbook serves itself: vendored assets under static/vendor/<package>@<version>/, with
their licences (see static/vendor/README.md)."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
