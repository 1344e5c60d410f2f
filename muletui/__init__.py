"""muletui: run a uWSGI 2.0 mule stack without uWSGI, headless or in a Textual console."""

__version__ = "0.1.0"

#: The uWSGI release whose behaviour muletui reproduces (``uwsgi.version``).
UWSGI_VERSION = "2.0.30"
