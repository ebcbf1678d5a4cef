"""The technician page in headless Chromium against a real gateway on loopback."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from gateway.factory import Gateway
from tests.support.browser import browser, screenshot_path  # noqa: F401  (fixture)
from tests.support.gateway import issue

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT_MS = 10_000


async def open_page(browser: Browser, gateway: Gateway, viewport: dict[str, int] = TABLET) -> Page:
    page = await browser.new_page(viewport=viewport)
    page.set_default_timeout(UI_TIMEOUT_MS)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    setattr(page, "console_errors", console_errors)
    await page.goto(gateway.urls[0] + "/")
    return page


async def sign_in(page: Page, token: str) -> None:
    await page.fill("#token", token)
    await page.click("#signin-form button[type=submit]")


async def test_bad_token_gets_a_clear_message(browser: Browser, gateway: Gateway) -> None:
    page = await open_page(browser, gateway)
    await sign_in(page, "eyJhbGciOiJFZERTQSJ9.e30.bm9wZQ")
    await expect(page.locator("#signin-error")).to_contain_text("not accepted")
    await expect(page.locator("#site")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0  # a refused token is not kept
    await page.screenshot(path=screenshot_path("sign-in-refused-tablet"))


async def test_viewer_sees_the_site_live_but_no_controls(browser: Browser, gateway: Gateway) -> None:
    token = await issue(gateway, "viewer", sub="viewer-vic")
    page = await open_page(browser, gateway)
    await sign_in(page, token)
    await expect(page.locator("#who-sub")).to_have_text("viewer-vic")
    await expect(page.locator("#gw-id")).to_contain_text(gateway.config.gateway.id)
    uptime = page.locator("#health dd").nth(1)
    first = await uptime.text_content()
    await expect(uptime).not_to_have_text(first or "", timeout=UI_TIMEOUT_MS)  # the view updates live
    for control in ("#motor-form", "#reset", "#zones th.ctl"):
        await expect(page.locator(control)).to_be_hidden()
    assert await page.locator("#printers button").count() == 0
    await expect(page.locator("#estop")).to_be_visible()  # the API allows e-stop to every role but sync
    assert "token" not in page.url and token not in page.url
    assert await page.evaluate("localStorage.length") == 0
    assert getattr(page, "console_errors") == []


async def test_sync_token_is_told_it_has_no_live_view(browser: Browser, gateway: Gateway) -> None:
    page = await open_page(browser, gateway)
    await sign_in(page, await issue(gateway, "sync"))
    await expect(page.locator("#signin-error")).to_contain_text("cloud connector")


@pytest.mark.parametrize("name, viewport", [("tablet", TABLET), ("phone", PHONE)])
async def test_technician_layout_screenshots(browser: Browser, gateway: Gateway, name: str, viewport: dict[str, int]) -> None:
    page = await open_page(browser, gateway, viewport)
    await sign_in(page, await issue(gateway, "technician"))
    await expect(page.locator("#site")).to_be_visible()
    await expect(page.locator("#estop")).to_be_visible()
    estop = await page.locator("#estop").bounding_box()
    assert estop is not None and estop["y"] < viewport["height"] and estop["height"] >= 44
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= viewport["width"], "the page must not scroll sideways"
    await page.screenshot(path=screenshot_path(f"technician-{name}"), full_page=True)
    assert getattr(page, "console_errors") == []
