// Experiment, not a fix: preloaded into the Spool process (`--spool-node-args "--import
// ./bench/experiments/autopipeline.mjs"`) to measure proposed fix F2 of bench/findings.md without
// touching server code. It turns on ioredis `enableAutoPipelining` for the `spool-command`
// connection only (the store: create, append, get, readEvents), which is what the fix would do in
// packages/redis/src/connection.ts. ioredis assigns `this.options` once in its constructor; an
// accessor on the prototype sees that assignment.
import IORedis from 'ioredis';

Object.defineProperty(IORedis.prototype, 'options', {
  configurable: true,
  get() {
    return this.__benchOptions;
  },
  set(value) {
    if (value && value.connectionName === 'spool-command') value.enableAutoPipelining = true;
    this.__benchOptions = value;
  },
});
