"""Mule 4: never reads its queue."""

import time

while True:
    time.sleep(60)
