"""The extruder's GPIO through gpiozero: e-stop input, heater-power interlock, status tower light.

The pin factory is injected: gpiozero's default (native) factory on a Raspberry Pi, its
``MockFactory`` in tests and in the simulated site. gpiozero calls the e-stop callback from its own
thread (or, with mock pins, from the thread that drives the pin); the caller hands it to its event
loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gpiozero import Button, DigitalOutputDevice, TrafficLights
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from gateway.control.settings import GpioSettings
from gateway.control.state import GpioView, LightColour

log = logging.getLogger(__name__)


class MockPinsRefused(Exception):
    """Driving pins by hand was asked of real GPIO."""


def make_pin_factory(settings: GpioSettings) -> Factory | None:
    """gpiozero's MockFactory for 'mock'; None (gpiozero's default native factory) for 'native'."""
    return MockFactory() if settings.pin_factory == "mock" else None


class GpioPanel:
    """The three GPIO functions of the extruder. Outputs start off (interlock open, light dark)."""

    def __init__(self, settings: GpioSettings, factory: Factory | None,
                 on_estop: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self._factory = factory
        self._estop: Button | None = None
        self._interlock: DigitalOutputDevice | None = None
        self._light: TrafficLights | None = None
        self.light: LightColour = "off"
        try:
            if settings.estop_pin is not None:
                self._estop = Button(settings.estop_pin, pull_up=True, bounce_time=settings.estop_bounce_ms / 1000,
                                     pin_factory=factory)
                if on_estop is not None:
                    self._estop.when_pressed = lambda: on_estop()
            if settings.interlock_pin is not None:
                self._interlock = DigitalOutputDevice(settings.interlock_pin, active_high=True, initial_value=False,
                                                      pin_factory=factory)
            if settings.light_red_pin is not None:
                assert settings.light_amber_pin is not None and settings.light_green_pin is not None
                self._light = TrafficLights(settings.light_red_pin, settings.light_amber_pin, settings.light_green_pin,
                                            pin_factory=factory)
        except BaseException:
            self.close()
            raise

    @property
    def estop_pressed(self) -> bool:
        """The e-stop input is active (pin pulled low)."""
        return self._estop is not None and bool(self._estop.is_pressed)

    @property
    def interlock_on(self) -> bool:
        return self._interlock is not None and bool(self._interlock.value)

    def set_interlock(self, on: bool) -> None:
        if self._interlock is not None and bool(self._interlock.value) != on:
            self._interlock.value = on

    def set_light(self, colour: LightColour) -> None:
        if colour == self.light:
            return
        self.light = colour
        if self._light is not None:
            self._light.red.value = colour == "red"
            self._light.amber.value = colour == "amber"
            self._light.green.value = colour == "green"

    def safe(self) -> None:
        """Interlock open and the light red: what the outputs show while the loop is not in control."""
        self.set_interlock(False)
        self.set_light("red")

    def drive_mock_pin(self, pin: int, high: bool) -> None:
        """Drive an input pin of the mock factory (tests, simulated site); refused on real GPIO."""
        if not isinstance(self._factory, MockFactory):
            raise MockPinsRefused("pins can only be driven by hand with the mock pin factory")
        mock_pin = self._factory.pin(pin)
        if high:
            mock_pin.drive_high()
        else:
            mock_pin.drive_low()

    def mock_pin_state(self, pin: int) -> bool:
        """Level of a mock pin (tests look at outputs this way)."""
        if not isinstance(self._factory, MockFactory):
            raise MockPinsRefused("pin levels are only readable with the mock pin factory")
        return bool(self._factory.pin(pin).state)

    def view(self) -> GpioView:
        return GpioView(pin_factory=self.settings.pin_factory, estop_pressed=self.estop_pressed,
                        interlock_on=self.interlock_on, light=self.light)

    def close(self) -> None:
        """Release the pins, opening the interlock first."""
        if self._interlock is not None:
            self._interlock.off()
        for device in (self._interlock, self._light, self._estop):
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing must never keep the others open
                    log.exception("closing a GPIO device failed")
        self._interlock = self._light = self._estop = None
