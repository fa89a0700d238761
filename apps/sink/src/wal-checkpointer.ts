// Moves SQLite's WAL checkpoints (https://sqlite.org/wal.html#ckpt) off the event loop. A
// checkpoint copies the WAL's pages into the database file and fsyncs both; run inside a commit
// (SQLite's default autocheckpoint) it stalls every SMTP session for the length of an fsync
// every ~4 MB written, which halved the sink's rate on 100 KB messages. Here a worker thread
// with its own connection runs PASSIVE checkpoints, which never block the writer; the store's
// connection turns its autocheckpoint off. If the worker fails, the store turns it back on.

import { Worker } from 'node:worker_threads';

// Plain CommonJS run by the worker (eval: no file to resolve next to the compiled output).
const WORKER = `
const { DatabaseSync } = require('node:sqlite');
const { parentPort, workerData } = require('node:worker_threads');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 1000; PRAGMA synchronous = NORMAL;');
const checkpoint = () => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); } catch {}
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  close(): Promise<void>;
}

export function startCheckpointer(
  path: string,
  onFailure: (error: unknown) => void,
  intervalMs = 200,
): Checkpointer {
  const worker = new Worker(WORKER, { eval: true, workerData: { path, intervalMs } });
  // The worker must not keep a process alive that is otherwise done.
  worker.unref();
  let failed = false;
  worker.on('error', (error) => {
    failed = true;
    onFailure(error);
  });
  return {
    async close() {
      if (failed) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      // Referenced again while it finishes: an unreferenced worker's exit would not keep a
      // process alive that waits for nothing else, and the close would never settle.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}
