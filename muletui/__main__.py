"""``python -m muletui``."""

import sys

from muletui.cli import main

sys.exit(main())
