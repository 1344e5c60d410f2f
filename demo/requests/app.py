"""The web app of the "requests" lesson: each request answers at once and hands its slow part
to a mule, as real projects do (a mail to send, a thumbnail to make).

    /thumbnail?photo=NAME  -> @mulefunc thumbnail(NAME), run by the signal-mode mule 2
    /mail?to=WHO           -> mule_msg to mule 1 (mailer.py), which "sends" it
    /tick                  -> raises signal 30 for every worker
"""

from urllib.parse import parse_qs

import uwsgi
from uwsgidecorators import mulefunc


@mulefunc(2)
def thumbnail(photo):
    print(f"made a thumbnail of {photo} on mule {uwsgi.mule_id()}", flush=True)


def on_tick(signum):
    print(f"worker {uwsgi.worker_id()} got signal {signum} between requests", flush=True)


uwsgi.register_signal(30, "workers", on_tick)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = {key: values[0] for key, values in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/thumbnail":
        thumbnail(query.get("photo", "photo.jpg"))
        answer = "a mule makes the thumbnail"
    elif path == "/mail":
        uwsgi.mule_msg(f"mail to {query.get('to', 'you')}".encode(), 1)
        answer = "mule 1 sends the mail"
    elif path == "/tick":
        uwsgi.signal(30)
        answer = "signal 30 raised for every worker"
    else:
        answer = "try /thumbnail?photo=cat.jpg, /mail?to=ann or /tick"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"worker {uwsgi.worker_id()}: {answer}\n".encode()]
