"""The preview server answers only to loopback names, so DNS rebinding fails."""

from __future__ import annotations

import threading

import pytest

from pipeline.site.server import SiteServer
from tests.site.test_site_serve import request


@pytest.fixture(scope="module")
def server(built_demo):
    site = SiteServer(built_demo / "site", port=0, link_targets=(built_demo / ".alpha" / "store",))
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil"])
def test_foreign_host_header_is_refused(server, host):
    response, body = request(server, "/", headers={"Host": host})
    assert response.status == 421
    assert b"answers only to localhost" in body


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8000", "[::1]:8000"])
def test_loopback_host_header_is_served(server, host):
    response, _ = request(server, "/", headers={"Host": host})
    assert response.status == 200
