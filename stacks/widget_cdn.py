"""The widget's CDN: a private, versioned S3 bucket behind CloudFront.

Deploys own the objects (DESIGN §13): the versioned bundle `rag-assistant.<version>.js` (and its
source map) is immutable and cached for a year; the loader and `manifest.json` are aliases that
move with each release, so they are cached briefly and invalidated on deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from stacks.config import WidgetSettings

IMMUTABLE_PATTERNS = ("rag-assistant.*.js", "rag-assistant.*.js.map")
_YEAR = 31_536_000
_ORIGIN_ID = "widget-bucket"


class _Behavior(TypedDict):
    """What the default and the versioned-bundle cache behaviours share."""

    target_origin_id: str
    viewer_protocol_policy: str
    allowed_methods: list[str]
    cached_methods: list[str]
    compress: bool
    response_headers_policy_id: pulumi.Output[str]


@dataclass(frozen=True, slots=True)
class WidgetCdnArgs:
    settings: WidgetSettings
    domain: str
    certificate_arn: str


class WidgetCdn(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    distribution: aws.cloudfront.Distribution
    base_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: WidgetCdnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:WidgetCdn", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", opts=child)
        # ACLs off: only the bucket policy grants access, and uploads belong to the account.
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        # Versions let a rollback restore an overwritten loader or manifest.
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )

        access = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description="CloudFront signs its reads of the widget bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-headers",
            comment="Widget files load from any merchant's shop; no credentials",
            cors_config=aws.cloudfront.ResponseHeadersPolicyCorsConfigArgs(
                access_control_allow_credentials=False,
                access_control_allow_headers=aws.cloudfront.ResponseHeadersPolicyCorsConfigAccessControlAllowHeadersArgs(
                    items=["*"]
                ),
                access_control_allow_methods=aws.cloudfront.ResponseHeadersPolicyCorsConfigAccessControlAllowMethodsArgs(
                    items=["GET", "HEAD", "OPTIONS"]
                ),
                access_control_allow_origins=aws.cloudfront.ResponseHeadersPolicyCorsConfigAccessControlAllowOriginsArgs(
                    items=["*"]
                ),
                access_control_max_age_sec=600,
                origin_override=True,
            ),
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=63_072_000, include_subdomains=True, override=True
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
            ),
            opts=child,
        )
        immutable = self._cache_policy(f"{name}-immutable", _YEAR, _YEAR, child)
        alias = self._cache_policy(
            f"{name}-alias",
            args.settings.loader_ttl_seconds,
            args.settings.loader_ttl_seconds,
            child,
        )

        behavior: _Behavior = {
            "target_origin_id": _ORIGIN_ID,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD", "OPTIONS"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "response_headers_policy_id": headers.id,
        }
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            comment=f"RAG Assistant widget ({args.domain})",
            aliases=[args.domain],
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.settings.price_class,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=_ORIGIN_ID,
                    domain_name=self.bucket.bucket_regional_domain_name,
                    origin_access_control_id=access.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                cache_policy_id=alias.id, **behavior
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=pattern, cache_policy_id=immutable.id, **behavior
                )
                for pattern in IMMUTABLE_PATTERNS
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=args.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            ),
            opts=child,
        )

        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.distribution.arn).apply(
                lambda arns: json.dumps(_bucket_policy(*arns))
            ),
            # S3 refuses a policy while the public-access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_block, ownership]),
        )

        self.base_url = pulumi.Output.from_input(f"https://{args.domain}/")
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "distributionId": self.distribution.id,
                "distributionDomain": self.distribution.domain_name,
                "baseUrl": self.base_url,
            }
        )

    def _cache_policy(
        self, name: str, default_ttl: int, max_ttl: int, opts: pulumi.ResourceOptions
    ) -> aws.cloudfront.CachePolicy:
        return aws.cloudfront.CachePolicy(
            name,
            min_ttl=0,
            default_ttl=default_ttl,
            max_ttl=max_ttl,
            # Widget files vary by nothing the viewer sends, so the cache key is the path alone.
            parameters_in_cache_key_and_forwarded_to_origin=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                    cookie_behavior="none"
                ),
                headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                    header_behavior="none"
                ),
                query_strings_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
                    query_string_behavior="none"
                ),
                enable_accept_encoding_brotli=True,
                enable_accept_encoding_gzip=True,
            ),
            opts=opts,
        )


def _bucket_policy(bucket_arn: str, distribution_arn: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudFrontReadsWidgetFiles",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
