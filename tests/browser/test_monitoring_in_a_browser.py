"""A person opens a firewall's page and sees its monitoring panel load, with charts drawn from
the metrics API, in a real headless Chromium against a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from branchops.cmdb.choices import Criticality
from branchops.cmdb.models import DeviceRole
from branchops.core.choices import Role
from branchops.core.testing import PASSWORD, make_device, make_site, make_user
from branchops.monitoring import services
from branchops.monitoring.metrics.base import TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import CheckStatus, CheckTemplate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    # The panel is replaced under our feet every 30 s; a stale element means "look again".
    return WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))


def note_of(browser: WebDriver, key: str) -> Any:
    chart = browser.find_element(By.CSS_SELECTOR, f'[data-bo-chart="{key}"]')
    return chart.find_element(By.XPATH, "following-sibling::div[@class='bo-chart-note']")


def test_a_firewall_page_shows_its_checks_and_charts(
    browser: WebDriver, live_server: object, settings: Any, tmp_path: Path
) -> None:
    settings.METRICS_URL = f"sqlite:///{tmp_path / 'metrics.sqlite3'}"
    # Built here: the reference data of the migrations is gone after an earlier transactional
    # test (each one empties the tables when it ends).
    role, _ = DeviceRole.objects.get_or_create(
        slug="firewall", defaults={"name": "防火墙", "name_en": "Firewall"}
    )
    CheckTemplate.objects.get_or_create(
        name="Firewall: reachability",
        defaults={"kind": "icmp", "role": role, "interval_s": 30, "timeout_s": 3},
    )
    site = make_site(code="BR-0042", name="示例证券杭州解放路营业部")
    firewall = make_device(
        site, name="BR-0042-FW01", management_ip="127.30.0.1", criticality=Criticality.CRITICAL
    )
    services.sync()
    CheckStatus.objects.filter(for_check__device=firewall, for_check__kind="icmp").update(
        state="up", summary="loss 0 %, avg 2.10 ms", last_run_at=timezone.now()
    )
    store = SqliteMetricStore(tmp_path / "metrics.sqlite3")
    now = timezone.now().timestamp()
    labels = (("device", "BR-0042-FW01"), ("site", "BR-0042"))
    store.write(
        [
            TimedSample(
                "branchops_icmp_rtt_seconds", (*labels, ("stat", "avg")), now - 60 * i, 0.002
            )
            for i in range(30)
        ]
    )
    store.maintain(now)  # 5-minute rollups, which the 24 h range reads
    store.close()
    make_user(Role.OPS_ENGINEER, username="li.engineer")
    base = str(live_server)

    browser.get(f"{base}/login/")
    browser.find_element(By.NAME, "username").send_keys("li.engineer")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)

    browser.get(f"{base}{firewall.get_absolute_url()}")
    # The panel arrives with htmx, then the script draws every chart into a canvas.
    wait(browser).until(lambda b: "loss 0 %, avg 2.10 ms" in b.page_source)
    wait(browser).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '[data-bo-chart="latency"] canvas')
    )
    # Latency has data; packet loss has none and says so.
    wait(browser).until(lambda b: not note_of(b, "latency").is_displayed())
    wait(browser).until(lambda b: note_of(b, "loss").is_displayed())
    assert "No data for this period." in note_of(browser, "loss").text

    # Another range redraws from the same API; the button shows which one is chosen.
    day = browser.find_element(By.CSS_SELECTOR, '[data-bo-range="86400"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", day)
    day.click()
    wait(browser).until(lambda b: "active" in day.get_attribute("class"))
    wait(browser).until(lambda b: not note_of(b, "latency").is_displayed())
