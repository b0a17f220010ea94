"""A wrong stack file stops before any resource is declared, naming the key and an example."""

import copy

import pulumi
import pytest

from stacks.config import ConfigError, load_settings
from tests.stacks.conftest import ENVIRONMENTS, build_stack, stack_config


def _sections(config: dict) -> dict:
    return {
        key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("ragassist:")
    }


def _load(environment: str, config: dict):
    return load_settings(environment, config.get("aws:region"), _sections(config))


def _without(config: dict, path: str) -> dict:
    changed = copy.deepcopy(config)
    section, key = path.split(".")
    del changed[f"ragassist:{section}"][key]
    return changed


def _with(config: dict, path: str, value) -> dict:
    changed = copy.deepcopy(config)
    section, key = path.split(".")
    changed[f"ragassist:{section}"][key] = value
    return changed


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_stack_file_is_valid(environment):
    settings = _load(environment, stack_config(environment))

    assert settings.environment == environment
    assert settings.prefix == f"ragassist-{environment}"


# (how the file is broken, the key the message must name, a fragment of the example it gives)
BROKEN = [
    (
        lambda c: _without(c, "database.instanceClass"),
        "ragassist:database.instanceClass",
        "db.t4g.micro",
    ),
    (lambda c: _with(c, "database.multiAz", "yes"), "ragassist:database.multiAz", "true"),
    (
        lambda c: _with(c, "database.engineVersion", 16.4),
        "ragassist:database.engineVersion",
        '"16.4"',
    ),
    (lambda c: _with(c, "api.memory", 3000), "ragassist:api.memory", "Fargate"),
    (lambda c: _with(c, "api.maxTasks", 0), "ragassist:api.maxTasks", "integer"),
    (
        lambda c: _with(
            c, "domains.widgetCertificateArn", c["ragassist:domains"]["apiCertificateArn"]
        ),
        "ragassist:domains.widgetCertificateArn",
        "us-east-1",
    ),
    (lambda c: _with(c, "network.cidr", "8.8.0.0/16"), "ragassist:network.cidr", "10.20.0.0/16"),
    (
        lambda c: _with(c, "network.availabilityZones", ["eu-west-1a"]),
        "ragassist:network.availabilityZones",
        "at least 2",
    ),
    (lambda c: _with(c, "logs.retentionDays", 10), "ragassist:logs.retentionDays", "30"),
    (
        lambda c: _with(c, "alerts.pageEmails", ["not-an-address"]),
        "ragassist:alerts.pageEmails",
        "oncall@example.com",
    ),
    (
        lambda c: _with(_with(c, "cache.multiAz", True), "cache.replicas", 0),
        "ragassist:cache.replicas",
        "Multi-AZ",
    ),
    (lambda c: {k: v for k, v in c.items() if k != "aws:region"}, "aws:region", "eu-west-1"),
    (
        lambda c: {k: v for k, v in c.items() if k != "ragassist:widget"},
        "ragassist:widget.priceClass",
        "PriceClass_100",
    ),
]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(("breaks", "key", "example"), BROKEN)
def test_a_bad_value_is_reported_with_its_key_and_an_example(environment, breaks, key, example):
    config = breaks(stack_config(environment))

    with pytest.raises(ConfigError) as caught:
        _load(environment, config)

    message = str(caught.value)
    assert key in message
    assert example in message
    assert environment in message


def test_all_problems_are_reported_at_once():
    config = _with(_without(stack_config("dev"), "cache.nodeType"), "api.cpu", 3)

    with pytest.raises(ConfigError) as caught:
        _load("dev", config)

    assert "ragassist:cache.nodeType is missing" in str(caught.value)
    assert "ragassist:api.cpu is invalid (3)" in str(caught.value)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_program_stops_before_declaring_any_resource(environment):
    config = _without(stack_config(environment), "database.instanceClass")

    with pytest.raises(pulumi.RunError, match=r"ragassist:database\.instanceClass") as caught:
        build_stack(environment, config)

    assert "e.g. instanceClass: db.t4g.micro" in str(caught.value)


def test_a_section_that_is_not_a_mapping_is_reported():
    config = stack_config("dev")
    config["ragassist:database"] = "db.t4g.micro"

    with pytest.raises(pulumi.RunError, match=r"ragassist:database must be a mapping") as caught:
        build_stack("dev", config)

    assert "ragassist:database.instanceClass is missing" in str(caught.value)
