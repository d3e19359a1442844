import type { Command } from 'commander';
import { CliError } from './errors.ts';

export function registerRunnerCommand(program: Command): void {
  program
    .command('runner')
    .description('Run agent jobs for a gitoku server (on this or another machine)')
    .requiredOption('--server <url>', 'gitoku server URL')
    .requiredOption('--token <token>', 'runner token, or a registration token (gtreg_…) to register first')
    .option('--concurrency <n>', 'jobs at a time', '1')
    .option('--labels <labels>', 'comma-separated labels', '')
    .option('--name <name>', 'runner name (default: host-pid)')
    .option('--sandbox <kind>', 'auto | bubblewrap | directory', 'auto')
    .action(async (opts: { server: string; token: string; concurrency: string; labels: string; name?: string; sandbox: string }) => {
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new CliError('--concurrency must be 1..64');
      if (!['auto', 'bubblewrap', 'directory'].includes(opts.sandbox)) throw new CliError('--sandbox must be auto, bubblewrap or directory');
      const labels = opts.labels.split(',').map((l) => l.trim()).filter(Boolean);
      const [{ RunnerClient }, { defaultRunnerName, JobRunner }, { detectSandbox }, { REGISTRATION_TOKEN_PREFIX }] = await Promise.all([
        import('../runner/client.ts'),
        import('../runner/runner.ts'),
        import('../runner/sandbox.ts'),
        import('../services/runners.ts'),
      ]);
      let token = opts.token;
      const name = opts.name ?? defaultRunnerName();
      if (token.startsWith(REGISTRATION_TOKEN_PREFIX)) {
        const registered = await RunnerClient.register(opts.server, token, name, labels, '0.1.0').catch((e: Error) => {
          throw new CliError(e.message);
        });
        token = registered.token;
        console.log(`Registered runner #${registered.id} "${name}". Its token (use --token next time): ${token}`);
      }
      const sandbox = await detectSandbox(opts.sandbox as 'auto');
      const runner = new JobRunner({ client: new RunnerClient(opts.server, token), sandbox, concurrency, log: (l) => console.log(`[runner] ${l}`) });
      runner.start();
      console.log(`gitoku runner "${name}" polling ${opts.server} (${concurrency} slot${concurrency === 1 ? '' : 's'}, ${sandbox.name} sandbox)`);
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
