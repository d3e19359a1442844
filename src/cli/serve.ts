import cluster from 'node:cluster';
import type { Command } from 'commander';
import { CliError } from './errors.ts';
import { installProcessGuards } from './processGuards.ts';
import type { AppContext } from '../services/app.ts';
import type { Config } from '../config/index.ts';

interface ServeOptions {
  port?: string;
  host?: string;
  dataDir?: string;
  embeddedRunner: boolean;
  workers?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve the web UI, the API and git over HTTP')
    .option('-p, --port <port>', 'port to listen on (GITOKU_PORT, default 3000)')
    .option('--host <host>', 'address to bind (GITOKU_HOST, default 0.0.0.0)')
    .option('--data-dir <dir>', 'data directory (GITOKU_DATA_DIR, default ./data)')
    .option('--workers <n>', 'HTTP worker processes sharing the port (GITOKU_WORKERS, default: the number of cores; 1 = one process)')
    .option('--no-embedded-runner', 'do not start the embedded job runner')
    .action(async (opts: ServeOptions) => {
      installProcessGuards(cluster.isWorker ? `serve worker ${process.env.GITOKU_WORKER_ID ?? ''}`.trim() : 'serve');
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!/^\d+$/.test(opts.port) || port > 65535) throw new CliError(`--port must be a number between 0 and 65535, got "${opts.port}"`);
      }
      const { resolveWorkerCount } = await import('./workers.ts');
      const workers = resolveWorkerCount(opts.workers, process.env);
      const { loadConfig } = await import('../config/index.ts');
      const config = loadConfig(process.env, { port, host: opts.host, dataDir: opts.dataDir });
      if (cluster.isWorker) await serveAsWorker(config);
      else if (workers > 1) await serveAsPrimary(config, opts, workers);
      else await serveSingleProcess(config, opts);
    });
}

/** Port errors, in words (the same whether one process or a worker failed to listen). */
function listenError(err: unknown, config: Config): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new CliError(`port ${config.port} is already in use on ${config.host} (is another gitoku running?): stop it, or choose another port with --port or GITOKU_PORT`);
  if (code === 'EACCES') return new CliError(`not allowed to listen on port ${config.port} on ${config.host}: choose a port above 1023 with --port or GITOKU_PORT`);
  if (code === 'EADDRNOTAVAIL') return new CliError(`cannot listen on ${config.host}: no such local address (set --host or GITOKU_HOST)`);
  return err;
}

/** First-run work (administrator, demo) and the start-up lines; once, in the only or the primary process. */
async function firstRun(app: AppContext, config: Config, workers: number): Promise<void> {
  const [{ ensureFirstAdmin }, { ensureDemo }, { findUserByName }] = await Promise.all([import('../services/bootstrap.ts'), import('../services/demo.ts'), import('../services/users.ts')]);
  const admin = await ensureFirstAdmin(app);
  const adminUser = admin && config.demo ? await findUserByName(app.db, admin.username) : undefined;
  const demoCreated = adminUser ? await ensureDemo(app, adminUser) : false;
  const where = app.dialect === 'sqlite' ? `on SQLite in ${config.dataDir}` : 'on PostgreSQL';
  console.log(`gitoku ${where}${workers > 1 ? ` with ${workers} HTTP workers` : ''} — listening on ${app.config.baseUrl}`);
  if (admin) {
    if (admin.password) console.log(`First run: created administrator "${admin.username}" with one-time password: ${admin.password}`);
    else console.log(`First run: created administrator "${admin.username}" with the password from GITOKU_ADMIN_PASSWORD`);
    if (demoCreated) console.log(`First run: created the demo repository ${app.config.baseUrl}/${admin.username}/demo`);
  }
}

/**
 * What runs once per deployment unit besides HTTP: the embedded runner, the event dispatcher, the
 * server's own jobs (webhook deliveries), the ref reconciler, the job sweeper and session clean-up.
 * Returns their stop function.
 */
async function startBackground(app: AppContext, embeddedRunner: boolean, serverPort: number): Promise<() => Promise<void>> {
  const [{ sweepJobs }, { deleteExpiredSessions }, { startEmbeddedRunner }, { Dispatcher }, { builtInBehaviors }, { ServerJobWorker }, { startRefReconciler }] = await Promise.all([
    import('../services/runners.ts'),
    import('../services/sessions.ts'),
    import('../runner/embedded.ts'),
    import('../events/dispatcher.ts'),
    import('../events/behaviors/index.ts'),
    import('../services/serverJobs.ts'),
    import('../services/refReconciler.ts'),
  ]);
  const runner = embeddedRunner ? await startEmbeddedRunner(app, `http://127.0.0.1:${serverPort}`) : null;
  const dispatcher = new Dispatcher(app, builtInBehaviors(), { log: (l) => console.error(`[events] ${l}`) });
  dispatcher.start();
  // The server's own jobs (webhook deliveries), from the same queue the runners use.
  const serverJobs = new ServerJobWorker(app, { log: (l) => console.error(`[jobs] ${l}`) });
  serverJobs.start();
  // Ref moves a crash left on disk unrecorded: found now, every few minutes and on git requests.
  const refReconciler = startRefReconciler(app);
  const cleanSessions = () => void deleteExpiredSessions(app).catch((err) => console.error('session clean-up failed:', err));
  cleanSessions();
  const sweeper = setInterval(() => void sweepJobs(app).catch((err) => console.error('job sweep failed:', err)), 10_000);
  sweeper.unref();
  const housekeeping = setInterval(cleanSessions, 3_600_000);
  housekeeping.unref();
  return async () => {
    clearInterval(sweeper);
    clearInterval(housekeeping);
    await refReconciler.stop();
    await serverJobs.stop();
    await dispatcher.stop();
    await runner?.stop();
  };
}

/** `--workers 1`: everything in this one process (as before issue 19). */
async function serveSingleProcess(config: Config, opts: ServeOptions): Promise<void> {
  const explicitBaseUrl = !!process.env.GITOKU_BASE_URL;
  const { createAppContext } = await import('../services/app.ts');
  const app = await createAppContext(config);
  const { startHttpServer } = await import('../web/server.ts');
  // Listen before any first-run work: a port in use ends the command here, with nothing started.
  const server = await startHttpServer(app, config.host, config.port).catch(async (err: unknown) => {
    await app.close();
    throw listenError(err, config);
  });
  if (!explicitBaseUrl) app.config.baseUrl = server.url;
  // Signals are handled from the moment the port is taken: a stop during the first-run work waits for it.
  const background = (async () => {
    await firstRun(app, config, 1);
    return startBackground(app, opts.embeddedRunner, server.port);
  })();
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await (await background.catch(() => null))?.();
    await server.close();
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  await background;
}

/**
 * The cluster's primary: migrates (opening the database does), forks the HTTP workers, then does the
 * first-run work and runs the background services once (see src/cli/workers.ts).
 */
async function serveAsPrimary(config: Config, opts: ServeOptions, count: number): Promise<void> {
  const explicitBaseUrl = !!process.env.GITOKU_BASE_URL;
  const { createAppContext } = await import('../services/app.ts');
  const { startWorkerPool } = await import('./workers.ts');
  const app = await createAppContext(config);
  const log = (line: string) => console.error(`[cluster] ${line}`);
  const pool = await startWorkerPool({ count, log, signals: app.dialect === 'sqlite' ? app.signals : null }).catch(async (err: unknown) => {
    await app.close();
    throw listenError(err, config);
  });
  if (!explicitBaseUrl) app.config.baseUrl = pool.url;
  // Signals are handled from the moment the workers listen: a stop during the first-run work waits for it.
  const background = (async () => {
    await firstRun(app, config, count);
    return startBackground(app, opts.embeddedRunner, pool.port);
  })();
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await (await background.catch(() => null))?.();
    await pool.stop();
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  await background;
}

/** An HTTP worker of the cluster: serves requests, nothing else. */
async function serveAsWorker(config: Config): Promise<void> {
  const explicitBaseUrl = !!process.env.GITOKU_BASE_URL;
  const { bridgeWorkerSignals, clusterWorkerId, reportListening, reportListenFailure } = await import('./workers.ts');
  const { createAppContext } = await import('../services/app.ts');
  const { startHttpServer } = await import('../web/server.ts');
  const id = clusterWorkerId()!;
  const app = await createAppContext(config);
  bridgeWorkerSignals(app.signals, app.dialect);
  const server = await startHttpServer(app, config.host, config.port, { headers: { 'X-Gitoku-Worker': String(id) } }).catch(async (err: unknown) => {
    reportListenFailure(err);
    await app.close();
    process.exit(1);
  });
  if (!explicitBaseUrl) app.config.baseUrl = server.url;
  reportListening(server.port, server.url);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    await app.close();
    process.exit(0);
  };
  // Ctrl-C reaches the whole process group: the primary stops the workers in order (SIGTERM).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', shutdown);
  // The primary is gone (killed): nothing restarts or stops this worker any more.
  process.on('disconnect', shutdown);
}
