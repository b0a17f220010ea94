"""Smoke checks through the ALB's own DNS name: the API domain goes as Host and TLS SNI, and the
certificate is verified against it. A local HTTPS server with a certificate for the API domain
stands in for the ALB (reached by IP, as the ALB is by its own name)."""

import datetime
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ops.smoke import SmokeCheck, SmokeFailed

API = "api.prod.ragassist.example.com"


def certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def alb_tls(tmp_path):
    """An HTTPS ALB stand-in on 127.0.0.1 holding a certificate for the API domain."""
    cert_file, key_file = certificate(tmp_path, API)
    hosts = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hosts.append(self.headers.get("Host"))
            data = {"healthz": {"status": "ok"}, "readyz": {"status": "ready"}}
            body = json.dumps({"success": True, "data": data[self.path.strip("/")]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trust = ssl.create_default_context(cafile=str(cert_file))
    yield f"https://127.0.0.1:{server.server_address[1]}", trust, hosts
    server.shutdown()
    server.server_close()


def test_alb_checks_send_the_api_domain_as_host_and_verify_its_certificate(alb_tls):
    url, trust, hosts = alb_tls
    check = SmokeCheck.for_alb("127.0.0.1", f"https://{API}")
    check.base_url, check.verify = url, trust  # the stand-in's port, and our test CA

    check.run(lambda s: None, lambda t: None)

    assert hosts == [API, API]
    assert check.describe().endswith(f"(Host/SNI {API})")


def test_a_certificate_for_another_name_fails_the_checks(alb_tls, tmp_path):
    url, trust, _ = alb_tls
    check = SmokeCheck(base_url=url, host="api.staging.ragassist.example.com", verify=trust)
    check.attempts = 1

    with pytest.raises(SmokeFailed, match=r"ConnectError.*certificate"):
        check.run(lambda s: None, lambda t: None)


def test_without_sni_the_alb_name_itself_would_not_match(alb_tls):
    url, trust, _ = alb_tls
    check = SmokeCheck(base_url=url, verify=trust, attempts=1)

    with pytest.raises(SmokeFailed, match="certificate"):
        check.run(lambda s: None, lambda t: None)


def test_retries_then_names_every_problem():
    check = SmokeCheck(base_url="http://127.0.0.1:9", attempts=3, interval=2.0)  # discard port
    slept = []

    with pytest.raises(SmokeFailed, match=r"/healthz: ConnectError.*; /readyz: ConnectError"):
        check.run(slept.append, lambda t: None)
    assert slept == [2.0, 2.0]
