"""The API's public entry: an application load balancer that redirects HTTP to HTTPS and
forwards HTTPS to the API tasks' target group (health check `/healthz`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stacks.network import APP_PORT


@dataclass(frozen=True, slots=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    certificate_arn: str
    deletion_protection: bool
    # The component these resources were created under before this one existed: an alias keeps
    # their URNs, so Pulumi moves them instead of replacing the live load balancer.
    moved_from: pulumi.Resource | None = None


class LoadBalancer(pulumi.ComponentResource):
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    https_listener: aws.lb.Listener

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:LoadBalancer", name, {}, opts)
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from else None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)

        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            # Chat replies stream (SSE) for longer than the 60 s default.
            idle_timeout=120,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-api",
            target_type="ip",
            port=APP_PORT,
            protocol="HTTP",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check={
                "path": "/healthz",
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                }
            ],
            opts=child,
        )
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            certificate_arn=args.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            opts=child,
        )
        self.register_outputs(
            {
                "dnsName": self.load_balancer.dns_name,
                "arnSuffix": self.load_balancer.arn_suffix,
                "targetGroupArn": self.target_group.arn,
            }
        )
