"""The Pulumi program for one environment (`Pulumi.<env>.yaml`): wiring and exports only."""

import pulumi

from alerts.rules import Severity, load_rules
from stacks.alarms import Alarms, AlarmsArgs
from stacks.api_service import ApiService, ApiServiceArgs
from stacks.cache import Cache, CacheArgs
from stacks.config import METRICS_NAMESPACE, from_pulumi
from stacks.database import Database, DatabaseArgs
from stacks.network import Network, NetworkArgs
from stacks.widget_cdn import WidgetCdn, WidgetCdnArgs

settings = from_pulumi()
rules = load_rules()

network = Network("network", NetworkArgs(settings=settings.network))
cdn = WidgetCdn(
    "widget",
    WidgetCdnArgs(
        settings=settings.widget,
        domain=settings.domains.widget,
        certificate_arn=settings.domains.widget_certificate_arn,
    ),
)
database = Database(
    "database",
    DatabaseArgs(
        settings=settings.database,
        vpc_id=network.vpc.id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_id=network.service_security_group.id,
    ),
)
cache = Cache(
    "cache",
    CacheArgs(
        settings=settings.cache,
        vpc_id=network.vpc.id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_id=network.service_security_group.id,
    ),
)
service = ApiService(
    "service",
    ApiServiceArgs(
        api=settings.api,
        worker=settings.worker,
        environment=settings.environment,
        prefix=settings.prefix,
        region=settings.region,
        log_retention_days=settings.log_retention_days,
        metrics_namespace=METRICS_NAMESPACE,
        api_domain=settings.domains.api,
        certificate_arn=settings.domains.api_certificate_arn,
        widget_base_url=cdn.base_url,
        vpc_id=network.vpc.id,
        vpc_cidr=settings.network.cidr,
        public_subnet_ids=network.public_subnet_ids,
        private_subnet_ids=network.private_subnet_ids,
        alb_security_group_id=network.alb_security_group.id,
        service_security_group_id=network.service_security_group.id,
        database_url=database.url,
        database_secret_arn=database.master_user_secret_arn,
        redis_url_secret_arn=cache.url_secret.arn,
    ),
)
alarms = Alarms(
    "alarms",
    AlarmsArgs(
        rules=rules,
        prefix=settings.prefix,
        environment=settings.environment,
        region=settings.region,
        metrics_namespace=METRICS_NAMESPACE,
        load_balancer_arn_suffix=service.load_balancer.arn_suffix,
        emails={Severity.PAGE: settings.page_emails, Severity.TICKET: settings.ticket_emails},
    ),
)

# What `invoke deploy`, `invoke rollback`, `invoke cdn.invalidate` and the runbooks read.
pulumi.export("environment", settings.environment)
pulumi.export("widgetBucket", cdn.bucket.bucket)
pulumi.export("widgetDistributionId", cdn.distribution.id)
pulumi.export("widgetDistributionDomain", cdn.distribution.domain_name)
pulumi.export("widgetBaseUrl", cdn.base_url)
pulumi.export("ecrRepositoryUrl", service.repository.repository_url)
pulumi.export("ecrRepositoryName", service.repository.name)
pulumi.export("clusterName", service.cluster.name)
pulumi.export("apiServiceName", service.api_service.name)
pulumi.export("workerServiceName", service.worker_service.name)
pulumi.export("apiTaskFamily", service.api_task_family)
pulumi.export("workerTaskFamily", service.worker_task_family)
pulumi.export("albDnsName", service.load_balancer.dns_name)
pulumi.export("apiBaseUrl", f"https://{settings.domains.api}")
pulumi.export("taskSubnetIds", network.private_subnet_ids)
pulumi.export("taskSecurityGroupId", network.service_security_group.id)
pulumi.export("logGroups", service.log_group_names)
pulumi.export("flagsParameter", service.flags_parameter.name)
pulumi.export("releaseLedgerParameter", service.release_ledger_parameter.name)
pulumi.export("metricsNamespace", METRICS_NAMESPACE)
pulumi.export("alarmTopicArns", {str(s): topic.arn for s, topic in alarms.topics.items()})
pulumi.export("alarmNames", alarms.names)
