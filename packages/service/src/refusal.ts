// One way for every SMTP backend of an app to refuse: count the reply (metrics), log one line with
// the house field names (sessionId, remoteAddr, smtpCode, enhanced, and what was refused), then
// throw the SmtpError for the server to send.

import type { ConnectionInfo, SmtpError } from '@mailyard/smtp';
import type { Logger } from './logger.ts';

export type Refuse = (error: SmtpError, info: ConnectionInfo, fields?: object) => never;

/** `onReply` is told the code of every refusal (e.g. MtaMetrics.reply). */
export function createRefuse(logger: Logger, onReply: (code: number) => void = () => {}): Refuse {
  return (error, info, fields = {}) => {
    onReply(error.code);
    logger.info(
      {
        sessionId: info.sessionId,
        remoteAddr: info.remoteAddress,
        smtpCode: error.code,
        enhanced: error.enhanced,
        ...fields,
      },
      'refused',
    );
    throw error;
  };
}
