"""RDS PostgreSQL: private, encrypted, TLS-only, with a master password RDS manages itself.

RDS keeps the master password in Secrets Manager (`master_user_secret_arn`) and rotates it; the
tasks get the secret's ARN as DATABASE_SECRET_ARN and read the password on each new connection.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stacks.config import DatabaseSettings
from stacks.network import client_only_security_group

PORT = 5432
DATABASE_NAME = "ragassist"
USERNAME = "ragassist"


@dataclass(frozen=True, slots=True)
class DatabaseArgs:
    settings: DatabaseSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]
    client_security_group_id: pulumi.Input[str]


class Database(pulumi.ComponentResource):
    instance: aws.rds.Instance
    url: pulumi.Output[str]
    master_user_secret_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:Database", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        major = settings.engine_version.split(".")[0]

        group = client_only_security_group(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            port=PORT,
            clients=args.client_security_group_id,
            service="PostgreSQL",
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=args.subnet_ids, opts=child)
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            opts=child,
        )
        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            engine="postgres",
            engine_version=settings.engine_version,
            instance_class=settings.instance_class,
            allocated_storage=settings.storage_gb,
            max_allocated_storage=settings.max_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=DATABASE_NAME,
            username=USERNAME,
            manage_master_user_password=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=settings.multi_az,
            deletion_protection=settings.deletion_protection,
            backup_retention_period=settings.backup_retention_days,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=not settings.final_snapshot,
            final_snapshot_identifier=f"{name}-final" if settings.final_snapshot else None,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            # Changes wait for the maintenance window unless an operator applies them by hand.
            apply_immediately=False,
            opts=child,
        )
        self.master_user_secret_arn = self.instance.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.url = pulumi.Output.concat(
            "postgresql://",
            USERNAME,
            "@",
            self.instance.address,
            ":",
            str(PORT),
            "/",
            DATABASE_NAME,
            "?ssl=require",
        )
        self.register_outputs(
            {
                "address": self.instance.address,
                "url": self.url,
                "masterUserSecretArn": self.master_user_secret_arn,
            }
        )
