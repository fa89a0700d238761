// Rule actions the relay refuses at config time: `forward` (rewrite the recipient, SRS, ARC) and
// `webhook` (POST the message) are the forwarder's work. The relay has no such step, so a rule
// naming one would silently deliver to the recipient's MX instead: better to say so before start.

import { type ConfigPath, loadConfigFile } from '@mailyard/service';

export const FORWARDER_ONLY_MESSAGE =
  'forward/webhook actions are for the forwarder (apps/forwarder), not the relay';

const FORWARDER_ONLY = ['forward', 'webhook'] as const;

/** The paths, under `base`, of every `forward`/`webhook` key in a list of rules. */
export function forwarderOnlyPaths(rules: unknown, base: ConfigPath): ConfigPath[] {
  if (!Array.isArray(rules)) return [];
  const paths: ConfigPath[] = [];
  rules.forEach((rule: unknown, index) => {
    if (rule === null || typeof rule !== 'object') return;
    for (const key of FORWARDER_ONLY) if (key in rule) paths.push([...base, index, key]);
  });
  return paths;
}

/** Problems (`file:line:col: rules[i].forward: message`) for a rules file's text. */
export function forwarderOnlyProblems(text: string, file: string): string[] {
  const source = loadConfigFile(text, { file, env: {} });
  return forwarderOnlyPaths(source.value.rules, ['rules']).map(
    (path) =>
      `${source.where(path)}: rules[${String(path[1])}].${String(path[2])}: ${FORWARDER_ONLY_MESSAGE}`,
  );
}
