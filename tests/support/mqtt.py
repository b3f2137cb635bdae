"""A real MQTT broker for the tests: Debian's ``mosquitto`` (installed by ``scripts/system_packages.sh``),
on a free loopback port with a password file and its store in a temporary folder, stopped (and started
again) at will; and a subscriber that records every message it gets."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from pipelines.events.redis_server import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
needs_mosquitto = pytest.mark.skipif(
    not Path(MOSQUITTO).is_file() or shutil.which("mosquitto_passwd") is None,
    reason="Debian's mosquitto is not installed (scripts/system_packages.sh installs it)")
USER, PASSWORD = "facetrack", "broker-secret-42"


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def until(check, seconds: float = 15.0, what: str = ""):
    """``check()``'s first true value within ``seconds``; an ``AssertionError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


class Mosquitto:
    """With ``tls``: TLS only, with a certificate for 127.0.0.1 signed by a CA of its own (``ca``)."""

    def __init__(self, root: Path, tls: bool = False) -> None:
        self.root, self.port = root, free_port()
        self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"
        self.ca = root / "ca.pem" if tls else None
        root.mkdir(parents=True, exist_ok=True)
        passwords = root / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True,
                       capture_output=True, timeout=30)
        passwords.chmod(0o600)
        (root / "store").mkdir(exist_ok=True)
        self.conf = root / "mosquitto.conf"
        tls_lines = self._certificates() if tls else ""
        self.conf.write_text(f"user {getpass.getuser()}\n"  # as root it would turn into `mosquitto`, locked out
                             f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
                             f"persistence true\npersistence_location {root / 'store'}/\n{tls_lines}")
        self.process: subprocess.Popen | None = None

    def _certificates(self) -> str:
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=self.root)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=facetrack test CA")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=127.0.0.1")
        (self.root / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
        return (f"cafile {self.root / 'ca.pem'}\ncertfile {self.root / 'server.pem'}\n"
                f"keyfile {self.root / 'server.key'}\n")

    def start(self) -> None:
        self.log = (self.root / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start: {(self.root / 'mosquitto.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self, forget: bool = False) -> None:
        """Stop it (its store saved); with ``forget``, its store deleted too (a broker that lost everything)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()
        if forget:
            for stored in (self.root / "store").iterdir():
                stored.unlink()

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Recorder:
    """A subscriber to ``topics`` that keeps every message: (topic, payload, retained)."""

    def __init__(self, broker: Mosquitto, topics: str = "#", client_id: str = "", persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        self.client.username_pw_set(USER, PASSWORD)
        if broker.ca:
            self.client.tls_set(ca_certs=str(broker.ca))
        self.client.on_connect = lambda client, *_: client.subscribe(topics, qos=2)
        self.client.on_message = self._keep
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()

    def _keep(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def seen(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def caught_up(self, seconds: float = 15.0) -> None:
        """Wait until the retained messages the broker held at subscription have all come: a marker of our own,
        published (again and again, until the subscription stands) after it, comes back after them."""
        marker = f"test-marker/{uuid.uuid4().hex}"

        def back() -> bool:
            if any(topic == marker for topic, _, _ in self.seen()):
                return True
            self.client.publish(marker, b"", qos=1)
            return False

        until(back, seconds, what="the recorder's subscription")

    def latest(self) -> dict[str, bytes]:
        """Each topic's last payload (markers left out)."""
        return {topic: payload for topic, payload, _ in self.seen() if not topic.startswith("test-marker/")}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
