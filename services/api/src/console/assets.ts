import { readFileSync } from 'node:fs';

/**
 * The console: one server-rendered page and one vanilla script, read once at start-up (no build
 * step). The page holds no data; the script fetches it with the admin key.
 */
export const CONSOLE_HTML = readFileSync(new URL('./console.html', import.meta.url), 'utf8');
export const CONSOLE_JS = readFileSync(new URL('./console.js', import.meta.url), 'utf8');
