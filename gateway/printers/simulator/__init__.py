"""A simulated Bambu Lab printer in LAN mode: a separate MQTT client of a broker (tests, demo, bench)."""
