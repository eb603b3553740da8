"""The API docs page: Swagger UI from vaxbook's own static files, started by a script file rather than an inline one,
so the page runs under a Content-Security-Policy that admits scripts from vaxbook alone."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin

STATIC_PATH = "/static"
SWAGGER_UI = f"{STATIC_PATH}/vendor/swagger-ui-dist@5.35.0"
# versioned by name: static files are cached for a year
START_SCRIPT = f"{STATIC_PATH}/docs/swagger-start.v1.js"
STYLE = f"{STATIC_PATH}/docs/docs.v1.css"


class DocsPage(SwaggerRenderPlugin):
    def __init__(self) -> None:
        super().__init__(
            js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_UI}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        spec = escape(self.get_openapi_json_route(request), quote=True)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(openapi_schema["info"]["title"])}</title>
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
<link rel="stylesheet" href="{self.css_url}">
<link rel="stylesheet" href="{STYLE}">
</head>
<body>
<div id="swagger-container"></div>
<script src="{self.js_url}"></script>
<script src="{self.standalone_preset_js_url}"></script>
<script src="{START_SCRIPT}" data-spec="{spec}"></script>
</body>
</html>
""".encode()
