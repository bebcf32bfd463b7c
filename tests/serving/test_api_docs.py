"""Swagger UI at /docs works on a machine without internet: the page and everything it loads
come from the API itself (the `fastapi-swagger` package), never from a CDN."""

import re

import pytest

# Where the page points the browser: tag attributes, the spec URL and the OAuth2 redirect page.
REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'|\+ '(/[^']+)'""")
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
    "oauth2-redirect": "text/html",
}


def referenced_urls(html: str) -> list[str]:
    return [next(group for group in match if group) for match in REFERENCE.findall(html)]


def expected_content_type(url: str) -> str:
    return next(kind for suffix, kind in CONTENT_TYPES.items() if url.endswith(suffix))


@pytest.fixture
def docs_page(client) -> str:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_docs_page_loads_nothing_from_another_host(docs_page):
    urls = referenced_urls(docs_page)

    assert len(urls) == 5  # stylesheet, favicon, script, spec, OAuth2 redirect page
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "http" not in docs_page


def test_every_asset_of_the_docs_page_is_served_with_its_content_type(client, docs_page):
    for url in referenced_urls(docs_page):
        response = client.get(url)

        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(expected_content_type(url)), url
        assert response.content, url


def test_the_swagger_script_is_the_packaged_bundle(client, docs_page):
    (script,) = re.findall(r'<script src="([^"]+)"', docs_page)

    assert "SwaggerUIBundle" in client.get(script).text


def test_redoc_is_off_and_the_docs_routes_stay_out_of_the_schema(client):
    assert client.get("/redoc").status_code == 404

    paths = client.get("/openapi.json").json()["paths"]

    assert not [path for path in paths if path.startswith(("/docs", "/static", "/redoc"))]
