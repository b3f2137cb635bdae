"""A TCP proxy in front of a server, that a test can cut: a network partition between one client and the
server, while the server and everyone else go on (as ``ip netns`` + a dropped veth would, without root)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class CuttableProxy:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:target`` (a port), or to the unix socket ``target`` (a path);
    ``cut()`` drops every connection and answers no new one (connections are accepted and closed at once),
    ``restore()`` forwards again."""

    def __init__(self, target: int | Path) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.cut_off = True
            for sock in self._open:
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut_off:
                client.close()
                continue
            try:
                upstream = self._upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _upstream(self) -> socket.socket:
        if isinstance(self.target, int):
            return socket.create_connection(("127.0.0.1", self.target))
        upstream = socket.socket(socket.AF_UNIX)
        try:
            upstream.connect(str(self.target))
        except OSError:
            upstream.close()
            raise
        return upstream

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
