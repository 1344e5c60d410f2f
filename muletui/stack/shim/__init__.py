"""Directory put first on ``sys.path`` of stack processes, so ``import uwsgi`` finds our shim.

It is a package only so that it ships with muletui; nothing imports it as ``muletui.stack.shim``.
"""

from pathlib import Path

SHIM_DIR = str(Path(__file__).parent)
