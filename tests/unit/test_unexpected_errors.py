"""An exception nobody classed: a lost connection is retried, a bug fails the job at once."""

import socket
import ssl

import httpx
import pytest
import redis.exceptions
import sqlalchemy.exc

from jobs.errors import ErrorClass, LostConnection, ProgramError
from jobs.redaction import register_secrets
from worker.unexpected_errors import is_lost_connection, unexpected_error

LOST_CONNECTIONS = [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    BrokenPipeError(32, "Broken pipe"),
    TimeoutError("timed out"),
    socket.gaierror(-2, "Name or service not known"),
    ssl.SSLError("record layer failure"),
    OSError(28, "No space left on device"),
    httpx.ConnectError("connection refused"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    sqlalchemy.exc.DisconnectionError("connection invalidated"),
    sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    sqlalchemy.exc.InterfaceError(
        "SELECT 1", {}, Exception("connection already closed"), connection_invalidated=True
    ),
    redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
]
PROGRAM_ERRORS = [
    TypeError("unsupported operand type(s) for +: 'int' and 'str'"),
    KeyError("width"),
    AttributeError("'NoneType' object has no attribute 'read'"),
    ValueError("invalid literal for int() with base 10: 'x'"),
    AssertionError("a generation carries a URL or the bytes"),
    ZeroDivisionError("division by zero"),
    RuntimeError("dictionary changed size during iteration"),
    sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
    sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("bad parameter type")),
    redis.exceptions.ResponseError("WRONGTYPE Operation against a key"),
]


@pytest.mark.parametrize("exc", LOST_CONNECTIONS, ids=lambda exc: type(exc).__name__)
def test_a_lost_connection_is_retried_as_internal(exc: Exception) -> None:
    error = unexpected_error(exc)

    assert is_lost_connection(exc)
    assert isinstance(error, LostConnection)
    assert error.retryable
    assert error.error_class is ErrorClass.internal
    assert error.message.startswith(f"{type(exc).__name__}: ")


@pytest.mark.parametrize("exc", PROGRAM_ERRORS, ids=lambda exc: type(exc).__name__)
def test_a_program_error_fails_at_once_as_internal_and_says_so(exc: Exception) -> None:
    error = unexpected_error(exc)

    assert not is_lost_connection(exc)
    assert isinstance(error, ProgramError)
    assert not error.retryable
    assert error.error_class is ErrorClass.internal
    assert error.message.startswith(f"program error (not retried): {type(exc).__name__}")


def test_the_recorded_text_is_redacted_and_bounded() -> None:
    register_secrets(["sk-unexpected-secret"])
    error = unexpected_error(TypeError("token sk-unexpected-secret " + "x" * 2000))

    assert "sk-unexpected-secret" not in error.message
    assert len(error.message) < 600
