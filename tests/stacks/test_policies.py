"""Security invariants over every mocked resource, in every environment (DESIGN §13)."""

import json

from tests.stacks.conftest import Build

WORLD = {"0.0.0.0/0", "::/0"}
# How the Pulumi runtime marks a secret value in resource inputs.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270"


def _statements(policy: str) -> list[dict]:
    return json.loads(policy)["Statement"]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_no_ingress_from_the_internet_except_the_load_balancer_on_80_and_443(stack: Build):
    groups = stack.of_type("aws:ec2/securityGroup:SecurityGroup") + stack.of_type(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
    )
    open_rules = [
        (group.name, int(rule["fromPort"]), int(rule["toPort"]))
        for group in groups
        for rule in group.inputs.get("ingress", [])
        if WORLD & set(rule.get("cidrBlocks", []) + rule.get("ipv6CidrBlocks", []))
    ]

    assert sorted(set(open_rules)) == [("network-alb", 80, 80), ("network-alb", 443, 443)]
    # Standalone rules would bypass the check above; the program declares none.
    assert not [r for r in stack.resources if r.type.startswith("aws:vpc/securityGroupIngress")]


def test_default_security_group_is_emptied(stack: Build):
    default = stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg")

    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []


def test_database_and_cache_admit_only_the_service_security_group(stack: Build):
    service_group = stack.one("aws:ec2/securityGroup:SecurityGroup", "network-service").outputs[
        "id"
    ]
    for name, port in (("database-sg", 5432), ("cache-sg", 6379)):
        group = stack.one("aws:ec2/securityGroup:SecurityGroup", name)
        rules = group.inputs["ingress"]
        assert len(rules) == 1, name
        assert rules[0]["securityGroups"] == [service_group]
        assert (rules[0]["fromPort"], rules[0]["toPort"]) == (port, port)
        assert not rules[0].get("cidrBlocks") and not rules[0].get("ipv6CidrBlocks")

    database = stack.one("aws:rds/instance:Instance", "database-postgres").inputs
    cache = stack.one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis").inputs
    assert database["vpcSecurityGroupIds"] == [
        stack.one("aws:ec2/securityGroup:SecurityGroup", "database-sg").outputs["id"]
    ]
    assert cache["securityGroupIds"] == [
        stack.one("aws:ec2/securityGroup:SecurityGroup", "cache-sg").outputs["id"]
    ]
    assert database["publiclyAccessible"] is False


def test_data_stores_live_in_private_subnets(stack: Build):
    private = set(stack.exports["taskSubnetIds"])
    public = {s.outputs["id"] for s in stack.of_type("aws:ec2/subnet:Subnet") if "public" in s.name}

    for type_ in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup"):
        (group,) = stack.of_type(type_)
        assert set(group.inputs["subnetIds"]) == private
    assert not private & public
    for subnet in stack.of_type("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for service in stack.of_type("aws:ecs/service:Service"):
        network = service.inputs["networkConfiguration"]
        assert network["assignPublicIp"] is False
        assert set(network["subnets"]) == private


def test_everything_that_stores_data_is_encrypted_at_rest(stack: Build):
    database = stack.one("aws:rds/instance:Instance", "database-postgres").inputs
    cache = stack.one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis").inputs
    (bucket_encryption,) = stack.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (repository,) = stack.of_type("aws:ecr/repository:Repository")

    assert database["storageEncrypted"] is True
    assert cache["atRestEncryptionEnabled"] is True
    assert cache["transitEncryptionEnabled"] is True
    assert cache["authToken"]
    rule = bucket_encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] in {"AES256", "aws:kms"}
    assert repository.inputs["encryptionConfigurations"][0]["encryptionType"] in {"AES256", "KMS"}
    for topic in stack.of_type("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"], topic.name
    (key,) = stack.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True


def test_database_requires_tls_and_keeps_backups(stack: Build):
    (params,) = stack.of_type("aws:rds/parameterGroup:ParameterGroup")
    database = stack.one("aws:rds/instance:Instance", "database-postgres").inputs

    assert {"name": "rds.force_ssl", "value": "1"} in [
        {"name": p["name"], "value": p["value"]} for p in params.inputs["parameters"]
    ]
    assert database["manageMasterUserPassword"] is True
    assert "password" not in database
    assert database["backupRetentionPeriod"] >= 1


def test_prod_is_multi_az_with_deletion_protection(stacks):
    prod = stacks("prod")
    database = prod.one("aws:rds/instance:Instance", "database-postgres").inputs
    cache = prod.one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis").inputs
    alb = prod.one("aws:lb/loadBalancer:LoadBalancer", "service-alb").inputs

    assert database["multiAz"] is True
    assert database["deletionProtection"] is True
    assert database["skipFinalSnapshot"] is False
    assert cache["multiAzEnabled"] is True and cache["automaticFailoverEnabled"] is True
    assert alb["enableDeletionProtection"] is True
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3


def test_dev_saves_money_where_config_says_so(stacks):
    dev = stacks("dev")
    database = dev.one("aws:rds/instance:Instance", "database-postgres").inputs

    assert database["multiAz"] is False
    assert database["deletionProtection"] is False
    assert database["skipFinalSnapshot"] is True


def test_widget_bucket_is_private_owner_enforced_versioned(stack: Build):
    (ownership,) = stack.of_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    (block,) = stack.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    (versioning,) = stack.of_type("aws:s3/bucketVersioning:BucketVersioning")
    (bucket,) = stack.of_type("aws:s3/bucket:Bucket")

    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert all(
        block.inputs[flag] is True
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    assert "acl" not in bucket.inputs and "website" not in bucket.inputs


def test_widget_bucket_policy_denies_plain_http_and_admits_only_this_distribution(stack: Build):
    (policy,) = stack.of_type("aws:s3/bucketPolicy:BucketPolicy")
    (distribution,) = stack.of_type("aws:cloudfront/distribution:Distribution")
    statements = _statements(policy.inputs["policy"])

    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*"
        for s in denies
    )
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows, "CloudFront must be able to read"
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Action"] == "s3:GetObject"
        assert statement["Condition"] == {
            "StringEquals": {"AWS:SourceArn": distribution.outputs["arn"]}
        }


def test_cdn_serves_https_only_with_tls12_oac_and_headers(stack: Build):
    (distribution,) = stack.of_type("aws:cloudfront/distribution:Distribution")
    (headers,) = stack.of_type("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    (oac,) = stack.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")
    inputs = distribution.inputs
    behaviors = [inputs["defaultCacheBehavior"], *inputs["orderedCacheBehaviors"]]

    assert inputs["viewerCertificate"]["minimumProtocolVersion"].startswith("TLSv1.2")
    assert inputs["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    for behavior in behaviors:
        assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["responseHeadersPolicyId"] == headers.outputs["id"]
        assert behavior["compress"] is True
    assert [o["originAccessControlId"] for o in inputs["origins"]] == [oac.outputs["id"]]
    assert oac.inputs["signingBehavior"] == "always"

    cors = headers.inputs["corsConfig"]
    assert cors["accessControlAllowOrigins"]["items"] == ["*"]
    assert cors["accessControlAllowCredentials"] is False
    security = headers.inputs["securityHeadersConfig"]
    assert security["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    assert security["contentTypeOptions"]["override"] is True


def test_versioned_bundles_cache_for_a_year_and_aliases_briefly(stack: Build):
    (distribution,) = stack.of_type("aws:cloudfront/distribution:Distribution")
    policies = {
        p.outputs["id"]: p.inputs for p in stack.of_type("aws:cloudfront/cachePolicy:CachePolicy")
    }
    inputs = distribution.inputs

    alias = policies[inputs["defaultCacheBehavior"]["cachePolicyId"]]
    assert alias["maxTtl"] <= 3600
    for behavior in inputs["orderedCacheBehaviors"]:
        assert behavior["pathPattern"].startswith("rag-assistant.*")
        assert policies[behavior["cachePolicyId"]]["defaultTtl"] == 31_536_000


def test_load_balancer_redirects_http_and_terminates_modern_tls(stack: Build):
    listeners = {int(r.inputs["port"]): r.inputs for r in stack.of_type("aws:lb/listener:Listener")}
    (alb,) = stack.of_type("aws:lb/loadBalancer:LoadBalancer")
    (target_group,) = stack.of_type("aws:lb/targetGroup:TargetGroup")

    assert set(listeners) == {80, 443}
    assert listeners[80]["defaultActions"][0]["type"] == "redirect"
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert target_group.inputs["healthCheck"]["path"] == "/healthz"


def test_services_roll_back_bad_deploys_and_leave_revisions_to_deploys(stack: Build):
    for service in stack.of_type("aws:ecs/service:Service"):
        assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert "taskDefinition" in service.ignore_changes, service.name
    api = stack.one("aws:ecs/service:Service", "service-api")
    assert "desiredCount" in api.ignore_changes  # autoscaling owns it


def test_flags_and_ledger_belong_to_ops_once_created(stack: Build):
    for parameter in stack.of_type("aws:ssm/parameter:Parameter"):
        assert parameter.ignore_changes == ("value",), parameter.name
    flags = stack.one("aws:ssm/parameter:Parameter", "service-flags").inputs
    assert json.loads(_unsecret(flags["value"])) == {
        "product_sync_enabled": True,
        "cors_mode": "enforce",
        "legacy_sessions_endpoint": True,
    }


def test_task_role_may_put_metrics_read_its_flags_and_the_database_password_only(stack: Build):
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", "service-task-policy")
    flags = stack.one("aws:ssm/parameter:Parameter", "service-flags").outputs["arn"]
    statements = _statements(policy.inputs["policy"])

    actions = {action for s in statements for action in _as_list(s["Action"])}
    assert actions == {
        "cloudwatch:PutMetricData",
        "ssm:GetParameter",
        "secretsmanager:GetSecretValue",
    }
    assert all(s["Effect"] == "Allow" for s in statements)
    for statement in statements:
        action = statement["Action"]
        if action == "cloudwatch:PutMetricData":
            assert statement["Condition"] == {
                "StringEquals": {"cloudwatch:namespace": stack.exports["metricsNamespace"]}
            }
        elif action == "ssm:GetParameter":
            assert statement["Resource"] == flags
        else:
            # The one secret the app reads itself (per connection, as RDS rotates it).
            assert statement["Resource"] == _database_secret_arn(stack)


def test_execution_role_only_pulls_its_image_writes_its_logs_and_injects_redis_url(stack: Build):
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", "service-execution-policy")
    statements = _statements(policy.inputs["policy"])
    wildcard = [s for s in statements if s["Resource"] == "*"]

    # GetAuthorizationToken cannot be scoped; nothing else may use "*".
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]
    secrets = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert secrets[0]["Resource"] == [_redis_secret_arn(stack)]


def test_no_policy_grants_a_wildcard_action(stack: Build):
    documents = [r.inputs["policy"] for r in stack.of_type("aws:iam/rolePolicy:RolePolicy")]

    actions = [
        action
        for document in documents
        for statement in _statements(document)
        for action in _as_list(statement["Action"])
    ]

    assert actions
    assert not [action for action in actions if action == "*" or action.endswith(":*")]


def test_containers_get_secrets_by_reference_never_by_value(stack: Build):
    for definition in stack.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        (container,) = json.loads(definition.inputs["containerDefinitions"])
        names = {entry["name"] for entry in container["environment"]}
        secrets = {entry["name"]: entry["valueFrom"] for entry in container["secrets"]}

        assert secrets == {"REDIS_URL": _redis_secret_arn(stack)}
        assert not names & {"PGPASSWORD", "REDIS_URL", "LLM_API_KEY"}
        env = {e["name"]: e["value"] for e in container["environment"]}
        user_info = env["DATABASE_URL"].split("//")[1].split("@")[0]
        assert ":" not in user_info  # the app reads the password from the secret itself
        assert env["DATABASE_SECRET_ARN"] == _database_secret_arn(stack)
        assert env["CLOUDWATCH_NAMESPACE"] == stack.exports["metricsNamespace"]
        assert env["RAGASSIST_ENV"] == stack.environment
        assert env["FLAGS_SOURCE"] == f"ssm:{stack.exports['flagsParameter']}"


def test_redis_url_is_stored_as_a_secret_over_tls(stack: Build):
    version = stack.one("aws:secretsmanager/secretVersion:SecretVersion", "cache-url").inputs

    assert version["secretString"][SECRET_SIG] == SECRET_MARK
    assert version["secretString"]["value"].startswith("rediss://:")


def _unsecret(value):
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def _database_secret_arn(stack: Build) -> str:
    database = stack.one("aws:rds/instance:Instance", "database-postgres").outputs
    return database["masterUserSecrets"][0]["secretArn"]


def _redis_secret_arn(stack: Build) -> str:
    return stack.one("aws:secretsmanager/secret:Secret", "cache-url").outputs["arn"]
