import type { ChildProcess } from 'node:child_process';
import type { Config } from '@spool/runtime';

/** One supervised process: a name for the logs and the environment it runs with. */
export interface ChildSpec {
  name: string;
  /** Overrides on top of the parent's environment. */
  env: Record<string, string>;
  /** How much lower than the parent's its scheduling priority is set once started (0: the same). */
  nice: number;
}

/**
 * The processes `npm start` runs when SPOOL_WORKERS > 0: one api process (when the api role is
 * asked for) and SPOOL_WORKERS processes of the worker roles. The api gets a process of its own
 * so that accepting a request never waits behind a model turn on the same event loop (the
 * benchmark measured background creates at 285 ms p50 / 15 s p99 when they shared one). Every
 * child runs with SPOOL_WORKERS=0, i.e. as one plain process, on the Redis the parent resolved.
 */
export function planChildren(config: Pick<Config, 'roles' | 'workers' | 'workerNice'>, redisEnv: Record<string, string>): ChildSpec[] {
  const workerRoles = [...config.roles].filter((r) => r !== 'api');
  const specs: ChildSpec[] = [];
  if (config.roles.has('api')) specs.push({ name: 'api', env: { ...redisEnv, SPOOL_WORKERS: '0', SPOOL_ROLES: 'api' }, nice: 0 });
  if (workerRoles.length > 0) {
    // The workers yield the CPU to the api when the cores are saturated (SPOOL_WORKER_NICE): a
    // create is answered (admitted or refused) at once instead of after the turns ahead of it.
    for (let i = 1; i <= config.workers; i++) {
      specs.push({ name: `worker-${i}`, env: { ...redisEnv, SPOOL_WORKERS: '0', SPOOL_ROLES: workerRoles.join(',') }, nice: config.workerNice });
    }
  }
  return specs;
}

/** Whether `npm start` supervises children (false: every role in this one process, as before). */
export function supervises(config: Pick<Config, 'roles' | 'workers'>): boolean {
  return config.workers > 0 && [...config.roles].some((r) => r !== 'api');
}

/** Wait before restarting a child that crashed `crashes` times in a row: 0.5 s doubling, at most 30 s. */
export function restartDelayMs(crashes: number): number {
  return Math.min(500 * 2 ** Math.max(0, crashes - 1), 30_000);
}

/** A child that ran this long before it exited is counted as healthy: its next crash starts over. */
const HEALTHY_AFTER_MS = 30_000;

export interface SupervisorEvents {
  started(name: string, pid: number | undefined): void;
  exited(name: string, code: number | null, signal: NodeJS.Signals | null, restartInMs: number | null): void;
}

/**
 * Keeps each child running: a child that exits (crash, kill, a failed start) is started again
 * after a backoff; `stop()` sends SIGTERM to every child, so each drains as a lone process does
 * on SIGTERM, and resolves when all have exited (SIGKILL after `killAfterMs`).
 */
export class Supervisor {
  private readonly running = new Map<string, ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly specs: ChildSpec[],
    private readonly spawnChild: (spec: ChildSpec) => ChildProcess,
    private readonly events: SupervisorEvents,
    private readonly killAfterMs: number,
  ) {}

  start(): void {
    for (const spec of this.specs) this.launch(spec, 0);
  }

  /** The live children by name, with their pids (for logs and tests). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.running].map(([name, child]) => [name, child.pid]));
  }

  private launch(spec: ChildSpec, crashes: number): void {
    const child = this.spawnChild(spec);
    const startedAt = Date.now();
    this.running.set(spec.name, child);
    this.events.started(spec.name, child.pid);
    child.once('exit', (code, signal) => {
      if (this.running.get(spec.name) === child) this.running.delete(spec.name);
      if (this.stopping) return this.events.exited(spec.name, code, signal, null);
      const next = Date.now() - startedAt >= HEALTHY_AFTER_MS ? 1 : crashes + 1;
      const delay = restartDelayMs(next);
      this.events.exited(spec.name, code, signal, delay);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.stopping) this.launch(spec, next);
      }, delay);
      this.timers.add(timer);
    });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const children = [...this.running.values()];
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const kill = setTimeout(() => child.kill('SIGKILL'), this.killAfterMs);
              child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
    })();
    return this.stopping;
  }
}
