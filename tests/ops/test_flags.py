"""`invoke flags.*` against SSM on moto, and the app reading what they wrote (`ssm:` source)."""

import asyncio
import json

import pytest
from invoke import Context, Exit

from app.flags import Flags, FlagStore, SsmFlagSource, flag_choices, parse_flag, source_from_setting
from app.settings import SettingsError, load_settings
from ops import flags
from tests.ops.conftest import client


@pytest.mark.aws
def test_set_then_list_round_trip_prints_old_and_new(stack, capsys):
    dev = stack("dev")

    flags.set_(Context(), env="dev", name="cors_mode", value="report-only")

    out = capsys.readouterr().out
    assert "dev cors_mode: enforce → report-only" in out
    assert "/ragassist/dev/flags, version 2" in out
    # The other flags are kept as they were, and the value is stored as the app parses it.
    assert dev.flags() == {
        "product_sync_enabled": True,
        "cors_mode": "report-only",
        "legacy_sessions_endpoint": True,
    }
    flags.set_(Context(), env="dev", name="product_sync_enabled", value="false")
    assert dev.flags()["product_sync_enabled"] is False
    capsys.readouterr()

    flags.list_(Context(), env="dev")

    table = capsys.readouterr().out
    assert "version 3" in table
    for cell in (
        "cors_mode",
        "report-only",
        "product_sync_enabled",
        "false",
        "enforce, report-only",
    ):
        assert cell in table


@pytest.mark.aws
def test_the_app_reads_what_flags_set_wrote(stack):
    stack("dev")
    flags.set_(Context(), env="dev", name="cors_mode", value="report-only")
    flags.set_(Context(), env="dev", name="legacy_sessions_endpoint", value="off")

    source = source_from_setting("ssm:/ragassist/dev/flags")
    current = asyncio.run(FlagStore(source, ttl=0).current())

    assert isinstance(source, SsmFlagSource)
    assert current == Flags(cors_mode="report-only", legacy_sessions_endpoint=False)


@pytest.mark.aws
def test_flag_store_keeps_the_last_good_flags_when_ssm_fails(stack):
    dev = stack("dev")
    flags.set_(Context(), env="dev", name="product_sync_enabled", value="false")
    store = FlagStore(SsmFlagSource(dev.outputs["flagsParameter"]), ttl=0)
    assert asyncio.run(store.current()).product_sync_enabled is False

    # A value the app refuses, then the parameter gone (AccessDenied and outages look alike).
    dev.ssm.put_parameter(
        Name=dev.outputs["flagsParameter"], Value="{not json", Type="String", Overwrite=True
    )
    assert asyncio.run(store.current()).product_sync_enabled is False
    dev.ssm.delete_parameter(Name=dev.outputs["flagsParameter"])
    assert asyncio.run(store.current()).product_sync_enabled is False


@pytest.mark.aws
def test_ssm_source_turns_aws_errors_into_oserror(aws):
    source = SsmFlagSource("/ragassist/nowhere/flags", client=client("ssm"))

    with pytest.raises(OSError, match="/ragassist/nowhere/flags unreadable"):
        source.read()


@pytest.mark.aws
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("cors", "report-only", "expected one of product_sync_enabled, cors_mode"),
        ("cors_mode", "off", "must be 'enforce' or 'report-only', got 'off'"),
        ("product_sync_enabled", "maybe", "must be true or false"),
    ],
)
def test_unknown_names_and_values_are_refused_listing_the_allowed(stack, name, value, message):
    dev = stack("dev")

    with pytest.raises(Exit) as refused:
        flags.set_(Context(), env="dev", name=name, value=value)

    assert message in str(refused.value.message)
    assert dev.ssm.get_parameter(Name=dev.outputs["flagsParameter"])["Parameter"]["Version"] == 1


@pytest.mark.aws
def test_setting_the_current_value_writes_nothing(stack, capsys):
    dev = stack("dev")

    flags.set_(Context(), env="dev", name="cors_mode", value="enforce")

    assert "already enforce; nothing written" in capsys.readouterr().out
    assert dev.ssm.get_parameter(Name=dev.outputs["flagsParameter"])["Parameter"]["Version"] == 1


@pytest.mark.aws
def test_a_concurrent_write_is_reported_not_hidden(stack):
    dev = stack("dev")
    ssm = client("ssm")
    parameter = dev.outputs["flagsParameter"]

    class Racing:
        """SSM, with another operator's write landing between our read and our write."""

        exceptions = ssm.exceptions

        def get_parameter(self, **kwargs):
            found = ssm.get_parameter(**kwargs)
            ssm.put_parameter(
                Name=parameter,
                Value=json.dumps({"product_sync_enabled": False}),
                Type="String",
                Overwrite=True,
            )
            return found

        def put_parameter(self, **kwargs):
            return ssm.put_parameter(**kwargs)

    with pytest.raises(flags.ConcurrentChange, match="read version 1, wrote version 3"):
        flags.write_flag(Racing(), parameter, "cors_mode", "report-only")


@pytest.mark.aws
def test_list_flags_a_stored_value_the_app_refuses(stack, capsys):
    dev = stack("dev")
    dev.ssm.put_parameter(
        Name=dev.outputs["flagsParameter"],
        Value=json.dumps({"cors_mode": "sideways", "old_flag": True}),
        Type="String",
        Overwrite=True,
    )

    flags.list_(Context(), env="dev")

    out = capsys.readouterr().out
    assert "sideways" in out and "refused" in out
    assert "old_flag" in out and "unknown" in out


@pytest.mark.aws
def test_without_stack_outputs_the_levers_use_the_stacks_naming_rule(
    stack, monkeypatch, tmp_path, capsys
):
    dev = stack("dev")
    monkeypatch.delenv("RAGASSIST_STACK_OUTPUTS")
    monkeypatch.setattr("shutil.which", lambda name: None)  # no Pulumi CLI either

    flags.set_(Context(), env="dev", name="cors_mode", value="report-only")

    assert "using the stack's naming rule: /ragassist/dev/flags" in capsys.readouterr().out
    assert dev.flags()["cors_mode"] == "report-only"


def test_flag_choices_come_from_the_flags_dataclass():
    assert flag_choices() == {
        "product_sync_enabled": ("true", "false"),
        "cors_mode": ("enforce", "report-only"),
        "legacy_sessions_endpoint": ("true", "false"),
        "rate_limit_headers": ("true", "false"),
    }
    assert parse_flag("product_sync_enabled", "off") is False
    assert parse_flag("cors_mode", "report-only") == "report-only"


def test_settings_accept_an_ssm_flags_source():
    settings = load_settings(FLAGS_SOURCE="ssm:/ragassist/prod/flags")

    assert settings.flags_source == "ssm:/ragassist/prod/flags"


@pytest.mark.parametrize("bad", ["ssm:", "ssm:ragassist/prod/flags", "ssm:/flags with space"])
def test_settings_refuse_a_malformed_ssm_source_naming_the_forms(bad):
    with pytest.raises(SettingsError) as error:
        load_settings(FLAGS_SOURCE=bad)

    assert "FLAGS_SOURCE: " in str(error.value)
    assert "ssm:/ragassist/<env>/flags" in str(error.value)


@pytest.mark.aws
def test_aws_refusals_are_one_clear_line_not_a_traceback(stack):
    dev = stack("dev")
    dev.ssm.delete_parameter(Name=dev.outputs["flagsParameter"])

    with pytest.raises(Exit, match="dev: AWS refused GetParameter: ParameterNotFound"):
        flags.list_(Context(), env="dev")
