// The SSE route is documented in /docs with an example stream.
import { describe, expect, it } from 'vitest';
import { createKafka } from '@touchstream/kafka';
import { createAlertStreamModule } from '@touchstream/query';
import { createHttpServer } from './server.ts';

describe('GET /v1/alerts/stream in the OpenAPI document', () => {
  it('is documented as text/event-stream with an example and the resume parameters', async () => {
    const http = await createHttpServer({ logLevel: 'silent', version: 'test', readiness: () => ({ ready: true, modules: {} }), keys: { read: { 'read-key-123': 'a' } } });
    const kafka = createKafka({ brokers: ['127.0.0.1:1'] }); // never connected: the hub is not started
    await createAlertStreamModule({ kafka, groupPrefix: 't', log: http.log }).init({ http, log: http.log });
    await http.ready();
    const doc = (await http.inject('/docs/json')).json();
    const op = doc.paths['/v1/alerts/stream'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['min_level', 'journey', 'channel', 'customer_id', 'last_event_id', 'key', 'last-event-id']));
    const ok = op.responses['200'].content['text/event-stream'];
    expect(JSON.stringify(ok)).toMatch(/event: alert/);
    expect(op.description).toMatch(/Last-Event-ID/);
    await http.close();
  });
});
