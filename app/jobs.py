"""The jobs the background worker runs (see app/worker.py), in order, every round."""

from app.worker import Job

JOBS: list[Job] = []
