"""The client address believed for rate limits and the audit log."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from tasksched.api.clients import client_address
from tasksched.config import Settings


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded]
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address(_request("203.0.113.9", "198.51.100.1"), ["10.0.0.0/8"]) == "203.0.113.9"


def test_rightmost_untrusted_hop_is_the_client() -> None:
    # The client forged "1.2.3.4"; nginx (10.0.0.5) appended the address it really saw.
    request = _request("10.0.0.5", "1.2.3.4, 198.51.100.7")
    assert client_address(request, ["10.0.0.0/8"]) == "198.51.100.7"


def test_chain_of_trusted_proxies_and_several_headers() -> None:
    request = _request("10.0.0.5", "198.51.100.7", "10.0.0.9")
    assert client_address(request, ["10.0.0.0/8"]) == "198.51.100.7"


def test_all_hops_trusted_gives_the_first() -> None:
    assert client_address(_request("127.0.0.1", "10.1.1.1"), ["10.0.0.0/8", "127.0.0.1"]) == "10.1.1.1"


def test_unparseable_hop_is_not_trusted() -> None:
    assert client_address(_request("127.0.0.1", "garbage"), ["127.0.0.1/32"]) == "garbage"


def test_no_client_known() -> None:
    assert client_address(Request({"type": "http", "headers": []})) == "unknown"


def test_a_setting_that_is_not_a_network_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.0/33' is not an IP address or CIDR"):
        Settings(trusted_proxies="127.0.0.1, 10.0.0.0/33")
