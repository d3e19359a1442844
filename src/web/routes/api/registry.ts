import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { WebEnv } from '../../context.ts';
import { ServiceError } from '../../../services/errors.ts';
import { parseJsonBody } from '../../../domain/json.ts';
import { ROUTE_ACCESS, type RouteAccess } from '../../../domain/permissions.ts';
import { enforceRouteAccess } from './guards.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: Method;
  /** OpenAPI-style path: `/repos/{owner}/{repo}`; `{name+}` matches several segments. */
  path: string;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  /** Response schemas by status (documentation only). */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** Who may call the route (sign-in, token scope, site admin): ROUTE_ACCESS in domain/permissions.ts. Checked before the handler, before the body is read. */
  access: RouteAccess;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;
export type Handler<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> = (
  c: Context<WebEnv>,
  input: { body: Infer<B>; query: Infer<Q> },
) => Promise<Response> | Response;

/** Turns `{owner}` into `:owner` and `{path+}` into `:path{.+}` for Hono. */
function honoPath(path: string): string {
  return path.replace(/\{(\w+)\+\}/g, ':$1{.+}').replace(/\{(\w+)\}/g, ':$1');
}

export function apiError(c: Context<WebEnv>, status: number, message: string, extra: Record<string, unknown> = {}) {
  return c.json({ message, ...extra }, status as 400);
}

function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  const field = issue.path.map(String).join('.') || '(body)';
  return { field, message: issue.message };
}

/** The JSON API's routes: each validates its input with zod and documents itself in the OpenAPI document. */
export class ApiRegistry {
  readonly specs: RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[] = [];

  constructor(private readonly hono: Hono<WebEnv>) {}

  add<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(spec: RouteSpec<B, Q>, handler: Handler<B, Q>): void {
    this.specs.push(spec as RouteSpec<z.ZodType | undefined, z.ZodType | undefined>);
    this.hono.on(spec.method.toUpperCase(), honoPath(spec.path), async (c) => {
      try {
        enforceRouteAccess(c, spec.access);
        let body: unknown = undefined;
        if (spec.body) {
          // Depth-bounded before parsing: deep nesting would overflow the stack of whatever walks it.
          const parsedBody = parseJsonBody(await c.req.text());
          if (!parsedBody.ok) return apiError(c, 400, parsedBody.message);
          const raw = parsedBody.value;
          const nul = findNulString(raw, []);
          if (nul) return validationFailedFields(c, [{ field: nul.join('.') || '(body)', message: 'must not contain NUL characters' }]);
          const parsed = spec.body.safeParse(raw);
          if (!parsed.success) return validationFailed(c, parsed.error);
          body = parsed.data;
        }
        let query: unknown = undefined;
        if (spec.query) {
          const parsed = spec.query.safeParse(c.req.query());
          if (!parsed.success) return validationFailed(c, parsed.error);
          query = parsed.data;
        }
        return await handler(c, { body: body as Infer<B>, query: query as Infer<Q> });
      } catch (err) {
        if (err instanceof ServiceError) {
          if (err.status === 422 && err.field) return validationFailedFields(c, [{ field: err.field, message: err.message }]);
          return apiError(c, err.status, err.message);
        }
        throw err;
      }
    });
  }

  openApiDocument(serverUrl: string): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const spec of this.specs) {
      const path = spec.path.replace(/\{(\w+)\+\}/g, '{$1}');
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      if (spec.query) {
        const schema = z.toJSONSchema(spec.query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, object>; required?: string[] };
        for (const [name, s] of Object.entries(schema.properties ?? {})) {
          params.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: s as { type: string } });
        }
      }
      const op: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        operationId: `${spec.method}${spec.path.replace(/[{}+]/g, '').replace(/\/(\w)/g, (_, ch: string) => ch.toUpperCase()).replace(/[^A-Za-z0-9]/g, '')}`,
        parameters: params,
        responses: Object.fromEntries(
          Object.entries(spec.responses).map(([status, r]) => [
            status,
            r.schema ? { description: r.description, content: { 'application/json': { schema: z.toJSONSchema(r.schema, { unrepresentable: 'any' }) } } } : { description: r.description },
          ]),
        ),
      };
      if (spec.body) op.requestBody = { required: true, content: { 'application/json': { schema: z.toJSONSchema(spec.body, { io: 'input', unrepresentable: 'any' }) } } };
      const rule = ROUTE_ACCESS[spec.access];
      if (rule.signIn) op.security = [{ bearer: rule.scope ? [rule.scope] : [] }];
      (paths[path] ??= {})[spec.method] = op;
    }
    return {
      openapi: '3.1.0',
      info: { title: 'gitoku API', version: '1', description: "gitoku's JSON API. Resource shapes follow GitHub's REST API where the resource exists there." },
      servers: [{ url: serverUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A personal access token (`Authorization: Bearer <token>` or `token <token>`)' } } },
      paths,
    };
  }
}

/** The path of the first string in a JSON value that contains U+0000 (PostgreSQL cannot store it in text), or null. */
function findNulString(value: unknown, path: string[]): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = findNulString(item, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}

function validationFailed(c: Context<WebEnv>, error: z.ZodError) {
  return validationFailedFields(c, error.issues.map(describeIssue));
}

function validationFailedFields(c: Context<WebEnv>, problems: { field: string; message: string }[]) {
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  return c.json(
    {
      message: `Validation Failed: ${summary}`,
      errors: problems.map((p) => ({ resource: 'Request', field: p.field, code: 'invalid', message: p.message })),
    },
    422,
  );
}

/** page/per_page query parameters, as GitHub: per_page defaults to 30, at most 100. */
export const paginationQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(30),
});

/** Sets GitHub-style `Link` headers (first/prev/next/last) for a paginated listing. */
export function setPaginationLinks(c: Context<WebEnv>, baseUrl: string, page: number, perPage: number, total: number): void {
  const last = Math.max(1, Math.ceil(total / perPage));
  const url = new URL(c.req.url);
  const link = (p: number, rel: string) => {
    const u = new URL(baseUrl + url.pathname + url.search);
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(perPage));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
  if (links.length) c.header('Link', links.join(', '));
}
