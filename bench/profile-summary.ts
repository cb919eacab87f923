/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [top]`: where a Spool process spent its CPU,
 * by area (package / workspace / GC) and by function. The bench prints the same for `--profile`.
 */
import { formatProfile, summarizeProfile } from './lib/profile.ts';

const [file, top] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
console.log(formatProfile(summarizeProfile(file, top ? Number(top) : 25)));
