import { FlowProducer, Queue } from 'bullmq';
import { mcpJob, QUEUES, turnJob, webhookJob, type Keys, type McpJob, type QueueName, type TurnJob, type WebhookJob } from '@spool/contracts';
import type { RedisClient } from '@spool/redis';
import type { Logger } from '@spool/runtime';

/*
 * The one place that enqueues. Every producer goes through the job catalog (contracts/jobs.ts):
 * data parsed with the job's schema, the job's id and options from its definition, so a retried
 * enqueue is a no-op and no service writes BullMQ options of its own. Queue handles are opened on
 * first use (a process enqueues only what its roles produce) and share the process's queue
 * connection.
 */

export interface JobQueuesOptions {
  /** A connection with maxRetriesPerRequest: null, as BullMQ requires. */
  connection: RedisClient;
  keys: Keys;
  logger: Logger;
  /** limits.max_turns: turn job ids run from 0 to max_turns + 1 (the last one ends the response). */
  maxTurns: number;
}

export class JobQueues {
  private readonly queues = new Map<QueueName, Queue>();
  private flows: FlowProducer | null = null;

  constructor(private readonly o: JobQueuesOptions) {}

  /** A queue handle (for enqueueing, counting and the queues view: it opens no worker). */
  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.o.connection, prefix: this.o.keys.bullPrefix });
      // Connection errors are expected while Redis restarts; ioredis reconnects by itself.
      q.on('error', (err) => this.o.logger.debug({ err: err.message, queue: name }, 'queue error'));
      this.queues.set(name, q);
    }
    return q;
  }

  /** Every queue of the catalog, for counts and the console's queues view. */
  all(): Queue[] {
    return Object.values(QUEUES).map((name) => this.queue(name));
  }

  /** The first turn of a response (the API, after the record is written). */
  async enqueueTurn(job: TurnJob): Promise<void> {
    await this.queue(turnJob.queue).add(turnJob.name, turnJob.schema.parse(job), { ...turnJob.options, jobId: turnJob.jobId(job) });
  }

  /**
   * The next turn waits for its MCP jobs: it is the parent of a flow whose children run on the MCP
   * queue in parallel. A child that fails for good does not block the parent
   * (ignoreDependencyOnFailure, in the catalog): the turn then reports the call as interrupted.
   */
  async enqueueNext(next: TurnJob, children: McpJob[]): Promise<void> {
    this.flows ??= this.openFlows();
    const prefix = this.o.keys.bullPrefix;
    await this.flows.add({
      name: turnJob.name,
      queueName: turnJob.queue,
      data: turnJob.schema.parse(next),
      prefix,
      opts: { ...turnJob.options, jobId: turnJob.jobId(next) },
      children: children.map((c) => ({
        name: mcpJob.name,
        queueName: mcpJob.queue,
        data: mcpJob.schema.parse(c),
        prefix,
        opts: { ...mcpJob.options(c), jobId: mcpJob.jobId(c) },
      })),
    });
  }

  /** Webhook deliveries, one job per endpoint (ids from response, event and endpoint). */
  async enqueueWebhooks(jobs: WebhookJob[], retry: { attempts: number; backoffMs: number }): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue(webhookJob.queue).addBulk(
      jobs.map((data) => ({ name: webhookJob.name, data: webhookJob.schema.parse(data), opts: { ...webhookJob.options(retry), jobId: webhookJob.jobId(data) } })),
    );
  }

  private turnNumbers(): number[] {
    return Array.from({ length: this.o.maxTurns + 2 }, (_, turn) => turn);
  }

  /**
   * After a cancel: turn job ids come from the response id and the turn number, so the queued ones
   * can be named; BullMQ leaves a running (locked) job alone, and its worker stops by itself. The
   * MCP jobs a removed turn waited for stay: each sees the response closed and ends at once, and
   * one polling an MCP task sends tasks/cancel first (removing them would leave the task running).
   */
  async removeQueuedTurns(responseId: string): Promise<void> {
    const turns = this.queue(turnJob.queue);
    await Promise.all(this.turnNumbers().map((turn) => turns.remove(turnJob.jobId({ responseId, turn }), { removeChildren: false })));
  }

  /** The state of every turn job a response may have (the watchdog: are they all gone?). */
  turnStates(responseId: string): Promise<string[]> {
    const turns = this.queue(turnJob.queue);
    return Promise.all(this.turnNumbers().map((turn) => turns.getJobState(turnJob.jobId({ responseId, turn }))));
  }

  /** Turn jobs waiting for a worker: the backlog admission bounds. */
  waitingTurns(): Promise<number> {
    return this.queue(turnJob.queue).getWaitingCount();
  }

  async close(): Promise<void> {
    await Promise.all([...[...this.queues.values()].map((q) => q.close()), this.flows?.close()]);
    this.queues.clear();
    this.flows = null;
  }

  private openFlows(): FlowProducer {
    const flows = new FlowProducer({ connection: this.o.connection, prefix: this.o.keys.bullPrefix });
    flows.on('error', (err) => this.o.logger.debug({ err: err.message }, 'flow producer error'));
    return flows;
  }
}
