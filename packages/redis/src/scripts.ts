/*
 * Lua scripts. Each runs atomically on the one slot a response's keys share (see contracts/keys).
 *
 * The event log is a Redis Stream whose entry ids encode the sequence number (`0-(seq+1)`), so a
 * replay from `starting_after=N` is one XRANGE. Sequence numbers come from the `seq` counter in the
 * record, incremented here, so any process may append and numbers never repeat or skip.
 *
 * Every append also PUBLISHes the new events to the response's channel as lines of
 * `seq\ttype\tjson`; a final `end` line says the response is sealed (terminal or cancelled).
 * Once sealed, appends are refused: nothing can turn a cancelled response into a completed one.
 */

/**
 * Shared body: appends N events starting at ARGV[base]. Each event is three ARGV entries:
 * type, head, tail, where head is the JSON up to the end of its "type" member and tail the rest;
 * the script splices `,"sequence_number":N` between them.
 */
const APPEND_BODY = `
local function append_events(base, channel, seal)
  local n = tonumber(ARGV[base])
  local lines = {}
  local first = -1
  if n > 0 then
    local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
    first = last - n
    for i = 0, n - 1 do
      local t = ARGV[base + 1 + i * 3]
      local seq = first + i
      local json = ARGV[base + 2 + i * 3] .. ',"sequence_number":' .. seq .. ARGV[base + 3 + i * 3]
      redis.call('XADD', KEYS[2], '0-' .. (seq + 1), 't', t, 'd', json)
      lines[#lines + 1] = seq .. '\\t' .. t .. '\\t' .. json
    end
  end
  if seal then lines[#lines + 1] = 'end' end
  if #lines > 0 then redis.call('PUBLISH', channel, table.concat(lines, '\\n')) end
  return first
end
`;

/** Refuses writes to a sealed (-2) or vanished (-3) record. */
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
 * ARGV[1] channel, ARGV[2] ttl seconds, ARGV[3] field count F, ARGV[4..3+2F] field/value pairs,
 * then the events (count, then type/head/tail triples).
 * Returns 1, or 0 when the record already exists (a retried create is a no-op).
 */
export const CREATE = `${APPEND_BODY}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = tonumber(ARGV[3])
for i = 0, f - 1 do
  redis.call('HSET', KEYS[1], ARGV[4 + i * 2], ARGV[5 + i * 2])
end
redis.call('HSET', KEYS[1], 'seq', 0)
append_events(4 + f * 2, ARGV[1], false)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`;

/**
 * append: adds events, optionally replacing the snapshot and status, optionally sealing.
 * KEYS[1] record hash, KEYS[2] event stream
 * ARGV[1] channel, ARGV[2] snapshot JSON or '', ARGV[3] status or '', ARGV[4] '1' to seal,
 * ARGV[5] ttl seconds applied to both keys when sealing, ARGV[6..] the events.
 * Returns the first sequence number assigned (or -1 when no event was given),
 * -2 when the response is already sealed, -3 when the record is gone (deleted or expired).
 */
export const APPEND = `${APPEND_BODY}${OPEN_GUARD}local seal = ARGV[4] == '1'
local first = append_events(6, ARGV[1], seal)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'snapshot', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[3]) end
if seal then
  redis.call('HSET', KEYS[1], 'sealed', '1')
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
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
