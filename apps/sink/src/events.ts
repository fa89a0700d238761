// Live updates: Mailpit's WebSocket at `/api/events` (text frames `{"Type","Data"}`, RFC 6455)
// and MailHog's EventSource at `/api/v1/events` (`event: data`). Fed by the store's events.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { messageSummary } from './mailpit-json.ts';
import type { SinkEvent, SinkStore, StoredMessage } from './store.ts';

export function toWireEvent(event: SinkEvent): SinkEvent {
  if (event.Type === 'new') return { Type: 'new', Data: messageSummary(event.Data as StoredMessage) };
  return event;
}

export function createEventHub(store: SinkStore) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  let statsTimer: NodeJS.Timeout | null = null;
  const broadcast = (text: string) => {
    for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(text);
  };
  const listener = (event: SinkEvent) => {
    if (wss.clients.size === 0) return;
    broadcast(JSON.stringify(toWireEvent(event)));
    // Mailpit sends stats at most 4 times a second.
    statsTimer ??= setTimeout(() => {
      statsTimer = null;
      const { total, unread } = store.count();
      broadcast(
        JSON.stringify({ Type: 'stats', Data: { Total: total, Unread: unread, Version: 'mailyard' } }),
      );
    }, 250);
  };
  // Subscribed only while someone watches: without a listener the store skips building the
  // event of every new message.
  let subscribed = false;
  const resubscribe = () => {
    const want = wss.clients.size > 0;
    if (want && !subscribed) store.events.on('event', listener);
    if (!want && subscribed) store.events.off('event', listener);
    subscribed = want;
  };
  return {
    handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        ws.on('close', resubscribe);
        wss.emit('connection', ws, request);
        resubscribe();
      });
    },
    close() {
      store.events.off('event', listener);
      subscribed = false;
      if (statsTimer) clearTimeout(statsTimer);
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
