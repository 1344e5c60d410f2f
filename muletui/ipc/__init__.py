"""What the master and the stack processes share: the stats block layout and the wire formats.

Imported on both sides, so it imports nothing from the engine, the stack or the console.
"""
