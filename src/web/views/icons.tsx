import type { FC } from 'hono/jsx';

/** A small stroke icon set (16×16, currentColor), drawn for gitoku. */
const PATHS = {
  repo: 'M3.5 2.5h8a1 1 0 0 1 1 1v8.5h-8.5a1.5 1.5 0 0 0 0 3h8.5M3.5 2.5v11M6 5.5h4',
  lock: 'M4 7.5h8v6H4zM5.5 7.5V5a2.5 2.5 0 0 1 5 0v2.5',
  globe: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM1.75 8h12.5M8 1.75c1.8 1.7 2.6 3.8 2.6 6.25S9.8 12.55 8 14.25M8 1.75C6.2 3.45 5.4 5.55 5.4 8s.8 4.55 2.6 6.25',
  folder: 'M1.75 3.5a1 1 0 0 1 1-1h3.4l1.5 1.75h5.6a1 1 0 0 1 1 1v7.25a1 1 0 0 1-1 1H2.75a1 1 0 0 1-1-1z',
  file: 'M3.75 1.75h5.5l3 3v9.5h-8.5zM9.25 1.75v3h3',
  submodule: 'M3.75 1.75h8.5v12.5h-8.5zM6 5.5h4M6 8h4M6 10.5h2',
  branch: 'M4.5 2.5v8M4.5 10.5a1.75 1.75 0 1 0 0 3.5 1.75 1.75 0 0 0 0-3.5zM11.5 2.25a1.75 1.75 0 1 0 0 3.5 1.75 1.75 0 0 0 0-3.5zM11.5 5.75c0 3-7 2.5-7 4.75',
  copy: 'M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3',
  check: 'M3 8.5l3 3 7-7',
  key: 'M4.75 5.25a2.75 2.75 0 1 0 0 5.5 2.75 2.75 0 0 0 0-5.5zM7.5 8h7M12.5 8v2.5M14.5 8v2',
  gear: 'M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM8 1.5v1.5M8 13v1.5M1.5 8H3M13 8h1.5M3.4 3.4l1.06 1.06M11.54 11.54l1.06 1.06M3.4 12.6l1.06-1.06M11.54 4.46l1.06-1.06',
  plus: 'M8 3v10M3 8h10',
  people: 'M6 7.25a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5zM1.5 13.75c0-2.5 2-4 4.5-4s4.5 1.5 4.5 4M11 2.5a2.25 2.25 0 0 1 0 4.5M12.25 9.9c1.4.5 2.25 1.8 2.25 3.85',
  trash: 'M2.5 4h11M6 4V2.5h4V4M4 4l.75 9.75h6.5L12 4M6.75 6.5v5M9.25 6.5v5',
  code: 'M5.5 4.5L2 8l3.5 3.5M10.5 4.5L14 8l-3.5 3.5',
  commit: 'M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM1 8h4.5M10.5 8H15',
  signout: 'M6 2.5H3v11h3M10 5l3 3-3 3M13 8H6',
  user: 'M8 7.75a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2.5 14.25c0-3 2.5-4.75 5.5-4.75s5.5 1.75 5.5 4.75',
  alert: 'M8 1.75L14.75 13.5H1.25zM8 6v3.5M8 11.5v.01',
  info: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 7.25v4M8 4.75v.01',
  book: 'M1.75 3c2.25-.75 4.5-.5 6.25.75 1.75-1.25 4-1.5 6.25-.75v10c-2.25-.75-4.5-.5-6.25.75-1.75-1.25-4-1.5-6.25-.75zM8 3.75v10',
  clock: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 4.5V8l2.5 1.5',
  pull: 'M4.5 2.5v11M4.5 2.5a1.5 1.5 0 1 0 0 .01M4.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 12V6.5a2 2 0 0 0-2-2H7M8.5 3L7 4.5 8.5 6',
  merge: 'M4.5 2.5v11M4.5 2.5a1.5 1.5 0 1 0 0 .01M4.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 9.5a1.5 1.5 0 1 0 0-.01M4.5 5c0 3 3 4.5 5.5 4.5',
  draft: 'M4.5 2.5v11M4.5 2.5a1.5 1.5 0 1 0 0 .01M4.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 4v.5M11.5 7v.5M11.5 10v.5',
  closed: 'M4.5 2.5v11M4.5 2.5a1.5 1.5 0 1 0 0 .01M4.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 13.5a1.5 1.5 0 1 0 0-.01M11.5 8.5V12M9.5 2.5l4 4M13.5 2.5l-4 4',
  bell: 'M4 11.5V7a4 4 0 0 1 8 0v4.5l1.25 1.5H2.75zM6.5 13.5a1.5 1.5 0 0 0 3 0',
  star: 'M8 1.75l1.95 3.95 4.3.62-3.12 3.05.74 4.3L8 11.64l-3.87 2.03.74-4.3L1.75 6.32l4.3-.62z',
  tag: 'M2 2.5h5.5l6.5 6.5-5 5L2.5 7.5zM5.25 5.25v.01',
  history: 'M2.5 8a5.5 5.5 0 1 0 1.6-3.9M2.25 2.5v2.75H5M8 5v3.25l2.25 1.5',
  comment: 'M2.5 3h11v8h-6l-3 2.5V11h-2z',
  x: 'M4 4l8 8M12 4l-8 8',
  dot: 'M8 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z',
  eye: 'M1.5 8s2.5-4.5 6.5-4.5S14.5 8 14.5 8 12 12.5 8 12.5 1.5 8 1.5 8zM8 6.25a1.75 1.75 0 1 0 0 3.5 1.75 1.75 0 0 0 0-3.5z',
  download: 'M8 2v8.5M4.75 7.25L8 10.5l3.25-3.25M2.5 13.5h11',
  pencil: 'M10.5 2.5l3 3-8 8H2.5v-3zM9 4l3 3',
  compare: 'M4.5 2.5v7M4.5 9.5a1.75 1.75 0 1 0 0 3.5 1.75 1.75 0 0 0 0-3.5zM11.5 13.5v-7M11.5 6.5a1.75 1.75 0 1 0 0-3.5 1.75 1.75 0 0 0 0 3.5zM6.5 4.5h3M8 3l1.5 1.5L8 6M9.5 11.5h-3M8 10l-1.5 1.5L8 13',
  link: 'M6.75 9.25a2.5 2.5 0 0 0 3.5 0l2-2a2.5 2.5 0 0 0-3.5-3.5l-.75.75M9.25 6.75a2.5 2.5 0 0 0-3.5 0l-2 2a2.5 2.5 0 0 0 3.5 3.5l.75-.75',
  up: 'M8 13V3M4 7l4-4 4 4',
  chevron: 'M6 4l4 4-4 4',
  review: 'M1.5 8s2.5-4.5 6.5-4.5S14.5 8 14.5 8 12 12.5 8 12.5 1.5 8 1.5 8zM8 6.25a1.75 1.75 0 1 0 0 3.5 1.75 1.75 0 0 0 0-3.5z',
  symlink: 'M3.75 1.75h5.5l3 3v9.5h-8.5zM6 10.5c0-2 1.25-3 3.5-3M8.25 6l1.5 1.5-1.5 1.5',
  image: 'M2.5 3h11v10h-11zM2.5 11l3.5-3.5 3 3 1.5-1.5 3 3M10.25 5.75v.01',
  filediff: 'M3.75 1.75h5.5l3 3v9.5h-8.5zM6 7.5h4M8 5.5v4M6 11.5h4',
  // agent tasks (runs) and runners
  sparkle: 'M8 1.75l1.5 4.75 4.75 1.5-4.75 1.5L8 14.25 6.5 9.5 1.75 8l4.75-1.5z',
  play: 'M5 3.25v9.5L12.5 8z',
  stop: 'M4.5 4.5h7v7h-7z',
  retry: 'M13.25 8a5.25 5.25 0 1 1-1.55-3.7M12.25 1.75v2.75H9.5',
  server: 'M2.5 2.75h11v4h-11zM2.5 9.25h11v4h-11zM5 4.75v.01M5 11.25v.01M8 4.75h3M8 11.25h3',
  // automation: events and behaviors
  bolt: 'M9 1.75L3.25 9h4.25L7 14.25 12.75 7H8.5z',
  robot: 'M3.25 5.5h9.5v7.5h-9.5zM8 5.5V3M8 3a.75.75 0 1 0 0-.01M6 8.5h.01M10 8.5h.01M6.25 11h3.5M1.75 8v2.5M14.25 8v2.5',
  // issues: open (a dot in a circle), closed as completed (a check), closed as not planned (a slash)
  issueOpen: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 7.25a.75.75 0 1 0 0 1.5.75.75 0 0 0 0-1.5z',
  issueClosed: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM5.5 8.25l1.75 1.75 3.25-3.5',
  issueSkipped: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM3.6 12.4l8.8-8.8',
  // the knowledge graph: three linked nodes
  graph: 'M4 2.1a1.9 1.9 0 1 0 0 3.8 1.9 1.9 0 0 0 0-3.8zM12.2 4.1a1.9 1.9 0 1 0 0 3.8 1.9 1.9 0 0 0 0-3.8zM6 10.3a1.9 1.9 0 1 0 0 3.8 1.9 1.9 0 0 0 0-3.8zM5.85 4.45l4.5 1.1M4.5 5.85l1 4.45M10.75 7.35l-3.3 3.4',
} as const;

export type IconName = keyof typeof PATHS;

export const Icon: FC<{ name: IconName; class?: string; size?: number }> = ({ name, class: className, size = 16 }) => (
  <svg class={className ? `icon ${className}` : 'icon'} width={size} height={size} viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">
    <path d={PATHS[name]} />
  </svg>
);

/** The gitoku mark: a branch drawn inside a rounded square. */
export const Logo: FC<{ size?: number }> = ({ size = 28 }) => (
  <svg class="logo-mark" width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false">
    <rect x="1" y="1" width="30" height="30" rx="8" fill="currentColor" />
    <g fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round">
      <path d="M11 8v16" />
      <path d="M21 11.5c0 5.5-10 4-10 9" />
    </g>
    <circle cx="21" cy="9.5" r="2.6" fill="#fff" />
    <circle cx="11" cy="24" r="2.6" fill="#fff" />
  </svg>
);
