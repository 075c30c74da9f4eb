"""The HTTP edge: one ASGI app (Slack HTTP mode, /healthz, and any pages mounted on it)
served by uvicorn with limits on bodies, headers, connections and slow clients."""
