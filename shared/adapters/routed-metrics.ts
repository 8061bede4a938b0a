import { applicationNameOf } from '#shared/domain/app-key.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import type { MetricsPort, SeriesRequest } from '#shared/ports/metrics.ts';
import { type Cell, cellId, type FleetCells } from './accounts.ts';

/**
 * A MetricsPort over every watched cell, addressed by APPLICATION KEY: the metrics of `NAME@ACCOUNT.REGION` are read
 * with GetMetricData in that account and Region (where MSF publishes them, dimension Application = the bare
 * ApplicationName), those of a bare name at home.
 * @throws CellNotWatchedError (naming the key and the fix) for a key of a cell that is not watched, before any call.
 */
export class RoutedMetrics implements MetricsPort {
  readonly #cells: FleetCells;
  readonly #metricsIn: (cell: Cell) => MetricsPort;
  readonly #ports = new Map<string, MetricsPort>();

  /**
   * @param cells the watched cells.
   * @param metricsIn the MetricsPort of one cell (called once per cell, then kept), e.g. CloudWatchMetrics on the
   * cell's client.
   */
  constructor(cells: FleetCells, metricsIn: (cell: Cell) => MetricsPort) {
    this.#cells = cells;
    this.#metricsIn = metricsIn;
  }

  async getSeries(
    key: string,
    metricNames: readonly string[],
    startMs: number,
    endMs: number,
  ): Promise<Record<string, MetricSeries>> {
    return this.#portOf(this.#cells.cellOf(key)).getSeries(applicationNameOf(key), metricNames, startMs, endMs);
  }

  /**
   * Requests grouped by cell, each cell's group read with its port's `getSeriesMany` (one GetMetricData for up to 500
   * metrics of one range) or `getSeries` per request; answers in the order of `requests`.
   * @throws CellNotWatchedError for a key of a cell that is not watched, before any call.
   */
  async getSeriesMany(requests: readonly SeriesRequest[]): Promise<Array<Record<string, MetricSeries>>> {
    const out: Array<Record<string, MetricSeries>> = new Array(requests.length);
    const byCell = new Map<string, { cell: Cell; at: number[]; requests: SeriesRequest[] }>();
    requests.forEach((r, i) => {
      const cell = this.#cells.cellOf(r.applicationName);
      const group = byCell.get(cellId(cell)) ?? { cell, at: [], requests: [] };
      group.at.push(i);
      group.requests.push({ ...r, applicationName: applicationNameOf(r.applicationName) });
      byCell.set(cellId(cell), group);
    });
    await Promise.all(
      [...byCell.values()].map(async (g) => {
        const port = this.#portOf(g.cell);
        const answers = port.getSeriesMany
          ? await port.getSeriesMany(g.requests)
          : await Promise.all(
              g.requests.map((r) => port.getSeries(r.applicationName, r.metricNames, r.startMs, r.endMs)),
            );
        g.at.forEach((i, j) => {
          out[i] = answers[j] ?? {};
        });
      }),
    );
    return out;
  }

  #portOf(cell: Cell): MetricsPort {
    const id = cellId(cell);
    let port = this.#ports.get(id);
    if (!port) {
      port = this.#metricsIn(cell);
      this.#ports.set(id, port);
    }
    return port;
  }
}
