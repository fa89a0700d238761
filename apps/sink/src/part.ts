// One MIME part of a stored message by its part id ("2", "1.2"), decoded (RFC 2045 §6), for
// attachment downloads. Other parts are streamed past and dropped.

import { PassThrough, type Readable } from 'node:stream';
import { createByteMeter } from '@mailyard/smtp';
import { type AttachmentStream, MailParser } from 'mailparser';

export interface FoundPart {
  readonly contentType: string;
  readonly filename: string;
  readonly content: Readable;
}

export function findPart(raw: Readable, partId: string): Promise<FoundPart | null> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser({ checksumAlgo: false, skipHtmlToText: true, skipTextToHtml: true });
    let found = false;
    parser.on('data', (data: { type: string }) => {
      if (data.type !== 'attachment') return;
      const attachment = data as unknown as AttachmentStream;
      if (!found && attachment.partId === partId) {
        found = true;
        const out = new PassThrough();
        const meter = createByteMeter(); // decoded chunks are garbage once sent: collected as they pass
        attachment.content.on('data', (chunk: Buffer) => meter.add(chunk.length));
        attachment.content.pipe(out);
        attachment.content.on('end', () => attachment.release?.());
        resolve({ contentType: attachment.contentType, filename: attachment.filename ?? '', content: out });
      } else {
        attachment.content.on('end', () => attachment.release?.());
        attachment.content.resume();
      }
    });
    parser.on('end', () => {
      if (!found) resolve(null);
    });
    parser.on('error', (error) => (found ? undefined : reject(error)));
    raw.on('error', reject);
    raw.pipe(parser);
  });
}
