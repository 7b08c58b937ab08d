"""Code shared by every function: settings, the request pipeline, services and data access."""

import time

# Uptime is reported from the moment the worker imported the app.
PROCESS_STARTED = time.monotonic()
