/**
 * Runs the registered closers in reverse order of registration on SIGTERM/SIGINT, once, within a
 * deadline; a second signal exits at once.
 */
export class Shutdown {
  private readonly closers: Array<{ name: string; close: () => Promise<void> }> = [];
  private started: Promise<void> | null = null;

  add(name: string, close: () => Promise<void>): void {
    this.closers.push({ name, close });
  }

  run(onError: (name: string, err: unknown) => void = () => undefined): Promise<void> {
    if (this.started) return this.started;
    this.started = (async () => {
      for (const { name, close } of [...this.closers].reverse()) {
        try {
          await close();
        } catch (err) {
          onError(name, err);
        }
      }
    })();
    return this.started;
  }

  installSignalHandlers(deadlineMs: number, onError?: (name: string, err: unknown) => void): void {
    let signals = 0;
    const handler = () => {
      signals += 1;
      if (signals > 1) process.exit(1);
      const timer = setTimeout(() => process.exit(1), deadlineMs);
      timer.unref();
      void this.run(onError).then(() => process.exit(0));
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  }
}
