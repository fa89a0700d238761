// The command table of `mailyard`. Each entry loads its module lazily, so `mailyard --help`
// stays fast and a command's dependencies load only when it runs. Add a line per command.

import type { CommandEntry } from './io.ts';

export const commands: Record<string, CommandEntry> = {
  sink: {
    summary: 'run the test sink: catch all mail over SMTP, browse it in a web UI and a Mailpit/MailHog API',
    load: () => import('./commands/sink.ts'),
  },
  relay: {
    summary: 'run the outbound MTA (--config relay.yaml), check its configuration, or add a user (adduser)',
    load: () => import('./commands/relay.ts'),
  },
  forward: {
    summary:
      'run the forwarder: custom addresses on your domains to existing inboxes, with SRS and ARC (--config forwarder.yaml)',
    load: () => import('./commands/forward.ts'),
  },
  queue: {
    summary: "operate the relay's queue: ls, show, retry, hold, release, delete, bounce",
    load: () => import('./commands/queue.ts'),
  },
  check: {
    summary: 'pre-flight report for a sending domain: SPF, DKIM, DMARC, MX, MTA-STS (check domain D)',
    load: () => import('./commands/check.ts'),
  },
  rules: {
    summary: 'check a routing rules file (check), or show how a message would be routed and why (test)',
    load: () => import('./commands/rules.ts'),
  },
  dkim: {
    summary: 'make a DKIM key and the DNS record to publish (keygen), or sign a message from stdin (sign)',
    load: () => import('./commands/dkim.ts'),
  },
  auth: {
    summary: 'verify SPF, DKIM, DMARC and ARC of a message from stdin and print Authentication-Results',
    load: () => import('./commands/auth.ts'),
  },
};
