// CheckConfigError: a check's configuration is wrong. It names every problem at once, each
// with its path in the host's config (`checks[1].options.zones[0]`), so an app can print them
// the way it prints its own config errors and exit non-zero.

export interface CheckConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class CheckConfigError extends Error {
  readonly issues: readonly CheckConfigIssue[];

  constructor(issues: readonly CheckConfigIssue[], options?: ErrorOptions) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n'), options);
    this.name = 'CheckConfigError';
    this.issues = issues;
  }
}
