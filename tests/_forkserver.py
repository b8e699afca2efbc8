"""A fork server for the ``archspace`` commands of tests/test_docs_examples.py.

Each documented command runs through bash as a user types it, and a fresh interpreter pays
about 4 CPU seconds just to import torch, scikit-learn and matplotlib before a training command
does anything (more than the command's own work at the docs' tiny sizes). So the ``archspace``
on the test's PATH is a small client: it hands its arguments, working folder, environment and
its stdin/stdout/stderr (the file descriptors themselves, over a Unix socket) to this server,
which has imported those third-party packages once and forks a worker per command. The worker
takes the client's descriptors, folder, environment and ``sys.argv``, imports archspace afresh
(it is never imported here) and runs ``archspace.cli.main`` to a normal interpreter exit; its
exit status becomes the client's. A command killed by a signal exits 128 + the signal, as in a
shell.

    python tests/_forkserver.py SOCKET MODULE...    # serve; prints "ready" once listening

With ``FORKSERVER_LOG=FILE`` in the environment, each command's arguments, folder and CPU
seconds (the worker's, from ``os.wait4``) are appended to FILE as a JSON line: how the docs
examples' costs are measured.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import os
import signal
import socket
import sys

#: Imported by the server before it forks (third-party only: archspace is imported by each
#: worker, as by a fresh ``archspace`` process).
PRELOAD = ("torch", "torch._dynamo", "numpy", "sklearn.datasets", "matplotlib.pyplot")

#: The ``archspace`` client put on PATH; ``{python}`` and ``{socket}`` are filled in. ``-S``:
#: it needs nothing outside the standard library.
CLIENT = '''#!{python} -S
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({socket!r})
msg = json.dumps({{"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(s, [b"F"], [0, 1, 2])
s.sendall(len(msg).to_bytes(8, "big") + msg)
s.shutdown(socket.SHUT_WR)
reply = b""
while chunk := s.recv(64):
    reply += chunk
if not reply:
    sys.stderr.write("archspace fork server: no exit status (the server died)\\n")
    sys.exit(70)
sys.exit(int(reply))
'''


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("the client hung up")
        data += chunk
    return data


def _serve(path: str, preload: list[str]) -> socket.socket:
    """Import ``preload``, listen on ``path``; return (in a forked handler) one connection."""
    for name in preload:
        importlib.import_module(name)
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads != 1:  # forking a process with other threads is unsafe
        sys.exit(f"fork server: {threads} threads after importing {preload}; cannot fork safely")
    gc.freeze()  # the workers' collections leave the imported objects (and their pages) alone
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            return conn
        conn.close()


def _handle(conn: socket.socket) -> None:
    """Fork the worker, send the client its exit status; return only in the worker."""
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    request = json.loads(_recv_exact(conn, int.from_bytes(_recv_exact(conn, 8), "big")))
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become(request, fds)
        return
    for fd in fds:
        os.close(fd)
    _, status, usage = os.wait4(pid, 0)
    if os.environ.get("FORKSERVER_LOG"):
        with open(os.environ["FORKSERVER_LOG"], "a") as log:
            log.write(json.dumps({"argv": request["argv"][1:], "cwd": request["cwd"],
                                  "cpu": usage.ru_utime + usage.ru_stime}) + "\n")
    code = os.waitstatus_to_exitcode(status)
    conn.sendall(str(code if code >= 0 else 128 - code).encode())
    conn.close()
    os._exit(0)


def _become(request: dict[str, object], fds: list[int]) -> None:
    """Take the client's descriptors, folder, environment and argv, as a fresh process has."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    sys.argv = ["archspace", *argv[1:]]
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))  # the script's folder, as python sets
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                 encoding=sys.stdin.encoding, errors=sys.stdin.errors)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                  encoding=sys.stdout.encoding, errors=sys.stdout.errors,
                                  line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                                  encoding=sys.stderr.encoding, errors="backslashreplace",
                                  line_buffering=True)


if __name__ == "__main__":
    _handle(_serve(sys.argv[1], sys.argv[2:]))
    from archspace.cli import main

    main()
