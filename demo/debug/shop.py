"""Mule 1 of the "debug" lesson: a shop that takes an order every 2 s, and adds it up wrong."""

import itertools
import time

orders = []


def total(order):
    return order["qty"] + order["price"]  # the bug: fix it, save, and watch mule 1 restart


print(f"shop.py: I am {__file__} (edit me to fix the totals)", flush=True)
for number in itertools.count(1):
    order = {"number": number, "qty": number % 4 + 1, "price": 4.5}
    orders.append(order)
    print(f"order {number}: {order['qty']} x {order['price']:.2f} = {total(order):.2f}", flush=True)
    time.sleep(2)
