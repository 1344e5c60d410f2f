"""Mule 4: plays the web app's part, offloading work every second.

``@mulefunc`` sends the function's *name* and arguments; the signal-mode mule that takes the
message runs its own ``thumbnail``, the one the app defined at import (mules inherit it).
"""

import itertools
import time

import uwsgi
from uwsgidecorators import mulefunc


@mulefunc
def thumbnail(name, size):
    """Only the name matters here: the receiving mule looks ``thumbnail`` up in its table."""


for n in itertools.count(1):
    time.sleep(1)
    thumbnail(f"photo-{n}.jpg", 128)
    uwsgi.mule_msg(f"request {n} served", 1)
