"""GPIO of the extruder on gpiozero's mock pins (real gpiozero devices above them)."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory
from pydantic import ValidationError

from gateway.control.gpio import GpioPanel, MockPinsRefused, make_pin_factory
from gateway.control.settings import ExtruderSection, GpioSettings

SETTINGS = GpioSettings(pin_factory="mock")


def _panel(calls: list[str] | None = None) -> tuple[GpioPanel, MockFactory]:
    factory = make_pin_factory(SETTINGS)
    assert isinstance(factory, MockFactory)
    on_estop = (lambda: calls.append("estop")) if calls is not None else None
    return GpioPanel(SETTINGS, factory, on_estop=on_estop), factory


def test_outputs_start_safe_and_interlock_follows_commands() -> None:
    panel, factory = _panel()
    interlock = factory.pin(SETTINGS.interlock_pin)
    assert interlock.state is False and panel.interlock_on is False, "interlock open at start"
    panel.set_interlock(True)
    assert interlock.state is True and panel.interlock_on is True
    panel.safe()
    assert interlock.state is False
    assert factory.pin(SETTINGS.light_red_pin).state is True
    panel.set_interlock(True)
    panel.close()
    assert interlock.state is False, "closing the panel opens the interlock"


@pytest.mark.parametrize("colour", ["green", "amber", "red", "off"])
def test_tower_light_lights_exactly_one_colour(colour: str) -> None:
    panel, factory = _panel()
    panel.set_light("red")
    panel.set_light(colour)  # type: ignore[arg-type]
    lit = {name for name, pin in (("red", SETTINGS.light_red_pin), ("amber", SETTINGS.light_amber_pin),
                                  ("green", SETTINGS.light_green_pin)) if factory.pin(pin).state}
    assert lit == (set() if colour == "off" else {colour})
    assert panel.view().light == colour
    panel.close()


def test_estop_is_active_low_and_calls_back_on_press() -> None:
    calls: list[str] = []
    panel, factory = _panel(calls)
    pin = factory.pin(SETTINGS.estop_pin)
    assert panel.estop_pressed is False, "pulled up: released"
    pin.drive_low()
    assert panel.estop_pressed is True and calls == ["estop"]
    pin.drive_high()
    assert panel.estop_pressed is False
    panel.drive_mock_pin(SETTINGS.estop_pin, high=False)  # the IPC test op drives the same pin
    assert panel.estop_pressed is True and len(calls) == 2
    assert panel.view().estop_pressed is True
    panel.close()


def test_driving_pins_by_hand_is_refused_without_the_mock_factory() -> None:
    unfitted = GpioSettings(pin_factory="native", estop_pin=None, interlock_pin=None, light_red_pin=None,
                            light_amber_pin=None, light_green_pin=None)
    panel = GpioPanel(unfitted, None)
    with pytest.raises(MockPinsRefused):
        panel.drive_mock_pin(17, high=False)
    assert panel.estop_pressed is False and panel.interlock_on is False
    panel.set_light("green")  # no light fitted: nothing to drive, no error
    panel.close()


@pytest.mark.parametrize("bad", [
    {"estop_pin": 27},  # same as the interlock
    {"light_amber_pin": None},  # a tower light needs all three colours
    {"estop_pin": 40},
    {"estop_bounce_ms": 0},
    {"pin_factory": "rpigpio"},
    {"unknown": 1},
])
def test_bad_gpio_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GpioSettings.model_validate(bad)


@pytest.mark.parametrize("bad", [
    {"loop_rate_hz": 0.5}, {"loop_rate_hz": 51}, {"zones": []}, {"zones": [{}] * 9}, {"telemetry_period_s": 0},
    {"realtime_priority": 100}, {"simulator_speed": 0}, {"port": ""}, {"zones": [{"max_c": 500}]},
])
def test_bad_extruder_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ExtruderSection.model_validate(bad)


def test_link_telemetry_follows_the_loop_rate_within_protocol_limits() -> None:
    assert ExtruderSection(loop_rate_hz=10).link_telemetry_ms == 100
    assert ExtruderSection(loop_rate_hz=50).link_telemetry_ms == 20
    assert ExtruderSection(loop_rate_hz=1).link_telemetry_ms == 200, "five frames fit the default loss window"
