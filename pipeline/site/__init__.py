"""The static site: catalog, episode pages, blog, feeds and sitemap, built from the lock.

    build.py      build_site(): collect -> resolve -> render -> check -> write, and its result
    collect.py    what one build publishes (episodes, posts, tags, fixes) and what it leaves out
    resolve.py    posts' Markdown, shortcodes and reference links resolved against that content
    render.py     every page, the feeds and the sitemap, rendered in memory
    templates.py  the Jinja template set: the project's templates over the defaults
    filters.py    the filters and functions templates use
    workers.py    rendering in forked worker processes, for big sites
    cache.py      a dict kept between builds (the Markdown conversions)
    content.py    episodes as the site shows them (from the lock, the plan and the fix stack)
    posts.py      Markdown posts: front matter, shortcodes and reference links
    media.py      store files as content-addressed URLs (relative symlinks), derived images
    feeds.py      Atom feed, sitemap.xml (with the video extension), robots.txt
    linkcheck.py  every local href/src (and #fragment) must resolve
    output.py     the in-memory site, its build id, and the double-buffered folders (the spare
                  beside site/ is brought up to date, writing only what changed, and swapped in)
    server.py     the preview server (Range requests, symlinks, live reload) and the watcher
    preview.py    `alpha serve`: build into .alpha/preview, serve, rebuild on change

Nothing is imported here, so that `import pipeline.site.server` stays cheap.
"""
