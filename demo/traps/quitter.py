"""Mule 5: a programmed mule that returns at once (a mule must never return)."""

print("mule 5 starting... and returning", flush=True)
