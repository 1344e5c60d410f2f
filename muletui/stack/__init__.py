"""Code that runs inside stack processes: the stack root (fork server) and the mules.

Nothing here imports the engine or the console; it talks to the master only through the
descriptors and the stats block described in :mod:`muletui.ipc`.
"""
