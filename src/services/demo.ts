import type { AppContext } from './app.ts';
import { createRepository, authorizeRepository } from './repositories.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { createPullRequest } from './pulls.ts';
import { repositoryGitDir } from './storage.ts';
import type { User } from '../db/schema.ts';
import { commitFilesOnto } from '../git/repository.ts';
import { compareAndSwapRef } from '../git/mergeCommits.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { startRun } from './runs.ts';

const README = `# demo

A small project that gitoku created on first start so there is something to look at:
browse the files, read the history, and open the pull request **Greet by name**.

\`\`\`sh
node src/greet.js world
node --test
\`\`\`
`;

const GREET_V1 = `export function greet(name) {
  return 'Hello, ' + name + '!';
}

if (import.meta.url === \`file://\${process.argv[1]}\`) {
  console.log(greet(process.argv[2] ?? 'world'));
}
`;

const GREET_V2 = `/** Greets someone by name; an empty name greets the world. */
export function greet(name) {
  const who = name && name.trim() ? name.trim() : 'world';
  return \`Hello, \${who}!\`;
}

if (import.meta.url === \`file://\${process.argv[1]}\`) {
  console.log(greet(process.argv[2]));
}
`;

const TEST_V1 = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greet } from '../src/greet.js';

test('greets', () => {
  assert.equal(greet('Ada'), 'Hello, Ada!');
});
`;

const TEST_V2 = TEST_V1 + `
test('greets the world when the name is empty', () => {
  assert.equal(greet('  '), 'Hello, world!');
});
`;

const DEMO_PROMPT = `Add a farewell function next to greet, with a test, and mention it in the README.

This demo task uses the scripted driver, which needs no model or API key: it executes the block below.
It only writes files (the runner does that itself, confined to the checkout), so it works on a machine
without bubblewrap too, where no agent process may run.

\`\`\`gitoku-script
think greet.js exports greet(name); a farewell(name) beside it keeps the module small.
write src/farewell.js
/** Says goodbye by name; an empty name says goodbye to the world. */
export function farewell(name) {
  const who = name && name.trim() ? name.trim() : 'world';
  return \`Goodbye, \${who}!\`;
}
end
write test/farewell.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { farewell } from '../src/farewell.js';

test('says goodbye', () => {
  assert.equal(farewell('Ada'), 'Goodbye, Ada!');
});
end
append README.md

\`src/farewell.js\` says goodbye: \`farewell('Ada')\` → \`Goodbye, Ada!\`
end
say Added src/farewell.js with a test (node --test runs it), and documented it in the README.
\`\`\`
`;

/**
 * On a fresh instance (no repositories yet), creates `admin/demo` with a short history, a feature
 * branch and an open pull request, so a new user sees a working forge without any setup.
 */
export async function ensureDemo(app: AppContext, admin: User): Promise<boolean> {
  const any = await app.db.selectFrom('repositories').select('id').limit(1).executeTakeFirst();
  if (any) return false;
  const repo = await createRepository(app, admin, { name: 'demo', description: 'A demo project created on first start' });
  // The demo keeps the scripted reviewer explicitly (offline, labelled "scripted"): new repositories have
  // no reviewing agent unless the server names one.
  await app.db.updateTable('repositories').set({ review_driver: 'script' }).where('id', '=', repo.id).execute();
  const gitDir = repositoryGitDir(app, repo);
  const ada = { name: 'Ada Lovelace', email: 'ada@example.com' };
  const first = await commitFilesOnto(gitDir, null, [
    { path: 'README.md', content: README },
    { path: 'package.json', content: '{\n  "name": "demo",\n  "type": "module",\n  "scripts": { "test": "node --test" }\n}\n' },
    { path: 'src/greet.js', content: GREET_V1 },
  ], 'Start the demo project', ada);
  const second = await commitFilesOnto(gitDir, first, [{ path: 'test/greet.test.js', content: TEST_V1 }], 'Add a test for greet', ada);
  await compareAndSwapRef(gitDir, 'refs/heads/main', second, ZERO_SHA);
  const feature = await commitFilesOnto(gitDir, second, [
    { path: 'src/greet.js', content: GREET_V2 },
    { path: 'test/greet.test.js', content: TEST_V2 },
  ], 'Greet the world when the name is empty', { name: 'Grace Hopper', email: 'grace@example.com' });
  await compareAndSwapRef(gitDir, 'refs/heads/greet-by-name', feature, ZERO_SHA);
  await handleRepositoryRefChanges(app, repo, [
    { ref: 'refs/heads/main', before: ZERO_SHA, after: second },
    { ref: 'refs/heads/greet-by-name', before: ZERO_SHA, after: feature },
  ], { kind: 'api', actorId: admin.id });
  const access = await authorizeRepository(app, admin.username, 'demo', { userId: admin.id, isAdmin: true, tokenScopes: null }, 'write');
  await createPullRequest(app, access, admin, {
    title: 'Greet by name',
    head: 'greet-by-name',
    base: 'main',
    body: 'An empty or blank name now greets the world, and the greeting trims whitespace.\n\n- [x] test for the empty name',
  });
  // A scripted agent run (offline, no API key): the embedded runner picks it up at start-up and its
  // result arrives as a draft pull request with the full trace.
  await startRun(app, access, admin, { title: 'Add a farewell function', prompt: DEMO_PROMPT, driver: 'script' });
  return true;
}
