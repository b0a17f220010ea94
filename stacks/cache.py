"""ElastiCache Redis for rate limits and caches: private, encrypted at rest and in transit, AUTH.

The AUTH token is generated here and handed to the tasks only inside the REDIS_URL secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from stacks.config import CacheSettings
from stacks.network import client_only_security_group

PORT = 6379


@dataclass(frozen=True, slots=True)
class CacheArgs:
    settings: CacheSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]
    client_security_group_id: pulumi.Input[str]


class Cache(pulumi.ComponentResource):
    group: aws.elasticache.ReplicationGroup
    url_secret: aws.secretsmanager.Secret

    def __init__(
        self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:Cache", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings

        security_group = client_only_security_group(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            port=PORT,
            clients=args.client_security_group_id,
            service="Redis",
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description="private subnets",
            subnet_ids=args.subnet_ids,
            opts=child,
        )
        # Letters and digits only: the token travels inside a URL.
        token = random.RandomPassword(f"{name}-auth-token", length=48, special=False, opts=child)
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description="RAG Assistant rate limits and caches",
            engine="redis",
            engine_version="7.1",
            node_type=settings.node_type,
            port=PORT,
            num_cache_clusters=1 + settings.replicas,
            automatic_failover_enabled=settings.multi_az,
            multi_az_enabled=settings.multi_az,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            auth_token=token.result,
            snapshot_retention_limit=settings.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            opts=child,
        )
        self.url_secret = aws.secretsmanager.Secret(
            f"{name}-url",
            description="REDIS_URL for the API and worker tasks",
            recovery_window_in_days=7,
            opts=child,
        )
        url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.concat(
                "rediss://:", token.result, "@", self.group.primary_endpoint_address, f":{PORT}/0"
            )
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-url",
            secret_id=self.url_secret.id,
            secret_string=url,
            opts=child,
        )
        self.register_outputs(
            {
                "primaryEndpoint": self.group.primary_endpoint_address,
                "urlSecretArn": self.url_secret.arn,
            }
        )
