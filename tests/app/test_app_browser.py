"""The app in a real headless browser: Debian's Chromium through selenium, against ``emo-pillars app`` started as a
user starts it. The test types an utterance and reads the top emotion the page shows.

Chromium comes from the OS packages (``apt-get install chromium chromium-driver``; ``.ci/run`` installs them);
selenium is pointed at ``/usr/bin/chromedriver`` because selenium-manager cannot download drivers here. The test
skips, saying why, only where no browser is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import FIXTURES, free_port
from processes import stop_process

pytest.importorskip("gradio")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _browser_or_skip():
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(f"no browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        pytest.skip("no browser driver: selenium is not installed (pip install selenium)")


def _wait_for(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the app did not answer on {url} within {seconds} s")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, tiny_emotions_model):
    """``python -m emo_pillars app --model TINY --dataset GENERATED`` on a free port; terminated afterwards.

    One server for this module's tests. It is not waited for here: the browser and the test's own classifier start
    while the app starts. Yields ``(url, process, annotations folder)``.
    """
    root = tmp_path_factory.mktemp("browser-app")
    dataset = shutil.copytree(FIXTURES / "generated", root / "generated")
    annotations = root / "annotations"
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "emo_pillars", "app", "--model", str(tiny_emotions_model), "--host",
               "127.0.0.1", "--port", str(port), "--annotations", str(annotations), "--dataset", str(dataset)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{port}/", process, annotations
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile and every background network feature off; quit afterwards."""
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_types_an_utterance_and_sees_the_classifier_top_emotion(app_server, browser, tiny_emotions_model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from emo_pillars import EmoPillarsClassifier

    text = "Wow, great results!"
    classifier = EmoPillarsClassifier.from_pretrained(tiny_emotions_model, device="cpu")
    expected = classifier.model.config.id2label[int(classifier.predict_proba([text])[0].argmax())]

    url, process, _ = app_server
    _wait_for(url, process, seconds=90)
    browser.get(url)
    wait = WebDriverWait(browser, 60)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#utterance textarea")))
    box.send_keys(text)
    browser.find_element(By.CSS_SELECTOR, "#classify").click()
    heading = (By.CSS_SELECTOR, "#scores [data-testid='label-output-value']")
    wait.until(lambda driver: driver.find_element(*heading).text.strip())
    shown = browser.find_element(*heading).text.strip()
    print(f"browser saw top emotion {shown!r}; classifier top label {expected!r}")
    assert shown == expected
    predicted = browser.find_element(By.CSS_SELECTOR, "#predicted textarea").get_attribute("value")
    assert predicted  # the thresholded emotions are shown too


def test_browser_annotates_one_contextual_example(app_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, process, annotations = app_server
    _wait_for(url, process, seconds=90)
    browser.get(url)
    wait = WebDriverWait(browser, 60)
    wait.until(ec.element_to_be_clickable((By.XPATH, "//button[@role='tab'][contains(., 'Evaluate')]"))).click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#eval-config input[value='contextual']"))).click()
    browser.find_element(By.CSS_SELECTOR, "#eval-annotator input, #eval-annotator textarea").send_keys("ann")
    browser.find_element(By.CSS_SELECTOR, "#eval-start").click()
    status = (By.CSS_SELECTOR, "#eval-status")
    wait.until(lambda driver: "0 of" in driver.find_element(*status).text)
    example_id = browser.find_element(By.CSS_SELECTOR, "#eval-example-id input, #eval-example-id textarea")
    shown_id = example_id.get_attribute("value")
    boxes = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#eval-right input[type='checkbox']"))
    boxes[0].click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#eval-context input[value='yes']"))).click()
    browser.find_element(By.CSS_SELECTOR, "#eval-save").click()
    wait.until(lambda driver: "1 of" in driver.find_element(*status).text)
    record = json.loads((annotations / "ann.jsonl").read_text().splitlines()[0])
    print(
        f"browser saved {record['example_id']}: {record['judgements']}, context explains {record['context_explains']}"
    )
    assert record["example_id"] == shown_id and record["context_explains"] is True
    assert list(record["judgements"].values())[0] is True and sum(record["judgements"].values()) == 1
