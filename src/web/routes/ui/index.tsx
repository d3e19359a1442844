import { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';

export function uiRoutes(): Hono<WebEnv> {
  const ui = new Hono<WebEnv>();
  ui.get('/', (c) => c.text('gitoku'));
  return ui;
}
