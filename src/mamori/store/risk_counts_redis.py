"""The risk model's frequency tables in Redis: one hash per scope, the same fields as SQL.

`{prefix}risk:g` holds the all-users counters, `{prefix}risk:u<id>` a user's: fields "n",
"users" (global only), "c<US><level><US><value>" and "d<US><level>" (see store/risk_counts.py).
Recording a login is one Lua script (atomic: HINCRBY the counters, and the distinct counters of
those that went 0 -> 1); reading an assessment's counters is one pipelined pair of HMGETs.
Connection errors surface as CountersUnavailable, like the hot counters.
"""

from __future__ import annotations

import redis.asyncio as aioredis
import redis.exceptions

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

_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class RedisRiskCounts:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "mamori:") -> None:
        self._client = client
        self._global = f"{prefix}risk:g"
        self._prefix = prefix
        self._record = client.register_script(_RECORD)

    def _user(self, user: int) -> str:
        return f"{self._prefix}risk:u{user}"

    async def record(self, user: int, features: LoginFeatures) -> None:
        args: list[str] = []
        for level, value in FrequencySnapshot.keys_for(features):
            args += [f"c{SEP}{level}{SEP}{value}"[:600], f"d{SEP}{level}"]
        try:
            await self._record(keys=[self._global, self._user(user)], args=args)
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
