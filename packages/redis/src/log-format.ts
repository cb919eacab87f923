/**
 * The text form of events in the log and on the live channel (written by the Lua scripts in
 * scripts.ts): lines of `seq\ttype\tjson`, and a last `end` line when the append sealed the
 * response. Types never contain a tab or a newline, and the JSON is one line.
 */

/** One entry of the event log, as stored and as sent on SSE. */
export interface LogEntry {
  seq: number;
  type: string;
  json: string;
}

/** Parses lines of events, keeping those numbered above `afterSeq`; `end` tells of a seal. */
export function parseEventLines(raw: string, afterSeq = -1, into: LogEntry[] = []): { entries: LogEntry[]; end: boolean } {
  let end = false;
  let start = 0;
  while (start < raw.length) {
    let stop = raw.indexOf('\n', start);
    if (stop === -1) stop = raw.length;
    const a = raw.indexOf('\t', start);
    if (a !== -1 && a < stop) {
      const b = raw.indexOf('\t', a + 1);
      const seq = Number(raw.slice(start, a));
      if (b !== -1 && b < stop && seq > afterSeq) into.push({ seq, type: raw.slice(a + 1, b), json: raw.slice(b + 1, stop) });
    } else if (stop - start === 3 && raw.startsWith('end', start)) end = true;
    start = stop + 1;
  }
  return { entries: into, end };
}

/**
 * The entries of an XRANGE over the log, after `afterSeq`, in order. An entry holds a batch (field
 * `e`, see scripts.ts); entries written before batching (one event each, id `0-(seq+1)`, fields
 * `t` and `d`) are read too, so logs written by an older Spool, or by one still running during an
 * upgrade, replay whole.
 */
export function parseLogRange(range: Array<[string, string[]]>, afterSeq: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (const [id, fields] of range) {
    if (fields[0] === 't' && fields[2] === 'd') {
      const seq = Number(id.slice(id.indexOf('-') + 1)) - 1;
      if (seq > afterSeq) out.push({ seq, type: fields[1] as string, json: fields[3] as string });
      continue;
    }
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'e') parseEventLines(fields[i + 1] as string, afterSeq, out);
  }
  return out;
}

/** The stream id from which XRANGE finds every event after `afterSeq` (see scripts.ts). */
export function rangeStartAfter(afterSeq: number): string {
  return `0-${afterSeq + 2}`;
}
