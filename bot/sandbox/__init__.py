"""Local emulators of every provider, on the shared kit (`bot.sandbox.kit`); each provider's emulator
lives in `bot/sandbox/<name>/`. The Digital Samba one keeps its historical names here."""

from bot.sandbox.digitalsamba import SandboxServer, SandboxState, create_sandbox_app, serve_sandbox, start_sandbox

__all__ = ["SandboxServer", "SandboxState", "create_sandbox_app", "serve_sandbox", "start_sandbox"]
