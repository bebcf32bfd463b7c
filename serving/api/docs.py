"""Swagger UI served from the installed `fastapi-swagger` package instead of a CDN, so /docs
works on a machine without internet. The package ships Swagger UI 5, which reads the OpenAPI 3.1
FastAPI writes (`swagger-ui-bundle`'s 4.x could not: "Unable to render this definition").
ReDoc ships no packaged assets, so the app turns it off."""

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from serving.api.headers import CONTENT_SECURITY_POLICY, swagger_ui_policy

ASSETS_PATH = "/static/swagger-ui"
ASSETS_DIRECTORY = str(files("fastapi_swagger") / "resources")
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"


def add_swagger_ui(app: FastAPI) -> None:
    """/docs, its OAuth2 redirect page and the assets they load, all outside the OpenAPI schema."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIRECTORY), name="swagger-ui")
    app.swagger_ui_oauth2_redirect_url = OAUTH2_REDIRECT_PATH

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL the page loads needs that prefix back.
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )
        page.headers[CONTENT_SECURITY_POLICY] = swagger_ui_policy(page.body)
        return page

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers[CONTENT_SECURITY_POLICY] = swagger_ui_policy(page.body)
        return page
