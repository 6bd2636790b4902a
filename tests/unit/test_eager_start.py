"""gateway.start: a coroutine runs now, up to its first wait; its rest, awaited in a task,
carries on as if the coroutine had been awaited whole (results, errors, cancellation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from server.web.gateway import start


class Boom(Exception):
    pass


async def never_waits(log: list[str]) -> None:
    log.append("ran")


async def waits_on(fut: asyncio.Future[str], log: list[str], *, fail_after: bool = False) -> None:
    log.append("before")
    try:
        got = await fut
        log.append(f"got {got}")
        if fail_after:
            raise Boom(got)
        await asyncio.sleep(0)  # a second, bare wait: the loop's own turn
        log.append("after")
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    finally:
        log.append("finally")


async def resume(rest: Any) -> None:
    await rest


async def test_a_coroutine_that_never_waits_runs_to_completion_at_once() -> None:
    log: list[str] = []
    assert start(never_waits(log)) is None
    assert log == ["ran"]  # before any await of the caller


async def test_an_error_before_the_first_wait_is_raised_by_start() -> None:
    async def fails() -> None:
        raise Boom("early")

    with pytest.raises(Boom, match="early"):
        start(fails())


async def test_a_waiting_coroutine_runs_up_to_its_wait_and_returns_its_rest() -> None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    rest = start(waits_on(fut, log))
    assert rest is not None and hasattr(rest, "__await__")
    assert log == ["before"]
    task = asyncio.create_task(resume(rest))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert log == ["before"] and not task.done()  # still waiting for the future
    fut.set_result("frame")
    await asyncio.wait_for(task, 1)
    assert log == ["before", "got frame", "after", "finally"]


async def test_a_future_already_done_when_the_rest_is_awaited_resumes_it() -> None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    rest = start(waits_on(fut, log))
    fut.set_result("early")
    await asyncio.wait_for(resume(rest), 1)
    assert log == ["before", "got early", "after", "finally"]


async def test_an_error_after_resumption_reaches_the_awaiter() -> None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    rest = start(waits_on(fut, log, fail_after=True))
    task = asyncio.create_task(resume(rest))
    await asyncio.sleep(0)
    fut.set_result("bad")
    with pytest.raises(Boom, match="bad"):
        await asyncio.wait_for(task, 1)
    assert log == ["before", "got bad", "finally"]


async def test_the_futures_exception_is_raised_inside_the_coroutine() -> None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    rest = start(waits_on(fut, log))
    task = asyncio.create_task(resume(rest))
    await asyncio.sleep(0)
    fut.set_exception(Boom("peer went away"))
    with pytest.raises(Boom, match="peer went away"):
        await asyncio.wait_for(task, 1)
    assert log == ["before", "finally"]


async def test_cancelling_the_awaiting_task_cancels_the_coroutine() -> None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    rest = start(waits_on(fut, log))
    task = asyncio.create_task(resume(rest))
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert log == ["before", "cancelled", "finally"]
    assert fut.cancelled()  # the task cancelled what it was waiting on


async def test_a_coroutine_that_survives_cancellation_finishes_its_work() -> None:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[str] = loop.create_future()
    second: asyncio.Future[str] = loop.create_future()
    log: list[str] = []

    async def stubborn() -> None:
        try:
            await first
        except asyncio.CancelledError:
            log.append("cancelled, flushing")
            log.append(await second)  # keeps waiting after the cancellation

    rest = start(stubborn())
    task = asyncio.create_task(resume(rest))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert log == ["cancelled, flushing"] and not task.done()
    second.set_result("flushed")
    await asyncio.wait_for(task, 1)
    assert log == ["cancelled, flushing", "flushed"] and not task.cancelled()


@pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_on_the_servers_event_loops(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """The server runs on uvloop by default (settings.event_loop): start works on both."""

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        log: list[str] = []
        done: asyncio.Future[str] = loop.create_future()
        rest = start(waits_on(done, log))
        task = asyncio.create_task(resume(rest))
        loop.call_soon(done.set_result, "one")
        await asyncio.wait_for(task, 1)
        hung: asyncio.Future[str] = loop.create_future()
        cancelled = asyncio.create_task(resume(start(waits_on(hung, log))))
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        return log

    with asyncio.Runner(loop_factory=new_loop) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop) is (new_loop is uvloop.new_event_loop)
        log = runner.run(scenario())
    assert log == ["before", "got one", "after", "finally", "before", "cancelled", "finally"]
