// Every Redis key and channel mirrorgate uses, under cluster.keyPrefix, and the Lua scripts that must
// run atomically in Redis. docs/DEPLOYMENT.md lists them for operators.

export class Keys {
  constructor(private readonly prefix: string) {}

  /** Hash: process id → its member record (name, role, config digest, a beat counter, its load). */
  get members(): string { return `${this.prefix}members`; }
  /** Channel: health and evidence found by a prober, for every other prober. */
  get events(): string { return `${this.prefix}events`; }
  /** Hash: mirror → its last health record. */
  get health(): string { return `${this.prefix}health`; }
  /** String with expiry: the process probing this mirror. */
  lease(mirror: string): string { return `${this.prefix}lease:${mirror}`; }
  /**
   * String with expiry: the process checking this copy of a file on this mirror. A copy is named by size
   * and mtime, which every host's copy shares (rsync keeps them), not by ctime, which is each host's own.
   */
  check(mirror: string, path: string, size: number, mtimeMs: number): string { return `${this.prefix}check:${mirror}:${size}:${mtimeMs}:${path}`; }
  /** Hash per hour (epoch seconds of its start): `requests:<target>` and `bytes:<target>`, the cluster's totals. */
  totalsHour(hourStartSeconds: number): string { return `${this.prefix}totals:${hourStartSeconds}`; }
  /** Marker of a counter batch already added (makes a retried batch a no-op). */
  batch(id: string): string { return `${this.prefix}batch:${id}`; }
  /** The rate limiter's counters (cluster.sharedRateLimit). */
  get rateLimit(): string { return `${this.prefix}ratelimit:`; }
}

/**
 * Leases of several mirrors in one round trip. KEYS: the lease keys; ARGV: this process, the lease in
 * ms, then per key '1' when this process may take a free lease. Per key: 1 held (renewed or taken), 0
 * held by another, -1 free and left.
 */
export const LEASE_SCRIPT = `
local me = ARGV[1]
local ttl = ARGV[2]
local out = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == me then
    redis.call('PEXPIRE', key, ttl)
    out[i] = 1
  elseif not holder then
    if ARGV[i + 2] == '1' then
      redis.call('SET', key, me, 'PX', ttl)
      out[i] = 1
    else
      out[i] = -1
    end
  else
    out[i] = 0
  end
end
return out`;

/** Gives up the leases in KEYS that ARGV[1] holds (a clean stop: another takes over at once). */
export const RELEASE_SCRIPT = `
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n`;

/**
 * Adds one batch of counts exactly once. KEYS[1]: the batch's marker; ARGV[1]: how long the marker is
 * kept (ms), ARGV[2]: how long an hour's totals are kept (s), then (hash key, field, amount) triples. A
 * batch sent again (its answer was lost) finds its marker and adds nothing.
 */
export const TOTALS_SCRIPT = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local keep = tonumber(ARGV[2])
local expiring = {}
for i = 3, #ARGV, 3 do
  redis.call('HINCRBY', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  if not expiring[ARGV[i]] then
    expiring[ARGV[i]] = true
    redis.call('EXPIRE', ARGV[i], keep)
  end
end
return 1`;
