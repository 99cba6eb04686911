"""The in-memory table store of the faust workers: faust's own, except for what it drops after a recovery.

faust's memory store (`faust.stores.memory.Store.on_recovery_completed`) drops every key whose partition is not
among the changelog partitions the recovery round that just finished restored (`active_tps`). After a rebalance
that hands a worker back the partitions it already had (a broker restart, a coordinator move), that round restores
nothing new, so every key went: the table stood empty while the worker went on from its committed offsets, and a
live view answered "no rows" with zero lag (seen in the broker kill -9 drill). Here a key is dropped only when its
partition is neither restored in that round nor still assigned to this worker (`assigned_actives`): what another
worker now owns still goes, what this worker holds stays.
"""

from __future__ import annotations

from faust.stores import STORES
from faust.stores.memory import Store as MemoryStore
from faust.types import TP

SCHEME = "kans-memory"


class KeepingMemoryStore(MemoryStore):
    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        kept = {tp.partition for tp in active_tps} | {tp.partition for tp in self.app.assignor.assigned_actives()}
        gone = [key for key, partition in self._key_partition.items() if partition not in kept]
        for key in gone:
            self.data.pop(key, None)
            self._key_partition.pop(key, None)


def register() -> str:
    """Make `kans-memory://` a store URL faust knows; returns it."""
    STORES.aliases.setdefault(SCHEME, f"{__name__}:KeepingMemoryStore")
    return f"{SCHEME}://"

