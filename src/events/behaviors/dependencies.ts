import type { Behavior } from '../registry.ts';
import { getRunById, settleDependents } from '../../services/runs.ts';

/** A finished run unblocks the runs that wait for it, or fails them when it did not succeed. */
export const taskDependencies: Behavior = {
  key: 'task-dependencies',
  description: 'Start blocked runs when all their dependencies succeeded; fail them when one failed or was cancelled',
  on: ['run.succeeded', 'run.failed', 'run.cancelled'],
  optional: false,
  when: () => true,
  async run(event, { app }) {
    const run = await getRunById(app.db, Number(event.payload.run_id));
    if (!run) return { outcome: 'run no longer exists' };
    const { started, failed } = await settleDependents(app, run);
    const parts = [started.length ? `started ${started.map((r) => `#${r.number}`).join(', ')}` : '', failed.length ? `failed ${failed.map((r) => `#${r.number}`).join(', ')}` : ''].filter(Boolean);
    return { outcome: parts.join('; ') || 'no blocked run depends on it', links: [...started, ...failed].map((r) => ({ kind: 'run' as const, id: r.number, label: `run #${r.number}` })) };
  },
};
