"""`aliases:` on episodes and posts: old URLs keep working, clashes are refused, deploy checks them."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from pipeline.site.linkcheck import check_folder
from tests.deploy.servers import Nginx, missing
from tests.helpers import run_alpha

SITE_URL = "https://alpha.example.org/"


def _add_aliases(demo, episode: str, aliases: str) -> int:
    """Append an aliases: line to an episode manifest; returns its line number."""
    path = demo / "episodes" / f"{episode}.yaml"
    text = path.read_text()
    path.write_text(text + f"aliases: {aliases}\n")
    return text.count("\n") + 1


def _post_aliases(demo, aliases: str) -> None:
    post = demo / "posts" / "2026-10-03-welcome.md"
    post.write_text(post.read_text().replace("tags: [news]\n", f"tags: [news]\naliases: {aliases}\n", 1))


def test_page_and_media_aliases_keep_old_urls_working(demo):
    _add_aliases(demo, "ep01-hello", "[/old/hello/, /video/alpha_d11_episode11.mp4, /old/hello.html]")
    _post_aliases(demo, "[/2026/10/welcome.html]")
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    site = demo / "site"
    redirect = (site / "old" / "hello" / "index.html").read_text()
    assert f'<link rel="canonical" href="{SITE_URL}episodes/ep01-hello/">' in redirect
    assert '<meta http-equiv="refresh" content="0; url=../../episodes/ep01-hello/">' in redirect
    assert "Hello, world" in redirect
    assert 'url=../episodes/ep01-hello/"' in (site / "old" / "hello.html").read_text()
    post_redirect = (site / "2026" / "10" / "welcome.html").read_text()
    assert f'href="{SITE_URL}blog/welcome/"' in post_redirect
    # The media alias is the current video itself, so embeds elsewhere keep playing.
    video = site / "video" / "alpha_d11_episode11.mp4"
    assert video.read_bytes() == (site / "episodes" / "ep01-hello" / "video.mp4").read_bytes()
    assert not os.path.isabs(os.readlink(video))
    record = json.loads((site / "build.json").read_text())["aliases"]
    assert record["video/alpha_d11_episode11.mp4"].startswith("media/")
    assert record["old/hello/index.html"] == "episodes/ep01-hello/"
    assert check_folder(site, SITE_URL) == []
    sitemap = (site / "sitemap.xml").read_text()
    assert "old/hello" not in sitemap  # an alias is not a page of its own


@pytest.mark.parametrize("aliases, message", [
    ("[/episodes/]", "alias '/episodes/' is a file the site already has (episodes/index.html)"),
    ("[/feed.xml]", "alias '/feed.xml' is neither a page"),
    ("[/blog]", "alias '/blog' is a file the site already has (blog/index.html)"),
    ("[/build.json]", "is neither a page"),
    ("[/episodes/ep01-hello/video.mp4]", "is a file the site already has"),
    ("[/index.html/x.html]", "would need index.html to be a folder"),
    # the post comes second, so the clash is reported there, naming the episode
    ("[/2026/10/welcome.html]", "posts/2026-10-03-welcome.md:5: aliases[0]: alias '/2026/10/welcome.html' "
                                "is also an alias in episodes/ep03-rain.yaml (aliases[0])"),
    ('["/a b/"]', "no spaces"),
    ("[/../x.html]", "'..' segment"),
])
def test_alias_clashes_and_bad_aliases_exit_2_naming_file_line_and_key(demo, aliases, message):
    _post_aliases(demo, "[/2026/10/welcome.html]")
    line = _add_aliases(demo, "ep03-rain", aliases)
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    if not message.startswith("posts/"):
        assert f"episodes/ep03-rain.yaml:{line}: aliases[0]: " in result.stderr
    assert "Traceback" not in result.stderr


def test_a_post_has_no_media_alias(demo):
    _post_aliases(demo, "[/video/welcome.mp4]")
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 2
    assert "posts/2026-10-03-welcome.md:5: aliases[0]: alias '/video/welcome.mp4' is not a page" in result.stderr


def test_deploy_verifies_every_alias_live(demo, tmp_path):
    if missing("nginx"):
        pytest.skip("needs nginx (installed by .ci/run)")
    _add_aliases(demo, "ep01-hello", "[/old/hello/, /video/alpha_d11_episode11.mp4]")
    server = Nginx(tmp_path / "www" / "current", tmp_path / "nginx")
    try:
        config = demo / "alpha.yaml"
        config.write_text(config.read_text().replace(
            "local: {kind: local, path: .alpha/www}",
            f'local: {{kind: local, path: {tmp_path / "www"}, url: "{server.url}"}}'))
        assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
        result = run_alpha("-C", str(demo), "deploy", "--json")
        assert result.exit_code == 0, result.stderr
        checks = json.loads(result.stdout)["verification"]["checks"]
        aliases = {check["url"].removeprefix(server.url): check for check in checks if check["kind"] == "alias"}
        assert set(aliases) == {"old/hello/", "video/alpha_d11_episode11.mp4"}
        assert all(check["ok"] for check in aliases.values()), aliases
        assert aliases["video/alpha_d11_episode11.mp4"]["detail"].startswith("206")
        request = urllib.request.Request(server.url + "video/alpha_d11_episode11.mp4", headers={"Range": "bytes=0-9"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 206
    finally:
        server.stop()
