"""Documentation generated from the code (the README's provider section, through cog), so it can't
drift from what the registry declares. `cog -r README.md` rewrites it; a test fails when it is stale."""

from __future__ import annotations

from bot.providers import registry
from bot.providers.base import LABELS, Capability


def provider_table() -> str:
    """What every provider can do (rows: capabilities; columns: providers), then why not, in words."""
    plugins = registry.plugins()
    lines = ["| capability | " + " | ".join(p.title for p in plugins) + " |",
             "|---|" + "---|" * len(plugins)]
    for capability in Capability:
        cells = ["✓" if capability in p.capabilities else "✗" for p in plugins]
        lines.append(f"| {LABELS[capability]} | " + " | ".join(cells) + " |")
    lines.append("")
    for plugin in plugins:
        missing = [c for c in Capability if c not in plugin.capabilities]
        if missing:
            lines.append(f"**{plugin.title}** cannot:")
            lines.extend(f"- {LABELS[c]}: {plugin.capabilities.reason(c)}" for c in missing)
            lines.append("")
    return "\n".join(lines)


def provider_setup() -> str:
    """How to configure each provider, and its settings."""
    lines = []
    for plugin in registry.plugins():
        prefix = plugin.settings_model.model_config.get("env_prefix", "")
        hooks = f", webhooks at `/webhooks/{plugin.name}`" if Capability.WEBHOOKS in plugin.capabilities else ""
        lines.append(f"**{plugin.title}** (`MEETOPS_PROVIDER={plugin.name}`{hooks}): {plugin.setup_help}")
        lines.append("")
        lines.append("| setting | default | meaning |")
        lines.append("|---|---|---|")
        for name, field in plugin.settings_model.model_fields.items():
            default = "—" if field.default in (None, "") else f"`{field.default}`"
            lines.append(f"| `{prefix}{name.upper()}` | {default} | {field.description or ''} |")
        if plugin.room_options:
            lines.append("")
            lines.append("Room options: " + ", ".join(f"`--{k}` ({v})" for k, v in plugin.room_options.items()) + ".")
        lines.append("")
    return "\n".join(lines)
