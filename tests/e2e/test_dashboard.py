"""The dashboard in headless Chromium (Debian's chromium and chromedriver, driven by Selenium)
against a running ``facetrack run`` watching the street video over RTSP (as a cluster of one worker,
so the Workers panel shows), and against ``facetrack serve``."""

import contextlib
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis

from gallery.enroll import Enroller
from gallery.negatives import Negatives
from gallery.store import GalleryStore
from gallery.unknowns import Unknowns
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis, free_port
from tests.support.cli import FACETRACK
from tests.support.data import STILLS, VIDEO, lfw_image, needs_data
from tests.support.rtsp import RtspServer, needs_rtsp
from tests.support.sightings import ask
from tracker.config import EnrollConfig
from tracker.events import Event
from tracker.face.align import STORE_224, align, landmarks_on_crop
from tracker.images import face_region, jpeg_base64, read_image
from tracker.track.sighting import Sighting, SightingFace

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver "
                                    "are not installed (scripts/test.sh installs them)")
pytestmark = [needs_data, needs_rtsp, needs_chromium]
TOKEN = "dashboard-token"


def as_mjpeg_avi(video: Path, out: Path) -> Path:
    """The test RTSP server serves MJPEG AVI files; the street video is H.264 MP4."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    capture.release()
    writer.release()
    return out


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception:  # not there yet
            pass
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def tracker(tmp_path, cache_dir):
    """``facetrack run`` on the street video over RTSP, with its HTTP side; yields the base URL."""
    http_port = free_port()
    with EmbeddedRedis(tmp_path / "redis") as redis_server:
        camera = RtspServer(as_mjpeg_avi(VIDEO, tmp_path / "street.avi"), free_port()).start()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = "{tmp_path / "g.db"}"\n\n'
            f'[redis]\nurl = "{redis_server.url}"\n\n[http]\nport = {http_port}\ntoken = "{TOKEN}"\n\n'
            f'[workers]\nenabled = true\nworker_id = "door-box"\n\n'  # a cluster of one: the Workers panel shows
            f'[[cameras]]\nid = "street"\nurl = "{camera.url}"\nfps = 3.0\n'
        )
        log = (tmp_path / "run.log").open("w")
        process = subprocess.Popen([str(FACETRACK), "run", "--config", str(config)], stderr=log)
        base = f"http://127.0.0.1:{http_port}"
        try:
            wait_until(lambda: urllib.request.urlopen(f"{base}/ready", timeout=2).status == 200, 120,
                       f"the tracker to be ready: {(tmp_path / 'run.log').read_text()[-2000:]}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:  # the log says what the stop waits on (pipelines.signals)
                process.kill()
                pytest.fail(f"facetrack run did not stop within 60 s: {(tmp_path / 'run.log').read_text()[-3000:]}")
            finally:
                camera.stop()
                log.close()


def chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@contextlib.contextmanager
def served_dashboard(tmp_path, cache_dir, gallery, extra: str = ""):
    """``facetrack serve`` on ``gallery`` (``extra``: more config) and headless Chromium on its dashboard, with the
    token set; yields the driver."""
    port = free_port()
    settings = tmp_path / "config.toml"
    settings.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[http]\nport = {port}\n'
                        f'token = "{TOKEN}"\n\n{extra}')
    server = subprocess.Popen([str(FACETRACK), "serve", "--config", str(settings), "--gallery", str(gallery)],
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    driver = chromium(tmp_path)
    try:
        wait_until(lambda: urllib.request.urlopen(f"{base}/health", timeout=2).status == 200, 120, "facetrack serve")
        driver.get(base)
        driver.execute_script("localStorage.setItem('facetrack-token', arguments[0])", TOKEN)
        driver.refresh()
        yield driver
    finally:
        driver.quit()
        server.terminate()
        server.wait(60)


def test_the_dashboard_shows_cameras_and_live_events_and_enrolls_by_upload(tracker, tmp_path):
    from selenium.webdriver.common.by import By

    driver = chromium(tmp_path)
    try:
        driver.get(tracker)
        driver.execute_script("localStorage.setItem('facetrack-token', arguments[0])", TOKEN)
        driver.refresh()
        state = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, '[data-camera="street"] .state').text, 30,
                           "the street camera's tile")
        assert state.startswith("street:")
        worker = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, '#workers li[data-worker="door-box"]').text,
                            30, "the Workers panel")
        assert worker.startswith("door-box (this one): street, heartbeat")
        wait_until(lambda: driver.find_element(By.ID, "presence-section").is_displayed(), 30, "the presence panel")
        assert driver.find_elements(By.CSS_SELECTOR, "#presence li")  # who is where, or that nobody is named yet
        events = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#events li"), 90, "live events")
        assert "street" in events[0].text
        driver.find_element(By.ID, "enroll-name").send_keys("Angelina Jolie")
        driver.find_element(By.ID, "enroll-files").send_keys(str(STILLS / "people" / "angelina_jolie" / "1.jpg"))
        driver.find_element(By.CSS_SELECTOR, "#enroll button").click()
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '#people li[data-name="Angelina Jolie"]'), 60,
                   "the new person in the gallery list")
        assert "1 enrolled" in driver.find_element(By.ID, "message").text
        wait_until(lambda: driver.execute_script(
            "const i = document.querySelector('[data-camera=\"street\"] img'); return i.complete && i.naturalWidth"),
            30, "the live view to show a frame")
        shot = tmp_path / "dashboard.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[1] >= 1000
    assert float(np.std(image)) > 20  # not blank: text, tiles, a camera frame
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500


def test_the_dashboard_names_a_cluster_of_unknown_faces(tmp_path, cache_dir, analyzer, config):
    from selenium.webdriver.common.by import By

    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:  # a stranger's two visits, as the live pipeline records them
        unknowns = Unknowns(store, analyzer.embedder.model_id, config.unknowns.join_share * analyzer.verify_threshold)
        for visit in range(2):
            faces = []
            for n in (2 * visit + 1, 2 * visit + 2):
                image = read_image(lfw_image("Hugo_Chavez", n))
                a = analyzer.analyze([image])[0]
                q = {"size": float(a.quality.size[0]), "sharpness": float(a.quality.sharpness[0]),
                     "frontal": float(a.quality.frontal[0])}
                faces.append(SightingFace(align(image, a.faces.landmarks[0], STORE_224),
                                          landmarks_on_crop(a.faces.landmarks[0], STORE_224), q, a.embeddings[0],
                                          100.0 * visit, 1.0))
            cluster = unknowns.add(Sighting("door", visit, 100.0 * visit, 100.0 * visit + 5, unknowns.model_id, faces))
    with served_dashboard(tmp_path, cache_dir, gallery) as driver:
        item = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, f'#unknowns li[data-cluster="{cluster}"]'), 30,
                          "the cluster in the Unknown people list")
        assert "2 sightings" in item.text
        wait_until(lambda: driver.execute_script(
            "return [...document.querySelectorAll('#unknowns img')].filter(i => i.complete && i.naturalWidth).length"
        ) == 4, 30, "the cluster's four face crops")
        item.find_element(By.CSS_SELECTOR, ".cluster-name").send_keys("Visitor One")
        next(b for b in item.find_elements(By.TAG_NAME, "button") if b.text == "name").click()
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '#people li[data-name="Visitor One"]'), 60,
                   "the named person in the gallery list")
        assert "Visitor One: " in driver.find_element(By.ID, "message").text
        wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, "#unknowns li"), 30, "the named cluster to leave")
    with GalleryStore(gallery) as store:
        assert store.identity("Visitor One").faces >= 2


def test_not_this_person_on_a_wrong_match_in_the_event_list(tmp_path, cache_dir, analyzer, config):
    """A real false accept (dlib-resnet-v1 names Kim Yong-il as Tang Jiaxuan at the default FAR) arrives as an
    event; one click on its "not Tang_Jiaxuan" button rejects the event's face crop as not him."""
    from selenium.webdriver.common.by import By

    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        enroller.enroll("Tang_Jiaxuan", *enroller.from_images([lfw_image("Tang_Jiaxuan", i) for i in range(1, 6)]))
        person = store.identity("Tang_Jiaxuan").id
    image = read_image(lfw_image("Kim_Yong-il", 1))
    crop = jpeg_base64(face_region(image, analyzer.analyze([image])[0].faces.boxes[0]), 20_000)
    wrong = Event(type="identity.resolved", camera="door", track_id=4, frame_time=time.time(), model_id="m",
                  identity_id=person, name="Tang_Jiaxuan", crop_jpeg=crop)
    with EmbeddedRedis(tmp_path / "redis") as redis_server, \
            served_dashboard(tmp_path, cache_dir, gallery, f'[redis]\nurl = "{redis_server.url}"\n') as driver:
        client = redis.Redis.from_url(redis_server.url)
        try:
            wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '#people li[data-name="Tang_Jiaxuan"]'), 30,
                       "the gallery list")
            audit = wait_until(lambda: driver.find_element(By.ID, "audit-summary").text, 30, "the gallery audit")
            assert re.fullmatch(r"\d faces checked, 0 flagged", audit), audit
            assert not driver.find_element(By.ID, "presence-section").is_displayed()  # no cameras in serve
            wait_until(lambda: any(c.get("cmd") == "xread" for c in client.client_list()), 60,
                       "the page's event feed following the Stream")  # the event WebSocket follows from now on
            client.xadd(stream_key("facetrack"), {"event": wrong.model_dump_json()})
            button = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, "#events li button.reject"), 30,
                                "the wrong match in the event list")
            assert button.text == "not Tang_Jiaxuan"
            button.click()
            wait_until(lambda: "rejected as not Tang_Jiaxuan" in driver.find_element(By.ID, "message").text, 60,
                       "the rejection")
            wait_until(lambda: "1 rejected" in driver.find_element(By.CSS_SELECTOR,
                                                                    '#people li[data-name="Tang_Jiaxuan"]').text,
                       30, "the person's rejected count")
        finally:
            client.close()
    with GalleryStore(gallery) as store:
        assert [n.source for n in Negatives(store).of(person)] == ["event crop.jpg"]


def test_a_review_is_answered_by_key_and_undone(tmp_path, cache_dir, analyzer):
    """A track that ended almost named waits in "Is this…?" with its face beside the candidate's: y adds its faces
    to the candidate, u takes them back, n records them as not the candidate."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, EnrollConfig())
        enroller.enroll("Ann", enroller.from_images([lfw_image("Colin_Powell", 1), lfw_image("Colin_Powell", 2)])[0],
                        [])
        review = ask(analyzer, store, "Colin_Powell", "Ann")
    with served_dashboard(tmp_path, cache_dir, gallery) as driver:
        item = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, f'#reviews li[data-review="{review}"]'), 30,
                          "the review in the Is this…? list")
        assert "Is this Ann?" in item.text and "door #7" in item.text
        wait_until(lambda: driver.execute_script(
            "return [...document.querySelectorAll('#reviews img')].filter(i => i.complete && i.naturalWidth).length"
        ) == 2, 30, "the track's face and Ann's")
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("y")
        wait_until(lambda: "4 faces" in driver.find_element(By.CSS_SELECTOR, '#people li[data-name="Ann"]').text, 30,
                   "Ann with the review's two faces")
        assert not driver.find_elements(By.CSS_SELECTOR, "#reviews li")
        body.send_keys("u")
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, f'#reviews li[data-review="{review}"]'), 30,
                   "the review back after undo")
        assert "2 faces" in driver.find_element(By.CSS_SELECTOR, '#people li[data-name="Ann"]').text
        body.send_keys("n", Keys.NULL)
        wait_until(lambda: "2 rejected" in driver.find_element(By.CSS_SELECTOR, '#people li[data-name="Ann"]').text,
                   30, "the faces rejected as not Ann")
    with GalleryStore(gallery) as store:
        assert store.identity("Ann").faces == 2 and len(Negatives(store).of(store.identity("Ann").id)) == 2
