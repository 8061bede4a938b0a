import { applicationNameOf } from '#shared/domain/app-key.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
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
