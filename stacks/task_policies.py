"""The IAM documents of the API and worker tasks: what ECS may do to start them (execution role)
and what the app itself may do (task role). Each grants its actions on named resources only."""

from __future__ import annotations

import json
from typing import Any

ASSUME_ECS_TASKS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def execution_policy(
    repository_arn: str, log_group_arns: list[str], secret_arns: list[str]
) -> dict[str, Any]:
    """What ECS needs to start a task: pull its image, write its logs, inject its secrets."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            # GetAuthorizationToken has no resource-level permissions.
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": repository_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{arn}:*" for arn in log_group_arns],
            },
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": list(secret_arns),
            },
        ],
    }


def task_policy(namespace: str, flags_arn: str, database_secret_arn: str) -> dict[str, Any]:
    """What the app itself may do: publish its metrics, read its flags and the database
    password (the one secret it reads itself)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                # PutMetricData has no resource ARNs; the namespace condition is the fence.
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
            },
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": flags_arn},
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": database_secret_arn,
            },
        ],
    }
