import { colourSlot } from './format.ts';
import { escapeHtml } from './highlight.ts';

/** The avatar colours of the pages' initials (.avatar-c0 … c7 in gitoku.css), in slot order. */
const COLOURS = ['#5b4bdb', '#0f7b6c', '#c2410c', '#1d6fd1', '#b42318', '#7e22ce', '#3f6212', '#a21caf'];

/** The URL path of a user's avatar: a generated initials SVG, like the pages' avatars. */
export function avatarPath(login: string): string {
  return `/-/avatars/${encodeURIComponent(login)}.svg`;
}

/**
 * Where a user's avatar is served: their uploaded image when they have one (the file name changes
 * with the content), else the generated SVG (which redirects to an uploaded one made since).
 */
export function userAvatarPath(user: { id: number; username: string; avatar?: string | null }): string {
  return user.avatar ? `/-/avatars/u/${user.id}/${encodeURIComponent(user.avatar)}` : avatarPath(user.username);
}

/**
 * A user's avatar as an SVG: the first letter of the login on the colour the pages use for it. It is
 * made from the name alone (no lookup), so it says nothing about whether the user exists.
 */
export function avatarSvg(login: string): string {
  const letter = escapeHtml(([...login][0] ?? '?').toUpperCase());
  const colour = COLOURS[colourSlot(login) % COLOURS.length]!;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="${escapeHtml(login)}">` +
    `<circle cx="64" cy="64" r="64" fill="${colour}"/>` +
    `<text x="64" y="64" dy="0.35em" text-anchor="middle" font-family="-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif" font-size="60" font-weight="700" fill="#fff">${letter}</text>` +
    `</svg>`
  );
}
