"""The stack root puts each descriptor the master hands it at the master's number for it, however
many there are and wherever its control socket sits (:func:`muletui.stack.root._receive_spec`)."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import os, pickle, socket
from muletui.stack.root import _receive_spec

master, root = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
pipes = [os.pipe() for _ in range(260)]  # more than one datagram's worth
wanted = [root.fileno(), *range(700, 700 + len(pipes) - 1)]  # the first one where the control socket is
identities = {number: os.fstat(r).st_ino for number, (r, _w) in zip(wanted, pipes)}
sent = [r for r, _w in pipes]
for start in range(0, len(sent), 200):
    socket.send_fds(master, [pickle.dumps(("fds", wanted[start : start + 200]))], sent[start : start + 200])
master.send(pickle.dumps(("spec", "the spec")))
for r, w in pipes:
    os.close(r)
control, spec = _receive_spec(root)
assert spec == "the spec"
assert {number: os.fstat(number).st_ino for number in wanted} == identities
master.send(b"still the control socket")
assert control.recv(100) == b"still the control socket" and control.fileno() not in wanted
print("ok")
"""


def test_every_descriptor_lands_at_its_number_and_the_control_socket_moves_aside():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
