"""The preview server answers only to loopback names, so DNS rebinding fails."""

from __future__ import annotations

import pytest

from tests.site.test_site_serve import request, server  # noqa: F401 (the site's served fixture)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil"])
def test_foreign_host_header_is_refused(server, host):
    response, body = request(server, "/", headers={"Host": host})
    assert response.status == 421
    assert b"answers only to localhost" in body


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8000", "[::1]:8000"])
def test_loopback_host_header_is_served(server, host):
    response, _ = request(server, "/", headers={"Host": host})
    assert response.status == 200
