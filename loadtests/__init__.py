"""Locust load tests: user journeys, load shapes and the thresholds that gate a run."""
