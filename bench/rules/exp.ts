import { compileRules } from '@mailyard/rules';
import { parseAddress } from '@mailyard/smtp';
const N = Number(process.argv[2]);
const DISTINCT = Number(process.argv[3]);
const rules = Array.from({ length: N }, (_, i) => ({ recipient: `user${i % 16}@d${Math.floor(i / 16)}.example`, forward: 'x@y.example' }));
const r = compileRules({ rules });
if (!r.ok) throw new Error();
const router = r.router;
const envs = Array.from({ length: 1024 }, (_, i) => {
  const k = (i % DISTINCT) * 7919 % N;
  return { mailFrom: null, rcptTo: [{ address: parseAddress(`user${k % 16}@d${Math.floor(k / 16)}.example`) }], params: {} };
});
const m = new Map(rules.map((x) => [x.recipient, x]));
const keys = envs.map((e) => `${e.rcptTo[0]!.address.localPart}@${e.rcptTo[0]!.address.domain}`);
function cpu() { const { user, system } = process.cpuUsage(); return (user + system) / 1e6; }
for (const [name, fn] of [['route', (i: number) => router.route(envs[i & 1023]!)], ['map.get', (i: number) => m.get(keys[i & 1023]!)], ['map.get concat', (i: number) => { const a = envs[i & 1023]!.rcptTo[0]!.address; return m.get(`${a.localPart.toLowerCase()}@${a.domain}`); }]] as const) {
  for (let i = 0; i < 50000; i++) fn(i);
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const s = cpu(); let n = 0;
    while (cpu() - s < 0.3) { for (let i = 0; i < 10000; i++) fn(n + i); n += 10000; }
    best = Math.max(best, n / (cpu() - s));
  }
  console.log(N, DISTINCT, name, Math.round(best / 1000), 'k/s');
}
