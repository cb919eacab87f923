import { describe, expect, it } from 'vitest';
import { createKeys, QUEUES } from './keys.ts';
import { turnJob } from './jobs.ts';

describe('keys', () => {
  const keys = createKeys('spool:');

  it('puts every key of a response in the same hash slot', () => {
    const id = 'resp_abc';
    const tags = [keys.record(id), keys.events(id), keys.channel(id), keys.approvals(id)].map((k) => /\{([^}]+)\}/.exec(k)?.[1]);
    expect(new Set(tags)).toEqual(new Set([id]));
  });

  it('keeps records and queues apart under the prefix', () => {
    expect(keys.record('resp_1')).toBe('spool:resp:{resp_1}');
    expect(keys.events('resp_1')).toBe('spool:resp:{resp_1}:events');
    expect(keys.channel('resp_1')).toBe('spool:live:{resp_1}');
    expect(keys.bullPrefix).toBe('spool:bull');
    expect(Object.values(QUEUES)).toEqual(['turns', 'mcp', 'webhooks']);
  });

  it('names an approval use by its approval id, as a hash tag', () => {
    expect(keys.approvalUse('mcpr_1')).toBe('spool:approval:{mcpr_1}:used');
  });

  it('keeps a parked elicitation and its holder lease in one slot, by the elicitation id', () => {
    expect(keys.elicitation('mcpe_1')).toBe('spool:elicitation:{mcpe_1}');
    expect(keys.elicitationHolder('mcpe_1')).toBe('spool:elicitation:{mcpe_1}:holder');
    expect(keys.pendingElicitations).toBe('spool:ops:elicitations');
  });

  it('names the global watchdog keys under the prefix, outside any response hash tag', () => {
    expect(keys.inflight).toBe('spool:inflight');
    expect(keys.watchdogLock).toBe('spool:watchdog:lock');
  });

  it("on a cluster, hash-tags BullMQ's prefix (all queues in one slot, as flows need) and shards pub/sub", () => {
    const cluster = createKeys('spool:', { cluster: true });
    expect(cluster.bullPrefix).toBe('{spool:bull}');
    expect(cluster.pubsub).toBe('sharded');
    expect(keys.pubsub).toBe('classic');
    // The response keys keep their own tag: responses spread over the shards.
    expect(cluster.record('resp_1')).toBe('spool:resp:{resp_1}');
  });

  it('puts every key of a conversation in one hash slot, apart from responses', () => {
    const id = 'conv_abc';
    const all = [keys.conversation(id), keys.conversationItems(id), keys.conversationOrder(id), keys.conversationLock(id)];
    expect(new Set(all.map((k) => /\{([^}]+)\}/.exec(k)?.[1]))).toEqual(new Set([id]));
    expect(new Set(all).size).toBe(4);
    expect(keys.conversation(id)).toBe('spool:conv:{conv_abc}');
  });

  it('puts every limit and usage key of one API key in one hash slot, by its owner hash', () => {
    const l = keys.limits('key_ab12');
    const all = [l.requests, l.inFlight, l.background, l.tokensMinute, l.tokensDay('2026-12-02'), keys.usage('key_ab12', '2026-12-02')];
    expect(new Set(all.map((k) => /\{([^}]+)\}/.exec(k)?.[1]))).toEqual(new Set(['key_ab12']));
    expect(new Set(all).size).toBe(all.length);
    expect(keys.usage('key_ab12', '2026-12-02')).toBe('spool:usage:{key_ab12}:2026-12-02');
  });

  it('refuses a prefix that would break hash tags', () => {
    expect(() => createKeys('a{b}')).toThrow(/braces/);
  });

  it('derives turn job ids from the response and turn', () => {
    expect(turnJob.jobId({ responseId: 'resp_1', turn: 2 })).toBe('resp_1-t2');
  });
});
