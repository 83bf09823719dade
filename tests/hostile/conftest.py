"""The hostile cases (issue #12) reuse the site tests' rendered demo project."""

from tests.site.conftest import built_demo, demo, rendered_demo  # noqa: F401  (fixtures)
