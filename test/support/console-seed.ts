import type { RunningServer } from '../../src/server';

const DAY = 86_400_000;

/**
 * A ledger as a running gateway would have left it: messages of alpha and beta over the last days
 * (numbers ending 1000.., statuses mixed, references), their history rows, per-minute counters for
 * the last 30 days (hourly beyond 48 h), a dead letter for alpha and an unrouted reply.
 */
export async function seedConsoleLedger(gw: RunningServer, now: number): Promise<{ deadLetterId: number }> {
  const statuses = ['delivered', 'delivered', 'delivered', 'failed', 'sent'];
  const messages = [];
  for (let i = 0; i < 40; i++) {
    const tenant = i % 2 === 0 ? 'alpha' : 'beta';
    const at = new Date(now - (i % 20) * 3_600_000 - 60_000).toISOString();
    messages.push({
      id: `seed${String(i).padStart(4, '0')}`,
      tenant_id: tenant,
      batch_id: `seedbatch${i}`,
      recipient: `+6141200${String(1000 + i)}`,
      sender: 'Gateway',
      text: `seeded message ${i}`,
      segments: 1 + (i % 2),
      encoding: 'GSM',
      status: statuses[i % statuses.length]!,
      reference: `order-${i}`,
      provider_message_id: `prov-seed-${i}`,
      error: null,
      scheduled_at: null,
      created_at: at,
      updated_at: at,
    });
  }
  await gw.db.insertInto('messages').values(messages).execute();
  await gw.db
    .insertInto('message_events')
    .values(
      messages.flatMap((m) => [
        { message_id: m.id, status: 'queued', detail: null, at: m.created_at },
        { message_id: m.id, status: m.status, detail: null, at: m.updated_at },
      ]),
    )
    .execute();

  // 30 days of counters as the gateway writes them: hourly rows for the month, and minute rows
  // (one every 10 minutes here) for the last 48 h.
  const rows = [];
  for (const tenant of ['alpha', 'beta']) {
    const scale = tenant === 'alpha' ? 1 : 0.5;
    for (let h = 30 * 24; h > 0; h--) {
      const bucket = `${new Date(now - h * 3_600_000).toISOString().slice(0, 13)}:00`;
      const wave = Math.round((40 + 30 * Math.sin(h / 9)) * scale);
      rows.push({ tenant_id: tenant, bucket, granularity: 'h', metric: 'messages', value: wave });
      rows.push({ tenant_id: tenant, bucket, granularity: 'h', metric: 'segments', value: wave * 2 });
      rows.push({ tenant_id: tenant, bucket, granularity: 'h', metric: 'status:delivered', value: wave - 3 });
      rows.push({ tenant_id: tenant, bucket, granularity: 'h', metric: 'status:failed', value: 3 });
    }
    for (let m = 48 * 60; m > 0; m -= 10) {
      const bucket = new Date(now - m * 60_000).toISOString().slice(0, 16);
      const wave = Math.round((8 + 6 * Math.sin(m / 90)) * scale);
      rows.push({ tenant_id: tenant, bucket, granularity: 'm', metric: 'messages', value: wave });
      rows.push({ tenant_id: tenant, bucket, granularity: 'm', metric: 'segments', value: wave * 2 });
      rows.push({ tenant_id: tenant, bucket, granularity: 'm', metric: 'requests', value: wave + 2 });
      rows.push({
        tenant_id: tenant,
        bucket,
        granularity: 'm',
        metric: 'status:delivered',
        value: Math.max(0, wave - 1),
      });
    }
  }
  for (let i = 0; i < rows.length; i += 150) {
    await gw.db
      .insertInto('usage_rollups')
      .values(rows.slice(i, i + 150))
      .execute();
  }

  // A dead letter for alpha: an event whose webhook gave up.
  const at = new Date(now - DAY / 4).toISOString();
  const payload = JSON.stringify({
    id: 'evt_seeded_dead',
    type: 'message.status',
    timestamp: at,
    data: { messageId: 'seed0000', status: 'delivered', to: '+61412001000', reference: 'order-0', at },
  });
  const [event] = await gw.db
    .insertInto('events')
    .values({
      event_id: 'evt_seeded_dead',
      tenant_id: 'alpha',
      type: 'message.status',
      payload,
      created_at: at,
    })
    .returning('id')
    .execute();
  const [dead] = await gw.db
    .insertInto('webhook_deliveries')
    .values({
      event_id: 'evt_seeded_dead',
      tenant_id: 'alpha',
      state: 'dead',
      attempts: 8,
      next_attempt_at: at,
      lease_until: null,
      last_status: 503,
      last_error: 'HTTP 503',
      created_at: at,
      updated_at: at,
    })
    .returning('id')
    .execute();
  void event;

  await gw.db
    .insertInto('inbound_messages')
    .values({
      id: 'inb_seeded_unrouted',
      provider_message_id: 'prov-inb-1',
      tenant_id: null,
      sender: '+61412009876',
      text: 'STOP please, call me on 0412009876',
      received_at: at,
      reply_to: null,
      routed_by: 'held',
      created_at: at,
      original_message_id: 'unknown-prov-id',
      custom_string: null,
    })
    .execute();
  return { deadLetterId: Number(dead!.id) };
}
