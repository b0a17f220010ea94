"""The stack's configuration, validated into typed settings before any resource is declared.

Every difference between environments lives in `Pulumi.<stack>.yaml`; the program reads only
these settings. A bad stack file stops the run listing each wrong key with an example value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "METRICS_NAMESPACE",
    "PROJECT",
    "ApiSettings",
    "CacheSettings",
    "ConfigError",
    "DatabaseSettings",
    "DomainSettings",
    "NetworkSettings",
    "StackSettings",
    "WidgetSettings",
    "WorkerSettings",
    "from_pulumi",
    "load_settings",
]

PROJECT = "ragassist"
# The app publishes here (CLOUDWATCH_NAMESPACE) and the alarms read from here.
METRICS_NAMESPACE = "RagAssist"
SECTIONS = ("network", "domains", "database", "cache", "api", "worker", "logs", "widget", "alerts")

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$")
_CERTIFICATE = r"^arn:aws:acm:{region}:\d{{12}}:certificate/[0-9a-f-]{{36}}$"
# Fargate's valid task sizes: CPU units -> allowed memory (MiB).
_FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

T = TypeVar("T")


class ConfigError(ValueError):
    """The stack file holds values the program cannot be built from."""


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: int


@dataclass(frozen=True, slots=True)
class DomainSettings:
    api: str
    widget: str
    api_certificate_arn: str
    widget_certificate_arn: str


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    instance_class: str
    engine_version: str
    storage_gb: int
    max_storage_gb: int
    multi_az: bool
    deletion_protection: bool
    backup_retention_days: int
    final_snapshot: bool


@dataclass(frozen=True, slots=True)
class CacheSettings:
    node_type: str
    replicas: int
    multi_az: bool
    snapshot_retention_days: int


@dataclass(frozen=True, slots=True)
class ApiSettings:
    cpu: int
    memory: int
    min_tasks: int
    max_tasks: int
    load_balancer_deletion_protection: bool


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    cpu: int
    memory: int
    tasks: int


@dataclass(frozen=True, slots=True)
class WidgetSettings:
    price_class: str
    loader_ttl_seconds: int


@dataclass(frozen=True, slots=True)
class StackSettings:
    environment: str
    region: str
    network: NetworkSettings
    domains: DomainSettings
    database: DatabaseSettings
    cache: CacheSettings
    api: ApiSettings
    worker: WorkerSettings
    log_retention_days: int
    widget: WidgetSettings
    page_emails: tuple[str, ...]
    ticket_emails: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """Physical-name prefix: `ragassist-prod-...`, so stacks can share an account."""
        return f"{PROJECT}-{self.environment}"


def load_settings(environment: str, region: Any, values: Mapping[str, Any]) -> StackSettings:
    """Validate `values` (the `ragassist:*` sections, parsed) for `environment` in `region`."""
    read = _Reader(values)
    for section in SECTIONS:
        if values.get(section) is not None and not isinstance(values[section], dict):
            read.errors.append(
                f"ragassist:{section} must be a mapping of settings, "
                f"e.g. `ragassist:{section}: {{...}}` as in Pulumi.dev.yaml"
            )
    if not _ENVIRONMENT.match(environment):
        read.errors.append(f"stack name {environment!r}: expected lowercase like dev or prod")
    if not isinstance(region, str) or not _REGION.match(region):
        read.errors.append("aws:region: missing or invalid, e.g. `aws:region: eu-west-1`")
        region = "?"
    zones = read.items(
        "network.availabilityZones",
        f"[{region}a, {region}b]",
        lambda v: isinstance(v, str) and v.startswith(region) and len(v) == len(region) + 1,
        minimum=2,
    )
    network = NetworkSettings(
        cidr=read.check("network.cidr", "10.20.0.0/16", _is_private_cidr),
        availability_zones=zones,
        nat_gateways=read.integer("network.natGateways", "1", 1, max(len(zones), 1)),
    )
    domains = DomainSettings(
        api=read.check("domains.api", "api.example.com", _is_hostname),
        widget=read.check("domains.widget", "cdn.example.com", _is_hostname),
        api_certificate_arn=read.check(
            "domains.apiCertificateArn",
            f"arn:aws:acm:{region}:123456789012:certificate/<uuid> (in the stack's region)",
            _matches(_CERTIFICATE.format(region=re.escape(region))),
        ),
        # CloudFront only takes certificates from us-east-1, whatever the stack's region.
        widget_certificate_arn=read.check(
            "domains.widgetCertificateArn",
            "arn:aws:acm:us-east-1:123456789012:certificate/<uuid> (CloudFront needs us-east-1)",
            _matches(_CERTIFICATE.format(region="us-east-1")),
        ),
    )
    storage = read.integer("database.storageGb", "20", 20, 65_536)
    database = DatabaseSettings(
        instance_class=read.check("database.instanceClass", "db.t4g.micro", _matches(r"^db\.")),
        engine_version=read.check("database.engineVersion", '"16.4"', _matches(r"^\d+\.\d+$")),
        storage_gb=storage,
        max_storage_gb=read.integer("database.maxStorageGb", "100", max(storage, 20), 65_536),
        multi_az=read.boolean("database.multiAz"),
        deletion_protection=read.boolean("database.deletionProtection"),
        backup_retention_days=read.integer("database.backupRetentionDays", "7", 1, 35),
        final_snapshot=read.boolean("database.finalSnapshot"),
    )
    replicas = read.integer("cache.replicas", "1", 0, 5)
    cache = CacheSettings(
        node_type=read.check("cache.nodeType", "cache.t4g.micro", _matches(r"^cache\.")),
        replicas=replicas,
        multi_az=read.boolean("cache.multiAz"),
        snapshot_retention_days=read.integer("cache.snapshotRetentionDays", "1", 0, 35),
    )
    if cache.multi_az and replicas < 1:
        read.errors.append("ragassist:cache.replicas: Multi-AZ needs at least one replica, e.g. 1")
    min_tasks = read.integer("api.minTasks", "2", 1, 100)
    api = ApiSettings(
        cpu=read.integer("api.cpu", "512", 256, 4096),
        memory=read.integer("api.memory", "1024", 512, 30_720),
        min_tasks=min_tasks,
        max_tasks=read.integer("api.maxTasks", "4", min_tasks, 100),
        load_balancer_deletion_protection=read.boolean("api.loadBalancerDeletionProtection"),
    )
    worker = WorkerSettings(
        cpu=read.integer("worker.cpu", "256", 256, 4096),
        memory=read.integer("worker.memory", "512", 512, 30_720),
        tasks=read.integer("worker.tasks", "1", 1, 20),
    )
    for section, size in (("api", api), ("worker", worker)):
        if size.memory not in _FARGATE_MEMORY.get(size.cpu, ()):
            read.errors.append(
                f"ragassist:{section}.memory: {size.memory} MiB is not a Fargate size for "
                f"{size.cpu} CPU units, e.g. cpu: 512 with memory: 1024"
            )
    retention = read.integer("logs.retentionDays", "30", 1, 3653)
    if retention not in _LOG_RETENTION_DAYS:
        read.errors.append(
            f"ragassist:logs.retentionDays: CloudWatch keeps logs for one of "
            f"{', '.join(map(str, _LOG_RETENTION_DAYS))} days, e.g. 30"
        )
    widget = WidgetSettings(
        price_class=read.check(
            "widget.priceClass",
            "PriceClass_100",
            lambda v: v in ("PriceClass_100", "PriceClass_200", "PriceClass_All"),
        ),
        loader_ttl_seconds=read.integer("widget.loaderTtlSeconds", "60", 0, 3600),
    )
    page = read.items("alerts.pageEmails", "[oncall@example.com]", _is_email, minimum=1)
    ticket = read.items("alerts.ticketEmails", "[team@example.com]", _is_email, minimum=1)
    if read.errors:
        raise ConfigError(
            f"stack {environment!r} has invalid configuration "
            "(set each with `pulumi config set --path KEY VALUE`):\n  " + "\n  ".join(read.errors)
        )
    return StackSettings(
        environment=environment,
        region=region,
        network=network,
        domains=domains,
        database=database,
        cache=cache,
        api=api,
        worker=worker,
        log_retention_days=retention,
        widget=widget,
        page_emails=page,
        ticket_emails=ticket,
    )


def from_pulumi() -> StackSettings:
    """Read the current stack's configuration through the Pulumi runtime and validate it.

    Raises `pulumi.RunError`, which Pulumi reports as the message alone, without a traceback.
    """
    import pulumi

    config = pulumi.Config(PROJECT)
    values: dict[str, Any] = {}
    for section in SECTIONS:
        try:
            values[section] = config.get_object(section)
        except pulumi.ConfigTypeError:
            values[section] = config.get(section)  # not JSON: reported as not a mapping
    try:
        return load_settings(pulumi.get_stack(), pulumi.Config("aws").get("region"), values)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


class _Reader:
    """Reads `section.key` paths, recording a message with an example for each bad value."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.errors: list[str] = []

    def _get(self, path: str) -> Any:
        section, key = path.split(".")
        body = self.values.get(section)
        return body.get(key) if isinstance(body, dict) else None

    def _fail(self, path: str, value: Any, example: str, fallback: T) -> T:
        problem = "is missing" if value is None else f"is invalid ({value!r})"
        self.errors.append(f"ragassist:{path} {problem}, e.g. {path.split('.')[1]}: {example}")
        return fallback

    def check(self, path: str, example: str, valid: Callable[[Any], bool]) -> str:
        value = self._get(path)
        return (
            value
            if isinstance(value, str) and valid(value)
            else self._fail(path, value, example, "")
        )

    def integer(self, path: str, example: str, low: int, high: int) -> int:
        value = self._get(path)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        return self._fail(path, value, f"{example} (an integer from {low} to {high})", low)

    def boolean(self, path: str) -> bool:
        value = self._get(path)
        return value if isinstance(value, bool) else self._fail(path, value, "true", False)

    def items(
        self, path: str, example: str, valid: Callable[[Any], bool], *, minimum: int
    ) -> tuple[str, ...]:
        value = self._get(path)
        if isinstance(value, list) and len(value) >= minimum and all(map(valid, value)):
            return tuple(value)
        return self._fail(path, value, f"{example} (at least {minimum})", ())


def _matches(pattern: str) -> Callable[[Any], bool]:
    return lambda value: re.match(pattern, value) is not None


def _is_hostname(value: str) -> bool:
    return _HOSTNAME.match(value) is not None


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.match(value) is not None


def _is_private_cidr(value: str) -> bool:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        return False
    # Room for two /20 subnets per availability zone, in private address space.
    return network.is_private and 16 <= network.prefixlen <= 18
