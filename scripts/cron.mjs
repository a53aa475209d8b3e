// The cron triggers of wrangler.toml, fired locally the way Cloudflare fires them in
// production (UTC, at the start of each matching minute). Supports what our schedules
// use: `*`, numbers, lists (`1,2`), ranges (`1-5`) and steps (`*/5`).

/** The `crons = [...]` of `[triggers]`. */
export function cronSchedules(toml) {
  const line = toml.split('\n').find((l) => /^\s*crons\s*=/.test(l));
  return line ? [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [];
}

function fieldMatches(field, value) {
  return field.split(',').some((part) => {
    const [range, step = '1'] = part.split('/');
    const [lo, hi] = range === '*' ? [0, 59] : range.split('-').map(Number).concat(range.includes('-') ? [] : [Number(range)]);
    return value >= lo && value <= (hi ?? lo) && (value - lo) % Number(step) === 0;
  });
}

/** True when the 5-field expression fires at `date` (minute, hour, day, month, weekday; UTC). */
export function cronMatches(expression, date) {
  const [minute, hour, day, month, weekday] = expression.trim().split(/\s+/);
  return fieldMatches(minute, date.getUTCMinutes()) && fieldMatches(hour, date.getUTCHours())
    && fieldMatches(day, date.getUTCDate()) && fieldMatches(month, date.getUTCMonth() + 1)
    && fieldMatches(weekday, date.getUTCDay());
}

/** Calls `tick(now)` at the start of every minute, until the process ends. */
export function scheduleEveryMinute(tick) {
  const next = () => setTimeout(async () => { await tick(new Date()); next(); }, 60_000 - (Date.now() % 60_000) + 50).unref();
  next();
}
