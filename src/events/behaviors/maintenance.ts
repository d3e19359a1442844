import type { Behavior } from '../registry.ts';
import { scheduleRepositoryMaintenance } from '../../services/maintenance.ts';

/**
 * Repository maintenance after pushes: a branch or tag that moved to new commits schedules a
 * (debounced) maintenance job — commit-graph with changed-path Bloom filters, packed refs, geometric
 * repack — that the server's job worker runs later, never in the push path.
 */
export const repositoryMaintenance: Behavior = {
  key: 'repository-maintenance',
  description: 'Keep the repository fast after pushes: commit-graph with changed-path Bloom filters, packed refs, repacks (debounced, as a server job)',
  on: ['ref.updated'],
  optional: false,
  // Branches and tags only: the hidden refs of agent runs' checkpoints are not pushes people make.
  when: (event, ctx) => ctx.repo !== null && event.payload.deleted !== true && /^refs\/(heads|tags)\//.test(String(event.payload.ref ?? '')),
  async run(_event, { app, repo }) {
    const result = await scheduleRepositoryMaintenance(app, repo!.id);
    return { outcome: result === 'scheduled' ? 'maintenance scheduled' : 'maintenance already scheduled' };
  },
};
