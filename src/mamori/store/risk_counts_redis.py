"""The risk model's frequency tables in Redis: one hash per scope, the same fields as SQL.

`{prefix}risk:g` holds the all-users counters, `{prefix}risk:u<id>` a user's: fields "n",
"users" (global only), "c<US><level><US><value>" and "d<US><level>" (see store/risk_counts.py).
Recording a login is one Lua script (atomic: HINCRBY the counters, and the distinct counters of
those that went 0 -> 1); reading an assessment's counters is one pipelined pair of HMGETs.

Forgetting a login is the inverse script (`MemoryFrequencies.remove`): each counter goes down by
one, a field that reaches 0 is deleted (HDEL; an emptied user hash disappears with its last
field) and lowers its distinct counter, a user's last login lowers "users". A field that is
absent stays absent and lowers nothing: after a flush of Redis, forgetting old logins must not
drive counters below 0 (the counts are then too low until `replace_all` recounts them from the
SQL history). `forget_many` pipelines one script call per login.

Connection errors surface as CountersUnavailable, like the hot counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import redis.asyncio as aioredis
import redis.exceptions
from redis.typing import EncodableT, FieldT

from mamori.risk.features import LEVELS, LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot
from mamori.store.counters import CountersUnavailable
from mamori.store.risk_counts import SEP

_RECORD = """
redis.call('HINCRBY', KEYS[1], 'n', 1)
if redis.call('HINCRBY', KEYS[2], 'n', 1) == 1 then
  redis.call('HINCRBY', KEYS[1], 'users', 1)
end
for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[2], ARGV[i], 1) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
  end
  if redis.call('HINCRBY', KEYS[1], ARGV[i], 1) == 1 then
    redis.call('HINCRBY', KEYS[1], ARGV[i + 1], 1)
  end
end
return 1
"""

# KEYS: global hash, user hash. ARGV: (count field, distinct field) pairs, as for _RECORD.
_FORGET = """
local function dec(key, field)
  local v = tonumber(redis.call('HGET', key, field) or '0')
  if v > 1 then
    redis.call('HINCRBY', key, field, -1)
    return false
  end
  if v == 1 then
    redis.call('HDEL', key, field)
    return true
  end
  return false
end
dec(KEYS[1], 'n')
if dec(KEYS[2], 'n') then dec(KEYS[1], 'users') end
for i = 1, #ARGV, 2 do
  if dec(KEYS[2], ARGV[i]) then dec(KEYS[2], ARGV[i + 1]) end
  if dec(KEYS[1], ARGV[i]) then dec(KEYS[1], ARGV[i + 1]) end
end
return 1
"""

_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_PIPELINE = 500  # script calls per pipeline round trip in forget_many / replace_all


def _fields(features: LoginFeatures) -> list[str]:
    args: list[str] = []
    for level, value in FrequencySnapshot.keys_for(features):
        args += [f"c{SEP}{level}{SEP}{value}"[:600], f"d{SEP}{level}"]
    return args


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisRiskCounts:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "mamori:") -> None:
        self._client = client
        self._global = f"{prefix}risk:g"
        self._prefix = prefix
        self._record = client.register_script(_RECORD)
        self._forget = client.register_script(_FORGET)

    def _user(self, user: int) -> str:
        return f"{self._prefix}risk:u{user}"

    def _key(self, scope: str) -> str:
        return f"{self._prefix}risk:{scope}"

    async def record(self, user: int, features: LoginFeatures) -> None:
        try:
            await self._record(keys=[self._global, self._user(user)], args=_fields(features))
        except _ERRORS as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def forget(self, user: int, features: LoginFeatures) -> None:
        """Forget one login recorded by `record` (atomic, the inverse of `record`)."""
        try:
            await self._forget(keys=[self._global, self._user(user)], args=_fields(features))
        except _ERRORS as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def forget_many(self, logins: Iterable[tuple[int, LoginFeatures]]) -> None:
        """Forget several logins: one atomic script per login, pipelined (a failure part-way
        leaves the rest counted: too high, never too low)."""
        items = list(logins)
        try:
            for i in range(0, len(items), _PIPELINE):
                async with self._client.pipeline(transaction=False) as pipe:
                    for user, features in items[i : i + _PIPELINE]:
                        await self._forget(
                            keys=[self._global, self._user(user)],
                            args=_fields(features),
                            client=pipe,
                        )
                    await pipe.execute()
        except _ERRORS as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def replace_all(self, tables: Mapping[str, Mapping[str, int]]) -> None:
        """Replace every risk counter by `tables` (scope -> key -> count, as built by
        `risk_counts.tables_from_tallies`). Hashes are replaced atomically (DEL + HSET in
        MULTI/EXEC, a few hundred hashes per transaction); hashes of scopes absent from `tables`
        are deleted first."""
        wanted: dict[str, dict[FieldT, EncodableT]] = {
            self._key(scope): {field: n for field, n in counts.items()}
            for scope, counts in tables.items()
            if counts
        }
        try:
            stale = [
                key
                async for key in self._client.scan_iter(
                    match=_glob_escape(f"{self._prefix}risk:") + "*", count=1000
                )
                if (key.decode() if isinstance(key, bytes) else str(key)) not in wanted
            ]
            for i in range(0, len(stale), _PIPELINE):
                await self._client.delete(*stale[i : i + _PIPELINE])
            names = list(wanted)
            for i in range(0, len(names), _PIPELINE):
                async with self._client.pipeline(transaction=True) as pipe:
                    for name in names[i : i + _PIPELINE]:
                        pipe.delete(name)
                        pipe.hset(name, mapping=wanted[name])
                    await pipe.execute()
        except _ERRORS as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def snapshot(self, user: int, features: LoginFeatures) -> FrequencySnapshot:
        pairs = FrequencySnapshot.keys_for(features)
        count_fields = [f"c{SEP}{lv}{SEP}{v}"[:600] for lv, v in pairs]
        distinct_fields = [f"d{SEP}{lv}" for lv in LEVELS]
        fields = ["n", "users", *count_fields, *distinct_fields]
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hmget(self._global, fields)
                pipe.hmget(self._user(user), fields)
                g_raw, u_raw = await pipe.execute()
        except _ERRORS as exc:
            raise CountersUnavailable(str(exc)) from exc
        g = [int(x) if x is not None else 0 for x in g_raw]
        u = [int(x) if x is not None else 0 for x in u_raw]
        k = len(count_fields)
        return FrequencySnapshot(
            user=user,
            logins=g[0],
            users=g[1],
            own_logins=u[0],
            global_counts={pair: g[2 + i] for i, pair in enumerate(pairs)},
            global_distincts={lv: g[2 + k + i] for i, lv in enumerate(LEVELS)},
            user_counts={pair: u[2 + i] for i, pair in enumerate(pairs)},
            user_distincts={lv: u[2 + k + i] for i, lv in enumerate(LEVELS)},
        )
