import { createWorker, openQueue, openSqliteStore } from '@mailyard/queue';
import { parseAddress } from '@mailyard/smtp';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/qprobe-');
const store = await openSqliteStore({ path: `${dir}/q.db` });
const stats = { complete: 0, completeGroups: 0, lease: 0, leaseGroups: 0, tc: 0, tl: 0 };
const s2 = { ...store,
  complete: async (g: any, now: number) => { stats.complete++; stats.completeGroups += g.length; const t = performance.now(); const r = await store.complete(g, now); stats.tc += performance.now() - t; return r; },
  lease: async (q: any) => { stats.lease++; const t = performance.now(); const r = await store.lease(q); stats.tl += performance.now() - t; stats.leaseGroups += r.length; return r; } };
const queue = await openQueue({ store: s2 });
const body = Buffer.alloc(1024, 1);
let next = 0;
await Promise.all(Array.from({ length: 50 }, async () => { while (next < 20000) { const i = next++; await queue.enqueue({ envelope: { mailFrom: null, rcptTo: [{ address: parseAddress(`r${i}@d${i % 50}.example`) }], params: {} }, message: body }); } }));
const worker = createWorker({ queue, courier: { async deliver(r) { for await (const _ of r.openMessage()) {} return r.envelope.rcptTo.map((x) => ({ rcpt: `${x.address.localPart}@${x.address.domain}`, status: 'delivered' as const, reply: '250 ok' })); } }, concurrency: 50, perNextHop: 10 });
const t = performance.now();
await worker.runOnce();
const ms = performance.now() - t;
console.log({ ms, perSec: 20000 / (ms / 1000), ...stats });
