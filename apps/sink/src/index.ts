// @mailyard/sink — the test sink: catch-all SMTP, SQLite store, Mailpit/MailHog API and web UI.

export { Chaos, type ChaosTrigger, type ChaosTriggers } from './chaos.ts';
export { ConfigError, parseSinkConfig, type SinkConfig, USAGE } from './config.ts';
export { compileSearch } from './search.ts';
export { openSink, type Sink, type SinkOptions } from './sink.ts';
export { openSinkStore, SEARCH_INDEXED, SinkStore, type StoredMessage } from './store.ts';
