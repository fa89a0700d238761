// @mailyard/rules — routing rules: schema, compile, route(envelope) -> plan, explain. Pure: no I/O.

export { type CompileOptions, type CompileResult, compileRules, formatProblem } from './compile-rules.ts';
export { formatExplanation } from './format-explanation.ts';
export { type ExplainOptions, NO_SUCH_USER, type Router } from './router.ts';
export { MAX_PROGRAM_SIZE, MAX_SOURCE_LENGTH } from './safe-regex.ts';
export type {
  AcceptDecision,
  Action,
  AuthMethod,
  Explanation,
  Facts,
  Plan,
  Problem,
  RcptFacts,
  RecipientExplanation,
  RecipientPlan,
  RuleRef,
  Tier,
  TraceOutcome,
  TraceStep,
} from './types.ts';
