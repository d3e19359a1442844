import type { Command } from 'commander';
import { CliError } from './errors.ts';
import { installProcessGuards } from './processGuards.ts';

export function registerRunnerCommand(program: Command): void {
  program
    .command('runner')
    .description('Run agent jobs for a gitoku server (on this or another machine)')
    .requiredOption('--server <url>', 'gitoku server URL')
    .requiredOption('--token <token>', 'runner token, or a registration token (gtreg_…) to register first')
    .option('--concurrency <n>', 'jobs at a time', '1')
    .option('--labels <labels>', 'comma-separated labels', '')
    .option('--name <name>', 'runner name (default: host-pid)')
    .option('--sandbox <kind>', 'auto | bubblewrap | directory (GITOKU_SANDBOX; directory runs agents WITHOUT isolation)', process.env.GITOKU_SANDBOX || 'auto')
    .action(async (opts: { server: string; token: string; concurrency: string; labels: string; name?: string; sandbox: string }) => {
      // A non-root runner moves into its own user namespace, where overlay snapshots can be mounted.
      const { reexecInUserNamespace } = await import('../runner/userNamespace.ts');
      const reexecuted = await reexecInUserNamespace();
      if (reexecuted !== null) process.exit(reexecuted);
      installProcessGuards('runner');
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new CliError('--concurrency must be 1..64');
      if (!['auto', 'bubblewrap', 'directory'].includes(opts.sandbox)) throw new CliError('--sandbox must be auto, bubblewrap or directory');
      const labels = opts.labels.split(',').map((l) => l.trim()).filter(Boolean);
      const [{ RunnerClient }, { defaultRunnerName, JobRunner }, { detectSandbox, sandboxWarning }, { REGISTRATION_TOKEN_PREFIX }] = await Promise.all([
        import('../runner/client.ts'),
        import('../runner/runner.ts'),
        import('../runner/sandbox.ts'),
        import('../services/runners.ts'),
      ]);
      const [{ openSnapshotStore }, { limitsFromEnvironment }] = await Promise.all([import('../runner/snapshots.ts'), import('../runner/limits.ts')]);
      let token = opts.token;
      const name = opts.name ?? defaultRunnerName();
      const registrationToken = token.startsWith(REGISTRATION_TOKEN_PREFIX) ? token : null;
      const register = async () => {
        const registered = await RunnerClient.register(opts.server, registrationToken!, name, labels, '0.1.0');
        console.log(`Registered runner #${registered.id} "${name}". Its token (use --token next time): ${registered.token}`);
        return registered.token;
      };
      if (registrationToken) {
        token = await register().catch((e: Error) => {
          throw new CliError(e.message);
        });
      }
      const sandbox = await (async () => detectSandbox(opts.sandbox as 'auto', limitsFromEnvironment(), await openSnapshotStore(process.env, { persistent: true })))().catch((e: Error) => {
        throw new CliError(e.message);
      });
      const warning = sandboxWarning(sandbox);
      if (warning) console.error(`[runner] ${warning}`);
      // Started with a registration token, the runner keeps it to register again should its runner token be
      // revoked; started with a runner token, it can only keep retrying that token (and says so).
      const runner = new JobRunner({
        client: new RunnerClient(opts.server, token),
        sandbox,
        concurrency,
        log: (l) => console.log(`[runner] ${l}`),
        reregister: registrationToken ? register : undefined,
      });
      runner.start();
      console.log(`gitoku runner "${name}" polling ${opts.server} (${concurrency} slot${concurrency === 1 ? '' : 's'}, ${sandbox.name} sandbox, ${sandbox.store ? `${sandbox.store.mode} snapshots${process.env.GITOKU_RUNNER_USERNS === '1' ? ' in a user namespace' : ''}` : 'no snapshots'})`);
      await new Promise<void>((resolve) => {
        const stop = async () => {
          console.log('[runner] stopping…');
          await runner.stop();
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
