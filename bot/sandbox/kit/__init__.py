"""The shared emulator kit: what every provider's local emulator is built from.

- `World`: an emulator's state base: a clock, the request log (secrets redacted), injected faults,
  and webhook deliveries signed the provider's way (`WebhookOutbox`).
- `EmulatorApp`: routes for the provider's API (`api(...)`: logged, faulted, authenticated, errors in the
  provider's own shape) plus the standard control API under `/_sandbox` (loopback only):
    GET/PUT/DELETE /_sandbox/faults   GET/DELETE /_sandbox/requests   GET /_sandbox/deliveries
    GET /_sandbox/state               POST /_sandbox/reset
  and the world's "sim" verbs every emulator answers the same way, so the console's `sim` commands work
  for every provider:
    POST /_sandbox/rooms/{room}/join {"name"}   POST /_sandbox/rooms/{room}/leave {"name"}
    POST /_sandbox/rooms/{room}/end             POST /_sandbox/rooms/{room}/recording
    POST /_sandbox/rooms/{room}/summary
  A sim verb the platform has no equivalent of answers 422 with a sentence saying so.
- `EmulatorServer`: served on a loopback port from a background thread (`bot.devtools.serving`).
"""

from .app import EmulatorApp, EmulatorServer, Request, SimVerbs, emulator_error
from .world import Faults, LoggedRequest, Refusal, WebhookOutbox, World

__all__ = ["EmulatorApp", "EmulatorServer", "Faults", "LoggedRequest", "Refusal", "Request", "SimVerbs",
           "WebhookOutbox", "World", "emulator_error"]
