"""Light and dark theme in a real browser: the toggle, what it paints, and that it is remembered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from ui_helpers import app_url, legend_colours, open_app, pick_metric, wait_settled  # noqa: F401

pytestmark = pytest.mark.browser

LEAD_SHOTS = Path("/work/wt/ui19_shots")


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def corner_pixel(path: Path) -> tuple[int, int, int]:
    """The page background under the header's right end (nothing drawn there in either theme)."""
    with Image.open(path) as im:
        return im.convert("RGB").getpixel((im.width - 4, im.height - 4))


def test_dark_theme_changes_the_page_not_the_map_scale_and_is_remembered(page, app_url, tmp_path):
    dataset, metric = pick_metric(app_url)
    open_app(page, app_url, dataset, metric["name"], mode="overlay")
    assert page.get_attribute("html", "data-theme") == "light"
    light_bg, light_legend = background(page), legend_colours(page)
    light = tmp_path / "theme-light.png"
    page.screenshot(path=str(light))
    page.click("#theme-toggle")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    wait_settled(page)
    dark_bg = background(page)
    dark = tmp_path / "theme-dark.png"
    page.screenshot(path=str(dark))
    if LEAD_SHOTS.is_dir():
        for shot in (light, dark):
            shutil.copy(shot, LEAD_SHOTS / shot.name)
    assert light_bg == "rgb(244, 243, 240)" and dark_bg == "rgb(21, 23, 26)"
    assert corner_pixel(light) == (244, 243, 240)
    assert corner_pixel(dark) == (21, 23, 26)
    assert legend_colours(page) == light_legend, "the contour colour scale is the same in both themes"
    assert page.evaluate("localStorage.getItem('dkmap.theme')") == "dark"
    page.reload()
    wait_settled(page)
    assert page.get_attribute("html", "data-theme") == "dark"
    assert background(page) == dark_bg
    page.click("#theme-toggle")
    assert page.evaluate("localStorage.getItem('dkmap.theme')") == "light"
    assert page.console_errors == []
