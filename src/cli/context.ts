import type { ConfigOverrides } from '../config/index.ts';
import type { AppContext } from '../services/app.ts';

/**
 * Runs a CLI action against the configured database (GITOKU_DATA_DIR / GITOKU_DATABASE_URL), closing it
 * afterwards. The server code loads only here, so commands that only talk HTTP start fast.
 */
export async function withApp<T>(fn: (app: AppContext) => Promise<T>, overrides: ConfigOverrides = {}): Promise<T> {
  const [{ loadConfig }, { createAppContext }] = await Promise.all([import('../config/index.ts'), import('../services/app.ts')]);
  const app = await createAppContext(loadConfig(process.env, overrides));
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
