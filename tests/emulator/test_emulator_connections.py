"""The emulator keeps an idle connection as long as Cloudflare's edge does, past the moment a
client's pool gives it up, so a call sent on a pooled connection is never cut off unsent."""

import http.client
import time
from urllib.parse import urlsplit

from emulator.cli import KEEP_ALIVE_S
from worker.guarded_network import IDLE_CONNECTION_S

#: uvicorn's own default, after which it would close an idle connection
UVICORN_DEFAULT_KEEP_ALIVE_S = 5


def test_an_idle_connection_stays_open_past_the_clients_pool_expiry(emulator_url: str) -> None:
    assert IDLE_CONNECTION_S < UVICORN_DEFAULT_KEEP_ALIVE_S < KEEP_ALIVE_S
    address = urlsplit(emulator_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.request("GET", "/__emulator/stats")
        assert connection.getresponse().read()
        first_socket = connection.sock

        time.sleep(UVICORN_DEFAULT_KEEP_ALIVE_S + 0.5)
        connection.request("GET", "/__emulator/stats")
        answer = connection.getresponse()  # RemoteDisconnected if the emulator had closed it

        assert answer.status == 200
        assert answer.read()
        assert connection.sock is first_socket
    finally:
        connection.close()
