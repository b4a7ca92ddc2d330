// BullMQ against a server: jobs with priorities, delays, retries and backoff, LIFO, custom ids,
// deduplication, flows (parents waiting for children), job schedulers, pause/resume, events,
// clean/drain/obliterate. Prints what a user would observe, in an order that does not depend on
// timing, as JSON. Usage: node scenario.js <port>
'use strict';
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const out = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, pred, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(out)}`);
}

async function basics() {
  const q = new Queue('basics', { connection });
  await q.obliterate({ force: true });
  // Added while paused so that the order of processing is the queue's, not the race's.
  await q.pause();
  const order = [];
  await q.add('plain', { n: 1 });
  await q.add('plain', { n: 2 });
  await q.add('lifo', { n: 3 }, { lifo: true });
  await q.add('prio', { n: 4 }, { priority: 5 });
  await q.add('prio', { n: 5 }, { priority: 1 });
  await q.add('prio', { n: 6 }, { priority: 5 });
  await q.add('custom', { n: 7 }, { jobId: 'my-id' });
  const dup = await q.add('custom', { n: 8 }, { jobId: 'my-id' });
  out.duplicateIdKeepsFirst = dup.data.n;
  await q.add('dedup', { n: 9 }, { deduplication: { id: 'd1' } });
  await q.add('dedup', { n: 10 }, { deduplication: { id: 'd1' } });
  await q.addBulk([
    { name: 'bulk', data: { n: 11 } },
    { name: 'bulk', data: { n: 12 }, opts: { priority: 2 } },
  ]);
  out.countsWhilePaused = await q.getJobCounts();
  out.isPaused = await q.isPaused();
  const w = new Worker('basics', async (job) => {
    order.push(job.data.n);
    if (job.name === 'plain') await job.updateProgress(50);
    if (job.data.n === 2) await job.log('a log line');
    return { doubled: job.data.n * 2 };
  }, { connection, concurrency: 1 });
  await q.resume();
  await until('basics done', async () => (await q.getCompletedCount()) === 10);
  out.order = order;
  const done = await q.getCompleted(0, -1);
  out.returnValues = done.map((j) => [j.data.n, j.returnvalue.doubled]).sort((a, b) => a[0] - b[0]);
  const two = done.find((j) => j.data.n === 2);
  out.logs = await q.getJobLogs(two.id);
  out.progress = done.filter((j) => j.name === 'plain').map((j) => j.progress);
  out.countsAfter = await q.getJobCounts();
  await w.close();
  await q.close();
}

async function retries() {
  const q = new Queue('retries', { connection });
  await q.obliterate({ force: true });
  const attempts = {};
  const w = new Worker('retries', async (job) => {
    attempts[job.data.n] = (attempts[job.data.n] || 0) + 1;
    if (job.data.n % 2 === 0 && job.attemptsMade < 2) throw new Error(`fail ${job.data.n}`);
    if (job.data.n === 5) throw new Error('always');
    return 'ok';
  }, { connection, concurrency: 2 });
  for (let n = 1; n <= 6; n++) {
    await q.add('r', { n }, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
  }
  await until('retries done', async () => {
    const c = await q.getJobCounts('completed', 'failed');
    return c.completed + c.failed === 6;
  });
  out.attempts = attempts;
  const failed = await q.getFailed();
  out.failed = failed.map((j) => [j.data.n, j.failedReason, j.attemptsMade, j.stacktrace.length]);
  await q.retryJobs({ state: 'failed' });
  await until('retried', async () => (await q.getFailedCount()) === 1 && attempts[5] >= 4);
  out.attemptsAfterRetry = attempts[5];
  await w.close();
  await q.close();
}

async function delayed() {
  const q = new Queue('delayed', { connection });
  await q.obliterate({ force: true });
  const seen = [];
  await q.add('later', { n: 1 }, { delay: 300 });
  await q.add('later', { n: 2 }, { delay: 100 });
  const promoted = await q.add('later', { n: 3 }, { delay: 60000 });
  out.delayedCount = await q.getDelayedCount();
  out.stateBefore = await promoted.getState();
  await promoted.promote();
  const w = new Worker('delayed', async (job) => { seen.push(job.data.n); }, { connection });
  await until('delayed done', async () => (await q.getCompletedCount()) === 3);
  out.delayedOrder = seen;
  await w.close();
  await q.close();
}

async function flows() {
  const flow = new FlowProducer({ connection });
  const q = new Queue('parents', { connection });
  const qc = new Queue('children', { connection });
  await q.obliterate({ force: true });
  await qc.obliterate({ force: true });
  const tree = await flow.add({
    name: 'parent',
    queueName: 'parents',
    data: { total: 0 },
    children: [1, 2, 3].map((n) => ({ name: 'child', queueName: 'children', data: { n } })),
  });
  out.parentState = await tree.job.getState();
  const wc = new Worker('children', async (job) => job.data.n * 10, { connection });
  const wp = new Worker('parents', async (job) => {
    const values = await job.getChildrenValues();
    return Object.values(values).reduce((a, b) => a + b, 0);
  }, { connection });
  await until('flow done', async () => (await q.getCompletedCount()) === 1);
  const [parent] = await q.getCompleted();
  out.parentResult = parent.returnvalue;
  out.dependencies = await parent.getDependenciesCount();
  await wc.close();
  await wp.close();
  await flow.close();
  await q.close();
  await qc.close();
}

async function schedulers() {
  const q = new Queue('sched', { connection });
  await q.obliterate({ force: true });
  let runs = 0;
  await q.upsertJobScheduler('every', { every: 50, limit: 3 }, { name: 'tick', data: { x: 1 } });
  out.schedulers = (await q.getJobSchedulers()).map((s) => [s.key, s.every, s.limit]);
  const w = new Worker('sched', async () => { runs++; }, { connection });
  await until('scheduler runs', async () => runs >= 3);
  await sleep(200);
  out.schedulerRuns = runs;
  await q.removeJobScheduler('every');
  out.schedulersAfter = (await q.getJobSchedulers()).length;
  await w.close();
  await q.close();
}

async function events() {
  const q = new Queue('events', { connection });
  await q.obliterate({ force: true });
  const qe = new QueueEvents('events', { connection });
  await qe.waitUntilReady();
  const got = [];
  qe.on('completed', ({ jobId, returnvalue }) => got.push(['completed', jobId, returnvalue]));
  qe.on('failed', ({ jobId, failedReason }) => got.push(['failed', jobId, failedReason]));
  const w = new Worker('events', async (job) => {
    if (job.data.bad) throw new Error('bad job');
    return job.data.v;
  }, { connection });
  const a = await q.add('e', { v: 'x' });
  const b = await q.add('e', { bad: true });
  out.waitUntilFinished = await a.waitUntilFinished(qe);
  await until('events', async () => got.length === 2);
  out.events = got.map(([k, id, v]) => [k, id === a.id ? 'a' : id === b.id ? 'b' : id, v]).sort();
  await w.close();
  await qe.close();
  await q.close();
}

async function maintenance() {
  const q = new Queue('maint', { connection });
  await q.obliterate({ force: true });
  for (let n = 0; n < 20; n++) await q.add('m', { n }, { delay: n < 5 ? 60000 : 0 });
  out.maintCounts = await q.getJobCounts('waiting', 'delayed');
  out.waitingPage = (await q.getWaiting(0, 4)).map((j) => j.data.n);
  const removed = await q.clean(0, 100, 'delayed');
  out.cleaned = removed.length;
  await q.drain();
  out.afterDrain = await q.getJobCounts('waiting', 'delayed');
  const j = await q.add('m', { n: 99 });
  await j.remove();
  out.removedGone = (await q.getJob(j.id)) === undefined;
  await q.obliterate({ force: true });
  out.afterObliterate = await q.getJobCounts();
  await q.close();
}

(async () => {
  for (const step of [basics, retries, delayed, flows, schedulers, events, maintenance]) {
    await step();
  }
  console.log(JSON.stringify(out, null, 1));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
