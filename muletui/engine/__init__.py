"""The master: pure asyncio, no Textual. Consumers read :mod:`muletui.engine.events` from the bus."""
