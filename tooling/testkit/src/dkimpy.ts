// An independent DKIM verifier for interop tests: Debian's python3-dkim (dkimpy), driven through
// its Python API with a DNS function that serves the test's TXT records. It runs under
// /usr/bin/python3 (Debian's), not a pyenv python3 that cannot see Debian's packages.

import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';

const VERIFY = `
import json, sys, dkim
data = json.loads(sys.stdin.read())
records = {k.lower(): v for k, v in data["records"].items()}
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes): name = name.decode()
    return records.get(name.rstrip(".").lower(), "").encode()
msg = data["message"].encode("latin-1")
d = dkim.DKIM(msg)
count = sum(1 for line in msg.split(b"\\r\\n") if line.lower().startswith(b"dkim-signature:"))
def check(i):
    try:
        return bool(d.verify(idx=i, dnsfunc=dnsfunc))
    except dkim.ValidationError:
        return False
print(json.dumps([check(i) for i in range(count)]))
`;

/** True when python3-dkim is installed (`apt-get install python3-dkim`). */
export function dkimpyAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import dkim'], { encoding: 'utf8' }).status === 0;
}

/**
 * Verifies every DKIM-Signature of `message` (CRLF line endings, latin-1 safe) with dkimpy;
 * `records` maps `selector._domainkey.domain` to the TXT record. One result per signature, in order.
 */
export function dkimpyVerify(message: string, records: Readonly<Record<string, string>>): boolean[] {
  const run = spawnSync(PYTHON, ['-c', VERIFY], {
    input: JSON.stringify({ message, records }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`dkimpy failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as boolean[];
}

const ARC_VERIFY = `
import json, sys, dkim
data = json.loads(sys.stdin.read())
records = {k.lower(): v for k, v in data["records"].items()}
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes): name = name.decode()
    return records.get(name.rstrip(".").lower(), "").encode()
cv, results, reason = dkim.arc_verify(data["message"].encode("latin-1"), dnsfunc=dnsfunc)
print(json.dumps({"cv": cv.decode(), "reason": reason, "instances": len(results)}))
`;

export interface ArcpyResult {
  /** The chain validation status: `pass`, `fail` or `none`. */
  readonly cv: string;
  readonly reason: string;
  readonly instances: number;
}

/** Validates the ARC chain of `message` with dkimpy (what Debian's `arcverify` runs). */
export function dkimpyArcVerify(message: string, records: Readonly<Record<string, string>>): ArcpyResult {
  const run = spawnSync(PYTHON, ['-c', ARC_VERIFY], {
    input: JSON.stringify({ message, records }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`dkimpy arc_verify failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ArcpyResult;
}
