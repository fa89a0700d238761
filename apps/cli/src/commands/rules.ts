// `mailyard rules check|test`: validate a routing rules file, or show how a message would be
// routed and why. The file is read here (an app may read files; @mailyard/rules never does).

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { explainForwarding, type ForwarderConfig, readForwarderConfig } from '@mailyard/forwarder';
import {
  type CompileResult,
  compileRules,
  type Facts,
  formatExplanation,
  formatProblem,
} from '@mailyard/rules';
import { ConfigError } from '@mailyard/service';
import { type Address, parseAddress, type SmtpError } from '@mailyard/smtp';
import { type Command, type CommandIo, UsageError } from '../io.ts';
import { isForwarderConfig } from '../mta-config.ts';
import { subcommands } from '../subcommands.ts';

const USAGE = `Usage:
  mailyard rules check --config FILE [--smarthost NAME]... [--webhook NAME]...
  mailyard rules test  --config FILE --from ADDRESS|'<>' --to ADDRESS [--to ADDRESS]...
                       [--client-ip IP] [--auth-user NAME] [--size OCTETS]
                       [--dmarc|--spf|--dkim|--arc VERDICT] [--header 'Name: value']... [--verbose]

check  validates the file and lists every problem as FILE:LINE:COL; exits 1 on any error.
test   prints, for each recipient, the plan, the rule that decided and every rule tried; given a
       forwarder's configuration (forwarder.yaml), also what SRS, subaddressing and ARC do.
`;

async function load(io: CommandIo, file: string, names: { smarthosts?: string[]; webhooks?: string[] }) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    io.stderr.write(
      `mailyard rules: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}\n`,
    );
    return null;
  }
  return compileRules(text, { file, ...names });
}

function report(io: CommandIo, result: CompileResult): void {
  const problems = result.ok ? result.warnings : result.problems;
  for (const problem of problems) io.stderr.write(`${formatProblem(problem)}\n`);
}

function address(text: string, option: string): Address {
  try {
    return parseAddress(text.replace(/^<(.*)>$/, '$1'), { smtputf8: true });
  } catch (error) {
    throw new UsageError(`${option} ${text}: ${(error as SmtpError).message}`);
  }
}

const check: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string' },
      smarthost: { type: 'string', multiple: true },
      webhook: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!values.config) throw new UsageError('--config FILE is required');
  const result = await load(io, values.config, {
    ...(values.smarthost ? { smarthosts: values.smarthost } : {}),
    ...(values.webhook ? { webhooks: values.webhook } : {}),
  });
  if (!result) return 1;
  report(io, result);
  if (!result.ok) {
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    io.stderr.write(`${values.config}: ${errors} error${errors === 1 ? '' : 's'}\n`);
    return 1;
  }
  io.stdout.write(`${values.config}: ${result.router.size} rules, ok\n`);
  return 0;
};

const test: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      'client-ip': { type: 'string' },
      'auth-user': { type: 'string' },
      size: { type: 'string' },
      spf: { type: 'string' },
      dkim: { type: 'string' },
      dmarc: { type: 'string' },
      arc: { type: 'string' },
      header: { type: 'string', multiple: true },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!values.config) throw new UsageError('--config FILE is required');
  if (values.from === undefined)
    throw new UsageError("--from ADDRESS is required ('<>' for the null sender)");
  if (!values.to?.length) throw new UsageError('--to ADDRESS is required (repeat it for more recipients)');
  const mailFrom = values.from === '<>' || values.from === '' ? null : address(values.from, '--from');
  const rcptTo = values.to.map((to) => ({ address: address(to, '--to') }));
  let size: number | undefined;
  if (values.size !== undefined) {
    size = Number(values.size);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new UsageError(`--size ${values.size}: expected octets`);
  }
  const auth: Record<string, string> = {};
  for (const method of ['spf', 'dkim', 'dmarc', 'arc'] as const) {
    const verdict = values[method];
    if (verdict !== undefined) auth[method] = verdict;
  }
  const headers = values.header?.map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header ${line}: expected 'Name: value'`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  const facts: Facts = {
    ...(values['client-ip'] !== undefined ? { clientIp: values['client-ip'] } : {}),
    ...(values['auth-user'] !== undefined ? { authUser: values['auth-user'] } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
    ...(headers ? { headers } : {}),
  };
  const envelope = { mailFrom, rcptTo, params: {} };
  if (isForwarderConfig(values.config)) {
    // A forwarder's configuration: the rules, and what SRS, subaddressing and ARC add to them.
    let config: ForwarderConfig;
    try {
      config = readForwarderConfig(values.config, io.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) io.stderr.write(`${problem}\n`);
      return 1;
    }
    io.stdout.write(explainForwarding(config, envelope, facts, { verbose: values.verbose ?? false }));
    return 0;
  }
  const result = await load(io, values.config, {});
  if (!result) return 1;
  report(io, result);
  if (!result.ok) return 1;
  const explanation = result.router.explain(envelope, facts, {
    verbose: values.verbose ?? false,
  });
  io.stdout.write(formatExplanation(explanation, { file: values.config }));
  return 0;
};

export const run: Command = subcommands(USAGE, { check, test });
