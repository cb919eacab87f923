import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisClusterTools, startRedisCluster, type SpawnedRedisCluster } from '@spool/testkit';
import { startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * A master of a real Redis Cluster (3 masters, a replica each) crashes while responses stream:
 * its replica takes over, and every response in flight still ends in a terminal state, readable
 * whole from its event log. The responses' own keys spread over the shards (one slot per response).
 */
let cluster: SpawnedRedisCluster;
let spool: TestSpool;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  spool = await startTestSpool({ name: 'failover', redisTarget: { cluster: cluster.nodes } });
}, 90_000);
afterAll(async () => {
  await spool?.close().catch(() => undefined);
  await cluster?.stop();
});

/** Retrieves through the API, riding out the 503s it answers while a shard has no master. */
async function settled(client: OpenAI, id: string): Promise<OpenAI.Responses.Response> {
  return until(
    async () => {
      const r = await client.responses.retrieve(id).catch(() => null);
      return r && r.status !== 'queued' && r.status !== 'in_progress' ? r : null;
    },
    60_000,
    200,
  );
}

describe.skipIf(!hasRedisClusterTools())('Redis Cluster failover', () => {
  it('ends every response in flight terminal when a master holding some of them is killed', async () => {
    const { client, keys } = spool;
    const created = await Promise.all(Array.from({ length: 12 }, () => client.responses.create({ model: 'm', input: '!delay 40\n!words 120', background: true })));
    const masters = await Promise.all(created.map((r) => cluster.masterOf(keys.record(r.id))));
    // Responses spread over the shards: each one's keys are its own slot.
    expect(new Set(masters).size).toBeGreaterThan(1);
    // Kill a master that holds responses but not the queues (BullMQ's keys share one slot).
    const queueMaster = await cluster.masterOf(`${keys.bullPrefix}:turns:id`);
    const victim = masters.find((m) => m !== queueMaster);
    expect(victim).toBeDefined();
    const onVictim = created.filter((_, i) => masters[i] === victim);
    await until(async () => (await client.responses.retrieve(onVictim[0]!.id)).output.length > 0, 20_000);

    cluster.kill(victim!);
    const finals = await Promise.all(created.map((r) => settled(client, r.id)));
    for (const r of finals) {
      expect(['completed', 'failed', 'incomplete']).toContain(r.status);
      for (const item of r.output) expect((item as { status?: string }).status).not.toBe('in_progress');
    }
    // The shard's new master serves the logs: each replays from the start to one terminal event.
    for (const r of finals.filter((f) => onVictim.some((v) => v.id === f.id))) {
      const types: string[] = [];
      for await (const e of client.responses.stream({ response_id: r.id })) types.push(e.type);
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toMatch(/^response\.(completed|failed|incomplete)$/);
    }
    // And the cluster keeps serving new responses.
    const after = await client.responses.create({ model: 'm', input: '!words 3' });
    expect(after.output_text.split(' ')).toHaveLength(3);
  }, 120_000);

  it('ends every response in flight terminal when the master holding the queues is killed', async () => {
    const { client, keys } = spool;
    await cluster.waitHealthy();
    const created = await Promise.all(Array.from({ length: 6 }, () => client.responses.create({ model: 'm', input: '!delay 40\n!words 120', background: true })));
    const queueMaster = await cluster.masterOf(`${keys.bullPrefix}:turns:id`);
    await until(async () => (await client.responses.retrieve(created[0]!.id)).output.length > 0, 20_000);

    cluster.kill(queueMaster);
    const finals = await Promise.all(created.map((r) => settled(client, r.id)));
    for (const r of finals) {
      expect(['completed', 'failed', 'incomplete']).toContain(r.status);
      for (const item of r.output) expect((item as { status?: string }).status).not.toBe('in_progress');
    }
    const after = await until(() => client.responses.create({ model: 'm', input: '!words 3' }).catch(() => null), 30_000, 250);
    expect(after.output_text.split(' ')).toHaveLength(3);
  }, 120_000);
});
