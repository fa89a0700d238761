// `dns.cacheTtl`: a sender's SPF, DKIM key and DMARC records are asked for once while the cache
// holds them, not once per message; `0s` asks every time.

import { describe, expect, it } from 'vitest';
import { deliveredTo, send, startWorld, until } from './helpers.ts';

async function spfLookups(cacheTtl: string): Promise<number> {
  await using world = await startWorld({ dns: { cacheTtl } });
  for (let i = 0; i < 3; i++)
    await send(world.port, { from: 'ann@sender.test', to: ['alias@forward.test'], dkim: true });
  await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 3);
  return world.dns.queries.filter((q) => q.name.toLowerCase() === 'sender.test' && q.type === 'TXT').length;
}

describe('the verification DNS cache', () => {
  it('asks once for three messages from one sender, and every time with cacheTtl 0s', async () => {
    expect(await spfLookups('30s')).toBe(1);
    expect(await spfLookups('0s')).toBe(3);
  });
});
