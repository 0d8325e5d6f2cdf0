"""The proxy that stands for "S3 is down": what a client sees through it, down and up again."""

import gc
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions
import pytest

from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server.server_address[1]
        server.shutdown()


def _echoes(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(payload)
        return conn.recv(len(payload))


def test_down_resets_open_connections_refuses_new_ones_and_up_serves_on_the_same_port(
    echo_port: int,
) -> None:
    with TcpProxy(echo_port) as proxy:
        assert _echoes(proxy.port, b"through") == b"through"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        held.sendall(b"held")
        assert held.recv(4) == b"held"

        proxy.down()
        with pytest.raises(ConnectionResetError):
            held.recv(1)  # a reset, not a quiet end of stream
        held.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5)

        proxy.up()
        assert _echoes(proxy.port, b"back again") == b"back again"
        assert proxy.accepted == 3


def test_a_large_body_passes_whole(echo_port: int) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    with TcpProxy(echo_port) as proxy, socket.create_connection(("127.0.0.1", proxy.port)) as conn:
        sender = threading.Thread(target=conn.sendall, args=(payload,))
        sender.start()
        received = bytearray()
        while len(received) < len(payload):
            received += conn.recv(65536)
        sender.join()
    assert bytes(received) == payload


def test_closing_with_connections_open_leaves_no_task_pending(
    echo_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # a task left pending is a race that the closing thread wins about every other time
    for _ in range(10):
        with TcpProxy(echo_port) as proxy:
            held = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            held.sendall(b"held")
            assert held.recv(4) == b"held"
        held.close()
    gc.collect()  # destroys the tasks a closed loop still holds pending, logging each
    assert "Task was destroyed but it is pending" not in caplog.text


def test_s3_through_the_proxy_fails_while_down_and_keeps_its_objects(
    s3_endpoint: str, s3_bucket: tuple[str, Any], s3_env: dict[str, str]
) -> None:
    bucket, _ = s3_bucket
    port = urlsplit(s3_endpoint).port
    assert port is not None
    with TcpProxy(port) as proxy:
        s3 = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )
        s3.put_object(Bucket=bucket, Key="before", Body=b"kept")

        proxy.down()
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            s3.put_object(Bucket=bucket, Key="during", Body=b"lost")

        proxy.up()
        assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == b"kept"
        s3.put_object(Bucket=bucket, Key="after", Body=b"stored")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert sorted(keys) == ["after", "before"]
