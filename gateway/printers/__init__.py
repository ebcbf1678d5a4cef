"""Bambu Lab printers in LAN mode over MQTT: live state and a few safe commands."""
