// The web dashboard: one self-contained HTML page served at GET /dashboard.
// It polls /cluster/status, /cluster/metrics and /metrics of the node that serves it and
// follows its /cluster/events.
import { readDashboardAssets } from './assets.ts';
import { renderDashboardPage } from './page.ts';

let cached: string | null = null;

/** The dashboard page; built from the files on first call, then cached. */
export function dashboardHtml(): string {
  if (cached === null) cached = renderDashboardPage(readDashboardAssets());
  return cached;
}
