"""Each environment builds under mocks, with the resources and exports deploys rely on."""

from collections import Counter

import pytest

from tests.stacks.conftest import Build

# The same in every environment; only the network's size follows the number of AZs.
COMMON = {
    "aws:appautoscaling/policy:Policy": 1,
    "aws:appautoscaling/target:Target": 1,
    "aws:cloudfront/cachePolicy:CachePolicy": 2,
    "aws:cloudfront/distribution:Distribution": 1,
    "aws:cloudfront/originAccessControl:OriginAccessControl": 1,
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": 1,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": 1,  # the webhook SLO's
    "aws:cloudwatch/dashboard:Dashboard": 1,
    "aws:cloudwatch/logGroup:LogGroup": 2,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 8,  # seven rules, the SLO's two windows
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/securityGroup:SecurityGroup": 4,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": 1,
    "aws:ecr/repository:Repository": 1,
    "aws:ecs/cluster:Cluster": 1,
    "aws:ecs/service:Service": 2,
    "aws:ecs/taskDefinition:TaskDefinition": 2,
    "aws:elasticache/replicationGroup:ReplicationGroup": 1,
    "aws:elasticache/subnetGroup:SubnetGroup": 1,
    "aws:iam/role:Role": 2,
    "aws:iam/rolePolicy:RolePolicy": 2,
    "aws:kms/key:Key": 1,
    "aws:lb/listener:Listener": 2,
    "aws:lb/loadBalancer:LoadBalancer": 1,
    "aws:lb/targetGroup:TargetGroup": 1,
    "aws:rds/instance:Instance": 1,
    "aws:rds/parameterGroup:ParameterGroup": 1,
    "aws:rds/subnetGroup:SubnetGroup": 1,
    "aws:s3/bucket:Bucket": 1,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
    "aws:s3/bucketPolicy:BucketPolicy": 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    "aws:s3/bucketVersioning:BucketVersioning": 1,
    "aws:secretsmanager/secret:Secret": 1,
    "aws:secretsmanager/secretVersion:SecretVersion": 1,
    "aws:sns/topic:Topic": 2,
    "aws:sns/topicPolicy:TopicPolicy": 2,
    "aws:sns/topicSubscription:TopicSubscription": 2,
    "aws:ssm/parameter:Parameter": 2,
    "random:index/randomPassword:RandomPassword": 1,
}
NETWORK = {
    # (availability zones, NAT gateways) as in Pulumi.<env>.yaml
    "dev": (2, 1),
    "staging": (2, 1),
    "prod": (3, 3),
}


@pytest.mark.parametrize("environment", NETWORK)
def test_each_environment_builds_its_expected_inventory(stacks, environment):
    zones, nats = NETWORK[environment]
    expected = {
        **COMMON,
        "aws:ec2/subnet:Subnet": 2 * zones,
        "aws:ec2/routeTable:RouteTable": 1 + zones,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 2 * zones,
        "aws:ec2/natGateway:NatGateway": nats,
        "aws:ec2/eip:Eip": nats,
    }

    build = stacks(environment)

    assert Counter(resource.type for resource in build.resources) == expected


def test_exports_name_everything_a_deploy_needs(stack: Build):
    env = stack.environment
    exports = stack.exports

    assert exports["environment"] == env
    assert exports["widgetBucket"] and exports["widgetDistributionId"]
    assert exports["widgetDistributionDomain"].endswith(".cloudfront.net")
    assert exports["ecrRepositoryName"] == f"ragassist-{env}"
    assert exports["ecrRepositoryUrl"].endswith(f"/ragassist-{env}")
    assert exports["clusterName"] == f"ragassist-{env}"
    assert (exports["apiServiceName"], exports["workerServiceName"]) == ("api", "worker")
    assert exports["apiTaskFamily"] == f"ragassist-{env}-api"
    assert exports["workerTaskFamily"] == f"ragassist-{env}-worker"
    assert exports["albDnsName"].endswith(".elb.amazonaws.com")
    assert exports["flagsParameter"] == f"/ragassist/{env}/flags"
    assert exports["releaseLedgerParameter"] == f"/ragassist/{env}/releases"
    assert set(exports["alarmTopicArns"]) == {"page", "ticket"}
    assert exports["logGroups"] == {
        "api": f"/ragassist/{env}/api",
        "worker": f"/ragassist/{env}/worker",
    }
    assert len(exports["taskSubnetIds"]) == NETWORK[env][0]
    assert exports["taskSecurityGroupId"]


def test_exported_families_and_names_are_the_declared_ones(stack: Build):
    families = {r.inputs["family"] for r in stack.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    services = {r.inputs["name"] for r in stack.of_type("aws:ecs/service:Service")}

    assert families == {stack.exports["apiTaskFamily"], stack.exports["workerTaskFamily"]}
    assert services == {stack.exports["apiServiceName"], stack.exports["workerServiceName"]}


def test_every_resource_is_the_child_of_a_component(stack: Build):
    orphans = [r.name for r in stack.resources if not r.parent_type.startswith("ragassist:stacks:")]

    assert orphans == []


def test_every_component_registers_real_outputs(stack: Build):
    expected = {"Network", "WidgetCdn", "Database", "Cache", "ApiService", "LoadBalancer", "Alarms"}
    components = {
        type_.rsplit(":", 1)[1]: outputs
        for type_, outputs in stack.component_outputs.items()
        if type_.startswith("ragassist:stacks:")
    }

    assert set(components) == expected
    assert all(components.values())


def test_environment_sizes_come_from_the_stack_files(stacks):
    # Same program, different config: the differences the issue lists, read back from resources.
    def rds(env):
        return stacks(env).one("aws:rds/instance:Instance", "database-postgres").inputs

    def redis(env):
        return (
            stacks(env)
            .one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis")
            .inputs
        )

    assert rds("dev")["instanceClass"] == "db.t4g.micro"
    assert rds("prod")["instanceClass"] == "db.r6g.large"
    assert rds("dev")["backupRetentionPeriod"] == 1
    assert rds("prod")["backupRetentionPeriod"] == 30
    assert redis("dev")["numCacheClusters"] == 1
    assert redis("prod")["numCacheClusters"] == 3
    for env, days in (("dev", 14), ("staging", 30), ("prod", 365)):
        groups = stacks(env).of_type("aws:cloudwatch/logGroup:LogGroup")
        assert {g.inputs["retentionInDays"] for g in groups} == {days}
    assert stacks("prod").one(
        "aws:cloudfront/distribution:Distribution", "widget-distribution"
    ).inputs["aliases"] == ["cdn.ragassist.example.com"]


def test_the_load_balancer_moves_into_its_component_without_being_replaced(stack: Build):
    # It was created as a child of ApiService; that parent is kept as an alias.
    entry = [
        stack.one("aws:lb/loadBalancer:LoadBalancer", "service-alb"),
        stack.one("aws:lb/targetGroup:TargetGroup", "service-api"),
        stack.one("aws:lb/listener:Listener", "service-http"),
        stack.one("aws:lb/listener:Listener", "service-https"),
    ]

    for resource in entry:
        assert resource.parent_type == "ragassist:stacks:LoadBalancer"
        assert "ragassist:stacks:ApiService" in resource.alias_parents, resource.name
