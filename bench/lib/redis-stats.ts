import { Redis } from 'ioredis';

/** Redis's own counters: calls per command and bytes in/out, read with INFO. */
export interface RedisCounters {
  calls: Record<string, number>;
  netInputBytes: number;
  netOutputBytes: number;
  usedMemory: number;
  aofRewrites: number;
}

export async function redisCounters(url: string): Promise<RedisCounters> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const [commandstats, stats, memory, persistence] = await Promise.all([r.info('commandstats'), r.info('stats'), r.info('memory'), r.info('persistence')]);
    const calls: Record<string, number> = {};
    for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1] as string] = Number(m[2]);
    const field = (text: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return {
      calls,
      netInputBytes: field(stats, 'total_net_input_bytes'),
      netOutputBytes: field(stats, 'total_net_output_bytes'),
      usedMemory: field(memory, 'used_memory'),
      aofRewrites: field(persistence, 'aof_rewrites'),
    };
  } finally {
    r.disconnect();
  }
}

/**
 * Per-operation Redis cost between two readings: commands by name (the INFO reads themselves
 * excluded), and bytes. `ops` is how many operations the interval covered.
 */
export function perOperation(before: RedisCounters, after: RedisCounters, ops: number) {
  const calls: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of Object.entries(after.calls)) {
    const d = n - (before.calls[cmd] ?? 0) - (cmd === 'info' ? 4 : 0);
    if (d <= 0 || cmd === 'client|setname' || cmd === 'client') continue;
    calls[cmd] = Math.round((d / ops) * 100) / 100;
    total += d;
  }
  return {
    commands: Math.round((total / ops) * 100) / 100,
    calls: Object.fromEntries(Object.entries(calls).sort((a, b) => b[1] - a[1])),
    bytesIn: Math.round((after.netInputBytes - before.netInputBytes) / ops),
    bytesOut: Math.round((after.netOutputBytes - before.netOutputBytes) / ops),
    /** Redis memory the operations left behind (records and logs kept for their retention). */
    memoryBytes: Math.round((after.usedMemory - before.usedMemory) / ops),
    aofRewrites: after.aofRewrites - before.aofRewrites,
  };
}
