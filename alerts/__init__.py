"""Alert rules (rules.yaml) and what is built from them: CloudWatch alarms, Prometheus rules, an
evaluator for tests and drills."""
