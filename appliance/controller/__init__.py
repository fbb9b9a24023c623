"""The controller: one asyncio process that owns routing, sessions, CDRs and recordings."""
