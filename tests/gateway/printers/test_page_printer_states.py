"""The technician page says why each printer is down, in headless Chromium against a real gateway.

Real TLS mosquitto and simulated printers; the gateway watches one printer per way a link fails (a refused
certificate by CN and by pin, a wrong access code, no access code, nothing listening), one that reports and
then goes silent, and one that reports a fatal HMS error whose text comes from a small catalogue file.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from gateway.factory import Gateway, create_gateway
from gateway.printers.simulator.broker import Mosquitto
from gateway.printers.simulator.client import PrinterSimulator
from gateway.printers.simulator.model import SimulatedPrinter
from gateway.secrets.fernet import encrypt, load_or_create_key
from tests.gateway.printers.conftest import SimulatorFactory, eventually, printer_entry
from tests.support.browser import browser, screenshot_path  # noqa: F401  (fixture)
from tests.support.gateway import ApiClient, issue, make_config
from tests.support.mosquitto import ACCESS_CODE, PRINTER_SERIAL, BrokerCerts
from tests.support.net import free_port

HMS_SERIAL = PRINTER_SERIAL  # reports, with a fatal HMS error (its certificate's CN is this serial)
SILENT_SERIAL = "01S00C222222222"  # reports, then goes silent (switched off)
WRONG_CN_SERIAL = "01S00C999999999"  # the broker's certificate names another serial
WRONG_PIN_SERIAL = "01S00C888888888"  # pinned to another certificate
WRONG_CODE_SERIAL = "01S00C333333333"  # the broker refuses its access code
NO_CODE_SERIAL = "01S00C444444444"  # no access code configured
UNREACHABLE_SERIAL = "01S00C555555555"  # nothing listens on its port
ALL_SERIALS = [HMS_SERIAL, SILENT_SERIAL, WRONG_CN_SERIAL, WRONG_PIN_SERIAL, WRONG_CODE_SERIAL, NO_CODE_SERIAL,
               UNREACHABLE_SERIAL]
STOPPED = {WRONG_CN_SERIAL: "tls_refused", WRONG_PIN_SERIAL: "tls_refused", WRONG_CODE_SERIAL: "auth_failed",
           NO_CODE_SERIAL: "not_configured"}

# HMS 0300_0100_0001_0007: attr 0x03000100 (module 0x03, the motion controller), code 0x00010007 (severity 1: fatal).
HMS_ATTR, HMS_CODE = 0x03000100, 0x00010007
HMS_KEY = "0300_0100_0001_0007"
HMS_TEXT = "Test catalogue: the heatbed temperature is abnormal."
HMS_URL = f"https://wiki.bambulab.com/en/x1/troubleshooting/hmscode/{HMS_KEY}"
OFFLINE_AFTER_S = 3.0
UI_TIMEOUT_MS = 30_000  # a loaded 2-core machine: every wait is for a condition, with room
API_TIMEOUT_S = 30.0
AGE_LABEL = re.compile(r"Last report \d+ (s|min) ago")


@dataclass
class Site:
    gateway: Gateway
    silent: PrinterSimulator
    hms: PrinterSimulator


async def start_gateway(tmp_path: Path, printers: list[dict[str, Any]], **section: Any) -> Gateway:
    """Like conftest's `printer_gateway`, but `access_code=None` leaves a printer without one."""
    state_dir = tmp_path / "state"
    key = load_or_create_key(state_dir / "secrets.key")
    entries = []
    for entry in printers:
        entry = dict(entry)
        code = entry.pop("access_code", ACCESS_CODE)
        if code is not None:
            entry["access_code_encrypted"] = encrypt(key, code)
        entries.append(entry)
    config = make_config(state_dir, printers={"printers": entries, "reconnect_initial_s": 0.2,
                                              "reconnect_max_s": 1.0, **section})
    gateway = await create_gateway(config)
    await gateway.start()
    return gateway


@pytest.fixture
async def site(tmp_path: Path, printer_broker: Mosquitto, broker_certs: BrokerCerts,
               simulators: SimulatorFactory) -> AsyncIterator[Site]:
    catalogue = tmp_path / "hms.json"
    catalogue.write_text(json.dumps({HMS_KEY: HMS_TEXT}))
    faulty = SimulatedPrinter(HMS_SERIAL)
    faulty.inject_hms(attr=HMS_ATTR, code=HMS_CODE)
    hms = await simulators(printer_broker, HMS_SERIAL, model=faulty)
    silent = await simulators(printer_broker, SILENT_SERIAL)
    ca = str(broker_certs.ca_file)
    gateway = await start_gateway(tmp_path, [
        printer_entry(printer_broker, HMS_SERIAL, ca_file=ca),
        # the broker's certificate names HMS_SERIAL: this link skips the check (as a site might, loudly)
        printer_entry(printer_broker, SILENT_SERIAL, insecure_skip_verify=True),
        printer_entry(printer_broker, WRONG_CN_SERIAL, ca_file=ca),
        printer_entry(printer_broker, WRONG_PIN_SERIAL, pin_sha256="ab" * 32),
        printer_entry(printer_broker, WRONG_CODE_SERIAL, insecure_skip_verify=True, access_code="wrong-code"),
        printer_entry(printer_broker, NO_CODE_SERIAL, ca_file=ca, access_code=None),
        {**printer_entry(printer_broker, UNREACHABLE_SERIAL, ca_file=ca), "port": free_port()},
    ], hms_catalogue=str(catalogue), offline_after_s=OFFLINE_AFTER_S)
    try:
        yield Site(gateway, silent, hms)
    finally:
        await gateway.stop()


async def api_get(gateway: Gateway, path: str) -> Any:
    api = ApiClient(gateway.urls[0])
    try:
        reply = await api.request("GET", path, token=await issue(gateway, "viewer"))
        assert reply.status == 200, reply.body
        return reply.json()
    finally:
        await api.close()


async def printers_where(gateway: Gateway, condition: Callable[[dict[str, dict[str, Any]]], bool]) -> Any:
    async def check() -> dict[str, dict[str, Any]] | None:
        by_serial = {p["serial"]: p for p in (await api_get(gateway, "/api/v1/printers"))["printers"]}
        return by_serial if condition(by_serial) else None
    return await eventually(check, timeout_s=API_TIMEOUT_S, interval_s=0.2)


def settled(printers: dict[str, dict[str, Any]]) -> bool:
    return (printers[HMS_SERIAL]["link"] == "online" and bool(printers[HMS_SERIAL]["errors"])
            and bool(printers[HMS_SERIAL]["lights"])
            and printers[SILENT_SERIAL]["link"] == "online" and printers[SILENT_SERIAL]["gcode_state"] is not None
            and all(printers[serial]["link"] == link for serial, link in STOPPED.items())
            and printers[UNREACHABLE_SERIAL]["link"] == "offline")


async def signed_in(browser: Browser, gateway: Gateway, role: str, problems: list[str] | None = None) -> Page:
    """The page signed in as `role`; console errors (a CSP refusal among them) and script errors go to `problems`."""
    page = await browser.new_page(viewport={"width": 1024, "height": 768})
    page.set_default_timeout(UI_TIMEOUT_MS)
    if problems is not None:
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(gateway.urls[0] + "/")
    await page.fill("#token", await issue(gateway, role))
    await page.click("#signin-form button[type=submit]")
    await expect(page.locator("#printers .printer")).to_have_count(len(ALL_SERIALS))
    return page


def card(page: Page, serial: str) -> Locator:
    return page.locator(f'.printer[data-serial="{serial}"]')


async def expect_refused_card(page: Page, serial: str, words: str, detail: str) -> None:
    down = card(page, serial)
    await expect(down.locator(".link-badge")).to_have_text(words)
    await expect(down.locator(".link-badge")).to_have_attribute("data-level", "bad")
    await expect(down.locator(".link-detail")).to_contain_text(detail)
    await expect(down.locator(".state")).to_have_text("OFFLINE")
    await expect(down.locator(".age")).to_have_text("No report received from this printer.")
    await expect(down.locator(".facts")).to_be_hidden()  # nothing to show rather than empty values
    for name in ("Pause", "Resume"):
        button = down.get_by_role("button", name=name)
        await expect(button).to_be_disabled()
        await expect(button).to_have_attribute("title", re.compile(re.escape(words)))
    await expect(down.locator(".commands-note")).to_contain_text(words)


async def test_each_card_says_why_its_printer_is_down(browser: Browser, site: Site) -> None:
    gateway = site.gateway
    api = await printers_where(gateway, settled)
    # the API's view first: a failure here is the API's, not the page's
    hms = api[HMS_SERIAL]
    assert hms["commands_available"] is True and hms["link_reason"] == "reporting"
    assert hms["errors"] == [f"HMS_{HMS_KEY}"]
    assert hms["error_details"] == [{"code": f"HMS_{HMS_KEY}", "kind": "hms", "module": "motion controller",
                                     "severity": "fatal", "url": HMS_URL, "text": HMS_TEXT}]
    assert {(light["node"], light["mode"]) for light in hms["lights"]} == {("chamber_light", "on"),
                                                                          ("work_light", "flashing")}
    for serial in STOPPED:
        assert api[serial]["commands_available"] is False and api[serial]["data_age_s"] is None, api[serial]
    status = await api_get(gateway, "/api/v1/status")
    assert status["state"] == "degraded", status
    parts = {part["name"]: part for part in status["parts"]}
    for serial in STOPPED:
        assert parts[f"printer:{serial}"]["state"] == "degraded", parts[f"printer:{serial}"]
        assert parts[f"printer:{serial}"]["last_error"], parts[f"printer:{serial}"]

    page_errors: list[str] = []
    page = await signed_in(browser, gateway, "technician", page_errors)

    # the header: degraded, with the reasons; the list below it names each printer
    header = page.locator("#gw-state")
    await expect(header).to_contain_text("degraded")
    for words in ("printer certificate refused", "wrong access code", "not configured"):
        await expect(header).to_contain_text(words)
    await expect(header).not_to_contain_text("all parts running")
    problems = page.locator("#problems-list")
    for serial in [*STOPPED, UNREACHABLE_SERIAL]:
        await expect(problems).to_contain_text(f"test {serial[-4:]}")
    await expect(problems.locator("li", has_text=f"test {UNREACHABLE_SERIAL[-4:]}")).to_contain_text(
        "switched off or unreachable")

    # each way a link fails, in words, with the detail, no values and no usable buttons
    await expect_refused_card(page, WRONG_CN_SERIAL, "printer certificate refused", f"expected the serial '{WRONG_CN_SERIAL}'")
    await expect_refused_card(page, WRONG_PIN_SERIAL, "printer certificate refused", "does not match the stored pin")
    await expect_refused_card(page, WRONG_CODE_SERIAL, "wrong access code", "access code")
    await expect_refused_card(page, NO_CODE_SERIAL, "not configured", "no access code")
    unreachable = card(page, UNREACHABLE_SERIAL)
    await expect(unreachable.locator(".link-badge")).to_have_text("switched off or unreachable")
    await expect(unreachable.locator(".link-badge")).to_have_attribute("data-level", "warn")
    await expect(unreachable.locator(".state")).to_have_text("OFFLINE")
    await expect(unreachable.locator(".facts")).to_be_hidden()
    await expect(unreachable.get_by_role("button", name="Pause")).to_be_disabled()

    # the reporting printer with a fatal HMS error: decoded, and never a green RUNNING badge alone
    faulty = card(page, HMS_SERIAL)
    await expect(faulty.locator(".link-badge")).to_have_text("reporting")
    await expect(faulty.locator(".link-badge")).to_have_attribute("data-level", "ok")
    await expect(faulty.locator(".state")).to_have_text("RUNNING \u2014 FATAL ERROR")
    await expect(faulty.locator(".state")).to_have_attribute("data-level", "bad")
    error = faulty.locator(f'.errors li[data-code="HMS_{HMS_KEY}"]')
    await expect(error.locator(".severity")).to_have_text("fatal")
    await expect(error.locator(".severity")).to_have_attribute("data-level", "bad")
    await expect(error.locator(".module")).to_have_text("Motion controller")
    await expect(error.locator(".text")).to_have_text(HMS_TEXT)
    vendor = error.get_by_role("link")
    await expect(vendor).to_have_attribute("href", HMS_URL)
    await expect(vendor).to_have_attribute("target", "_blank")
    await expect(vendor).to_have_attribute("rel", "noopener noreferrer")
    await expect(faulty.get_by_role("button", name="Pause")).to_be_enabled()

    # both lights with their state, each with its own toggle that the printer answers
    chamber = faulty.locator('.lights li[data-node="chamber_light"]')
    work = faulty.locator('.lights li[data-node="work_light"]')
    await expect(chamber).to_contain_text("Chamber light")
    await expect(chamber.locator(".badge")).to_have_text("on")
    await expect(work).to_contain_text("Work light")
    await expect(work.locator(".badge")).to_have_text("flashing")
    await chamber.get_by_role("button", name="Turn chamber light off").click()
    await expect(page.locator("#notice")).to_contain_text("Chamber light off on test 6789: done")
    await expect(chamber.locator(".badge")).to_have_text("off")
    await expect(work.locator(".badge")).to_have_text("flashing")  # the other light is untouched
    assert site.hms.model.lights["chamber_light"] == "off"
    await chamber.get_by_role("button", name="Turn chamber light on").click()
    await expect(chamber.locator(".badge")).to_have_text("on")

    # a printer switched off after reporting: its last values, labelled with their age, never as live
    silent = card(page, SILENT_SERIAL)
    await expect(silent.locator(".state")).to_have_text("RUNNING")
    await expect(silent.get_by_role("button", name="Turn work light off")).to_be_enabled()
    site.silent.silent = True
    await expect(silent.locator(".link-badge")).to_have_text("switched off or unreachable")
    await expect(silent.locator(".state")).to_have_text("OFFLINE")
    await expect(silent.locator(".age")).to_have_text(AGE_LABEL)
    await expect(silent.locator(".facts")).to_contain_text("Last job state")
    await expect(silent.locator(".facts")).to_contain_text(re.compile(r"RUNNING \(\d+ (s|min) ago\)"))
    await expect(silent.locator(".facts")).to_contain_text("Nozzle")
    await expect(silent.locator('.lights li[data-node="work_light"] .badge')).to_have_text("flashing")
    for name in ("Pause", "Resume", "Turn chamber light off", "Turn work light off"):
        button = silent.get_by_role("button", name=name)
        await expect(button).to_be_disabled()
        await expect(button).to_have_attribute("title", re.compile("switched off or unreachable"))
    await expect(problems).to_contain_text(f"test {SILENT_SERIAL[-4:]}")

    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the full-page shot
    await page.screenshot(path=screenshot_path("printers-states-tablet"), full_page=True)

    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(faulty.locator(".errors .text")).to_be_visible()
    await page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth",
                                 timeout=UI_TIMEOUT_MS)
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    inner_width = await page.evaluate("window.innerWidth")
    assert scroll_width <= inner_width, (scroll_width, inner_width)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=screenshot_path("printers-states-phone"), full_page=True)
    assert page_errors == []  # no script error, nothing refused by the page's CSP


async def test_viewer_sees_lights_and_errors_without_buttons(browser: Browser, site: Site) -> None:
    await printers_where(site.gateway, settled)
    page = await signed_in(browser, site.gateway, "viewer")
    faulty = card(page, HMS_SERIAL)
    await expect(faulty.locator('.lights li[data-node="chamber_light"] .badge')).to_have_text("on")
    await expect(faulty.locator('.lights li[data-node="work_light"] .badge')).to_have_text("flashing")
    await expect(faulty.locator(".errors .module")).to_have_text("Motion controller")
    await expect(card(page, WRONG_CODE_SERIAL).locator(".link-badge")).to_have_text("wrong access code")
    assert await page.locator("#printers button").count() == 0
