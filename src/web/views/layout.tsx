import type { Child, FC } from 'hono/jsx';
import type { PageContext } from './context.ts';
import { Avatar, CsrfField, FlashBanner } from './components.tsx';
import { Icon, Logo } from './icons.tsx';
import { HeaderSearch } from './searchBox.tsx';

export interface LayoutProps {
  ctx: PageContext;
  title: string;
  children?: Child;
  /** Extra class on <main> (e.g. "narrow" for forms). */
  size?: 'narrow' | 'default' | 'wide';
  /** Full-width content between the top bar and the page (a repository header, the landing hero). */
  band?: Child;
  /** Page-specific additions to <head> (a page's own stylesheet or script from /-/static). */
  head?: Child;
}

export const Layout: FC<LayoutProps> = ({ ctx, title, children, size = 'default', band, head }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light" />
      <title>{title === 'gitoku' ? 'gitoku' : `${title} · gitoku`}</title>
      <link rel="icon" href={`/-/static/favicon.svg?v=${ctx.assetVersion}`} type="image/svg+xml" />
      <link rel="stylesheet" href={`/-/static/gitoku.css?v=${ctx.assetVersion}`} />
      <script src={`/-/static/gitoku.js?v=${ctx.assetVersion}`} defer></script>
      {head}
    </head>
    <body>
      <a class="skip-link" href="#main">Skip to content</a>
      <TopBar ctx={ctx} />
      {band}
      <main id="main" class={size === 'default' ? 'container' : `container ${size}`}>
        {ctx.flash && <FlashBanner flash={ctx.flash} />}
        {children}
      </main>
      <footer class="site-footer">
        <div class="container footer-inner">
          <span class="footer-brand">
            <Logo size={18} /> gitoku
          </span>
          <span class="muted">A self-hosted git forge</span>
          <nav class="footer-links" aria-label="Footer">
            <a href="/api/v1/openapi.json">API</a>
          </nav>
        </div>
      </footer>
    </body>
  </html>
);

const TopBar: FC<{ ctx: PageContext }> = ({ ctx }) => (
  <header class="topbar">
    <div class="container topbar-inner">
      <a class="brand" href="/" aria-label="gitoku home">
        <Logo />
        <span class="brand-name">gitoku</span>
      </a>
      <HeaderSearch ctx={ctx} />
      <nav class="topnav" aria-label="Main">
        {ctx.user ? (
          <>
            <a href="/" class="topnav-link">
              Dashboard
            </a>
            <a href="/explore" class="topnav-link">
              Explore
            </a>
            <a href={`/${ctx.user.username}`} class="topnav-link hide-sm">
              Your repositories
            </a>
          </>
        ) : (
          <a href="/explore" class="topnav-link">
            Explore
          </a>
        )}
      </nav>
      <div class="topbar-actions">
        {ctx.user ? (
          <>
            <a class={ctx.user.unread ? 'topbar-bell unread' : 'topbar-bell'} href="/notifications" title={ctx.user.unread ? `${ctx.user.unread} unread notifications` : 'Notifications'} aria-label={ctx.user.unread ? `Notifications (${ctx.user.unread} unread)` : 'Notifications'}>
              <Icon name="bell" />
            </a>
            <a class="btn btn-topbar" href="/-/new" title="New repository">
              <Icon name="plus" />
              <span class="hide-sm">New</span>
            </a>
            <details class="menu">
              <summary class="menu-trigger" aria-label="Open user menu">
                <Avatar name={ctx.user.username} size="sm" src={ctx.user.avatarUrl} />
                <span class="caret" aria-hidden="true"></span>
              </summary>
              <div class="menu-panel" role="menu">
                <div class="menu-header">
                  Signed in as <strong>{ctx.user.username}</strong>
                </div>
                <a class="menu-item" href={`/${ctx.user.username}`} role="menuitem">
                  <Icon name="user" /> Your profile
                </a>
                <a class="menu-item" href="/-/new" role="menuitem">
                  <Icon name="plus" /> New repository
                </a>
                <a class="menu-item" href="/-/settings/profile" role="menuitem">
                  <Icon name="gear" /> Settings
                </a>
                <a class="menu-item" href="/-/settings/tokens" role="menuitem">
                  <Icon name="key" /> Access tokens
                </a>
                {ctx.user.isAdmin && (
                  <a class="menu-item" href="/-/admin" role="menuitem">
                    <Icon name="server" /> Site administration
                  </a>
                )}
                <div class="menu-sep"></div>
                <form method="post" action="/-/logout" class="menu-form">
                  <CsrfField ctx={ctx} />
                  <button type="submit" class="menu-item" role="menuitem">
                    <Icon name="signout" /> Sign out
                  </button>
                </form>
              </div>
            </details>
          </>
        ) : (
          <>
            <a class="topbar-link" href={loginHref(ctx)}>
              Sign in
            </a>
            {ctx.signupEnabled && (
              <a class="btn btn-topbar" href="/-/signup">
                Sign up
              </a>
            )}
          </>
        )}
      </div>
    </div>
  </header>
);

/** The sign-in link, returning to the current page afterwards (but not to the auth pages themselves). */
export function loginHref(ctx: PageContext): string {
  if (ctx.path === '/' || ctx.path.startsWith('/-/login') || ctx.path.startsWith('/-/signup')) return '/-/login';
  return `/-/login?next=${encodeURIComponent(ctx.path)}`;
}
