import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import { Layout, loginHref } from '../layout.tsx';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign in required',
  403: 'Access denied',
  404: 'Page not found',
  413: 'Too large',
  422: 'Could not process that',
  500: 'Something went wrong',
};

const DEFAULT_MESSAGES: Record<number, string> = {
  403: "You don't have permission to do that.",
  404: "The page you're looking for doesn't exist, or you don't have access to it.",
  500: 'An unexpected error happened on our side. It has been logged.',
};

export const ErrorPage: FC<{ ctx: PageContext; status: number; message?: string }> = ({ ctx, status, message }) => (
  <Layout ctx={ctx} title={TITLES[status] ?? 'Error'} size="narrow">
    <div class="error-page">
      <div class="error-code">{status}</div>
      <h1>{TITLES[status] ?? 'Error'}</h1>
      <p class="muted">{message ?? DEFAULT_MESSAGES[status] ?? ''}</p>
      <div class="hero-actions">
        <a class="btn btn-primary" href="/">
          Go home
        </a>
        {!ctx.user && status !== 401 && (
          <a class="btn" href={loginHref(ctx)}>
            Sign in
          </a>
        )}
      </div>
    </div>
  </Layout>
);
