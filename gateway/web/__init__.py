"""The technician page: static files served by the gateway and a live WebSocket feed."""
