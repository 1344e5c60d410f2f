"""The seed's programmed mule (uWSGI docs, "Giving a brain to mules"), in Python 3."""

import time
from threading import Thread

import uwsgi


def loop1():
    while True:
        print("loop1: Waiting for messages... yawn.")
        message = uwsgi.mule_get_msg()
        print(message)


def loop2():
    print("Hi! I am loop2.")
    while True:
        time.sleep(2)
        print("This is a thread!")


t = Thread(target=loop2)
t.daemon = True
t.start()

if __name__ == "__main__":
    loop1()
