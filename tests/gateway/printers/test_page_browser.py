"""The technician page's printer cards in headless Chromium: live state from a simulated printer over a
real TLS mosquitto, a technician's pause answered by the printer, a viewer without buttons."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from gateway.factory import Gateway
from gateway.printers.simulator.broker import Mosquitto
from tests.gateway.printers.conftest import GatewayFactory, SimulatorFactory, printer_entry
from tests.support.browser import browser, screenshot_path  # noqa: F401  (fixture)
from tests.support.gateway import issue
from tests.support.mosquitto import PRINTER_SERIAL, BrokerCerts

OFFLINE_SERIAL = "01S00C888888888"
UI_TIMEOUT_MS = 15_000


@pytest.fixture
async def gateway(printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
                  printer_gateway: GatewayFactory) -> Gateway:
    await simulators(printer_broker)
    return await printer_gateway([
        printer_entry(printer_broker, ca_file=str(broker_certs.ca_file)),
        printer_entry(printer_broker, OFFLINE_SERIAL, pin_sha256=broker_certs.sha256, access_code="wrong-code"),
    ])


async def signed_in(browser: Browser, gateway: Gateway, role: str) -> Page:
    page = await browser.new_page(viewport={"width": 1024, "height": 768})
    page.set_default_timeout(UI_TIMEOUT_MS)
    await page.goto(gateway.urls[0] + "/")
    await page.fill("#token", await issue(gateway, role))
    await page.click("#signin-form button[type=submit]")
    await expect(page.locator("#printers .printer")).to_have_count(2)
    return page


async def test_technician_pauses_a_printer_and_sees_it_paused(browser: Browser, gateway: Gateway) -> None:
    page = await signed_in(browser, gateway, "technician")
    card = page.locator(f'.printer[data-serial="{PRINTER_SERIAL}"]')
    await expect(card.locator(".state")).to_have_text("RUNNING")
    await expect(card.locator(".facts")).to_contain_text("layer")
    offline = page.locator(f'.printer[data-serial="{OFFLINE_SERIAL}"]')
    await expect(offline.locator(".state")).to_have_text("OFFLINE")  # in words, not only red
    await card.get_by_role("button", name="Pause").click()
    await expect(page.locator("#notice")).to_contain_text("done")
    await expect(card.locator(".state")).to_have_text("PAUSE")
    await page.screenshot(path=screenshot_path("printers-paused-tablet"), full_page=True)
    await card.get_by_role("button", name="Resume").click()
    await expect(card.locator(".state")).to_have_text("RUNNING")
    # a command the gateway cannot send to an offline printer is not offered, and the card says why
    await expect(offline.get_by_role("button", name="Pause")).to_be_disabled()
    await expect(offline.get_by_role("button", name="Pause")).to_have_attribute("title", re.compile("certificate refused"))


async def test_viewer_sees_printers_without_buttons(browser: Browser, gateway: Gateway) -> None:
    page = await signed_in(browser, gateway, "viewer")
    await expect(page.locator(f'.printer[data-serial="{PRINTER_SERIAL}"] .state')).to_have_text("RUNNING")
    assert await page.locator("#printers button").count() == 0
