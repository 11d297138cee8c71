"""Image URL fetching against real local HTTP(S) servers: no redirects, size cap, status, timeout, TLS names.

There is no internet in tests, so servers listen on 127.0.0.1. Production refuses every non-global address; the
tests reach a local server through the same checked path by resolving a fake name to 127.0.0.1 and passing
``address_allowed`` = "is loopback" in the policy (never settable from the environment). DNS rebinding:
test_image_url_rebinding.py.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from inference.codecs.image_urls import UrlBudget
from inference.codecs.images import ImagePolicy, decode_image, fetch_url, image_bytes, is_global_address
from inference.errors import InvalidInputError, OverloadedError
from inference.settings import Settings
from tests.unit.local_http import LocalServer, Route, counting_resolver, local_servers, never_answer, png, reply

PUBLIC_ADDRESS = "93.184.216.34"  # global; never connected to
LOOPBACK_DNS = ["127.0.0.1"]
HUGE_BODY = 64 * 1024 * 1024
POLICY = ImagePolicy(
    allow_urls=True, timeout_s=2.0, max_bytes=100_000, max_pixels=1_000_000, formats=frozenset({"PNG"}),
    tile_px=512, tokens_per_tile=4000, address_allowed=lambda address: ipaddress.ip_address(address).is_loopback,
)


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    with local_servers() as start:
        yield start


def test_fetch_connects_to_the_checked_address_with_the_original_host_header(serve):
    server = serve({"/cat.png": reply(200, png(), {"Content-Type": "image/png"})})
    resolve, lookups = counting_resolver(LOOPBACK_DNS)
    image = decode_image(f"http://images.test:{server.port}/cat.png", POLICY, resolve=resolve)
    assert (image.mode, image.size) == ("RGB", (6, 4))
    assert lookups == ["images.test"]
    assert server.seen == [("/cat.png", f"images.test:{server.port}")]


def test_an_unreachable_checked_address_falls_back_to_the_next_checked_one(serve):
    server = serve({"/cat.png": reply(200, png())})  # listens on 127.0.0.1 only: 127.0.0.2 refuses
    data = fetch_url(
        f"http://images.test:{server.port}/cat.png", POLICY, resolve=lambda host: ["127.0.0.2", "127.0.0.1"]
    )
    assert data == png()
    assert server.seen == [("/cat.png", f"images.test:{server.port}")]


def test_production_policy_refuses_the_loopback_test_server(serve):
    server = serve({"/cat.png": reply(200, png())})
    production = replace(POLICY, address_allowed=is_global_address)
    with pytest.raises(InvalidInputError, match="non-public"):
        fetch_url(f"http://images.test:{server.port}/cat.png", production, resolve=lambda host: LOOPBACK_DNS)
    assert server.connections == 0


@pytest.mark.parametrize("answer", [[PUBLIC_ADDRESS, "127.0.0.1"], ["10.0.0.7", PUBLIC_ADDRESS], []])
def test_every_resolved_address_must_be_public(answer):
    production = replace(POLICY, address_allowed=is_global_address)
    with pytest.raises(InvalidInputError, match="non-public|cannot resolve"):
        fetch_url("http://images.test/cat.png", production, resolve=lambda host: answer)


def test_urls_are_disabled_by_default(serve, monkeypatch):
    monkeypatch.delenv("EMB_ALLOW_IMAGE_URLS", raising=False)
    server = serve({"/cat.png": reply(200, png())})
    default = ImagePolicy.from_settings(Settings())
    assert default.address_allowed is is_global_address
    resolve, lookups = counting_resolver(LOOPBACK_DNS)
    with pytest.raises(InvalidInputError, match="disabled") as caught:
        decode_image(f"http://images.test:{server.port}/cat.png", default, resolve=resolve)
    assert caught.value.status == 400
    assert lookups == [] and server.connections == 0


def test_redirects_are_not_followed(serve):
    server = serve({"/start": reply(302, headers={"Location": "/secret"}), "/secret": reply(200, png())})
    with pytest.raises(InvalidInputError, match="HTTP 302") as caught:
        fetch_url(f"http://images.test:{server.port}/start", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert caught.value.status == 400
    assert [path for path, _ in server.seen] == ["/start"]


@pytest.mark.parametrize("status", [204, 404, 500])
def test_non_200_is_invalid_input_naming_the_status(serve, status):
    server = serve({"/cat.png": reply(status, png() if status != 204 else b"")})
    with pytest.raises(InvalidInputError, match=f"HTTP {status}") as caught:
        fetch_url(f"http://images.test:{server.port}/cat.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert caught.value.status == 400


class _Stream:
    """An image body far larger than the cap, without Content-Length; records how it ended."""

    def __init__(self) -> None:
        self.sent, self.client_hung_up, self.ended = 0, False, threading.Event()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        chunk = png() + bytes(65_536)
        try:
            while self.sent < HUGE_BODY:
                handler.wfile.write(chunk)
                self.sent += len(chunk)
        except OSError:  # the client closed the connection: the rest is never sent
            self.client_hung_up = True
        finally:
            self.ended.set()


def test_oversized_body_is_refused_without_reading_it_all(serve):
    stream = _Stream()
    server = serve({"/huge.png": stream})
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match=f"larger than {POLICY.max_bytes} bytes") as caught:
        image_bytes(f"http://images.test:{server.port}/huge.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert caught.value.status == 400
    assert time.monotonic() - started < 10
    assert stream.ended.wait(timeout=10)
    assert stream.client_hung_up, f"the client read the whole {stream.sent}-byte body"
    assert stream.sent < HUGE_BODY


def test_fetch_reads_at_most_one_byte_past_the_cap(serve):
    server = serve({"/huge.png": _Stream()})
    data = fetch_url(f"http://images.test:{server.port}/huge.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert len(data) == POLICY.max_bytes + 1


def test_a_server_that_never_answers_times_out(serve):
    server = serve({"/slow.png": never_answer})
    policy = replace(POLICY, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="cannot fetch image URL: ReadTimeoutError") as caught:
        fetch_url(f"http://images.test:{server.port}/slow.png", policy, resolve=lambda host: LOOPBACK_DNS)
    elapsed = time.monotonic() - started
    assert caught.value.status == 400
    assert server.received.is_set()
    assert policy.timeout_s <= elapsed < policy.timeout_s + 5


def _issue_certificate(directory: Path, dns_name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``dns_name`` signed by it: (ca, cert, key) PEM files."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])

    def builder(subject: x509.Name, public_key: object) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        )

    ca = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]), key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _tls_server(serve, tmp_path: Path, dns_name: str, sni: list[str | None], monkeypatch) -> LocalServer:
    ca, cert, key = _issue_certificate(tmp_path, dns_name)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # the fetch trusts the CA file requests would use
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    return serve({"/cat.png": reply(200, png())}, tls=context)


def test_https_uses_the_url_hostname_for_sni_and_certificate_checks(serve, tmp_path, monkeypatch):
    sni: list[str | None] = []
    server = _tls_server(serve, tmp_path, "images.test", sni, monkeypatch)
    data = fetch_url(f"https://images.test:{server.port}/cat.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert data == png()
    assert sni == ["images.test"]
    assert server.seen == [("/cat.png", f"images.test:{server.port}")]


def test_https_certificate_for_another_name_is_refused(serve, tmp_path, monkeypatch):
    server = _tls_server(serve, tmp_path, "other.test", [], monkeypatch)
    with pytest.raises(InvalidInputError, match="cannot fetch image URL: SSLError"):
        fetch_url(f"https://images.test:{server.port}/cat.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert server.seen == []


# -- addresses that carry another one, metadata, DNS time, per-request caps, compressed bodies ---------------------


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::5db8:d822",  # NAT64 local use, even of a public IPv4
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:5db8:d822::1",  # 6to4, even of a public IPv4
        "2001:0:5db8:d822::1",  # Teredo
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::5db8:d822",  # IPv4-compatible, even of a public IPv4
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:168.63.129.16",
        "169.254.169.254",  # instance metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "168.63.129.16",  # Azure wire server: global, refused all the same
        "64:ff9b::a83f:8110",  # NAT64 of 168.63.129.16
    ],
)
def test_transition_forms_and_metadata_addresses_are_refused(address):
    assert not is_global_address(address)
    with pytest.raises(InvalidInputError, match="non-public"):
        fetch_url("http://images.test/cat.png", replace(POLICY, address_allowed=is_global_address),
                  resolve=lambda host: [address])  # fmt: skip


@pytest.mark.parametrize(
    "address", [PUBLIC_ADDRESS, "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]
)
def test_public_addresses_and_forms_carrying_a_public_ipv4_pass(address):
    """IPv4-mapped and NAT64 well-known addresses are judged by the IPv4 they carry (a DNS64 resolver answers
    64:ff9b::a.b.c.d for an IPv4-only host on an IPv6-only network)."""
    assert is_global_address(address)


def test_a_dns_lookup_that_hangs_times_out():
    unblock = threading.Event()

    def hanging(host: str) -> list[str]:
        unblock.wait(30)
        return LOOPBACK_DNS

    policy = replace(POLICY, timeout_s=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(InvalidInputError, match="resolving image host 'images.test' took longer than 0.3 s"):
            fetch_url("http://images.test/cat.png", policy, resolve=hanging)
    finally:
        unblock.set()
    assert time.monotonic() - started < 5


def test_a_request_fetches_at_most_its_number_of_urls(serve):
    server = serve({"/cat.png": reply(200, png())})
    budget = UrlBudget(max_urls=2, total_s=10)
    url = f"http://images.test:{server.port}/cat.png"
    for _ in range(2):
        assert fetch_url(url, POLICY, resolve=lambda host: LOOPBACK_DNS, budget=budget) == png()
    with pytest.raises(InvalidInputError, match="at most 2 image URLs") as caught:
        fetch_url(url, POLICY, resolve=lambda host: LOOPBACK_DNS, budget=budget)
    assert caught.value.status == 400 and len(server.seen) == 2


class _Trickle:
    """An image sent one byte per ``interval_s``, each well within the read timeout."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s, self.client_hung_up = interval_s, threading.Event()
        self.body = png() + bytes(64)

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        try:
            for byte in self.body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                if handler.server.release.wait(self.interval_s):  # the sender's pace (set at teardown)
                    return
        except OSError:
            self.client_hung_up.set()


def test_a_trickling_server_is_cut_off_at_the_total_time(serve):
    trickle = _Trickle(interval_s=0.05)
    server = serve({"/slow.png": trickle})
    policy = replace(POLICY, timeout_s=1.0, urls_total_s=0.5)
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="image URLs took longer than 0.5 s") as caught:
        decode_image(f"http://images.test:{server.port}/slow.png", policy, resolve=lambda host: LOOPBACK_DNS)
    assert caught.value.status == 400
    assert time.monotonic() - started < 3
    assert len(trickle.body) * trickle.interval_s > 6  # the whole body would take that long
    assert trickle.client_hung_up.wait(10)


def test_the_request_deadline_bounds_url_fetches_too():
    budget = UrlBudget(max_urls=4, total_s=60, deadline=time.monotonic() - 1)
    with pytest.raises(OverloadedError, match="deadline passed while fetching") as caught:
        fetch_url("http://images.test/cat.png", POLICY, resolve=lambda host: LOOPBACK_DNS, budget=budget)
    assert caught.value.status == 503


def _compressed(headers_seen: list[str | None]) -> Route:
    body = gzip.compress(bytes(50 * 1024 * 1024))  # 50 MB of zeros in about 50 KB

    def route(handler: BaseHTTPRequestHandler) -> None:
        headers_seen.append(handler.headers.get("Accept-Encoding"))
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def test_bodies_are_never_decompressed(serve):
    accept: list[str | None] = []
    server = serve({"/bomb.png": _compressed(accept)})
    with pytest.raises(InvalidInputError, match="Content-Encoding 'gzip'; serve the image uncompressed") as caught:
        fetch_url(f"http://images.test:{server.port}/bomb.png", POLICY, resolve=lambda host: LOOPBACK_DNS)
    assert caught.value.status == 400
    assert accept == ["identity"]
