"""Secure by default over HTTP: off loopback nothing is readable without the token; a loopback server
cannot be reached by another web page in the user's browser (DNS rebinding, cross-site WebSocket);
camera passwords never appear in a response; face crops are not cached."""

import asyncio
import logging

import aiohttp
import pytest

from pipelines.events.redis_server import free_port
from tests.support.data import needs_data
from tests.support.http import AUTH, TOKEN, live_app
from tracker.config import with_changes

pytestmark = needs_data


def test_off_loopback_every_read_needs_the_token(analyzer, config, gallery, redis_url):
    exposed = with_changes(config, "test", http={"host": "0.0.0.0"})  # as the Dockerfile and Kubernetes run it

    async def scenario():
        async with live_app(analyzer, exposed, gallery, redis_url) as (client, _):
            person = (await (await client.get("/api/identities", headers=AUTH)).json())[0]["name"]
            face = (await (await client.get(f"/api/identities/{person}", headers=AUTH)).json())["face_list"][0]
            crop = f"/api/identities/{person}/faces/{face['id']}/crop.jpg"
            statuses = {path: (await client.get(path)).status for path in (
                "/api/identities", "/api/cameras", "/api/events", "/api/unknowns", "/metrics",
                "/api/openapi.json", "/health", "/", "/static/app.js")}
            statuses["crop"] = (await client.get(crop)).status
            statuses["crop with token"] = (await client.get(f"{crop}?token={TOKEN}")).status
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws/events?since=0")
            statuses["websocket"] = refused.value.status
            probe = await (await client.get("/ready")).json()
            detailed = await (await client.get("/ready", headers=AUTH)).json()
            return statuses, probe, detailed

    statuses, probe, detailed = asyncio.run(scenario())
    assert statuses == {"/api/identities": 401, "crop": 401, "/api/cameras": 401,
                        "/api/events": 401, "/api/unknowns": 401, "/metrics": 401, "/api/openapi.json": 401,
                        "/health": 200, "/": 200, "/static/app.js": 200, "crop with token": 200, "websocket": 401}
    assert probe == {"ready": True}  # an orchestrator's probe gets its yes or no, and nothing else
    assert detailed["ready"] is True and "cameras" in detailed and "model_id" in detailed


def test_on_loopback_reads_are_open_to_this_machine_only_and_other_web_pages_are_refused(analyzer, config, gallery,
                                                                                          redis_url):
    behind_proxy = with_changes(config, "test", http={"allowed_hosts": ["cams.example.org"]})

    async def scenario():
        async with live_app(analyzer, config, gallery, redis_url, pipeline=False) as (client, _):
            results = {"own host": (await client.get("/api/identities")).status}
            for label, headers in (("localhost", {"Host": "localhost:8080"}), ("ipv6", {"Host": "[::1]:8080"}),
                                   ("rebound name", {"Host": "attacker.example:8080"}),
                                   ("same origin", {"Origin": str(client.make_url("")).rstrip("/")}),
                                   ("other origin", {"Origin": "http://attacker.example"}),
                                   ("null origin", {"Origin": "null"})):
                results[label] = (await client.get("/api/identities", headers=headers)).status
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws/events?since=0", headers={"Origin": "http://attacker.example"})
            results["cross-site websocket"] = refused.value.status
            # a token does not make a foreign page's request welcome: the browser would send the stored one
            results["other origin with token"] = (await client.delete(
                "/api/identities/Colin Powell", headers={**AUTH, "Origin": "http://attacker.example"})).status
            rebound = await client.get("/api/identities", headers={"Host": "attacker.example"})
            results["says why"] = "http.allowed_hosts" in (await rebound.json())["error"]
        async with live_app(analyzer, behind_proxy, gallery, redis_url, pipeline=False) as (client, _):
            proxied = {"Host": "cams.example.org", "Origin": "https://cams.example.org"}
            results["proxy name"] = (await client.get("/api/identities", headers=proxied)).status
            results["proxy name, token"] = (await client.get("/api/identities", headers={**proxied, **AUTH})).status
            # a proxy that passes its upstream's own name on (nginx's default), saying whom it forwards
            results["proxied as localhost"] = (await client.get("/api/identities", headers={
                "Host": "127.0.0.1:8080", "X-Forwarded-For": "203.0.113.9"})).status
            results["proxied crop"] = (await client.get("/api/identities/Colin Powell/faces/1/crop.jpg",
                                                        headers=proxied)).status
            # nginx's plain proxy_pass: the upstream's own name as the Host, no forwarding header
            results["proxied, nothing said"] = (await client.get("/api/identities", headers={
                "Host": "127.0.0.1:8080"})).status
        return results

    assert asyncio.run(scenario()) == {
        "own host": 200, "localhost": 200, "ipv6": 200, "rebound name": 403, "same origin": 200, "other origin": 403,
        "null origin": 403, "cross-site websocket": 403, "other origin with token": 403, "says why": True,
        "proxy name": 401, "proxy name, token": 200, "proxied as localhost": 401, "proxied crop": 401,
        "proxied, nothing said": 401}


def test_camera_passwords_never_reach_a_response_or_the_log(analyzer, config, gallery, redis_url, caplog):
    port = free_port()  # nothing listens: the camera fails to connect, and says so
    url = f"rtsp://admin:hunter2@127.0.0.1:{port}/stream?user=admin&password=hunter3"
    caplog.set_level(logging.INFO)

    async def scenario():
        async with live_app(analyzer, config, gallery, redis_url) as (client, _):
            added = await client.post("/api/cameras", headers=AUTH, json={"id": "door", "url": url})
            assert added.status == 201, await added.text()
            texts = [await added.text()]
            for _ in range(100):
                listing = await client.get("/api/cameras")
                texts.append(await listing.text())
                if (await listing.json())[0]["state"] != "connecting":
                    break
                await asyncio.sleep(0.1)
            texts.append(await (await client.get("/ready")).text())
            return texts, (await listing.json())[0]

    texts, camera = asyncio.run(scenario())
    assert camera["url"] == f"rtsp://admin:***@127.0.0.1:{port}/stream?user=admin&password=***"
    assert not [t for t in texts if "hunter" in t]
    assert "door" in caplog.text and "hunter" not in caplog.text


def test_face_crops_and_data_are_not_cached_and_the_dashboard_files_are(analyzer, config, gallery, redis_url):
    async def scenario():
        async with live_app(analyzer, config, gallery, redis_url, pipeline=False) as (client, _):
            person = (await (await client.get("/api/identities")).json())[0]["name"]
            face = (await (await client.get(f"/api/identities/{person}")).json())["face_list"][0]["id"]
            crop = await client.get(f"/api/identities/{person}/faces/{face}/crop.jpg")
            missing = await client.get("/api/identities/nobody")
            script = await client.get("/static/app.js")
            return crop.headers.get("Cache-Control"), missing.headers.get("Cache-Control"), \
                script.headers.get("Cache-Control")

    assert asyncio.run(scenario()) == ("no-store", "no-store", None)
