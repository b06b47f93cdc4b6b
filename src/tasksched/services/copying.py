"""``tasksched db copy``: move a whole installation from one database to another (SQLite to
PostgreSQL, the seed's migration phase, and back).

The rules, each for a reason:

- Both databases are at the newest schema (the target is migrated first; the source must already
  be, so rows carry the columns this version knows).
- The target must not be in use: a live worker or scheduler heartbeating in it, or (on PostgreSQL)
  any other session connected to it, and the copy is refused — rows loaded under a running process
  would be overwritten by it or run twice.
- The source is read inside one snapshot, so a source still in use gives a consistent copy of one
  moment (what is written after that moment is not in it: the result says the source was live).
- The rows are loaded in one transaction, then counted and fingerprinted (a SHA-256 per table over
  every row) on both sides before it commits: a copy that fails any check, or is interrupted,
  leaves the target as it was. Running it again is therefore always safe: into an empty target it
  copies; into a target that already holds exactly the source's rows it does nothing; into a target
  holding anything else it refuses unless told to replace it.
- Worker and scheduler heartbeats are not copied: they describe processes of the source, which do
  not run on the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasksched.errors import Conflict, InvalidInput, TaskschedError
from tasksched.services.context import Context
from tasksched.services.stats import online_cutoff
from tasksched.store import Tx, export, partitions
from tasksched.store import runs as run_store
from tasksched.store import schedulers as scheduler_store
from tasksched.store import workers as worker_store
from tasksched.store.health import safe_url, same_database

# Liveness rows: process state of the source, meaningless on the target.
NOT_COPIED = export.PROCESS_TABLES


class CopyRefused(Conflict):
    title = "Copy refused"


class CopyFailed(TaskschedError):
    title = "Copy failed"


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]  # rows per table now in the target
    unchanged: bool  # the target already held exactly these rows: nothing was written
    source_in_use: list[str]  # live processes of the source (their later writes are not in the copy)


class CopyService:
    def __init__(self, source: Context, target: Context) -> None:
        self.source = source
        self.target = target

    async def copy(
        self,
        *,
        replace: bool = False,
        on_total: Callable[[int], None] = lambda n: None,
        on_rows: Callable[[int], None] = lambda n: None,
    ) -> Copied:
        if same_database(self.source.db.url, self.target.db.url):
            raise InvalidInput("--from and --to name the same database", field="to")
        busy = await self._in_use(self.target)
        if busy:
            raise CopyRefused(
                f"the target {safe_url(self.target.db.url)} is in use ({'; '.join(busy)}): stop every "
                "process using it, then copy again"
            )
        source_live = await self._live_processes(self.source)
        chosen = export.data_tables()
        async with self.source.db.read() as src:
            await export.begin_snapshot(src)
            wanted = await export.counts(src, chosen)
            on_total(sum(wanted.values()))
            # The source's fingerprints are a full read of it: taken once, and only when needed.
            theirs: dict[str, tuple[int, str]] | None = None
            async with self.target.db.write() as dst:
                present = await export.counts(dst, chosen)
                if any(present.values()):
                    if present == wanted:  # only then can the contents be the same
                        theirs = await export.fingerprints(src, chosen)
                        if await export.fingerprints(dst, chosen) == theirs:
                            on_rows(sum(wanted.values()))
                            return Copied(rows=present, unchanged=True, source_in_use=source_live)
                    if not replace:
                        held = ", ".join(f"{name}: {n} rows" for name, n in present.items() if n)
                        raise CopyRefused(
                            f"the target {safe_url(self.target.db.url)} already holds other data ({held}); "
                            "copy into an empty database, or pass --replace to replace its contents"
                        )
                await export.clear(dst)
                await _make_partitions(src, dst)
                loader = export.Loader(dst)
                async for batch in export.dump(src, chosen):
                    await loader.feed(batch)
                    on_rows(sum(1 for doc in batch if isinstance(doc, list)))
                loaded = await loader.finish()
                if loaded != wanted:
                    raise CopyFailed(f"the target received {loaded} rows; the source holds {wanted}")
                theirs = theirs or await export.fingerprints(src, chosen)
                ours = await export.fingerprints(dst, chosen)
                differ = sorted(name for name in theirs if theirs[name] != ours[name])
                if differ:
                    raise CopyFailed(
                        f"after loading, the content of {', '.join(differ)} differs from the source: "
                        "nothing was committed"
                    )
        return Copied(rows=loaded, unchanged=False, source_in_use=source_live)

    async def _in_use(self, ctx: Context) -> list[str]:
        found = await self._live_processes(ctx)
        async with ctx.db.read() as tx:
            found += [f"connected: {who}" for who in await export.other_sessions(tx)]
        return found

    @staticmethod
    async def _live_processes(ctx: Context) -> list[str]:
        cutoff = online_cutoff(ctx.clock.now(), ctx.settings.lease_seconds)
        async with ctx.db.read() as tx:
            running = [w for w in await worker_store.list_(tx, seen_since=cutoff) if w["stopped_at"] is None]
            ticking = [
                s for s in await scheduler_store.list_(tx, seen_since=cutoff) if s["stopped_at"] is None
            ]
        return [f"worker {w['name']}" for w in running] + [f"scheduler {s['name']}" for s in ticking]


async def _make_partitions(src: Tx, dst: Tx) -> None:
    """On a partitioned PostgreSQL target, the month of every copied run first: rows would
    otherwise pile up in the default partition, where retention can only delete them row by row."""
    if not await partitions.is_partitioned(dst):
        return
    span = await run_store.slot_range(src)
    if span is not None:
        await partitions.ensure_months(dst, partitions.months_between(*span))
