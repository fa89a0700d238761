// A forwarder for example.test in a few lines: hello@ goes to two inboxes, everything else at the
// domain is refused at RCPT. The same YAML is what `mailyard forward --config` reads from a file.
// Run it:   pnpm exec node --conditions=source apps/forwarder/examples/forward-locally.ts
import { openForwarder, parseForwarderConfig } from '@mailyard/forwarder';

export interface LocalOptions {
  readonly port?: number; // the MX listener (25 in production)
  readonly dnsServer?: string; // a resolver of your own, ip:port
  readonly deliveryPort?: number; // where destination MXes listen (25)
}

export async function startForwarder(dataDir: string, options: LocalOptions = {}) {
  const { port = 2525, dnsServer, deliveryPort = 25 } = options;
  const config = parseForwarderConfig(
    `
hostname: mx.example.test
dataDir: ${dataDir}
listen: 127.0.0.1:${port}
domains: [example.test]
srs:
  secrets: [replace-with-a-long-random-secret]
rules:
  - recipient: hello@example.test
    forward: [ann@inbox.test, bob@inbox.test]
  - recipient: "*@example.test"
    reject: { code: 550, enhanced: 5.1.1, text: No such alias here }
delivery: { port: ${deliveryPort}, mtaSts: false }
${dnsServer ? `dns: { servers: [${dnsServer}] }` : ''}
log: { level: warn }
`,
    { file: 'forwarder.yaml' },
  );
  const forwarder = await openForwarder(config);
  console.log(`forwarding mail for example.test on port ${forwarder.listener.port}`);
  return forwarder;
}

if (import.meta.main) await startForwarder('./forwarder-data');
