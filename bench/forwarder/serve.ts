// The forwarder in its own process (so the benchmark can read its CPU time from /proc), started
// from a configuration file the way an operator's would be: prints `ready PORT`, stops on SIGTERM.
// Run: node --conditions=source bench/forwarder/serve.ts forwarder.yaml

import { readFileSync } from 'node:fs';
import { openForwarder, parseForwarderConfig } from '../../apps/forwarder/src/index.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: serve.ts forwarder.yaml');
const forwarder = await openForwarder(parseForwarderConfig(readFileSync(file, 'utf8'), { file }));
process.stdout.write(`ready ${forwarder.listener.port}\n`);
process.once('SIGTERM', () => {
  void forwarder.close({ deadlineMs: 500 }).then(() => process.exit(0));
});
