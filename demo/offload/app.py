"""Lesson "offload": the app defines work to run in mules."""

import time

import uwsgi
from uwsgidecorators import mulefunc


@mulefunc
def thumbnail(name, size):
    time.sleep(0.2)  # pretend to resize an image
    print(f"thumbnail({name!r}, {size}) done on mule {uwsgi.mule_id()}", flush=True)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    thumbnail("upload.jpg", 128)  # returns at once: a mule does the work
    return [b"queued\n"]
