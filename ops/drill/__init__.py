"""`invoke drill`: a local production-shaped platform, real Prometheus and Alertmanager, faults."""
