import type { Command } from 'commander';
import { withApp, printJson } from './context.ts';
import { CliError } from './errors.ts';
import { parseRepoSlug } from './repo.ts';

export function registerGraphCommands(program: Command): void {
  const graph = program.command('graph').description('The knowledge graph, on the configured database');
  graph
    .command('backfill')
    .description('Rebuild the graph from provenance rows and runs (idempotent): run, evidence, file_range, commit and agent nodes and their edges')
    .option('--repo <owner/name>', 'only this repository (default: all)')
    .option('--json', 'print the summary as JSON', false)
    .action(async (opts: { repo?: string; json: boolean }) => {
      await withApp(async (app) => {
        const [{ findRepository }, { backfillGraph }] = await Promise.all([import('../services/repositories.ts'), import('../services/provenanceGraph.ts')]);
        let repositoryId: number | undefined;
        if (opts.repo) {
          const { owner, name } = parseRepoSlug(opts.repo);
          const repo = await findRepository(app.db, owner, name);
          if (!repo) throw new CliError(`repository ${opts.repo} does not exist`);
          repositoryId = repo.id;
        }
        const summary = await backfillGraph(app, repositoryId);
        if (opts.json) printJson(summary);
        else console.log(`Graph rebuilt for ${summary.repositories} repositor${summary.repositories === 1 ? 'y' : 'ies'}: ${summary.runs} runs, ${summary.captures} captures, ${summary.removed_evidence} stale evidence nodes removed.`);
      });
    });
}
