"""Temperature control core of the extruder: PID, safety supervisor, relay autotune, loop timing.

Pure code with injected time (``now_s`` arguments); the control process and its I/O live elsewhere.
"""
