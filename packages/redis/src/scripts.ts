/*
 * Lua scripts. Each runs atomically on the one slot a response's keys share (see contracts/keys).
 *
 * The event log is a Redis Stream with one entry per append (a batch of events), not per event:
 * a 10-word answer is two entries instead of eighteen, and each entry is written once and
 * published as it is. An entry holds lines of `seq\ttype\tjson` in field `e`; its id is
 * `0-(last seq of the batch + 1)`, so the entries holding events after `starting_after=N` are one
 * XRANGE from `0-(N+2)` (the first may also hold events ≤ N, which readers skip). Sequence numbers
 * come from the `seq` counter in the record, incremented here, so any process may append and
 * numbers never repeat or skip.
 *
 * Every append PUBLISHes the same text to the response's channel; a final `end` line says the
 * response is sealed (terminal or cancelled), and the sealing entry of the log holds it too (one
 * string for both; readers of the log skip it). Once sealed, appends are refused: nothing can turn
 * a cancelled response into a completed one.
 *
 * A batch larger than the publish bound is not published whole: Redis disconnects a subscriber
 * whose output buffer passes `client-output-buffer-limit pubsub` (32 MB hard, 8 MB for 60 s by
 * default), and that would be the one subscriber a process shares among all its readers. It
 * publishes a notice `log\tFIRST\tLAST` (and the `end` line when sealing) instead; readers then
 * read those events from the log (see live.ts).
 *
 * Every append also refreshes the expiry of the record, the log and the parked approvals, so a
 * run longer than the retention keeps its record: retention counts from the last write.
 */

/**
 * Shared body: appends N events starting at ARGV[base]. Each event is three ARGV entries: type,
 * head, tail, where head is the JSON up to the end of its "type" member and tail the rest; the
 * script splices `,"sequence_number":N` between them. An empty head (and tail) marks a lifecycle
 * event whose response is `snapshot`, the snapshot written by the same call: the script builds
 * `{"type":…,"sequence_number":N,"response":<snapshot>}`, so the Response crosses the network once.
 */
const APPEND_BODY = `
local function append_events(base, channel, seal, snapshot, max_publish)
  local n = tonumber(ARGV[base])
  local first = -1
  local batch = nil
  if n > 0 then
    local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
    first = last - n
    local lines = {}
    for i = 0, n - 1 do
      local t = ARGV[base + 1 + i * 3]
      local head = ARGV[base + 2 + i * 3]
      local seq = first + i
      local json
      if head == '' then
        json = '{"type":"' .. t .. '","sequence_number":' .. seq .. ',"response":' .. snapshot .. '}'
      else
        json = head .. ',"sequence_number":' .. seq .. ARGV[base + 3 + i * 3]
      end
      lines[i + 1] = seq .. '\\t' .. t .. '\\t' .. json
    end
    if seal then lines[n + 1] = 'end' end
    batch = table.concat(lines, '\\n')
    redis.call('XADD', KEYS[2], '0-' .. last, 'e', batch)
  elseif seal then
    batch = 'end'
  end
  if batch and #batch > max_publish and n > 0 then
    batch = 'log\\t' .. first .. '\\t' .. (first + n - 1) .. (seal and '\\nend' or '')
  end
  if batch then redis.call('PUBLISH', channel, batch) end
  return first
end
`;

/**
 * Refuses writes to a sealed (-2) or vanished (-3) record. A record written by CREATE holds
 * `sealed 0`, so one HGET answers both questions; the EXISTS is for records of older versions.
 */
const OPEN_GUARD = `
local sealed = redis.call('HGET', KEYS[1], 'sealed')
if sealed == false then
  if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
elseif sealed == '1' then
  return -2
end
`;

/**
 * create: writes a new record and its first events.
 * KEYS[1] record hash, KEYS[2] event stream
 * ARGV[1] channel, ARGV[2] ttl seconds, ARGV[3] snapshot JSON (stored, and the response of the
 * lifecycle events), ARGV[4] field count F, ARGV[5..4+2F] other field/value pairs, ARGV[5+2F]
 * the publish bound in bytes, then the events (count, then type/head/tail triples).
 * Returns 1, or 0 when the record already exists (a retried create is a no-op).
 */
export const CREATE = `${APPEND_BODY}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'snapshot', ARGV[3], 'seq', 0, 'sealed', '0', unpack(ARGV, 5, 4 + f * 2))
append_events(6 + f * 2, ARGV[1], false, ARGV[3], tonumber(ARGV[5 + f * 2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`;

/**
 * append: adds events, optionally replacing the snapshot and status, optionally sealing.
 * KEYS[1] record hash, KEYS[2] event stream, KEYS[3] parked approvals hash (may not exist)
 * ARGV[1] channel, ARGV[2] snapshot JSON or '', ARGV[3] status or '', ARGV[4] '1' to seal,
 * ARGV[5] ttl seconds applied to the three keys (0: leave the expiry as it is), ARGV[6] the
 * publish bound in bytes, ARGV[7..] the events.
 * Returns the first sequence number assigned (or -1 when no event was given),
 * -2 when the response is already sealed, -3 when the record is gone (deleted or expired).
 */
export const APPEND = `${APPEND_BODY}${OPEN_GUARD}local seal = ARGV[4] == '1'
local first = append_events(7, ARGV[1], seal, ARGV[2], tonumber(ARGV[6]))
local fields = {}
if ARGV[2] ~= '' then fields[#fields + 1] = 'snapshot'; fields[#fields + 1] = ARGV[2] end
if ARGV[3] ~= '' then fields[#fields + 1] = 'status'; fields[#fields + 1] = ARGV[3] end
if seal then fields[#fields + 1] = 'sealed'; fields[#fields + 1] = '1' end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
if ARGV[5] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
return first
`;

/**
 * seal_if: seals with a final snapshot and status only if the sequence counter still equals the
 * expected value (compare-and-set against concurrent appends), without adding events. Used by cancel.
 * KEYS[1] record hash, KEYS[2] event stream
 * ARGV[1] channel, ARGV[2] expected seq, ARGV[3] snapshot JSON, ARGV[4] status, ARGV[5] ttl seconds
 * Returns 1 when sealed, 0 when the counter moved (caller rebuilds and retries), -2 when already
 * sealed, -3 when the record is gone.
 */
export const SEAL_IF = `${OPEN_GUARD}if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[3], 'status', ARGV[4], 'sealed', '1')
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[1], 'end')
return 1
`;

/**
 * The scripts as they run on a deployment whose channels are sharded (Keys.pubsub): every
 * PUBLISH becomes SPUBLISH, which Redis 7 accepts on a single server and on a cluster, where the
 * channel's hash tag (the response id) puts it on the shard that runs the script. One switch, so
 * the scripts above read as plain Redis.
 */
export function forPubsub(lua: string, pubsub: 'sharded' | 'classic'): string {
  return pubsub === 'sharded' ? lua.replaceAll("redis.call('PUBLISH'", "redis.call('SPUBLISH'") : lua;
}
