import type { Command } from 'commander';
import { CliError } from './errors.ts';
import { installProcessGuards } from './processGuards.ts';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve the web UI, the API and git over HTTP')
    .option('-p, --port <port>', 'port to listen on (GITOKU_PORT, default 3000)')
    .option('--host <host>', 'address to bind (GITOKU_HOST, default 0.0.0.0)')
    .option('--data-dir <dir>', 'data directory (GITOKU_DATA_DIR, default ./data)')
    .option('--no-embedded-runner', 'do not start the embedded job runner')
    .action(async (opts: { port?: string; host?: string; dataDir?: string; embeddedRunner: boolean }) => {
      installProcessGuards('serve');
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!/^\d+$/.test(opts.port) || port > 65535) throw new CliError(`--port must be a number between 0 and 65535, got "${opts.port}"`);
      }
      // Loaded on demand so that other commands do not pay for the server at start-up.
      const [{ loadConfig }, { createAppContext }, { ensureFirstAdmin }, { ensureDemo }, { findUserByName }, { sweepJobs }, { deleteExpiredSessions }] = await Promise.all([
        import('../config/index.ts'),
        import('../services/app.ts'),
        import('../services/bootstrap.ts'),
        import('../services/demo.ts'),
        import('../services/users.ts'),
        import('../services/runners.ts'),
        import('../services/sessions.ts'),
      ]);
      const config = loadConfig(process.env, { port, host: opts.host, dataDir: opts.dataDir });
      const explicitBaseUrl = !!process.env.GITOKU_BASE_URL;
      const app = await createAppContext(config);
      const { startHttpServer } = await import('../web/server.ts');
      const { startEmbeddedRunner } = await import('../runner/embedded.ts');
      // Listen before any first-run work: a port in use ends the command here, with nothing started.
      const server = await startHttpServer(app, config.host, config.port).catch(async (err: unknown) => {
        await app.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new CliError(`port ${config.port} is already in use on ${config.host} (is another gitoku running?): stop it, or choose another port with --port or GITOKU_PORT`);
        if (code === 'EACCES') throw new CliError(`not allowed to listen on port ${config.port} on ${config.host}: choose a port above 1023 with --port or GITOKU_PORT`);
        if (code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${config.host}: no such local address (set --host or GITOKU_HOST)`);
        throw err;
      });
      if (!explicitBaseUrl) app.config.baseUrl = server.url;
      const admin = await ensureFirstAdmin(app);
      const adminUser = admin && config.demo ? await findUserByName(app.db, admin.username) : undefined;
      const demoCreated = adminUser ? await ensureDemo(app, adminUser) : false;
      console.log(`gitoku ${app.dialect === 'sqlite' ? `on SQLite in ${config.dataDir}` : 'on PostgreSQL'} — listening on ${app.config.baseUrl}`);
      if (admin) {
        if (admin.password) console.log(`First run: created administrator "${admin.username}" with one-time password: ${admin.password}`);
        else console.log(`First run: created administrator "${admin.username}" with the password from GITOKU_ADMIN_PASSWORD`);
        if (demoCreated) console.log(`First run: created the demo repository ${app.config.baseUrl}/${admin.username}/demo`);
      }
      const runner = opts.embeddedRunner ? await startEmbeddedRunner(app, `http://127.0.0.1:${server.port}`) : null;
      const { Dispatcher } = await import('../events/dispatcher.ts');
      const { builtInBehaviors } = await import('../events/behaviors/index.ts');
      const dispatcher = new Dispatcher(app, builtInBehaviors(), { log: (l) => console.error(`[events] ${l}`) });
      dispatcher.start();
      // Ref moves a crash left on disk unrecorded: found now, every few minutes and on git requests.
      const refReconciler = (await import('../services/refReconciler.ts')).startRefReconciler(app);
      const cleanSessions = () => void deleteExpiredSessions(app).catch((err) => console.error('session clean-up failed:', err));
      cleanSessions();
      const sweeper = setInterval(() => void sweepJobs(app).catch((err) => console.error('job sweep failed:', err)), 10_000);
      sweeper.unref();
      const housekeeping = setInterval(cleanSessions, 3_600_000);
      housekeeping.unref();
      const shutdown = async () => {
        clearInterval(sweeper);
        clearInterval(housekeeping);
        await refReconciler.stop();
        await dispatcher.stop();
        await runner?.stop();
        await server.close();
        await app.close();
        process.exit(0);
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
