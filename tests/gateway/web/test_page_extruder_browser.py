"""The technician page driving a simulated extruder site in headless Chromium: setpoint and trend,
e-stop and its fault, reset with a confirmation; a viewer sees the zones but no controls."""

from __future__ import annotations

import json
from playwright.async_api import Browser, Page, expect

from tests.support.browser import browser, screenshot_path  # noqa: F401  (fixture)
from tests.support.extruder import SiteFactory, extruder_site  # noqa: F401  (fixture)

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT_MS = 20_000
SPEED = 20.0  # the simulated plant runs 20x faster, so a heat-up shows within seconds
SETPOINT_C = 80.0


async def signed_in(browser: Browser, url: str, token: str, viewport: dict[str, int] = TABLET) -> Page:
    page = await browser.new_page(viewport=viewport)
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    setattr(page, "page_errors", errors)
    await page.goto(url + "/")
    await page.fill("#token", token)
    await page.click("#signin-form button[type=submit]")
    await expect(page.locator("#site")).to_be_visible()
    await expect(page.locator("#zones tbody tr")).to_have_count(2)
    return page


async def trend(page: Page, zone: int) -> dict[str, float | None]:
    raw = await page.locator("#trend").get_attribute("data-summary")
    return json.loads(raw or "{}").get(str(zone), {})  # type: ignore[no-any-return]


async def test_setpoint_trend_estop_and_reset(browser: Browser, extruder_site: SiteFactory) -> None:
    site = await extruder_site(speed=SPEED, zones=2)
    page = await signed_in(browser, site.gateway.urls[0], site.tokens["technician"])
    row = page.locator("#zones tbody tr").first
    await expect(page.locator("#link-state")).to_have_text("link: up")

    await row.locator("input").fill(str(int(SETPOINT_C)))
    await row.locator("button[type=submit]").click()
    await expect(page.locator("#notice")).to_contain_text("Setpoint of zone 0: done")
    await expect(row.locator("td").nth(1)).to_have_text("80.0 \u00B0C")
    await expect(row.locator("td").nth(3)).to_contain_text("Heating")

    # the trend follows: the plotted temperature rises towards the plotted setpoint
    start = await trend(page, 0)
    await page.wait_for_function(
        """([zone, target]) => {
             const s = JSON.parse(document.querySelector('#trend').dataset.summary || '{}')[zone];
             return s && s.last_setpoint === target && s.last_temp > s.first_temp + 15;
           }""",
        arg=[0, SETPOINT_C], timeout=UI_TIMEOUT_MS,
    )
    later = await trend(page, 0)
    assert later["last_temp"] is not None and start["first_temp"] is not None
    assert later["last_temp"] > start["first_temp"] + 15
    await page.screenshot(path=screenshot_path("extruder-heating-tablet"), full_page=True)

    # e-stop: heaters off on the controller, the fault shown in words
    await page.click("#estop")
    await expect(page.locator("#notice")).to_contain_text("EMERGENCY STOP: done")
    await site.wait_sim(lambda s: all(d == 0 for d in s["applied"]), 2.0, "heaters off after e-stop")
    await expect(row.locator("td").nth(3)).to_contain_text("FAULT")
    await expect(page.locator("#extruder-facts")).to_contain_text("estop")
    await expect(page.locator("#gw-state")).to_contain_text("EXTRUDER FAULT")
    await page.screenshot(path=screenshot_path("extruder-estop-tablet"), full_page=True)

    # a setpoint while faulted is refused, and the page says why
    await row.locator("input").fill("90")
    await row.locator("button[type=submit]").click()
    await expect(page.locator("#notice")).to_contain_text("refused by the gateway in the current state")

    # reset asks first; cancelling does nothing, confirming clears the latched fault
    await page.click("#reset")
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm button[value=cancel]")
    await expect(page.locator("#extruder-facts")).to_contain_text("estop")
    await page.click("#reset")
    await page.click("#confirm-ok")
    await expect(page.locator("#notice")).to_contain_text("Fault reset: done")
    await expect(page.locator("#extruder-facts")).not_to_contain_text("estop")
    await expect(row.locator("td").nth(3)).not_to_contain_text("FAULT")
    await expect(page.locator("#gw-state")).not_to_contain_text("FAULT")
    await expect(page.locator("#health")).to_contain_text("samples waiting")
    actions = [a for a, outcome, _ in await site.audit_actions() if outcome == "ok"]
    assert {"extruder.zone.set", "extruder.estop", "extruder.reset"} <= set(actions), actions
    assert getattr(page, "page_errors") == []


async def test_viewer_sees_zones_without_controls(browser: Browser, extruder_site: SiteFactory) -> None:
    site = await extruder_site(speed=SPEED, zones=2)
    page = await signed_in(browser, site.gateway.urls[0], site.tokens["viewer"], PHONE)
    await expect(page.locator("#zones tbody tr").first.locator("td").nth(0)).not_to_have_text("\u2014")
    assert await page.locator("#zones input").count() == 0
    for control in ("#motor-form", "#reset"):
        await expect(page.locator(control)).to_be_hidden()
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], "the page must not scroll sideways on a phone"
    await page.screenshot(path=screenshot_path("extruder-viewer-phone"), full_page=True)
    assert getattr(page, "page_errors") == []
