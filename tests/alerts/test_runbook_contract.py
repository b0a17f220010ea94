"""Every query in runbooks/ finds what the app really emits when the fault happens (DESIGN §18).

The faults are caused in a real API and a real worker process (tests/alerts/scenario.py); then
each Logs Insights query and filter pattern runs over the lines of the log groups it names,
each PromQL selector over the API's /metrics, and each CloudWatch command against what the
processes published to moto server. A renamed log field, message or metric, or a query edited
to read something the app does not write, fails here.
"""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from prometheus_client.parser import text_string_to_metric_families

from app.logs import LogFields
from app.metrics import REGISTRY
from tests.alerts.runbook_queries import (
    Block,
    blocks,
    matcher_holds,
    parse_filter_pattern,
    parse_insights,
    promql_selectors,
    shell_commands,
)
from tests.alerts.scenario import EVIL_ORIGIN, NAMESPACE, Emitted, run_scenario

pytestmark = [pytest.mark.aws, pytest.mark.slow]

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
BLOCKS = blocks(RUNBOOKS)
INSIGHTS = [block for block in BLOCKS if block.language == "" and block.text.startswith("fields")]
PROMQL = [block for block in BLOCKS if block.language == "promql"]
COMMANDS = [
    (block, argv) for block in BLOCKS if block.language == "sh" for argv in shell_commands(block)
]
TAILS = [(block, argv) for block, argv in COMMANDS if argv[:3] == ["aws", "logs", "tail"]]
# Reads of the app's own namespace; AWS's (AWS/CloudFront, ...) are not the app's to emit.
METRIC_READS = [
    (block, argv)
    for block, argv in COMMANDS
    if argv[:3] == ["aws", "cloudwatch", "get-metric-statistics"]
    and argv[argv.index("--namespace") + 1] == NAMESPACE
]
# Present on every line; everything else must be a field of the contract.
BASE_FIELDS = {"time", "level", "logger", "message", "exception"}
CONTRACT = BASE_FIELDS | set(LogFields.__annotations__)


def _id(block: Block) -> str:
    return f"{block.page}:{block.text.splitlines()[0][:40]}"


def _commands(pairs: list[tuple[Block, list[str]]]) -> list[Any]:
    return [
        pytest.param(block, argv, id=f"{block.page}:{' '.join(argv)[:60]}") for block, argv in pairs
    ]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Emitted:
    return run_scenario(tmp_path_factory.mktemp("scenario"), moto_url)


def _lines(emitted: Emitted, groups: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    assert groups, "say which log group the query runs on (/ragassist/prod/api or .../worker)"
    return {group: emitted.lines[group] for group in groups}


# --- the contract itself --------------------------------------------------------------------


def test_every_line_is_json_with_only_contract_fields(emitted: Emitted) -> None:
    for group, lines in emitted.lines.items():
        assert lines, group
        for line in lines:
            assert {"time", "level", "logger", "message"} <= set(line), line
            assert set(line) <= CONTRACT, (group, set(line) - CONTRACT)


def test_a_failed_sync_run_is_a_warning_with_merchant_and_run_in_api_and_worker(
    emitted: Emitted,
) -> None:
    for group, source in (("api", "upload"), ("worker", "feed")):
        (line,) = [
            line
            for line in emitted.lines[group]
            if line["message"] == "sync run failed" and line["source"] == source
        ]
        assert line["level"] == "warning"
        assert line["merchantId"] == emitted.merchant_id
        assert line["runId"].startswith("run_")
        assert line["status"] == "failed"
    assert not [line for line in emitted.lines["api"] if line["message"] == "sync run finished"]


def test_a_failed_webhook_attempt_is_a_warning_with_merchant_endpoint_and_status(
    emitted: Emitted,
) -> None:
    failed = [
        line for line in emitted.lines["worker"] if line["message"] == "webhook delivery failed"
    ]

    assert failed
    first = min(failed, key=lambda line: line["attempt"])
    assert first["level"] == "warning"
    assert first["merchantId"] == emitted.merchant_id
    assert first["endpointId"].startswith("we_") or first["endpointId"]
    assert first["eventType"] == "sync.failed"
    assert first["attempt"] == 1
    assert first["status"] == 500
    # The upload's request id follows the event into the worker's line.
    (upload,) = [line for line in emitted.lines["api"] if line["message"] == "sync run failed"]
    assert first["requestId"] == upload["requestId"]


def test_a_refused_origin_is_info_with_merchant_and_key_prefix(emitted: Emitted) -> None:
    (line,) = [line for line in emitted.lines["api"] if line["message"] == "cors origin rejected"]

    assert line["level"] == "info"
    assert line["origin"] == EVIL_ORIGIN
    assert line["audience"] == "widget"
    assert line["merchantId"] == emitted.merchant_id
    assert line["keyPrefix"].startswith("pk_live_") and len(line["keyPrefix"]) == 14


def test_every_log_call_in_the_app_names_its_fields_through_the_contract() -> None:
    # A dict literal would type-check with any key; LogFields(...) does not.
    app = Path(__file__).resolve().parents[2] / "app"
    loose = [
        f"{path.relative_to(app.parent)}:{number}"
        for path in app.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        # (pydantic's `extra="forbid"` is a string; comments are not calls; `fields` is a
        # LogFields built a line above, as the access log's)
        if re.search(r"\bextra=(?!LogFields\(|_fields\(|\"|fields\))", line.split("#")[0])
    ]

    assert loose == []


# --- the runbooks against it ----------------------------------------------------------------


def test_the_runbooks_hold_queries_of_every_kind() -> None:
    # Guards against a parser that silently stops finding queries.
    assert len(INSIGHTS) >= 5 and len(PROMQL) >= 6 and len(TAILS) >= 3 and METRIC_READS


@pytest.mark.parametrize("block", INSIGHTS, ids=_id)
def test_logs_insights_query_finds_the_lines_of_its_fault(block: Block, emitted: Emitted) -> None:
    query = parse_insights(block.text)
    assert query.named <= CONTRACT, f"not fields of the contract: {query.named - CONTRACT}"
    matching = []
    for group, lines in _lines(emitted, block.groups).items():
        found = [line for line in lines if query.matches(line)]
        # Every group named holds the fault's lines: a query on the wrong group finds nothing.
        assert found, f"nothing in /ragassist/prod/{group} matches:\n{block.text}"
        matching += found
    for name in query.shown:
        assert any(name in line for line in matching), f"no matching line has {name}"
    for name in query.grouped:
        assert all(name in line for line in matching), f"grouped by {name}, absent from some"


@pytest.mark.parametrize(("block", "argv"), _commands(TAILS))
def test_log_tail_filter_pattern_finds_the_lines_of_its_fault(
    block: Block, argv: list[str], emitted: Emitted
) -> None:
    (group,) = [group for group in ("api", "worker") if f"/ragassist/prod/{group}" in argv[3]]
    pattern = parse_filter_pattern(argv[argv.index("--filter-pattern") + 1])

    assert pattern.named <= CONTRACT
    assert any(pattern.matches(line) for line in emitted.lines[group]), " ".join(argv)


def _scraped(emitted: Emitted) -> dict[str, list[dict[str, str]]]:
    """Sample label sets by sample name (`..._bucket` included) from the API's /metrics."""
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(emitted.metrics):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
    return samples


def _declared() -> set[str]:
    # The worker is not scraped here; its series are declared in the same registry.
    return {sample.name for family in REGISTRY.collect() for sample in family.samples} | {
        f"{family.name}{suffix}"
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }


@pytest.mark.parametrize("block", PROMQL, ids=_id)
def test_promql_selects_series_the_app_exports(block: Block, emitted: Emitted) -> None:
    selectors, grouped = promql_selectors(block.text)
    scraped = _scraped(emitted)

    assert selectors
    for selector in selectors:
        assert selector.metric in scraped or selector.metric in _declared(), selector.metric
        samples = scraped.get(selector.metric)
        if samples is None:
            continue
        matching = [
            labels
            for labels in samples
            if all(
                matcher_holds(op, value, labels.get(name, ""))
                for name, op, value in selector.matchers
            )
        ]
        assert matching, f"no {selector.metric} series matches {selector.matchers}"
        assert all(label in matching[0] for label in grouped), (grouped, matching[0])


@pytest.mark.parametrize(("block", "argv"), _commands(METRIC_READS))
def test_cloudwatch_metric_command_reads_what_the_processes_published(
    block: Block, argv: list[str], emitted: Emitted, moto_url: str
) -> None:
    options = _options(argv[3:])
    dimensions = [
        dict(part.split("=", 1) for part in spec.split(",")) for spec in options["dimensions"]
    ]
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="eu-west-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=options["metric-name"][0],
        Dimensions=dimensions,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=int(options["period"][0]),
        Statistics=options["statistics"],
    )["Datapoints"]

    assert sum(point[options["statistics"][0]] for point in points) > 0, " ".join(argv)


def _options(args: list[str]) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    current = None
    for arg in args:
        if arg.startswith("--"):
            current = options.setdefault(arg[2:], [])
        elif current is not None:
            current.append(arg)
    return options
