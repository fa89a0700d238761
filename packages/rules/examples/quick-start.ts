// Compile a rules file, refuse unknown recipients at RCPT time, then plan and explain delivery.
// Run: pnpm exec node --conditions=source examples/quick-start.ts
import { compileRules, formatExplanation, formatProblem } from '@mailyard/rules';
import { parseAddress } from '@mailyard/smtp';

const config = `
rules:
  - name: alice
    recipient: alice@example.com
    forward: alice@home.example
  - name: shop tags
    recipient: alice+*@example.com
    forward: alice@home.example
    keepTag: true
  - name: everything else
    recipient: '*@example.com'
    reject: { code: 550, enhanced: 5.1.1, text: No such user here }
`;

const compiled = compileRules(config, { file: 'rules.yaml' });
if (!compiled.ok) {
  for (const problem of compiled.problems) console.error(formatProblem(problem));
  process.exit(1);
}
const { router } = compiled;

// RCPT time: the sender and client are known, the message is not.
const mailFrom = parseAddress('bob@sender.example');
const decision = router.accepts(parseAddress('nobody@example.com'), { mailFrom, clientIp: '192.0.2.7' });
console.log(decision.accepted ? 'accepted' : decision.error.reply); // 550 5.1.1 No such user here

// After DATA: one list of actions per recipient.
const envelope = {
  mailFrom,
  rcptTo: [{ address: parseAddress('alice+shop@example.com') }],
  params: {},
};
const plan = router.route(envelope, { clientIp: '192.0.2.7', auth: { dmarc: 'pass' } });
console.log(plan.recipients[0]?.actions); // [{ type: 'forward', to: [alice+shop@home.example] }]

// Why: which rule matched, which were tried and why they did not.
console.log(formatExplanation(router.explain(envelope), { file: 'rules.yaml' }));

export { decision, plan };
