import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, mcpJob, QUEUES, turnJob, WORKER_OPTIONS, type McpJob } from '@spool/contracts';
import { createLogger } from '@spool/runtime';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { DeadLetters, JobQueues, startWorker } from './index.ts';

const redisUrl = process.env.SPOOL_TEST_REDIS_URL ?? (process.env.REDIS_URL as string);
const prefix = `${uniquePrefix('queues')}:`;
const keys = createKeys(prefix);
let connection: Redis;
let queues: JobQueues;

beforeAll(() => {
  connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  queues = new JobQueues({ connection, keys, logger: createLogger('silent'), maxTurns: 3 });
});
afterAll(async () => {
  await queues.close();
  connection.disconnect();
  await deleteByPrefix(redisUrl, prefix);
});

const call = (itemId: string, retrySafe: boolean): McpJob => ({
  kind: 'call',
  responseId: 'resp_flow',
  turn: 1,
  itemId,
  serverLabel: 'srv',
  serverUrl: null,
  toolName: 'echo',
  arguments: '{}',
  retrySafe,
  approvalRequestId: null,
  readOnly: false,
});

describe('JobQueues (the one producer)', () => {
  it('enqueues a turn once under its catalog id and options, whatever the retries', async () => {
    await queues.enqueueTurn({ responseId: 'resp_once', turn: 0 });
    await queues.enqueueTurn({ responseId: 'resp_once', turn: 0 });
    const jobs = await queues.queue(QUEUES.turns).getJobs(['waiting']);
    const mine = jobs.filter((j) => j.data.responseId === 'resp_once');
    expect(mine).toHaveLength(1);
    expect(mine[0]?.id).toBe(turnJob.jobId({ responseId: 'resp_once', turn: 0 }));
    expect(mine[0]?.opts).toMatchObject({ attempts: turnJob.options.attempts });
    expect(await queues.waitingTurns()).toBeGreaterThanOrEqual(1);
  });

  it('refuses job data its schema does not accept, before anything reaches Redis', async () => {
    await expect(queues.enqueueTurn({ responseId: 'resp_bad', turn: -1 })).rejects.toThrow();
    expect(await queues.turnStates('resp_bad')).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
  });

  it('hands a turn over as a flow: MCP children with the options of their kind, the parent waiting for them', async () => {
    await queues.enqueueNext({ responseId: 'resp_flow', turn: 1, awaiting: { lists: [], calls: [{ itemId: 'a', outputIndex: 0 }] } }, [call('a', true), call('b', false)]);
    const parent = await queues.queue(QUEUES.turns).getJob(turnJob.jobId({ responseId: 'resp_flow', turn: 1 }));
    expect(await parent?.getState()).toBe('waiting-children');
    const safe = await queues.queue(QUEUES.mcp).getJob(mcpJob.jobId(call('a', true)));
    const once = await queues.queue(QUEUES.mcp).getJob(mcpJob.jobId(call('b', false)));
    expect(safe?.opts.attempts).toBe(3);
    expect(once?.opts.attempts).toBe(1);
  });

  it('removes the queued turns of a cancelled response and leaves its MCP children', async () => {
    await queues.enqueueTurn({ responseId: 'resp_cancel', turn: 0 });
    await queues.removeQueuedTurns('resp_cancel');
    expect((await queues.turnStates('resp_cancel')).every((s) => s === 'unknown')).toBe(true);
  });
});

describe('startWorker', () => {
  it('runs jobs with the lock options of its queue from the catalog, and closes within the grace while a job hangs', async () => {
    const wprefix = `${uniquePrefix('workers')}:`;
    const wkeys = createKeys(wprefix);
    const wq = new JobQueues({ connection, keys: wkeys, logger: createLogger('silent'), maxTurns: 1 });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const worker = startWorker(
      QUEUES.turns,
      async () => {
        started();
        await new Promise(() => undefined);
      },
      { connection: connection.duplicate(), keys: wkeys, logger: createLogger('silent'), concurrency: 1, graceMs: 200 },
    );
    expect(worker.worker.opts.lockDuration).toBe(WORKER_OPTIONS.turns.lockDuration);
    expect(worker.worker.opts.maxStalledCount).toBe(WORKER_OPTIONS.turns.maxStalledCount);
    await wq.enqueueTurn({ responseId: 'resp_hang', turn: 0 });
    await running;
    const t0 = Date.now();
    await worker.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    await wq.close();
    await deleteByPrefix(redisUrl, wprefix);
  });
});

describe('DeadLetters', () => {
  it('keeps the newest first and skips a row that is not JSON', async () => {
    const dead = new DeadLetters(connection, keys);
    await dead.push({ n: 1 });
    await dead.push({ n: 2 });
    await connection.lpush(keys.webhookDeadLetters, '{not json');
    expect(await dead.list(10)).toEqual([{ n: 2 }, { n: 1 }]);
  });
});
