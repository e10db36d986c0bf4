"""The frontend works under the server's Content-Security-Policy (issue 17, finding 11): every mode
draws, a lasso selects, an item's images load, and the browser reports no CSP violation."""

from __future__ import annotations

import pytest
import requests

from ui_helpers import (app_url, circle_polygon, dense_point, draw_lasso, open_app, pick_metric,  # noqa: F401
                        wait_settled)

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_the_app_runs_under_its_content_security_policy(page, app_url):
    index = requests.get(app_url + "/", timeout=30)
    assert "script-src 'self'" in index.headers["Content-Security-Policy"]
    assert index.headers["X-Frame-Options"] == "DENY"
    page.add_init_script(RECORD_VIOLATIONS)
    dataset, metric = pick_metric(app_url)
    for mode in ("contour", "scatter", "overlay"):
        page.goto("about:blank")   # a full load per mode (a hash change alone is not a navigation)
        d = open_app(page, app_url, dataset, metric["name"], mode=mode)
        assert d["mode"] == mode and d["pending"] == 0
    x, y = dense_point(app_url, dataset, metric["name"])
    draw_lasso(page, circle_polygon(x, y, 0.12))
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    wait_settled(page)
    assert int(page.get_attribute(".keywords", "data-count")) > 0
    assert page.evaluate("() => window.__csp") == []
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
