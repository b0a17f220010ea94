"""User journeys against a running API (DESIGN §15). Configured by environment variables:

LOADTEST_MERCHANT_ID, LOADTEST_SECRET_KEY, LOADTEST_PUBLISHABLE_KEY (the merchant under load),
LOADTEST_ORIGIN (an allowed shop origin for widget calls) and LOADTEST_SHAPE (loadtests/shapes.py);
for the capacity shape, LOADTEST_CAPACITY_REPORT (where each judged step is written) and
optionally LOADTEST_STEP_SECONDS, LOADTEST_MAX_USERS and LOADTEST_THRESHOLDS. `invoke loadtest`
sets them; request names group dynamic URLs for the thresholds.
"""

import dataclasses
import os
import random
from pathlib import Path

from locust import HttpUser, LoadTestShape, between, task
from locust.clients import ResponseContextManager

from loadtests.capacity import Sample, Stepper
from loadtests.data import SMALL_CATALOG
from loadtests.gate import THRESHOLDS, load_thresholds
from loadtests.shapes import CAPACITY, minor_journey_users, stage_at

MERCHANT = os.environ.get("LOADTEST_MERCHANT_ID", "")
SECRET = os.environ.get("LOADTEST_SECRET_KEY", "")
PUBLISHABLE = os.environ.get("LOADTEST_PUBLISHABLE_KEY", "")
ORIGIN = os.environ.get("LOADTEST_ORIGIN", "http://localhost:8001")
SHAPE = os.environ.get("LOADTEST_SHAPE", "smoke")
QUESTIONS = (
    "Do you have running shoes under $100?",
    "waterproof jacket",
    "What gifts do you have for a coffee lover?",
    "Show me something in stock from your best brand",
    "backpack for hiking",
)


def _check(response: ResponseContextManager, status: int) -> None:
    """A response counts as a success only if it has the expected status and the envelope."""
    try:
        body = response.json()
    except ValueError:
        response.failure(f"not JSON ({response.status_code})")
        return
    if response.status_code != status or body.get("success") is not (status < 400):
        code = (body.get("error") or {}).get("code")
        response.failure(f"{response.status_code} {code}")
    else:
        response.success()


class Shopper(HttpUser):
    """Loads the widget, opens a chat and asks a few questions, as on a shop page."""

    weight = 8
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.headers.update({"Authorization": f"Bearer {PUBLISHABLE}", "Origin": ORIGIN})
        with self.client.get(
            "/api/widget/config", name="widget config", catch_response=True
        ) as response:
            _check(response, 200)
        self.session_id = None
        with self.client.post(
            "/api/chat/sessions", json={}, name="chat create session", catch_response=True
        ) as response:
            _check(response, 201)
            if response.status_code == 201:
                self.session_id = response.json()["data"]["id"]

    @task
    def ask(self) -> None:
        if self.session_id is None:
            return
        with self.client.post(
            f"/api/chat/sessions/{self.session_id}/messages",
            json={"content": random.choice(QUESTIONS)},  # noqa: S311 - not crypto
            name="chat send message",
            catch_response=True,
        ) as response:
            _check(response, 200)


class Integrator(HttpUser):
    """A merchant's backend: reads sync state and products, now and then uploads a catalog."""

    fixed_count = minor_journey_users(SHAPE)
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.client.headers.update({"Authorization": f"Bearer {SECRET}"})

    @task(5)
    def read_sync_state(self) -> None:
        for path, name in (("sync/status", "sync status"), ("sync/history", "sync history")):
            with self.client.get(
                f"/api/merchants/{MERCHANT}/{path}", name=name, catch_response=True
            ) as response:
                _check(response, 200)

    @task(3)
    def search_products(self) -> None:
        with self.client.get(
            f"/api/merchants/{MERCHANT}/products",
            params={"q": "item", "limit": 20},
            name="sync products search",
            catch_response=True,
        ) as response:
            _check(response, 200)

    @task(1)
    def upload(self) -> None:
        with self.client.post(
            f"/api/merchants/{MERCHANT}/products/upload",
            params={"wait": "true"},
            files={"file": ("catalog.csv", SMALL_CATALOG, "text/csv")},
            name="sync upload",
            catch_response=True,
        ) as response:
            # 409: another integrator's run is in progress, which is the API working as designed.
            if response.status_code == 409:
                response.success()
            else:
                _check(response, 202)


class Admin(HttpUser):
    """The developer portal: keys and analytics."""

    fixed_count = minor_journey_users(SHAPE)
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.client.headers.update({"Authorization": f"Bearer {SECRET}"})

    @task
    def keys(self) -> None:
        with self.client.get("/api/keys", name="admin keys", catch_response=True) as response:
            _check(response, 200)

    @task
    def analytics(self) -> None:
        with self.client.get(
            "/api/analytics/summary", name="admin analytics", catch_response=True
        ) as response:
            _check(response, 200)


class ConfiguredShape(LoadTestShape):
    """The profile named by LOADTEST_SHAPE (smoke by default)."""

    stepper: Stepper | None = None

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        if SHAPE != "capacity":
            stage = stage_at(SHAPE, elapsed)
            return None if stage is None else (stage.users, stage.spawn_rate)
        if self.stepper is None:
            plan = dataclasses.replace(
                CAPACITY,
                seconds=int(os.environ.get("LOADTEST_STEP_SECONDS", CAPACITY.seconds)),
                max_users=int(os.environ.get("LOADTEST_MAX_USERS", CAPACITY.max_users)),
            )
            limits = load_thresholds(Path(os.environ.get("LOADTEST_THRESHOLDS", THRESHOLDS)))
            self.stepper = Stepper(plan, limits, Path(os.environ["LOADTEST_CAPACITY_REPORT"]))
        users = self.stepper.tick(elapsed, self._sample)
        return None if users is None else (users, float(self.stepper.plan.step))

    def _sample(self) -> dict[str, Sample]:
        assert self.runner is not None, "a shape ticks only inside a runner"
        return {
            entry.name: Sample(entry.num_requests, entry.num_failures, dict(entry.response_times))
            for entry in self.runner.stats.entries.values()
        }
