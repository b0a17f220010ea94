"""VPC with a public and a private subnet per availability zone.

Only the load balancer and the NAT gateways live in public subnets; tasks, the database and the
cache get private addresses and reach the internet (feeds, webhooks, AWS APIs) through NAT.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stacks.config import NetworkSettings

# The port the API container listens on; the load balancer is the only thing allowed to reach it.
APP_PORT = 8000
# Each AZ gets a /20 (for a /16 VPC): public subnets first, private ones from index 8, so
# adding an AZ later never renumbers an existing subnet.
_PRIVATE_OFFSET = 8


@dataclass(frozen=True, slots=True)
class NetworkArgs:
    settings: NetworkSettings


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    alb_security_group: aws.ec2.SecurityGroup
    service_security_group: aws.ec2.SecurityGroup
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:Network", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        blocks = list(ipaddress.IPv4Network(settings.cidr).subnets(prefixlen_diff=4))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": name},
            opts=child,
        )
        # The default group allows all traffic between its members; nothing should use it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[], opts=child
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )

        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for index, zone in enumerate(settings.availability_zones):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=self.vpc.id,
                availability_zone=zone,
                cidr_block=str(blocks[index]),
                # The ALB and NAT gateways get their addresses explicitly; nothing else lands here.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                subnet_id=subnet.id,
                route_table_id=public_routes.id,
                opts=child,
            )
            public.append(subnet)
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{zone}",
                    vpc_id=self.vpc.id,
                    availability_zone=zone,
                    cidr_block=str(blocks[_PRIVATE_OFFSET + index]),
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-private-{zone}", "tier": "private"},
                    opts=child,
                )
            )

        # One NAT gateway per AZ survives an AZ outage; fewer trade that for cost (dev: one).
        nat_ids = []
        for index in range(settings.nat_gateways):
            zone = settings.availability_zones[index]
            address = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", opts=child)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=address.id,
                subnet_id=public[index].id,
                tags={"Name": f"{name}-nat-{zone}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
            nat_ids.append(nat.id)
        for index, (zone, subnet) in enumerate(
            zip(settings.availability_zones, private, strict=True)
        ):
            routes = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[index % len(nat_ids)]
                    )
                ],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=routes.id,
                opts=child,
            )

        # The traffic boundaries: the world reaches the ALB on 80/443 only, the ALB reaches the
        # tasks on the app port only; the database and cache admit the tasks' group only.
        self.alb_security_group = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=self.vpc.id,
            description="Public HTTPS entry to the API",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                    description=f"internet to ALB on {port}",
                )
                for port in (80, 443)
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    cidr_blocks=[settings.cidr],
                    description="ALB to API tasks",
                )
            ],
            opts=child,
        )
        self.service_security_group = aws.ec2.SecurityGroup(
            f"{name}-service",
            vpc_id=self.vpc.id,
            description="API and worker tasks",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    security_groups=[self.alb_security_group.id],
                    description="ALB to API tasks",
                )
            ],
            # Tasks call out: merchants' feeds and webhooks, the LLM, AWS APIs, the database.
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                    description="outbound calls",
                )
            ],
            opts=child,
        )

        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "albSecurityGroupId": self.alb_security_group.id,
                "serviceSecurityGroupId": self.service_security_group.id,
            }
        )


def client_only_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    port: int,
    clients: pulumi.Input[str],
    service: str,
    opts: pulumi.ResourceOptions,
) -> aws.ec2.SecurityGroup:
    """A data store's group: `port` open to the `clients` security group only, no egress."""
    return aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        description=f"{service}, reachable from the API and worker tasks only",
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp",
                from_port=port,
                to_port=port,
                security_groups=[clients],
                description=f"tasks to {service}",
            )
        ],
        egress=[],
        opts=opts,
    )
