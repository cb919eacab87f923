import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Samples, round } from '../lib/stats.ts';
import { COMPLETED, expectOk, responsesBody, spoolClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

/** How long the parked turns wait upstream; they end sooner, when the scenario stops Spool. */
const PARK_MS = 300_000;
const PHASE_LIMIT_MS = 120_000;
const MB = 1024 * 1024;

/** Runs `work(i)` for i in [0, count) with `lanes` at a time; stops starting new work after `deadline`. */
async function inLanes(count: number, lanes: number, deadline: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, count) }, async () => {
      while (next < count && performance.now() < deadline) await work(next++);
    }),
  );
}

/**
 * `idleReaders` SSE readers (`GET /v1/responses/{id}?stream=true`) held open on `idleResponses`
 * background responses that stay in progress (the upstream is told to wait before its first chunk).
 * Spool's memory is sampled after a full GC once the responses are in progress, and again once every
 * reader has had its replay: the difference is what the readers cost. No direct baseline.
 */
export const idleSse: Scenario = async (bench) => {
  const readers = bench.opts.idleReaders;
  const responses = Math.min(bench.opts.idleResponses, readers);
  const llmConcurrency = Math.max(64, responses + 16);
  const spool = await bench.startSpool('idle-sse', { llm_concurrency: llmConcurrency });
  const api = spoolClient(spool, 64);
  const readerClient = spoolClient(spool, readers + 16, false);
  const abort = new AbortController();
  // One signal ends every reader: each request adds a listener to it.
  setMaxListeners(0, abort.signal);
  const streams: Array<Promise<unknown>> = [];
  const ids: string[] = [];
  let opened = 0;
  let openErrors = 0;
  const errorSamples = new Set<string>();
  const notes: string[] = [];
  try {
    // 1. Responses that stay in progress.
    const parked = responsesBody(`!delay ${PARK_MS}\n!words 1`, { background: true });
    let deadline = performance.now() + PHASE_LIMIT_MS;
    await inLanes(responses, 32, deadline, async () => {
      const reply = expectOk(await api.send('POST', '/responses', parked));
      const id = /"id":"(resp_[^"]+)"/.exec(reply.body)?.[1];
      if (id) ids.push(id);
    });
    const pending = new Set(ids);
    while (pending.size > 0 && performance.now() < deadline) {
      const batch = [...pending];
      await inLanes(batch.length, 32, deadline, async (i) => {
        const id = batch[i] as string;
        const reply = await api.send('GET', `/responses/${id}`);
        if (reply.status === 200 && reply.body.includes('"status":"in_progress"')) pending.delete(id);
      });
      if (pending.size > 0) await sleep(200);
    }
    if (pending.size > 0) notes.push(`${pending.size} of ${ids.length} responses never reached in_progress`);
    await sleep(1000);
    const before = await spool.memory();

    // 2. The readers: each counts as open once its replay reached `response.in_progress`.
    const openMs = new Samples();
    const meter = spool.cpuMeter();
    const started = performance.now();
    deadline = started + PHASE_LIMIT_MS;
    await inLanes(readers, 200, deadline, async (i) => {
      const id = ids[i % ids.length] as string;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        let seen = false;
        const stream = readerClient
          .stream(
            'GET',
            `/responses/${id}?stream=true`,
            undefined,
            (frame) => {
              if (!seen && frame.startsWith('event: response.in_progress\n')) {
                seen = true;
                opened++;
                openMs.add(performance.now() - t0);
                resolve();
              }
            },
            { signal: abort.signal, timeoutMs: PARK_MS },
          )
          .then(
            (status) => {
              if (!seen) {
                openErrors++;
                errorSamples.add(`stream ended before in_progress (HTTP ${status})`);
              }
            },
            (err: Error) => {
              if (!seen && !abort.signal.aborted) {
                openErrors++;
                errorSamples.add(err.message);
              }
            },
          )
          .finally(resolve);
        streams.push(stream);
      });
    });
    const openAllMs = performance.now() - started;
    await sleep(2000);
    const after = await spool.memory();

    // 3. Is the server still quick with all those readers open?
    const probe = new Samples();
    const probeBody = responsesBody(`!words ${bench.opts.words}`);
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      expectOk(await api.send('POST', '/responses', probeBody), COMPLETED);
      probe.add(performance.now() - t);
    }
    const p = probe.summary();
    const cpuPercent = meter.since();

    const addedRss = (after.rss - before.rss) / MB;
    const addedHeap = (after.heapUsed - before.heapUsed) / MB;
    const addedExternal = (after.external - before.external) / MB;
    if (openErrors > 0) notes.push(`${openErrors} readers failed to open: ${[...errorSamples].slice(0, 3).join('; ')}`);
    notes.push(
      `per reader: ${round((addedRss * 1024) / Math.max(1, opened), 1)} KB RSS, ${round((addedHeap * 1024) / Math.max(1, opened), 1)} KB JS heap; opening all took ${round(openAllMs / 1000, 1)} s (p50 ${round(openMs.summary().p50)} ms per reader)`,
    );
    const rssRow = row('idle-sse', `added RSS, ${opened} readers`, 'MB', null, round(addedRss, 1), { text: '≤ 300 MB added', check: 'spool', max: 300 });
    if (opened < readers) rssRow.holds = false;
    return {
      scenario: 'idle-sse',
      load: `${readers} SSE readers on ${responses} in-progress background responses (${Math.ceil(readers / responses)} per response), opened 200 at a time; Spool llm_concurrency ${llmConcurrency}`,
      rows: [rssRow, row('idle-sse', 'added JS heap', 'MB', null, round(addedHeap, 1), null), row('idle-sse', 'p50 latency with readers open', 'ms', null, round(p.p50, 3), null)],
      notes,
      details: {
        readers,
        responses,
        opened,
        openErrors,
        before,
        after,
        addedMB: { rss: addedRss, heapUsed: addedHeap, external: addedExternal },
        openAllMs,
        openMs: openMs.summary(),
        probeLatency: p,
        cpuPercent,
      },
    };
  } finally {
    abort.abort();
    await Promise.allSettled(streams);
    readerClient.close();
    api.close();
    await spool.stop();
  }
};
