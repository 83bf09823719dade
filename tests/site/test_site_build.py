"""`alpha build site` on a rendered demo: pages, media links, build id, drafts, failures."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from pipeline.demo import synth_speech
from pipeline.errors import Failure, UserError
from pipeline.site.build import build_site
from pipeline.site.linkcheck import check_folder
from tests.helpers import run_alpha, write

from tests.site.common import EPISODES, TODAY, override_template


def page(site: Path, path: str) -> str:
    return (site / path).read_text(encoding="utf-8")


def media_url(html: str) -> str:
    """The content-addressed video URL a page's player uses."""
    match = re.search(r'<source src="(?:\.\./)*(media/[0-9a-f]+\.mp4)"', html)
    assert match, "no video source in the page"
    return match.group(1)


def test_full_site_is_written_with_every_page(built_demo):
    site = built_demo / "site"
    for path in ["index.html", "episodes/index.html", "blog/index.html", "tags/index.html", "fixes/index.html",
                 "404.html", "feed.xml", "sitemap.xml", "robots.txt", "build.json",
                 "blog/welcome/index.html", "blog/the-seam/index.html", "tags/restore/index.html"]:
        assert (site / path).is_file(), path
    for episode in EPISODES:
        assert (site / "episodes" / episode / "index.html").is_file()
    catalog = page(site, "index.html")
    for title in ["Hello, world", "The seam", "Rain on the window"]:
        assert title in catalog
    assert check_folder(site, "https://alpha.example.org/") == []


def test_media_are_relative_links_into_the_store(built_demo):
    site = built_demo / "site"
    links = [path for path in site.rglob("*") if path.is_symlink()]
    assert links, "media should be linked, not copied"
    for link in links:
        target = os.readlink(link)
        assert not os.path.isabs(target), target
        assert ".alpha/store/" in target
        assert link.resolve().is_file()
        assert link.resolve().is_relative_to(built_demo / ".alpha" / "store")
    lock = json.loads((built_demo / "alpha.lock").read_text())["episodes"]
    video = lock["ep01-hello"]["stages"]["mux"]["outputs"]["video"]
    stable = site / "episodes/ep01-hello/video.mp4"
    assert stable.resolve() == (built_demo / video["path"]).resolve()
    html = page(site, "episodes/ep01-hello/index.html")
    assert media_url(html) == f"media/{video['hash'][:16]}.mp4"


def test_pages_show_the_renders_own_display_copies(built_demo):
    # The proof stage makes the JPEGs a page shows; the build links them and encodes nothing.
    lock = json.loads((built_demo / "alpha.lock").read_text())["episodes"]
    view = lock["ep02-the-seam"]["stages"]["proof"]["outputs"]["compare@3s:view"]
    html = page(built_demo / "site", "episodes/ep02-the-seam/index.html")
    assert f"media/{view['hash'][:16]}.jpg" in html
    cache = built_demo / ".alpha/cache/site-images.json"
    made = json.loads(cache.read_text())["images"] if cache.exists() else {}
    assert made == {}


def test_build_id_is_a_content_hash_in_every_page(built_demo):
    site = built_demo / "site"
    record = json.loads(page(site, "build.json"))
    assert re.fullmatch(r"[0-9a-f]{32}", record["build_id"])
    assert record["built_at"].endswith("Z")
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for html in pages:
        assert f'<meta name="alpha-build" content="{record["build_id"]}">' in html.read_text(), html
    # The same inputs give the same id; the time of the build is not part of it.
    again = build_site(built_demo, today=TODAY)
    assert again.build_id == record["build_id"]


def test_episode_page_has_player_proofs_fix_table_figures_and_history(built_demo):
    html = page(built_demo / "site", "episodes/ep02-the-seam/index.html")
    assert re.search(r'<video[^>]*preload="metadata"', html)
    assert re.search(r'<video[^>]*poster="\.\./\.\./media/[0-9a-f]+\.jpg"', html)
    # Proof images grouped by time, the before/after comparison in its own section.
    assert "At 0:03" in html and "At 0:06" in html
    assert 'id="before-after"' in html and "Before / after" in html
    assert "Face crop" in html
    # The fix stack table: layer | fix | source id.
    table = html.split('<table class="fixes">', 1)[1].split("</table>", 1)[0]
    assert "<th scope=\"col\">Layer</th><th scope=\"col\">Fix</th><th scope=\"col\">Source id</th>" in table
    for fix in ["TASK-098", "TASK-099", "TASK-101"]:
        assert fix in table
    # Quality figures from the preview backend's report.
    assert "restore.seam_inner_mean" in html
    assert "lipsync.faces_missed" in html
    # History reads as words.
    assert "v1" in html and "first render" in html


def test_backend_none_says_it_has_no_figures(built_demo):
    html = page(built_demo / "site", "episodes/ep01-hello/index.html")
    assert "reported no quality figures" in html
    assert 'id="before-after"' not in html


def test_catalog_shows_fix_badges_and_staleness(built_demo):
    catalog = page(built_demo / "site", "index.html")
    card = catalog.split("Hello, world</a></h3>", 1)[1].split("</article>", 1)[0]
    # ep01 pins the stock paste-back: behind today's stack (TASK-099, TASK-101 missing).
    assert "Behind today" in card
    assert "TASK-098" in card and "TASK-101" not in card
    seam = catalog.split("The seam</a></h3>", 1)[1].split("</article>", 1)[0]
    assert "pill-current" in seam and "Behind" not in seam
    assert "v1" in seam


def test_plan_staleness_is_flagged(demo):
    episode = demo / "episodes" / "ep03-rain.yaml"
    episode.write_text(episode.read_text().replace("voice_gain_db: -1", "voice_gain_db: -3"))
    build_site(demo, today=TODAY)
    html = page(demo / "site", "episodes/ep03-rain/index.html")
    assert "Render out of date" in html
    assert "audio.voice_gain_db: -1.0 → -3.0" in html


def test_rerender_changes_media_url_and_keeps_stable_url(demo):
    build_site(demo, today=TODAY)
    site = demo / "site"
    before = media_url(page(site, "episodes/ep01-hello/index.html"))
    stable_before = (site / "episodes/ep01-hello/video.mp4").resolve()
    # Change an input file (the voice), re-render that episode, rebuild.
    synth_speech(demo / "media" / "ep01-voice.wav", seconds=6.5, seed=99)
    result = run_alpha("-C", str(demo), "render", "ep01-hello")
    assert result.exit_code == 0, result.stderr
    build_site(demo, today=TODAY)
    html = page(site, "episodes/ep01-hello/index.html")
    after = media_url(html)
    assert after != before
    assert (site / after).resolve().is_file()
    assert (site / "episodes/ep01-hello/video.mp4").resolve() != stable_before
    assert (site / "episodes/ep01-hello/video.mp4").resolve() == (site / after).resolve()
    assert "v2" in html and "audio.voice: media/ep01-voice.wav changed" in html


def test_titles_are_escaped(demo):
    episode = demo / "episodes" / "ep01-hello.yaml"
    episode.write_text(episode.read_text().replace("title: Hello, world",
                                                   'title: "<script>alert(1)</script> & co"'))
    write(demo / "posts" / "2026-11-01-evil.md", """
        ---
        title: "<script>alert('post')</script>"
        date: 2026-11-01
        tags: ["<b>tag</b>"]
        ---
        Body.
    """)
    build_site(demo, today=TODAY)
    site = demo / "site"
    for path in ["index.html", "episodes/ep01-hello/index.html", "blog/evil/index.html", "blog/index.html"]:
        html = page(site, path)
        assert "<script>alert" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page(site, "episodes/ep01-hello/index.html")
    # In JSON-LD the title is JSON, and cannot close the script element.
    ld = page(site, "episodes/ep01-hello/index.html").split('<script type="application/ld+json">', 1)[1]
    ld = ld.split("</script>", 1)[0]
    assert json.loads(ld)["name"] == "<script>alert(1)</script> & co"
    assert "&lt;script&gt;" in page(site, "feed.xml")


def test_drafts_and_future_items_are_hidden_unless_asked(demo):
    future = (TODAY + dt.timedelta(days=3)).isoformat()
    episode = demo / "episodes" / "ep03-rain.yaml"
    episode.write_text(episode.read_text().replace("date: 2026-11-06", f"date: {future}"))
    episode = demo / "episodes" / "ep02-the-seam.yaml"
    episode.write_text(episode.read_text() + "draft: true\n")
    post = demo / "posts" / "2026-10-17-the-seam.md"  # it embeds ep02: a draft too, or the build fails
    post.write_text(post.read_text().replace("tags: [fixes, restore]", "tags: [fixes, restore]\ndraft: true"))
    write(demo / "posts" / "later.md", f"""
        ---
        title: Scheduled post
        date: {future}
        ---
        Not yet.
    """)
    result = build_site(demo, today=TODAY)
    site = demo / "site"
    assert result.hidden["draft"] == ["ep02-the-seam", "posts/2026-10-17-the-seam.md",
                                      "posts/2026-12-04-the-sharper-mouth.md"]
    assert result.hidden["scheduled"] == ["ep03-rain", "posts/later.md"]
    assert not (site / "episodes/ep03-rain").exists()
    assert not (site / "episodes/ep02-the-seam").exists()
    assert not (site / "blog/later").exists() and not (site / "blog/the-sharper-mouth").exists()
    everything = "".join(path.read_text() for path in site.rglob("*") if path.suffix in {".html", ".xml"})
    for hidden in ["Rain on the window", "The seam</a>", "Scheduled post", "sharper mouth", "rectangle came"]:
        assert hidden not in everything, hidden
    assert "Disallow" not in page(site, "robots.txt")

    result = build_site(demo, drafts=True, today=TODAY)
    assert result.hidden == {"draft": [], "scheduled": [], "unrendered": []}
    for path in ["episodes/ep03-rain/index.html", "episodes/ep02-the-seam/index.html",
                 "blog/later/index.html", "blog/the-sharper-mouth/index.html"]:
        assert (site / path).is_file(), path
    assert '<meta name="robots" content="noindex, nofollow">' in page(site, "index.html")
    assert "Disallow: /" in page(site, "robots.txt")
    assert json.loads(page(site, "build.json"))["drafts"] is True


def test_a_post_referring_to_an_unknown_episode_fails_naming_file_and_line(demo):
    write(demo / "posts" / "2026-11-02-typo.md", """
        ---
        title: Typo
        date: 2026-11-02
        ---
        First paragraph.

        {{< video ep01-helo >}}
    """)
    with pytest.raises(UserError) as caught:
        build_site(demo, today=TODAY)
    message = str(caught.value)
    assert "posts/2026-11-02-typo.md:7" in message
    assert "unknown episode 'ep01-helo'" in message and "did you mean 'ep01-hello'" in message


def test_broken_link_fails_the_build_naming_the_page_and_keeps_the_old_site(demo):
    build_site(demo, today=TODAY)
    site = demo / "site"
    old_id = json.loads(page(site, "build.json"))["build_id"]
    old_catalog = page(site, "index.html")
    post = override_template(demo, "post.html")
    post.write_text(post.read_text().replace('<div class="prose">',
                                             '<div class="prose"><a href="{{ root }}nowhere/">x</a>'
                                             '<a href="#no-such-id">y</a>'))
    with pytest.raises(Failure) as caught:
        build_site(demo, today=TODAY)
    message = str(caught.value)
    assert "blog/welcome/index.html" in message and "nowhere/index.html is missing" in message
    assert 'no id="no-such-id" in blog/welcome/index.html' in message
    # The previous site is untouched.
    assert json.loads(page(site, "build.json"))["build_id"] == old_id
    assert page(site, "index.html") == old_catalog


def test_failure_mid_build_leaves_the_old_site(demo, monkeypatch):
    build_site(demo, today=TODAY)
    build_site(demo, today=TODAY)  # now there is a spare folder beside site/ as well
    site = demo / "site"
    before = {path.relative_to(site): path.read_bytes() for path in site.rglob("*") if path.is_file()}
    import pipeline.site.output as output

    real_write = output.Folders._write
    calls = []

    def fail_halfway(self, path, data):
        calls.append(path)
        if len(calls) > 3:
            raise OSError("disk full")
        return real_write(self, path, data)

    monkeypatch.setattr(output.Folders, "_write", fail_halfway)
    episode = demo / "episodes" / "ep01-hello.yaml"
    episode.write_text(episode.read_text().replace("title: Hello, world", "title: Changed"))
    with pytest.raises(OSError, match="disk full"):
        build_site(demo, today=TODAY)
    after = {path.relative_to(site): path.read_bytes() for path in site.rglob("*") if path.is_file()}
    assert after == before
    # The half-updated spare is not trusted: the next build is complete and correct.
    monkeypatch.undo()
    build_site(demo, today=TODAY)
    assert "Changed" in page(site, "index.html")
    assert check_folder(site, "https://alpha.example.org/") == []


def test_only_what_changed_is_written(demo):
    first = build_site(demo, today=TODAY)
    site = demo / "site"
    inode = next((site / "assets").glob("style.*.css")).stat().st_ino
    build_site(demo, today=TODAY)  # the first build's folder is the spare now
    post = demo / "posts" / "2026-10-17-the-seam.md"
    post.write_text(post.read_text() + "\nOne more sentence.\n")
    third = build_site(demo, today=TODAY)
    assert third.build_id != first.build_id
    assert "One more sentence." in page(site, "blog/the-seam/index.html")
    assert next((site / "assets").glob("style.*.css")).stat().st_ino == inode  # not rewritten
    assert f'content="{third.build_id}"' in page(site, "index.html")
    # A file changed by hand in the spare is noticed and written again.
    spare = demo / ".site.spare"
    (spare / "index.html").write_text("edited by hand")
    build_site(demo, today=TODAY)
    build_site(demo, today=TODAY)
    assert "edited by hand" not in page(site, "index.html")
    assert check_folder(site, "https://alpha.example.org/") == []


def test_worker_processes_give_the_same_site(demo, monkeypatch):
    one = build_site(demo, today=TODAY)
    pages = {path: path.read_bytes() for path in (demo / "site").rglob("*.html")}
    monkeypatch.setenv("ALPHA_SITE_WORKERS", "2")
    import pipeline.site.workers as workers

    monkeypatch.setattr(workers, "PARALLEL_MIN_PAGES", 1)
    two = build_site(demo, today=TODAY)
    assert two.build_id == one.build_id
    assert {path: path.read_bytes() for path in (demo / "site").rglob("*.html")} == pages


def test_bad_template_is_a_user_error_with_its_line(demo):
    write(demo / "templates" / "tags.html", """
        {% extends "base.html" %}
        {% block main %}
        {{ no_such_variable }}
        {% endblock %}
    """)
    with pytest.raises(UserError) as caught:
        build_site(demo, today=TODAY)
    assert "templates/tags.html:3" in str(caught.value)
    assert "no_such_variable" in str(caught.value)


def test_output_folder_that_is_not_a_site_is_never_replaced(demo):
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("output: site", "output: media"))
    with pytest.raises(UserError, match="overlaps the project's media/"):
        build_site(demo, today=TODAY)
    config.write_text(config.read_text().replace("output: media", "output: public"))
    (demo / "public").mkdir()
    (demo / "public" / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not written by `alpha build site`"):
        build_site(demo, today=TODAY)
    assert (demo / "public" / "mine.txt").read_text() == "keep me"


def test_proof_outputs_of_any_kind_are_grouped_by_time(demo):
    """`<kind>@<t>s` outputs of kinds the site has never seen still show, grouped by time."""
    lock_file = demo / "alpha.lock"
    data = json.loads(lock_file.read_text())
    proof = data["episodes"]["ep01-hello"]["stages"]["proof"]["outputs"]
    frame = proof["frame@5s"]
    proof["heatmap@5s"] = dict(frame)
    proof["compare@2s"] = dict(proof["frame@2s"])
    data["episodes"]["ep01-hello"]["stages"]["lipsync"]["metrics"] = {
        "duration": 7.0, "faces_missed": 2, "restore": {"seam_rect_mean": 0.25, "fallbacks": 1}}
    lock_file.write_text(json.dumps(data))
    build_site(demo, today=TODAY)
    html = page(demo / "site", "episodes/ep01-hello/index.html")
    proofs = html.split('id="proof"', 1)[1].split("</section>", 1)[0]
    assert proofs.index("At 0:02") < proofs.index("At 0:05")
    assert "Heatmap" in proofs.split("At 0:02")[1]
    comparisons = html.split('id="before-after"', 1)[1].split("</section>", 1)[0]
    assert "At 0:02" in comparisons and "At 0:05" not in comparisons
    assert "lipsync.restore.seam_rect_mean" in html and "0.25" in html
    assert "lipsync.faces_missed" in html


def test_unrendered_episodes_are_left_out_and_reported(demo):
    write(demo / "episodes" / "ep04-new.yaml", """
        title: Not yet rendered
        date: 2026-11-20
        source: {image: media/portrait.jpg}
        audio: {voice: media/ep01-voice.wav}
    """)
    result = build_site(demo, today=TODAY)
    assert result.hidden["unrendered"] == ["ep04-new"]
    assert not (demo / "site" / "episodes" / "ep04-new").exists()
