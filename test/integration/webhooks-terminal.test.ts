import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { signInWithForm } from '../helpers/formSession.ts';
import { sweepJobs } from '../../src/services/runners.ts';
import { WEBHOOK_JOB_KIND } from '../../src/services/webhookDelivery.ts';

/**
 * A delivery whose job ends for good without its attempt recording an outcome — the process running
 * the last attempt died (its lease expired with no attempts left), or an administrator cancelled the
 * job — ends as failed with the reason in the delivery log, never "pending" forever.
 */
describe.each(testDialects())('webhook deliveries whose job dies on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let siteAdmin: TestUser;
  let octokit: Octokit;
  const repo = 'dying';

  beforeAll(async () => {
    // No job worker: the delivery jobs stay queued until a test decides what becomes of them.
    server = await startTestServer(dialect, { GITOKU_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' }, { dispatcher: false });
    owner = await createTestUser(server);
    siteAdmin = await createTestUser(server, { admin: true, scopes: ['repo', 'admin'] });
    octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
    expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: repo } })).status).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
  });

  /** A new hook (its ping is queued) and the ping delivery's job. */
  async function hookWithQueuedPing(path: string) {
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `http://127.0.0.1:9/${path}` }, events: ['push'] });
    const { data: deliveries } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hook.data.id });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.status).toBe('pending');
    const jobs = await server.app.db.selectFrom('jobs').selectAll().where('kind', '=', WEBHOOK_JOB_KIND).execute();
    const job = jobs.find((j) => (JSON.parse(j.payload) as { delivery_id: number }).delivery_id === deliveries[0]!.id)!;
    expect(job.status).toBe('queued');
    return { hookId: hook.data.id, deliveryId: deliveries[0]!.id, job };
  }

  async function delivery(hookId: number, deliveryId: number) {
    return (await octokit.rest.repos.getWebhookDelivery({ owner: owner.username, repo, hook_id: hookId, delivery_id: deliveryId })).data;
  }

  it('fails the delivery with the reason when its last attempt died (lease expired, no attempts left)', async () => {
    const { hookId, deliveryId, job } = await hookWithQueuedPing('dies');
    // A server claimed the last attempt and died with it: the job is running under a lease long expired.
    await server.app.db
      .updateTable('jobs')
      .set({ status: 'running', lease_owner: 'server-that-crashed', lease_expires_at: new Date(Date.now() - 60_000).toISOString(), attempts: job.max_attempts })
      .where('id', '=', job.id)
      .execute();
    await sweepJobs(server.app);
    const ended = await server.app.db.selectFrom('jobs').select(['status', 'last_error']).where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(ended.status).toBe('failed');
    const d = await delivery(hookId, deliveryId);
    expect(d.status).not.toBe('pending');
    expect(d.status).toMatch(/^delivery job failed: .*lease expired/);
    // The log says so too: the list and the hook's last response.
    const { data: list } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hookId });
    expect(list[0]).toMatchObject({ id: deliveryId, status: d.status });
    const hook = await octokit.rest.repos.getWebhook({ owner: owner.username, repo, hook_id: hookId });
    expect(hook.data.last_response).toMatchObject({ status: 'failed', message: d.status });
    // The delivery log page shows the reason.
    const { session } = await signInWithForm(server, owner.username, owner.password);
    const page = await session!.get(`/${owner.username}/${repo}/settings/hooks/${hookId}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('lease expired');
  });

  it('fails the delivery when an administrator cancels its job', async () => {
    const { hookId, deliveryId, job } = await hookWithQueuedPing('cancelled');
    const res = await api(server, 'POST', `/admin/jobs/${job.id}/cancel`, { token: siteAdmin.token });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('cancelled');
    const d = await delivery(hookId, deliveryId);
    expect(d.status).toBe('delivery job cancelled: cancelled by a site administrator');
  });

  it('leaves a delivered delivery alone when its job is swept afterwards', async () => {
    const { hookId, deliveryId, job } = await hookWithQueuedPing('done');
    await server.app.db.updateTable('webhook_deliveries').set({ status: 'delivered', response_status: 200, error: null }).where('id', '=', deliveryId).execute();
    await server.app.db
      .updateTable('jobs')
      .set({ status: 'running', lease_owner: 'server-that-crashed', lease_expires_at: new Date(Date.now() - 60_000).toISOString(), attempts: job.max_attempts })
      .where('id', '=', job.id)
      .execute();
    await sweepJobs(server.app);
    expect((await delivery(hookId, deliveryId)).status).toBe('OK');
  });
});
