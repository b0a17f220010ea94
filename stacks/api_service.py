"""The API and the worker on ECS Fargate, behind an HTTPS load balancer.

Pulumi creates the first task definition revision of each service; from then on deploys own the
revisions (`ignore_changes` on `task_definition`) and autoscaling owns the API's task count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from stacks.config import PROJECT, ApiSettings, WorkerSettings
from stacks.load_balancer import LoadBalancer, LoadBalancerArgs
from stacks.network import APP_PORT
from stacks.task_policies import ASSUME_ECS_TASKS, execution_policy, task_policy

# The tag deploys never push, so the first revision is obviously a placeholder until
# `invoke deploy` registers a real one (runbooks/deploy.md, first deploy).
BOOTSTRAP_TAG = "bootstrap"
INITIAL_FLAGS = {
    "product_sync_enabled": True,
    "cors_mode": "enforce",
    "legacy_sessions_endpoint": True,
}


@dataclass(frozen=True, slots=True)
class ApiServiceArgs:
    api: ApiSettings
    worker: WorkerSettings
    environment: str
    prefix: str
    region: str
    log_retention_days: int
    metrics_namespace: str
    api_domain: str
    certificate_arn: str
    widget_base_url: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    alb_security_group_id: pulumi.Input[str]
    service_security_group_id: pulumi.Input[str]
    database_url: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    redis_url_secret_arn: pulumi.Input[str]


class _TaskRoles(TypedDict):
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]


class ApiService(pulumi.ComponentResource):
    repository: aws.ecr.Repository
    cluster: aws.ecs.Cluster
    load_balancer: aws.lb.LoadBalancer
    api_service: aws.ecs.Service
    worker_service: aws.ecs.Service
    api_task_family: str
    worker_task_family: str
    flags_parameter: aws.ssm.Parameter
    release_ledger_parameter: aws.ssm.Parameter
    log_group_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:ApiService", name, {}, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._name = name
        # SSM and log paths read /ragassist/prod/...; physical names use the dashed prefix.
        path = f"/{PROJECT}/{args.environment}"

        self._images(args.prefix)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.prefix,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=self._child,
        )
        logs = {
            role: aws.cloudwatch.LogGroup(
                f"{name}-{role}-logs",
                name=f"{path}/{role}",
                retention_in_days=args.log_retention_days,
                opts=self._child,
            )
            for role in ("api", "worker")
        }
        self._parameters(path)
        roles = self._roles(args, logs)
        entry = LoadBalancer(
            name,
            LoadBalancerArgs(
                vpc_id=args.vpc_id,
                public_subnet_ids=args.public_subnet_ids,
                security_group_id=args.alb_security_group_id,
                certificate_arn=args.certificate_arn,
                deletion_protection=args.api.load_balancer_deletion_protection,
                moved_from=self,
            ),
            opts=self._child,
        )
        self.load_balancer = entry.load_balancer
        self._services(args, logs, roles, entry)
        self._autoscaling(args)

        self.log_group_names = {role: group.name for role, group in logs.items()}
        self.register_outputs(
            {
                "repositoryUrl": self.repository.repository_url,
                "clusterName": self.cluster.name,
                "apiServiceName": self.api_service.name,
                "workerServiceName": self.worker_service.name,
                "apiTaskFamily": self.api_task_family,
                "workerTaskFamily": self.worker_task_family,
                "albDnsName": self.load_balancer.dns_name,
                "flagsParameter": self.flags_parameter.name,
                "releaseLedgerParameter": self.release_ledger_parameter.name,
            }
        )

    def _images(self, prefix: str) -> None:
        self.repository = aws.ecr.Repository(
            f"{self._name}-images",
            name=prefix,
            # Deploys refer to images by digest; a tag must never silently change meaning.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}],
            opts=self._child,
        )
        aws.ecr.LifecyclePolicy(
            f"{self._name}-images",
            repository=self.repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "keep the last 100 images: room for any rollback",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": 100,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=self._child,
        )

    def _parameters(self, path: str) -> None:
        # Flags and the release ledger belong to `invoke flags.set` and `invoke deploy`; Pulumi
        # only creates them, so it must never reset what operators wrote.
        param_opts = pulumi.ResourceOptions(parent=self, ignore_changes=["value"])
        self.flags_parameter = aws.ssm.Parameter(
            f"{self._name}-flags",
            name=f"{path}/flags",
            type="String",
            value=json.dumps(INITIAL_FLAGS),
            description="Feature flags read by the API and worker (invoke flags.set)",
            opts=param_opts,
        )
        self.release_ledger_parameter = aws.ssm.Parameter(
            f"{self._name}-releases",
            name=f"{path}/releases",
            type="String",
            value="[]",
            description="Release ledger written by invoke deploy / rollback",
            opts=param_opts,
        )

    def _roles(self, args: ApiServiceArgs, logs: dict[str, aws.cloudwatch.LogGroup]) -> _TaskRoles:
        """The execution role (ECS starting a task) and the task role (the app itself)."""
        # ECS injects REDIS_URL at start; the app reads the database password itself, per
        # connection, because RDS rotates it under running tasks (app/db/password.py).
        execution_role = self._role(
            "execution",
            pulumi.Output.all(
                self.repository.arn, logs["api"].arn, logs["worker"].arn, args.redis_url_secret_arn
            ).apply(lambda arns: execution_policy(arns[0], arns[1:3], arns[3:])),
        )
        task_role = self._role(
            "task",
            pulumi.Output.all(self.flags_parameter.arn, args.database_secret_arn).apply(
                lambda arns: task_policy(args.metrics_namespace, arns[0], arns[1])
            ),
        )
        return {"execution_role_arn": execution_role.arn, "task_role_arn": task_role.arn}

    def _services(
        self,
        args: ApiServiceArgs,
        logs: dict[str, aws.cloudwatch.LogGroup],
        roles: _TaskRoles,
        entry: LoadBalancer,
    ) -> None:
        """One task definition and one Fargate service each for the API and the worker."""
        public_url = f"https://{args.api_domain}"
        environment = {
            "RAGASSIST_ENV": args.environment,
            "AWS_REGION": args.region,
            "DATABASE_URL": args.database_url,
            "PUBLIC_BASE_URL": public_url,
            "ADMIN_ORIGINS": public_url,
            "WIDGET_BASE_URL": args.widget_base_url,
            "FLAGS_SOURCE": self.flags_parameter.name.apply(lambda n: f"ssm:{n}"),
            "CLOUDWATCH_NAMESPACE": args.metrics_namespace,
            "DATABASE_SECRET_ARN": args.database_secret_arn,
        }
        container_secrets = {"REDIS_URL": args.redis_url_secret_arn}
        self.api_task_family = f"{args.prefix}-api"
        self.worker_task_family = f"{args.prefix}-worker"
        api_task = self._task_definition(
            "api",
            self.api_task_family,
            args.api.cpu,
            args.api.memory,
            roles,
            container=self._container(
                "api",
                [
                    "ragassist",
                    "serve",
                    "--host",
                    # Inside its own network namespace; the security group admits only the ALB.
                    "0.0.0.0",  # noqa: S104
                    "--port",
                    str(APP_PORT),
                    "--forwarded-allow-ips",
                    args.vpc_cidr,
                ],
                logs["api"].name,
                args.region,
                environment,
                container_secrets,
                port=APP_PORT,
            ),
        )
        worker_task = self._task_definition(
            "worker",
            self.worker_task_family,
            args.worker.cpu,
            args.worker.memory,
            roles,
            container=self._container(
                "worker",
                ["ragassist", "worker"],
                logs["worker"].name,
                args.region,
                environment,
                container_secrets,
            ),
        )

        network: aws.ecs.ServiceNetworkConfigurationArgsDict = {
            "subnets": args.private_subnet_ids,
            "security_groups": [args.service_security_group_id],
            "assign_public_ip": False,
        }
        self.api_service = self._service(
            "api",
            api_task,
            args.api.min_tasks,
            network,
            load_balancers=[
                {
                    "target_group_arn": entry.target_group.arn,
                    "container_name": "api",
                    "container_port": APP_PORT,
                }
            ],
            health_check_grace_period_seconds=60,
            # Autoscaling owns the API's count once it exists.
            ignore=["task_definition", "desired_count"],
            depends_on=[entry.https_listener],
        )
        self.worker_service = self._service(
            "worker", worker_task, args.worker.tasks, network, ignore=["task_definition"]
        )

    def _autoscaling(self, args: ApiServiceArgs) -> None:
        """The API follows its CPU between the configured task counts; the worker does not."""
        scaling = aws.appautoscaling.Target(
            f"{self._name}-api-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat(
                "service/", self.cluster.name, "/", self.api_service.name
            ),
            min_capacity=args.api.min_tasks,
            max_capacity=args.api.max_tasks,
            opts=self._child,
        )
        aws.appautoscaling.Policy(
            f"{self._name}-api-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=scaling.service_namespace,
            scalable_dimension=scaling.scalable_dimension,
            resource_id=scaling.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": 60,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ECSServiceAverageCPUUtilization"
                },
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=self._child,
        )

    def _role(self, purpose: str, policy: pulumi.Output[dict[str, Any]]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{purpose}-role",
            assume_role_policy=ASSUME_ECS_TASKS,
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-{purpose}-policy",
            role=role.id,
            policy=policy.apply(json.dumps),
            opts=self._child,
        )
        return role

    def _container(
        self,
        role: str,
        command: list[str],
        log_group: pulumi.Output[str],
        region: str,
        environment: dict[str, pulumi.Input[str]],
        secrets: dict[str, pulumi.Input[str]],
        *,
        port: int | None = None,
    ) -> pulumi.Output[dict[str, Any]]:
        return pulumi.Output.all(
            image=self.repository.repository_url,
            log_group=log_group,
            environment=environment,
            secrets=secrets,
        ).apply(
            lambda values: {
                "name": role,
                "image": f"{values['image']}:{BOOTSTRAP_TAG}",
                "essential": True,
                "command": command,
                "portMappings": [{"containerPort": port, "protocol": "tcp"}] if port else [],
                "environment": [
                    {"name": key, "value": value}
                    for key, value in sorted(values["environment"].items())
                ],
                "secrets": [
                    {"name": key, "valueFrom": value}
                    for key, value in sorted(values["secrets"].items())
                ],
                # Forward SIGTERM to the app so in-flight requests and syncs finish on deploy.
                "linuxParameters": {"initProcessEnabled": True},
                "stopTimeout": 30,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": values["log_group"],
                        "awslogs-region": region,
                        "awslogs-stream-prefix": role,
                    },
                },
            }
        )

    def _task_definition(
        self,
        role: str,
        family: str,
        cpu: int,
        memory: int,
        roles: _TaskRoles,
        *,
        container: pulumi.Output[dict[str, Any]],
    ) -> aws.ecs.TaskDefinition:
        return aws.ecs.TaskDefinition(
            f"{self._name}-{role}-task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cpu),
            memory=str(memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            container_definitions=container.apply(lambda c: json.dumps([c])),
            **roles,
            opts=self._child,
        )

    def _service(
        self,
        role: str,
        task: aws.ecs.TaskDefinition,
        count: int,
        network: aws.ecs.ServiceNetworkConfigurationArgsDict,
        *,
        ignore: list[str],
        depends_on: list[pulumi.Resource] | None = None,
        load_balancers: list[aws.ecs.ServiceLoadBalancerArgsDict] | None = None,
        health_check_grace_period_seconds: int | None = None,
    ) -> aws.ecs.Service:
        return aws.ecs.Service(
            f"{self._name}-{role}",
            name=role,
            cluster=self.cluster.arn,
            task_definition=task.arn,
            desired_count=count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=network,
            # A revision that never becomes healthy is rolled back by ECS itself.
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=False,
            load_balancers=load_balancers,
            health_check_grace_period_seconds=health_check_grace_period_seconds,
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=ignore, depends_on=depends_on or []
            ),
        )
