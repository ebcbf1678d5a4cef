"""The udev rule: a stable /dev/extruder for the controller board, GPIO chips for the gpio group."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from string import Template

from provisioning import const
from provisioning.answers import SiteAnswers
from provisioning.files import Changes, Owner, write_file
from provisioning.layout import Layout

TEMPLATE = "udev.rules.tmpl"


def render_rule(answers: SiteAnswers) -> str:
    vendor, product = answers.extruder_usb_id.split(":")
    serial = f', ATTRS{{serial}}=="{answers.extruder_usb_serial}"' if answers.extruder_usb_serial else ""
    template = Template(resources.files("provisioning").joinpath("templates", TEMPLATE).read_text())
    return template.substitute(usb_vendor=vendor, usb_product=product, serial_match=serial,
                               extruder_name=const.EXTRUDER_DEVICE_NAME)


def ensure_udev_rule(layout: Layout, answers: SiteAnswers, changes: Changes) -> None:
    """Write the rule (product-owned: replaced when it differs); on the live system, apply it now."""
    written = write_file(layout.udev_rule, render_rule(answers).encode(), const.PUBLIC_FILE_MODE, Owner(0, 0),
                         changes, what="udev rule")
    if written and layout.is_live_system:
        _reload_udev(changes)


def _reload_udev(changes: Changes) -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        changes.note("udevadm not found: the udev rule applies from the next boot")
        return
    for argv in ([udevadm, "control", "--reload-rules"],
                 [udevadm, "trigger", "--action=add", "--subsystem-match=tty", "--subsystem-match=gpio"]):
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            changes.note(f"{' '.join(argv[1:3])} failed ({result.stderr.strip()}): the rule applies from the next boot")
            return
