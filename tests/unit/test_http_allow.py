"""``TASKSCHED_HTTP_ALLOW``: private destinations let through by network or by name, checked on the
address actually connected and on every redirect hop. Real servers on loopback addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from tasksched.config import Settings, http_allow_entries
from tasksched.domain.actions import HttpAction
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult
from tasksched.worker.executors.http import HttpExecutor
from tests.helpers.http_target import HttpTarget


def make_ctx() -> ExecutionContext:
    return ExecutionContext(run_id=1, task_id=2, task_name="ping", attempt=1)


async def run(allow: str, url: str) -> ExecutionResult:
    executor = HttpExecutor(Settings(http_allow=allow))
    try:
        return await executor.execute(HttpAction(url=url), make_ctx())
    finally:
        await executor.aclose()


@pytest.fixture
async def first() -> AsyncIterator[HttpTarget]:
    with HttpTarget("127.0.0.1") as server:
        yield server


@pytest.fixture
async def second() -> AsyncIterator[HttpTarget]:
    with HttpTarget("127.0.0.2") as server:
        yield server


async def test_an_address_in_an_allowed_network_is_reached(first: HttpTarget) -> None:
    result = await run("10.1.0.0/16,127.0.0.0/30", first.url("/ok"))
    assert result.ok, result.error
    assert first.hits["/ok"] == 1


async def test_an_address_outside_the_allowed_networks_is_refused(second: HttpTarget) -> None:
    result = await run("127.0.0.1/32", second.url("/ok"))
    assert not result.ok
    assert result.error == (
        f"refused to connect to 127.0.0.2 port {second.port}: loopback addresses are blocked for HTTP "
        "actions; add the address, its network or the host name to TASKSCHED_HTTP_ALLOW "
        "(or set TASKSCHED_HTTP_ALLOW_PRIVATE=true to allow them all)"
    )
    assert not second.requests


async def test_a_redirect_out_of_the_allowed_networks_is_refused(
    first: HttpTarget, second: HttpTarget
) -> None:
    result = await run("127.0.0.1", first.url("/redirect?to=" + second.url("/ok")))
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"refused to connect to 127.0.0.2 port {second.port}: loopback")
    assert first.hits["/redirect"] == 1
    assert not second.requests


async def test_a_redirect_within_the_allowed_networks_is_followed(
    first: HttpTarget, second: HttpTarget
) -> None:
    result = await run("127.0.0.0/24", first.url("/redirect?to=" + second.url("/ok")))
    assert result.ok, result.error
    assert second.hits["/ok"] == 1


async def test_a_name_that_resolves_to_a_private_address_is_refused_unless_allowed(first: HttpTarget) -> None:
    """DNS rebinding's shape: a name (here ``localhost``) whose answer is a private address. The guard
    resolves it itself and connects to the checked address, so only an allow-list entry lets it pass."""
    url = f"http://localhost:{first.port}/ok"
    refused = await run("10.0.0.0/8,api.internal", url)
    assert not refused.ok
    assert refused.error is not None
    assert "(resolved from 'localhost')" in refused.error
    assert not first.requests

    by_name = await run("api.internal,LOCALHOST.", url)
    assert by_name.ok, by_name.error
    by_network = await run("127.0.0.0/8,::1", url)
    assert by_network.ok, by_network.error
    assert first.hits["/ok"] == 2


async def test_a_name_allowed_by_wildcard_covers_subdomains_only() -> None:
    allow = http_allow_entries("*.svc.internal")
    assert allow.allows_name("billing.svc.internal")
    assert allow.allows_name("a.b.svc.internal.")
    assert not allow.allows_name("svc.internal")
    assert not allow.allows_name("evilsvc.internal")


async def test_an_allowed_name_does_not_allow_other_names_on_the_same_address(first: HttpTarget) -> None:
    """Allowing a name is not allowing its address: the literal address stays refused."""
    result = await run("localhost", first.url("/ok"))
    assert not result.ok
    assert not first.requests


def test_an_ipv4_mapped_ipv6_address_matches_its_ipv4_network() -> None:
    allow = http_allow_entries("10.1.0.0/16")
    assert allow.allows_address(ipaddress.ip_address("::ffff:10.1.2.3"))
    assert not allow.allows_address(ipaddress.ip_address("::ffff:10.2.0.1"))


@pytest.mark.parametrize("bad", ["1.2.3", "10.0.0.0/33", "http://api.internal", "a b", "api..internal", "*"])
def test_a_bad_entry_is_refused_at_start_up_and_named(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(http_allow=f"10.0.0.0/8,{bad}")
    assert f"{bad!r} is neither an IP address, a CIDR nor a host name" in str(caught.value)
