import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven headless by playwright-core (which brings no browser of its own):
 * `.ci/run` installs it where missing, so CI fails rather than skips without it; a developer
 * machine without it skips the browser suites.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (.ci/run installs it)`);

/** A headless Chromium with the flags this machine needs; `extraArgs` add e.g. resolver rules. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-background-networking', ...extraArgs] });
}
