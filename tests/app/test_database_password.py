"""The database password comes from Secrets Manager (moto server) when a connection is opened,
so an RDS rotation reaches new connections without a redeploy."""

import asyncio
import json
import struct
import uuid

import boto3
import pytest

from app.db.engine import create_engine
from app.db.password import SecretPassword
from app.settings import SettingsError, load_settings

pytestmark = pytest.mark.aws

REGION = "eu-west-1"
SSL_REQUEST = 80877103


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, moto_url: str):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)


def _rds_secret(secrets, password: str) -> str:
    # The shape RDS writes for a managed master password.
    value = json.dumps({"username": "ragassist", "password": password})
    return secrets.create_secret(Name=f"rds!db-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]


async def _passwords_sent(database_url: str, secret_arn: str, connections: int) -> list[str]:
    """Open `connections` connections to a loopback server that speaks PostgreSQL's startup
    until it has the client's cleartext password, then refuses it; returns what was sent."""
    sent: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if struct.unpack("!i", body[:4])[0] != SSL_REQUEST:
                break
            writer.write(b"N")  # no TLS here; the client goes on in plain text
        writer.write(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        await writer.drain()
        kind, length = struct.unpack("!ci", await reader.readexactly(5))
        assert kind == b"p"
        sent.append((await reader.readexactly(length - 4)).rstrip(b"\0").decode())
        error = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
        writer.write(b"E" + struct.pack("!i", len(error) + 4) + error)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(
        database_url.format(port=port), pool_size=1, password_secret_arn=secret_arn
    )
    try:
        for _ in range(connections):
            with pytest.raises(Exception, match="password authentication failed"):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()
        server.close()
        await server.wait_closed()
    return sent


def test_a_new_connection_sends_the_password_from_the_secret(secrets):
    arn = _rds_secret(secrets, "first-password")
    # The URL carries no password, as DATABASE_URL does in AWS.
    url = "postgresql+asyncpg://ragassist@127.0.0.1:{port}/ragassist"

    sent = asyncio.run(_passwords_sent(url, arn, connections=2))

    assert sent == ["first-password", "first-password"]


def test_a_rotated_password_is_read_once_the_cache_expires(secrets):
    arn = _rds_secret(secrets, "before-rotation")
    now = [0.0]
    password = SecretPassword(arn, ttl=60, clock=lambda: now[0])
    assert asyncio.run(password()) == "before-rotation"

    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": "ragassist", "password": "rotated"})
    )
    now[0] = 59.0
    assert password.current() == "before-rotation"  # one Secrets Manager call a minute
    now[0] = 60.0
    assert password.current() == "rotated"


def test_the_password_never_appears_in_its_repr(secrets):
    arn = _rds_secret(secrets, "hunter2-secret")
    password = SecretPassword(arn)
    password.current()

    assert "hunter2" not in repr(password)
    assert arn in repr(password)


def test_a_secret_without_a_password_field_is_refused_by_name(secrets):
    arn = secrets.create_secret(Name=f"x-{uuid.uuid4().hex[:8]}", SecretString='{"user": "x"}')[
        "ARN"
    ]

    with pytest.raises(ValueError, match="no string `password` field"):
        SecretPassword(arn).current()


def test_a_bad_secret_arn_fails_at_start_naming_the_variable():
    with pytest.raises(SettingsError, match="DATABASE_SECRET_ARN"):
        load_settings(DATABASE_SECRET_ARN="rds-password")
