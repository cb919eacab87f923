export { JobQueues, type JobQueuesOptions } from './queues.ts';
export { startWorker, type RunningWorker, type StartWorkerOptions } from './workers.ts';
export { DeadLetters, openJobKey } from './keys-io.ts';
